"""The Telegram channel's rules as pure functions: settings, addressing, buttons, text, the
send retry policy, per-person ordering; and the standard transport sending text unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot, Message, User
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.channels import telegram as tg

from .fake_telegram import FakeBotApi
from .telegram_helpers import ME
from .telegram_objects import BOT, TOKEN, group_chat, message_dict, person, private_chat

# PTB itself reads RetryAfter.retry_after while building the exception (fixed by PTB_TIMEDELTA).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

# --- settings -----------------------------------------------------------------------------------


def test_settings_defaults_and_overrides() -> None:
    settings = tg.Settings.from_env({"TELEGRAM_BOT_TOKEN": f" {TOKEN}\n"})
    assert settings.token == TOKEN
    assert settings.base_url == "https://api.telegram.org/bot"
    assert settings.store_path == "luohu.db"
    assert settings.webhook is None
    assert settings.send_timeout == 10.0
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
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_SEND_TIMEOUT": "0"},
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_SEND_TIMEOUT": "nan"},
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_SEND_TIMEOUT": "later"},
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


@given(
    st.integers(1, 2**53),
    st.integers(0, 10**9 - 1),
    st.integers(0, 999),
)
def test_callback_data_round_trips_within_64_bytes(owner: int, turn: int, index: int) -> None:
    for press in (tg.ButtonPress(owner, turn, index), tg.ButtonPress(owner, turn, 0, True)):
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


def test_details_button_comes_last_on_its_own_row() -> None:
    rows = tg.keyboard_rows((), owner=5, turn=2, details=True)
    assert [[b["text"] for b in row] for row in rows] == [[tg.DETAILS]]
    assert tg.ButtonPress.decode(rows[0][0]["callback_data"]) == tg.ButtonPress(5, 2, 0, True)
    rows = tg.keyboard_rows(("积分", "居转户"), owner=5, turn=2, details=True)
    assert [[b["text"] for b in row] for row in rows] == [["积分", "居转户"], [tg.DETAILS]]


def test_pressing_details_keeps_the_options() -> None:
    markup = tg.keyboard(("积分", "居转户"), owner=5, turn=2, details=True)
    rest = tg.without_details(markup)
    assert rest is not None
    assert [[b.text for b in row] for row in rest.inline_keyboard] == [["积分", "居转户"]]
    assert tg.without_details(tg.keyboard((), owner=5, turn=2, details=True)) is None


def test_start_and_help_say_what_is_kept_and_for_how_long_in_one_line() -> None:
    (line,) = [line for line in tg.HELP.format(days="30").splitlines() if "保存" in line]
    assert "30 天" in line and "/forget" in line and "删除我的数据" in line


def test_keyboard_rows_are_the_keyboard_as_sent() -> None:
    short, long = ("积分", "居转户", "人才引进", "不清楚"), ("最近四年里有四十个月以上", "没有")
    for options in (short, long):
        markup = tg.keyboard(options, owner=5, turn=2)
        assert markup.to_dict()["inline_keyboard"] == tg.keyboard_rows(options, 5, 2)


def test_standard_transport_sends_text_byte_for_byte() -> None:
    """PTB's HTTPXRequest and Bot.send_message: characters a form would percent-encode arrive
    unchanged, as strings."""
    text = "a+b=c&d=%20 \"引号\" \\ 😀 <b>x</b>\n第二行"

    async def scenario(api: FakeBotApi) -> None:
        async with Bot(TOKEN, base_url=api.base_url, request=HTTPXRequest()) as bot:
            sent = await bot.send_message(42, text)
        assert sent.text == text and sent.chat.id == 42

    with FakeBotApi() as api:
        asyncio.run(scenario(api))
        (params,) = api.sent()
    assert params == {"chat_id": 42, "text": text}


def caused(error: Exception, cause: BaseException | None) -> Exception:
    error.__cause__ = cause
    return error


REQUEST = httpx.Request("POST", "http://127.0.0.1/bot1:x/sendMessage")


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        # provably not delivered: retried
        (caused(NetworkError("httpx.ConnectError"), httpx.ConnectError("refused")), "undelivered"),
        (caused(TimedOut(), httpx.ConnectTimeout("connect")), "undelivered"),
        (caused(TimedOut("Pool timeout"), httpx.PoolTimeout("pool")), "undelivered"),
        (RetryAfter(3), "undelivered"),
        (NetworkError("Bad Gateway"), "undelivered"),  # a 5xx Telegram answered
        (NetworkError("Internal Server Error (500)"), "undelivered"),
        (caused(TelegramError("Invalid server response"), ValueError("not JSON")), "undelivered"),
        # perhaps delivered: never repeated
        (caused(TimedOut(), httpx.ReadTimeout("read", request=REQUEST)), "ambiguous"),
        (caused(TimedOut(), httpx.WriteTimeout("write", request=REQUEST)), "ambiguous"),
        (caused(NetworkError("x"), httpx.RemoteProtocolError("", request=REQUEST)), "ambiguous"),
        (caused(NetworkError("x"), httpx.ReadError("reset", request=REQUEST)), "ambiguous"),
        # refused for good
        (BadRequest("chat not found"), "refused"),
        (Forbidden("bot was blocked by the user"), "refused"),
    ],
)
def test_send_retry_policy(error: Exception, outcome: str) -> None:
    assert tg.classify(error).value == outcome  # type: ignore[arg-type]


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

        # a1 cannot finish until g1 (another conversation) has run: if the processor kept
        # other people waiting behind a1, this would never end (the wait_for fails it)
        release = asyncio.Event()

        async def handle(name: str) -> None:
            log.append(f"{name}+")
            if name == "a1":
                await release.wait()
            if name == "g1":
                release.set()
            log.append(f"{name}-")

        jobs = [  # a2 and a3 must still wait for a1
            ("a1", update(1, 10, 10)),
            ("b1", update(2, 20, 20)),
            ("a2", update(3, 10, 10)),
            ("g1", update(4, -5, 10)),  # the same user in a group: another conversation
            ("a3", update(5, 10, 10)),
        ]
        await asyncio.wait_for(asyncio.gather(
            *(processor.process_update(u, handle(name)) for name, u in jobs)
        ), timeout=10)
        return log

    log = asyncio.run(scenario())
    assert log.index("b1-") < log.index("a1-") and log.index("g1-") < log.index("a1-")
    assert log.index("a1-") < log.index("a2+") < log.index("a2-") < log.index("a3+")
