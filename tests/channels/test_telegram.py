"""The Telegram channel end to end: the production application over real HTTP against a
local fake Bot API, in this process.

Core-agnostic: every expected reply is computed by a separate reference assistant fed the same
messages. "Nothing more was sent" is checked once the bot has settled (``settle``: every update
fetched and done), never after a fixed sleep.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

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
    no_markup_injection,
    running_bot,
    settle,
    waiting,
)
from .telegram_objects import BOT, group_chat, person, private_chat

# PTB itself reads RetryAfter.retry_after while building the exception (fixed by PTB_TIMEDELTA).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
COMMANDS = ["start", "help", "ask", "reset", "cancel", "forget"]


def test_private_dialog_to_a_verdict_with_buttons(tmp_path: Path) -> None:
    async def scenario(api: FakeBotApi) -> None:
        ref = build_assistant(MemoryStore())
        user = person(501, "小王")
        chat = private_chat(user)
        key = (str(chat["id"]), str(user["id"]))
        async with running_bot(api, tmp_path / "state.db"):
            api.say(chat, user, "/start", command=True)
            (welcome,) = await api.wait_sent(1)
            assert welcome["text"] == tg.HELP.format(days="30")

            api.say(chat, user, OPENINGS[0])
            expected = ref.handle(*key, OPENINGS[0])
            first = expected
            await api.wait_sent(2)
            check_reply(api.replies()[-1], expected, user["id"])
            pressed = False
            for _ in range(MAX_TURNS):
                if not waiting(expected):
                    break
                count = len(api.sent())
                expected, used_button = await answer_latest(
                    api, ref, chat, user, expected, api.replies()[-1]
                )
                pressed = pressed or used_button
                await api.wait_sent(count + 1)
                check_reply(api.replies()[-1], expected, user["id"])
            if waiting(first):  # the real engine: a verdict, reached through a button
                assert expected.result is not None
                assert pressed == any(r.get("reply_markup") for r in api.replies())
            if pressed:
                answers = api.calls("answerCallbackQuery")
                assert answers and not any(c.params.get("show_alert") for c in answers)
                assert api.calls("editMessageReplyMarkup")  # the used keyboard is removed

            count = len(api.sent())
            # a sticker-like message, an edit (ignored), then text that must stay plain text
            api.say(chat, user, None, extra={"location": {"latitude": 31.2, "longitude": 121.5}})
            api.push("edited_message", {**api.replies()[0], "from": user, "text": "改过的"})
            awkward = [
                "<b>粗体</b> *x* [链接](http://a.example)",
                "😀" * 600,
                "\x00\x07控制\u202e",
            ]
            for text in awkward:
                api.say(chat, user, text)
            sent = await api.wait_sent(count + 1 + len(awkward))
            assert sent[count]["text"] == tg.ONLY_TEXT
            for params, text in zip(sent[count + 1 :], awkward, strict=True):
                assert params["text"] == tg.split_text(ref.handle(*key, text).text)[0]
        assert len(api.sent()) == count + 1 + len(awkward)  # settled: nothing answered the edit

        commands = api.calls("setMyCommands")[0].params["commands"]
        assert [c["command"] for c in commands] == COMMANDS
        assert all(c["description"] for c in commands)
        no_markup_injection(api)

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_group_addressing_interleaving_and_foreign_buttons(tmp_path: Path) -> None:
    async def scenario(api: FakeBotApi) -> None:
        ref = build_assistant(MemoryStore())
        group = group_chat()
        ming, hong, stranger = person(601, "阿明"), person(602, "小红"), person(603, "路人")
        mention = f"@{BOT['username']}"
        store = tmp_path / "state.db"
        async with running_bot(api, store):
            api.say(group, ming, "今天天气不错")
            api.say(group, hong, "/ask@other_bot 居转户怎么办", command=True)
            api.say(group, stranger, "回复别人", reply_to=api.say(group, ming, "在吗"))
            asked_ming = api.say(group, ming, f"{mention} {OPENINGS[0]}", mention=mention)
            asked_hong = api.say(
                group, hong, f"/ask@{BOT['username']} {OPENINGS[1]}", command=True
            )
            expected = {
                ming["id"]: ref.handle(str(group["id"]), str(ming["id"]), OPENINGS[0]),
                hong["id"]: ref.handle(str(group["id"]), str(hong["id"]), OPENINGS[1]),
            }
            sent = await api.wait_sent(2)
            await settle(api, store)
            assert len(api.sent()) == 2  # the unaddressed messages got nothing
            # different people are answered concurrently: their replies may come in any order
            replies = {m["reply_to_message"]["message_id"]: m for m in api.replies()}
            assert set(replies) == {asked_ming["message_id"], asked_hong["message_id"]}
            last: dict[int, dict[str, Any]] = {}
            for asked, who in ((asked_ming, ming), (asked_hong, hong)):
                last[who["id"]] = replies[asked["message_id"]]
                check_reply(last[who["id"]], expected[who["id"]], who["id"])
            for params in sent:
                quoted = params["reply_parameters"]["message_id"]
                who = ming if quoted == asked_ming["message_id"] else hong
                if waiting(expected[who["id"]]) and not expected[who["id"]].options:
                    assert params["reply_markup"] == {
                        "force_reply": True,
                        "selective": True,
                        "input_field_placeholder": "在这里回答",
                    }

            # a stranger presses Ming's button: refused with an alert, nothing changes
            before = len(api.sent())
            foreign = tg.ButtonPress(ming["id"], expected[ming["id"]].turn, 0).encode()
            api.press(stranger, api.message(group["id"], last[ming["id"]]["message_id"]), foreign)
            await api.wait_for(lambda a: len(a.calls("answerCallbackQuery")) == 1)
            refusal = api.calls("answerCallbackQuery")[0].params
            assert refusal["show_alert"] is True and refusal["text"] == tg.NOT_YOURS
            old_ming = api.message(group["id"], last[ming["id"]]["message_id"])

            # the two dialogs interleave, one turn each, without mixing state
            for _ in range(3):
                for who in (ming, hong):
                    if not waiting(expected[who["id"]]):
                        continue
                    count = len(api.sent())
                    expected[who["id"]], _ = await answer_latest(
                        api, ref, group, who, expected[who["id"]], last[who["id"]]
                    )
                    await api.wait_sent(count + 1)
                    last[who["id"]] = api.replies()[-1]
                    check_reply(last[who["id"]], expected[who["id"]], who["id"])
            assert len(api.sent()) == before + sum(
                1 for m in api.replies()[before:] if m["chat"]["id"] == group["id"]
            )

            # Ming presses his own first button again: stale, nothing sent
            if buttons(old_ming) or not waiting(expected[ming["id"]]):
                count, alerts = len(api.sent()), len(api.calls("answerCallbackQuery"))
                api.press(ming, old_ming, foreign)
                await api.wait_for(lambda a: len(a.calls("answerCallbackQuery")) > alerts)
                stale = api.calls("answerCallbackQuery")[-1].params
                assert stale["text"] == tg.STALE
                await settle(api, store)
                assert len(api.sent()) == count

            # /reset forgets only Hong's conversation
            count = len(api.sent())
            api.say(group, hong, "/reset", command=True)
            await api.wait_sent(count + 1)
            assert api.sent()[-1]["text"] == ref.reset(str(group["id"]), str(hong["id"])).text
        no_markup_injection(api)

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_429_and_502_are_survived_and_every_reply_is_delivered_once(tmp_path: Path) -> None:
    async def scenario(api: FakeBotApi) -> None:
        ref = build_assistant(MemoryStore())
        people = [person(700 + n, f"用户{n}") for n in range(3)]
        async with running_bot(api, tmp_path / "state.db"):
            api.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
            api.fail("getUpdates", 502, "Bad Gateway")
            for n, who in enumerate(people):
                api.say(private_chat(who), who, OPENINGS[n % 2])
            sent = await api.wait_sent(len(people), timeout=8)
        assert len(api.sent()) == len(people)
        assert [c.status for c in api.calls("sendMessage", ok=False)].count(429) == 1
        assert [c.status for c in api.calls("getUpdates", ok=False)].count(502) == 1
        for n, who in enumerate(people):
            (params,) = [p for p in sent if int(p["chat_id"]) == who["id"]]
            expected = ref.handle(str(who["id"]), str(who["id"]), OPENINGS[n % 2])
            assert params["text"] == expected.text

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_a_reply_that_could_not_be_sent_is_sent_on_redelivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tg.sending, "SEND_ATTEMPTS", 1)

    async def scenario(api: FakeBotApi) -> None:
        user = person(801, "小李")
        chat = private_chat(user)
        store = tmp_path / "state.db"
        async with running_bot(api, store):
            api.fail("sendMessage", 502, "Bad Gateway")
            message = api.say(chat, user, OPENINGS[1])
            await api.wait_for(lambda a: len(a.calls("sendMessage", ok=False)) == 1)
            await api.wait_for(lambda a: a.unconfirmed() == 0)
            assert api.sent() == []  # lost once (the bot gave up at once: one attempt)…
            api.redeliver(message)
            await api.wait_sent(1)  # …delivered on redelivery
            api.redeliver(message)
        assert len(api.sent()) == 1  # and never twice

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_restart_mid_dialog_resumes_from_the_store(tmp_path: Path) -> None:
    async def scenario(api: FakeBotApi) -> None:
        ref = build_assistant(MemoryStore())
        store = tmp_path / "state.db"
        user = person(901, "老张")
        chat = private_chat(user)
        key = (str(chat["id"]), str(user["id"]))
        async with running_bot(api, store):
            opening = api.say(chat, user, OPENINGS[0])
            expected = ref.handle(*key, OPENINGS[0])
            await api.wait_sent(1)
            check_reply(api.replies()[-1], expected, user["id"])
        # while the bot is down: Telegram redelivers the opening, and the person answers
        api.redeliver(opening)
        expected, _ = await answer_latest(api, ref, chat, user, expected, api.replies()[-1])
        async with running_bot(api, store):
            await api.wait_sent(2)
        assert len(api.sent()) == 2  # settled: the opening was not answered again
        check_reply(api.replies()[-1], expected, user["id"])

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_replies_in_a_forum_topic_stay_in_the_topic(tmp_path: Path) -> None:
    async def scenario(api: FakeBotApi) -> None:
        user = person(611, "阿强")
        topic = {"message_thread_id": 77, "is_topic_message": True}
        async with running_bot(api, tmp_path / "state.db"):
            asked = api.say(group_chat(), user, "/ask 中级会计能积分吗", command=True, extra=topic)
            (params,) = await api.wait_sent(1)
        assert params["message_thread_id"] == 77
        assert params["reply_parameters"]["message_id"] == asked["message_id"]
        assert "parse_mode" not in params

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_twenty_people_at_once_each_get_their_answer(tmp_path: Path) -> None:
    """Twenty updates queued at once are all answered, each to its own person (what one
    costs is the bench's figure, not a test's)."""

    async def scenario(api: FakeBotApi) -> list[dict[str, Any]]:
        users = [person(1000 + n, f"u{n}") for n in range(20)]
        async with running_bot(api, tmp_path / "state.db"):
            for who in users:
                api.say(private_chat(who), who, OPENINGS[0])
            return await api.wait_sent(len(users))

    with FakeBotApi() as api:
        sent = asyncio.run(scenario(api))
    assert sorted(int(p["chat_id"]) for p in sent) == list(range(1000, 1020))


def test_queued_messages_of_many_people_are_each_answered_once_in_order(tmp_path: Path) -> None:
    async def scenario(api: FakeBotApi) -> None:
        ref = build_assistant(MemoryStore())
        people = [person(1100 + n, f"p{n}") for n in range(6)]
        said = ["/start", OPENINGS[0], UNKNOWN, UNKNOWN]
        async with running_bot(api, tmp_path / "state.db"):
            for text in said:  # all queued before the bot can answer any
                for who in people:
                    api.say(private_chat(who), who, text, command=text.startswith("/"))
            await api.wait_sent(len(people) * len(said), timeout=20)
        sent = api.sent()  # settled
        assert len(sent) == len(people) * len(said)
        for who in people:
            key = (str(who["id"]), str(who["id"]))
            got = [p["text"] for p in sent if int(p["chat_id"]) == who["id"]]
            welcome = tg.HELP.format(days="30")
            want = [welcome] + [tg.split_text(ref.handle(*key, t).text)[0] for t in said[1:]]
            assert got == want

    with FakeBotApi() as api:
        asyncio.run(scenario(api))
