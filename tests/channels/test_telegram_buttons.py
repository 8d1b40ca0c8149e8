"""Telegram buttons and group replies end to end: stale buttons, the selective ForceReply that
lets answers through privacy mode, and brief group answers with their 「详细」 button."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.assistant import build_assistant
from bot.channels import telegram as tg
from bot.store import MemoryStore

from .fake_telegram import FakeBotApi
from .telegram_helpers import (
    MAX_TURNS,
    OPENINGS,
    UNKNOWN,
    answer_latest,
    buttons,
    check_reply,
    running_bot,
    settle,
)
from .telegram_objects import group_chat, person, private_chat


def test_a_button_of_an_earlier_question_is_stale_and_changes_nothing(tmp_path: Path) -> None:
    """The person typed an answer instead of pressing; the old keyboard is still there."""

    async def scenario(api: FakeBotApi) -> None:
        ref = build_assistant(MemoryStore())
        store = tmp_path / "state.db"
        user = person(1201, "小钱")
        chat = private_chat(user)
        key = (str(user["id"]), str(user["id"]))
        async with running_bot(api, store):
            api.say(chat, user, OPENINGS[0])
            first = ref.handle(*key, OPENINGS[0])
            await api.wait_sent(1)
            old = api.message(chat["id"], api.replies()[0]["message_id"])
            assert buttons(old), "the opening question offers buttons"
            api.say(chat, user, UNKNOWN)  # typed, not pressed: the keyboard stays
            second = ref.handle(*key, UNKNOWN)
            await api.wait_sent(2)
            assert second.turn != first.turn and (second.options or second.asking)

            api.press(user, old, buttons(old)[0]["callback_data"])
            await api.wait_for(lambda a: len(a.calls("answerCallbackQuery")) == 1)
            assert api.calls("answerCallbackQuery")[0].params["text"] == tg.STALE
            await settle(api, store)
            assert len(api.sent()) == 2  # nothing was answered

            # the conversation is where it was: the current question still takes its answer
            current = api.message(chat["id"], api.replies()[1]["message_id"])
            if buttons(current):
                api.press(user, current, buttons(current)[0]["callback_data"])
                third = ref.handle(*key, second.options[0])
            else:
                api.say(chat, user, UNKNOWN)
                third = ref.handle(*key, UNKNOWN)
            await api.wait_sent(3)
            check_reply(api.replies()[2], third, user["id"])

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_a_group_reply_that_waits_for_an_answer_asks_for_a_selective_reply(
    tmp_path: Path,
) -> None:
    """Under privacy mode the bot sees a group member's answer only when it is a reply to it."""

    async def scenario(api: FakeBotApi) -> None:
        ref = build_assistant(MemoryStore())
        group, user = group_chat(), person(1301, "小孙")
        async with running_bot(api, tmp_path / "state.db"):
            asked = api.say(group, user, "/ask 你好", command=True)
            (params,) = await api.wait_sent(1)
            expected = ref.handle(str(group["id"]), str(user["id"]), "你好")
            assert expected.result is None and not expected.options  # it waits for words
            assert params["reply_markup"] == {
                "force_reply": True,
                "selective": True,
                "input_field_placeholder": "在这里回答",
            }
            assert params["reply_parameters"]["message_id"] == asked["message_id"]
            # the answer, a reply to the bot, reaches it and is answered in the same way
            bot_message = api.message(group["id"], api.replies()[0]["message_id"])
            api.say(group, user, OPENINGS[0], reply_to=bot_message)
            await api.wait_sent(2)
            expected = ref.handle(str(group["id"]), str(user["id"]), OPENINGS[0])
            check_reply(api.replies()[1], expected, user["id"])

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_a_group_answer_is_brief_and_its_details_go_to_the_person_asked(tmp_path: Path) -> None:
    """Issue 11: a group gets ``Reply.short`` with 「详细」; only the person asked may press it,
    and the whole answer then arrives as a reply to their question (a private chat gets the
    whole text at once: ``test_private_dialog_to_a_verdict_with_buttons``)."""

    async def scenario(api: FakeBotApi) -> None:
        ref = build_assistant(MemoryStore())
        store = tmp_path / "state.db"
        group, asker, stranger = group_chat(), person(1401, "老李"), person(1402, "路人")
        key = (str(group["id"]), str(asker["id"]))
        async with running_bot(api, store):
            asked = api.say(group, asker, f"/ask {OPENINGS[0]}", command=True)
            expected = ref.handle(*key, OPENINGS[0])
            await api.wait_sent(1)
            for _ in range(MAX_TURNS):  # answer with the first option until the answer comes
                if expected.has_details or not expected.options:
                    break
                count = len(api.sent())
                expected, _ = await answer_latest(api, ref, group, asker, expected,
                                                  api.replies()[-1])
                await api.wait_sent(count + 1)
            assert expected.has_details, "the core gives a group answer with more to say"
            brief = api.replies()[-1]
            check_reply(brief, expected, asker["id"])  # the brief form, 「详细」 last
            assert brief["text"] == expected.short != expected.text
            assert brief["reply_to_message"]["message_id"] == asked["message_id"]
            sent = api.message(group["id"], brief["message_id"])
            details = buttons(sent)[-1]

            api.press(stranger, sent, details["callback_data"])
            await api.wait_for(lambda a: any(
                c.params.get("text") == tg.NOT_YOURS for c in a.calls("answerCallbackQuery")))
            await settle(api, store)
            count = len(api.sent())

            api.press(asker, sent, details["callback_data"])
            more = (await api.wait_sent(count + 1))[-1]
            assert more["text"] == tg.split_text(ref.handle(*key, tg.DETAILS).text)[0]
            assert more["text"] == expected.text
            assert more["reply_parameters"]["message_id"] == asked["message_id"]
            assert not buttons(more)
            assert not buttons(api.message(group["id"], sent["message_id"]))  # pressed: gone

    with FakeBotApi() as api:
        asyncio.run(scenario(api))
