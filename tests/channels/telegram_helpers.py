"""Shared helpers of the Telegram tests: the bot in this process or as a real process, and
waits on conditions (never fixed sleeps) for "everything given to the bot is done"."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from telegram import User

from bot.assistant import Assistant
from bot.channels import telegram as tg
from bot.protocol import Reply
from bot.store import SqliteStore

from .fake_telegram import FakeBotApi
from .telegram_objects import BOT, TOKEN

ROOT = Path(__file__).resolve().parents[2]
OPENINGS = ("中级会计能积分吗", "焊工技师能落户吗")
UNKNOWN = "不清楚"
MAX_TURNS = 12
ME = User(BOT["id"], BOT["first_name"], True, username=BOT["username"])


def settings_for(api: FakeBotApi, store: Path, **env: str) -> tg.Settings:
    return tg.Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": api.base_url,
            "BOT_STORE": str(store),
            "TELEGRAM_POLL_TIMEOUT": "2",
            **env,
        }
    )


@asynccontextmanager
async def running_bot(
    api: FakeBotApi, store: Path, assistant: Assistant | None = None, **env: str
) -> AsyncIterator[None]:
    """The production application, long polling the fake server; on leaving, it has settled
    (everything queued was fetched, and every update it fetched is done) and stopped."""
    settings = settings_for(api, store, **env)
    async with tg.polling(tg.build_application(settings, assistant), settings):
        yield
        await settle(api, store)


async def settle(api: FakeBotApi, store: Path, timeout: float = 10.0) -> None:
    """Wait until every queued update was fetched (confirmed) and none is left undone in the
    bot's inbox: after that the bot sends nothing more for anything it was given."""
    probe = SqliteStore(store)
    try:
        await api.wait_for(
            lambda a: a.unconfirmed() == 0 and not probe.inbox_pending("telegram", 1),
            timeout,
            "the bot to settle",
        )
    finally:
        probe.close()


def bot_env(api: FakeBotApi, store: Path, **env: str) -> dict[str, str]:
    """The environment of ``python -m bot telegram`` against the fake."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    return {
        **base,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": api.base_url,
        "BOT_STORE": str(store),
        "TELEGRAM_POLL_TIMEOUT": "1",
        **env,
    }


class BotProcess:
    """``python -m bot telegram`` as a real process (its log goes to ``log``)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "telegram"], cwd=ROOT, env=env, stderr=out,
                stdout=out,
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        """SIGTERM, then wait for a clean exit; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the bot did not stop; log:\n{self.log.read_text()}") from None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def check_reply(message: dict[str, Any], expected: Reply, owner: int) -> None:
    """The bot's message says what the reference core says (a group: the brief form, with
    「详细」 when there is more), with its options as buttons."""
    brief = message["chat"]["type"] != "private" and expected.has_details
    assert message["text"] == tg.split_text(expected.short if brief else expected.text)[0]
    labels = [button["text"] for button in buttons(message)]
    assert labels == list(expected.options) + ([tg.DETAILS] if brief else [])
    for index, button in enumerate(buttons(message)[: len(expected.options)]):
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
