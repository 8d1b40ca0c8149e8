"""The Telegram channel, end to end over real HTTP against a local fake Bot API, and its rules.

Core-agnostic: every expected reply is computed by a separate reference assistant fed the same
messages, so these tests hold for the placeholder core and for the real engine alike.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Message, User
from telegram.ext import ExtBot

from bot.assistant import build_assistant
from bot.channels import telegram as tg
from bot.protocol import Reply
from bot.store import MemoryStore

from .fake_telegram import (
    BOT,
    TOKEN,
    FakeBotApi,
    group_chat,
    message_dict,
    person,
    private_chat,
)

OPENINGS = ("中级会计能积分吗", "焊工技师能落户吗")
UNKNOWN = "不清楚"
MAX_TURNS = 12
# PTB itself reads RetryAfter.retry_after while building the exception (fixed by PTB_TIMEDELTA).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
ME = User(BOT["id"], BOT["first_name"], True, username=BOT["username"])


# --- helpers ------------------------------------------------------------------------------------


def settings_for(api: FakeBotApi, store: Path) -> tg.Settings:
    return tg.Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": api.base_url,
            "BOT_STORE": str(store),
            "TELEGRAM_POLL_TIMEOUT": "2",
        }
    )


@asynccontextmanager
async def running_bot(api: FakeBotApi, store: Path) -> AsyncIterator[None]:
    """The production application, long polling the fake server."""
    settings = settings_for(api, store)
    async with tg.polling(tg.build_application(settings), settings):
        yield


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def check_reply(message: dict[str, Any], expected: Reply, owner: int) -> None:
    """The bot's message says what the reference core says, with its options as buttons."""
    assert message["text"] == tg.split_text(expected.text)[0]
    labels = [button["text"] for button in buttons(message)]
    assert labels == list(expected.options)
    for index, button in enumerate(buttons(message)):
        press = tg.ButtonPress.decode(button["callback_data"])
        assert press == tg.ButtonPress(owner, expected.turn, index)


def waiting(reply: Reply) -> bool:
    """Whether the reference conversation still waits for an answer to a question."""
    return reply.result is None and (reply.asking is not None or bool(reply.options))


def no_markup_injection(api: FakeBotApi) -> None:
    assert all("parse_mode" not in params for params in api.sent())


async def answer_latest(
    api: FakeBotApi,
    ref: Any,
    chat: dict[str, Any],
    user: dict[str, Any],
    expected: Reply,
    last: dict[str, Any],
) -> tuple[Reply, bool]:
    """Answer the bot's latest question (``last``) like a person would; the new reference reply.

    A question with options is answered by pressing the first button; one without by replying
    「不清楚」 to the bot's message (which also addresses the bot in a group).
    """
    key = (str(chat["id"]), str(user["id"]))
    if expected.options:
        message = api.message(chat["id"], last["message_id"])
        api.press(user, message, buttons(message)[0]["callback_data"])
        return ref.handle(*key, expected.options[0]), True
    api.say(chat, user, UNKNOWN, reply_to=api.message(chat["id"], last["message_id"]))
    return ref.handle(*key, UNKNOWN), False


# --- end to end ---------------------------------------------------------------------------------


def test_private_dialog_to_a_verdict_with_buttons(tmp_path: Path) -> None:
    async def scenario(api: FakeBotApi) -> None:
        ref = build_assistant(MemoryStore())
        user = person(501, "小王")
        chat = private_chat(user)
        key = (str(chat["id"]), str(user["id"]))
        async with running_bot(api, tmp_path / "state.db"):
            api.say(chat, user, "/start", command=True)
            (welcome,) = await api.wait_sent(1)
            assert welcome["text"] == tg.HELP

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
            await asyncio.sleep(0.05)
            assert len(api.sent()) == count + 1 + len(awkward)  # nothing answered the edit

        commands = api.calls("setMyCommands")[0].params["commands"]
        assert [c["command"] for c in commands] == ["start", "help", "ask", "reset", "cancel"]
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
        async with running_bot(api, tmp_path / "state.db"):
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
            await asyncio.sleep(0.05)
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
                await asyncio.sleep(0.05)
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
            await asyncio.sleep(0.1)
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
    monkeypatch.setattr(tg, "SEND_ATTEMPTS", 1)

    async def scenario(api: FakeBotApi) -> None:
        user = person(801, "小李")
        chat = private_chat(user)
        async with running_bot(api, tmp_path / "state.db"):
            api.fail("sendMessage", 502, "Bad Gateway")
            message = api.say(chat, user, OPENINGS[1])
            await api.wait_for(lambda a: len(a.calls("sendMessage", ok=False)) == 1)
            await asyncio.sleep(0.05)
            assert api.sent() == []  # lost once…
            api.redeliver(message)
            await api.wait_sent(1)  # …delivered on redelivery
            api.redeliver(message)
            await asyncio.sleep(0.2)
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
            await asyncio.sleep(0.1)
            assert len(api.sent()) == 2  # the opening was not answered again
            check_reply(api.replies()[-1], expected, user["id"])

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


# --- the command line ---------------------------------------------------------------------------


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> tuple[int, str]:
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BASE_URL", "BOT_STORE", "TELEGRAM_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = tg.main([])
    return status, capsys.readouterr().err


def assert_one_line_error(err: str) -> None:
    lines = [line for line in err.splitlines() if not line[:4].isdigit()]  # drop log lines
    assert len(lines) == 1 and lines[0].startswith("错误:"), err
    assert "Traceback" not in err


def test_missing_token_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run_main(monkeypatch, capsys, {})
    assert status != 0
    assert_one_line_error(err)
    assert "TELEGRAM_BOT_TOKEN" in err


def test_rejected_token_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeBotApi() as api:
        env = {
            "TELEGRAM_BOT_TOKEN": "42:rejected-by-the-fake",
            "TELEGRAM_BASE_URL": api.base_url,
            "BOT_STORE": str(tmp_path / "state.db"),
        }
        status, err = run_main(monkeypatch, capsys, env)
        assert api.calls("getMe", ok=False)[0].status == 401
    assert status == 1
    assert_one_line_error(err)
    assert "TOKEN" in err and "rejected-by-the-fake" not in err


def test_foreign_store_file_is_a_one_line_error_and_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE photos (id INTEGER)")
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "BOT_STORE": str(foreign)}
    status, err = run_main(monkeypatch, capsys, env)
    assert status == 2
    assert_one_line_error(err)
    with sqlite3.connect(foreign) as db:  # its data is intact (the core may switch it to WAL)
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
    assert tables == ["photos"]


# --- settings -----------------------------------------------------------------------------------


def test_settings_defaults_and_overrides() -> None:
    settings = tg.Settings.from_env({"TELEGRAM_BOT_TOKEN": f" {TOKEN}\n"})
    assert settings.token == TOKEN
    assert settings.base_url == "https://api.telegram.org/bot"
    assert settings.store_path == "luohu.db"
    assert settings.webhook is None
    assert TOKEN not in repr(settings)
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "BOT_STORE": "a.db", "TELEGRAM_BASE_URL": "http://x/bot"}
    settings = tg.Settings.from_env(env, store="b.db")
    assert (settings.store_path, settings.base_url) == ("b.db", "http://x/bot")


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"TELEGRAM_BOT_TOKEN": "   "},
        {"TELEGRAM_BOT_TOKEN": "not a token"},
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_POLL_TIMEOUT": "soon"},
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_URL": "http://plain.example/hook"},
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_URL": "https://bot.example/hook",
            "TELEGRAM_WEBHOOK_SECRET": "has spaces!",
        },
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_URL": "https://bot.example/hook",
            "TELEGRAM_WEBHOOK_LISTEN": "nowhere",
        },
    ],
)
def test_bad_settings_are_refused_in_one_line(env: dict[str, str]) -> None:
    with pytest.raises(tg.SettingsError) as caught:
        tg.Settings.from_env(env)
    assert "\n" not in str(caught.value)


def test_webhook_settings() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_URL": "https://bot.example/tg/hook",
        "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1:8080",
        "TELEGRAM_WEBHOOK_SECRET": "s3cret_-X",
    }
    hook = tg.Settings.from_env(env).webhook
    assert hook == tg.Webhook("https://bot.example/tg/hook", "127.0.0.1", 8080, "s3cret_-X")
    assert hook.path == "tg/hook"
    assert "s3cret" not in repr(hook)
    del env["TELEGRAM_WEBHOOK_SECRET"]
    generated = tg.Settings.from_env(env).webhook
    assert generated is not None and len(generated.secret_token) >= 32


# --- group addressing ---------------------------------------------------------------------------


def message(text: str | None, chat: dict[str, Any] | None = None, **kwargs: Any) -> Message:
    who = person(11, "甲")
    msg = Message.de_json(message_dict(5, chat or group_chat(), who, text, **kwargs), None)
    assert msg is not None
    return msg


def bot_message() -> dict[str, Any]:
    return message_dict(4, group_chat(), BOT, "请问用途?")


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("大家好", {}, None),
        ("/ask 中级会计能积分吗", {"command": True}, tg.Request("ask", "中级会计能积分吗")),
        ("/ask@luohu_test_bot 焊工", {"command": True}, tg.Request("ask", "焊工")),
        ("/ASK@Luohu_Test_Bot 焊工", {"command": True}, tg.Request("ask", "焊工")),
        ("/ask@other_bot 焊工", {"command": True}, None),
        ("/ask", {"command": True}, tg.Request("ask", "")),
        ("/reset", {"command": True}, tg.Request("reset", "")),
        ("/cancel@luohu_test_bot", {"command": True}, tg.Request("cancel", "")),
        ("/help", {"command": True}, tg.Request("help", "")),
        ("/weather", {"command": True}, None),
        ("/weather@luohu_test_bot", {"command": True}, tg.Request("help", "")),
        (
            "@luohu_test_bot 中级会计能积分吗",
            {"mention": "@luohu_test_bot"},
            tg.Request("ask", "中级会计能积分吗"),
        ),
        (
            "请问😀@luohu_test_bot 焊工",
            {"mention": "@luohu_test_bot"},
            tg.Request("ask", "请问😀 焊工"),
        ),
        ("@someone_else 你好", {"mention": "@someone_else"}, None),
        ("@luohu_test_bot 没有实体", {}, None),  # plain text that only looks like a mention
        ("积分", {"reply_to": bot_message()}, tg.Request("ask", "积分")),
        ("积分", {"reply_to": message_dict(3, group_chat(), person(12, "乙"), "?")}, None),
    ],
)
def test_group_addressing(text: str, kwargs: dict[str, Any], expected: tg.Request | None) -> None:
    assert tg.read_request(message(text, **kwargs), ME) == expected


def test_private_chats_are_always_addressed() -> None:
    chat = private_chat(person(11, "甲"))
    assert tg.read_request(message("你好", chat), ME) == tg.Request("ask", "你好")
    assert tg.read_request(message("/weather", chat, command=True), ME) == tg.Request("help", "")
    assert tg.read_request(message("/start", chat, command=True), ME) == tg.Request("start", "")


def test_text_mention_of_the_bot_addresses_it() -> None:
    entity = {"type": "text_mention", "offset": 0, "length": 4, "user": BOT}
    msg = message("落户助手 焊工能落户吗", extra={"entities": [entity]})
    assert tg.read_request(msg, ME) == tg.Request("ask", "落户助手 焊工能落户吗")


# --- buttons and text ---------------------------------------------------------------------------


@given(
    st.integers(1, 2**53),
    st.integers(0, 10**9 - 1),
    st.integers(0, 999),
)
def test_callback_data_round_trips_within_64_bytes(owner: int, turn: int, index: int) -> None:
    press = tg.ButtonPress(owner, turn, index)
    data = press.encode()
    assert len(data.encode()) <= 64
    assert tg.ButtonPress.decode(data) == press


@pytest.mark.parametrize("data", [None, "", "积分", "a:1:2", "a:1:2:3:4", "a:-1:2:3", "b:1:2:3"])
def test_foreign_callback_data_is_not_a_press(data: object) -> None:
    assert tg.ButtonPress.decode(data) is None


def test_keyboard_puts_short_options_three_a_row() -> None:
    markup = tg.keyboard(("积分", "居转户", "人才引进", "不清楚"), owner=5, turn=2)
    rows = [[button.text for button in row] for row in markup.inline_keyboard]
    assert rows == [["积分", "居转户", "人才引进"], ["不清楚"]]
    long = tg.keyboard(("最近四年里有四十个月以上", "没有"), owner=5, turn=2)
    assert [len(row) for row in long.inline_keyboard] == [1, 1]


def test_keyboard_rows_are_the_keyboard_as_sent() -> None:
    short, long = ("积分", "居转户", "人才引进", "不清楚"), ("最近四年里有四十个月以上", "没有")
    for options in (short, long):
        markup = tg.keyboard(options, owner=5, turn=2)
        assert markup.to_dict()["inline_keyboard"] == tg.keyboard_rows(options, 5, 2)


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


def test_transport_sends_text_byte_for_byte() -> None:
    """Bodies are JSON: characters a form would percent-encode arrive unchanged, as strings."""
    text = "a+b=c&d=%20 \"引号\" \\ 😀 <b>x</b>\n第二行"

    async def scenario(api: FakeBotApi) -> None:
        bot = ExtBot(TOKEN, base_url=api.base_url, request=tg.AiohttpRequest())
        async with bot:
            sent = await tg.send_message(bot, {"chat_id": 42, "text": text})
        assert sent["text"] == text and sent["chat"]["id"] == 42

    with FakeBotApi() as api:
        asyncio.run(scenario(api))
        (params,) = api.sent()
    assert params == {"chat_id": 42, "text": text}


@given(st.text(max_size=9000))
def test_split_text_fits_telegram(text: str) -> None:
    pieces = tg.split_text(text)
    assert pieces and all(piece.strip() for piece in pieces)
    assert all(len(piece.encode("utf-16-le")) // 2 <= 4096 for piece in pieces)
    assert not any(ch in "".join(pieces) for ch in "\x00\x07\x1b")


def test_split_text_keeps_ordinary_text_whole_and_cuts_long_text_at_lines() -> None:
    assert tg.split_text("第一行\n第二行") == ["第一行\n第二行"]
    long = "\n".join(["很长的一行说明文字" * 20] * 40)
    pieces = tg.split_text(long)
    assert len(pieces) > 1 and "".join(pieces) == long
    assert all(piece.endswith("\n") for piece in pieces[:-1])


def test_per_update_overhead_is_small(tmp_path: Path) -> None:
    """Not a benchmark: catches accidental sleeps or blocking calls on the update path."""

    async def scenario(api: FakeBotApi) -> float:
        users = [person(1000 + n, f"u{n}") for n in range(20)]
        async with running_bot(api, tmp_path / "state.db"):
            started = time.monotonic()
            for who in users:
                api.say(private_chat(who), who, OPENINGS[0])
            await api.wait_sent(len(users))
            return (time.monotonic() - started) / len(users)

    with FakeBotApi() as api:
        per_update = asyncio.run(scenario(api))
    assert per_update < 0.25, f"{per_update * 1000:.1f} ms per update"
    print(f"telegram per-update round trip: {per_update * 1000:.1f} ms")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_webhook_checks_the_secret_token_on_every_request(tmp_path: Path) -> None:
    async def scenario(api: FakeBotApi) -> None:
        port = free_port()
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": api.base_url,
            "BOT_STORE": str(tmp_path / "state.db"),
            "TELEGRAM_WEBHOOK_URL": "https://bot.example/tg/hook",
            "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            "TELEGRAM_WEBHOOK_SECRET": "right_secret",
        }
        settings = tg.Settings.from_env(env)
        assert settings.webhook is not None
        app = tg.build_application(settings)
        user = person(1501, "小周")
        update = {
            "update_id": 1,
            "message": message_dict(1, private_chat(user), user, OPENINGS[0]),
        }
        url = f"http://127.0.0.1:{port}/tg/hook"
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_webhook(**tg.webhook_options(settings.webhook))
            try:
                async with aiohttp.ClientSession() as http:
                    for secret in (None, "wrong"):
                        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                        async with http.post(url, json=update, headers=headers) as response:
                            assert response.status == 403
                    headers = {"X-Telegram-Bot-Api-Secret-Token": "right_secret"}
                    async with http.post(url, json=update, headers=headers) as response:
                        assert response.status == 200
                (params,) = await api.wait_sent(1)
                await asyncio.sleep(0.05)
                assert len(api.sent()) == 1
            finally:
                await app.updater.stop()
                await app.stop()
        (hook,) = api.calls("setWebhook")
        assert hook.params["url"] == "https://bot.example/tg/hook"
        assert hook.params["secret_token"] == "right_secret"
        expected = build_assistant(MemoryStore()).handle(
            str(user["id"]), str(user["id"]), OPENINGS[0]
        )
        assert params["text"] == expected.text

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_one_persons_updates_stay_in_order_while_others_run_concurrently() -> None:
    from datetime import UTC, datetime

    from telegram import Chat, Update

    def update(update_id: int, chat_id: int, user_id: int) -> Update:
        user = User(user_id, "x", False)
        chat = Chat(chat_id, Chat.PRIVATE if chat_id > 0 else Chat.SUPERGROUP)
        message = Message(update_id, datetime.now(UTC), chat, from_user=user, text="t")
        return Update(update_id, message=message)

    async def scenario() -> list[str]:
        processor = tg.PerPersonUpdates(limit=4)
        await processor.initialize()
        log: list[str] = []

        async def handle(name: str, pause: float) -> None:
            log.append(f"{name}+")
            await asyncio.sleep(pause)
            log.append(f"{name}-")

        jobs = [  # (name, update, pause): a1 is slow; a2 and a3 must still wait for it
            ("a1", update(1, 10, 10), 0.05),
            ("b1", update(2, 20, 20), 0.0),
            ("a2", update(3, 10, 10), 0.0),
            ("g1", update(4, -5, 10), 0.0),  # the same user in a group: another conversation
            ("a3", update(5, 10, 10), 0.0),
        ]
        await asyncio.gather(
            *(processor.process_update(u, handle(name, pause)) for name, u, pause in jobs)
        )
        return log

    log = asyncio.run(scenario())
    assert log.index("b1-") < log.index("a1-") and log.index("g1-") < log.index("a1-")
    assert log.index("a1-") < log.index("a2+") < log.index("a2-") < log.index("a3+")


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
            await asyncio.sleep(0.1)
            sent = api.sent()
        assert len(sent) == len(people) * len(said)
        for who in people:
            key = (str(who["id"]), str(who["id"]))
            got = [p["text"] for p in sent if int(p["chat_id"]) == who["id"]]
            want = [tg.HELP] + [tg.split_text(ref.handle(*key, t).text)[0] for t in said[1:]]
            assert got == want

    with FakeBotApi() as api:
        asyncio.run(scenario(api))
