"""How replies are delivered: the send retry policy against injected faults, and /forget."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.assistant import build_assistant
from bot.channels import telegram as tg
from bot.store import MemoryStore, SqliteStore, person_key

from .fake_telegram import FakeBotApi
from .telegram_helpers import OPENINGS, running_bot
from .telegram_objects import person, private_chat


def test_a_send_answered_with_5xx_is_retried_until_delivered_once(tmp_path: Path) -> None:
    """A 5xx is Telegram saying it did not take the message: sending again is safe."""

    async def scenario(api: FakeBotApi) -> None:
        user = person(1601, "小吴")
        async with running_bot(api, tmp_path / "state.db"):
            api.fail("sendMessage", 502, "Bad Gateway")
            api.fail("sendMessage", 500, "Internal Server Error")
            api.say(private_chat(user), user, OPENINGS[0])
            (params,) = await api.wait_sent(1, timeout=10)
        expected = build_assistant(MemoryStore()).handle(str(user["id"]), str(user["id"]),
                                                         OPENINGS[0])
        assert params["text"] == expected.text
        assert [c.status for c in api.calls("sendMessage", ok=False)] == [502, 500, 200]
        assert len(api.sent()) == 1

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_a_send_that_times_out_after_it_was_sent_is_not_repeated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram took the message but answered too late: sending again would duplicate it."""

    async def scenario(api: FakeBotApi) -> None:
        user = person(1701, "小郑")
        chat = private_chat(user)
        async with running_bot(api, tmp_path / "state.db", TELEGRAM_SEND_TIMEOUT="0.3"):
            api.stall("sendMessage", 1.0)
            api.say(chat, user, OPENINGS[0])
            await api.wait_sent(1)
            await api.wait_for(
                lambda a: any("结果不明" in r.getMessage() for r in caplog.records),
                what="the ambiguous send to be logged",
            )
            api.say(chat, user, "/help", command=True)  # the bot goes on as usual
            await api.wait_sent(2)
        assert [c.status for c in api.calls("sendMessage", ok=False)] == [200, 200]  # no retry
        assert api.sent()[1]["text"] == tg.HELP.format(days="30")

    with caplog.at_level(logging.WARNING), FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_forget_deletes_every_row_of_the_person_and_says_so(tmp_path: Path) -> None:
    async def scenario(api: FakeBotApi) -> None:
        store = tmp_path / "state.db"
        user, other = person(1801, "小冯"), person(1802, "小陈")
        chat = private_chat(user)
        async with running_bot(api, store):
            api.say(chat, user, OPENINGS[0])
            api.say(private_chat(other), other, OPENINGS[1])
            await api.wait_sent(2)
            api.say(chat, user, "/forget", command=True)
            (*_, said) = await api.wait_sent(3)
        ref = build_assistant(MemoryStore())
        assert said["text"] == ref.forget(str(user["id"]), str(user["id"])).text
        mine, theirs = (person_key(str(p["id"]), str(p["id"])) for p in (user, other))
        with sqlite3.connect(store) as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master "
                                                    "WHERE type='table'")]
            cells = [str(cell) for table in tables
                     for row in db.execute(f"SELECT * FROM {table}") for cell in row]
        assert not [cell for cell in cells if mine in cell or OPENINGS[0] in cell]
        assert any(theirs in cell for cell in cells)  # only that person's rows went

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


class FlakyStore(SqliteStore):
    """A store whose first inbox write fails (a full disk, a locked file…)."""

    fails = 1

    def inbox_add(self, channel: str, items: Sequence[tuple[str, str, str]]) -> int:
        if self.fails:
            self.fails -= 1
            raise sqlite3.OperationalError("disk I/O error")
        return super().inbox_add(channel, items)


def test_updates_that_could_not_be_stored_are_not_acknowledged(tmp_path: Path) -> None:
    """Telegram keeps them (the next getUpdates does not confirm them): fetched again, stored,
    answered once."""

    async def scenario(api: FakeBotApi) -> None:
        store = tmp_path / "state.db"
        user = person(1901, "小卫")
        assistant = build_assistant(FlakyStore(store))
        async with running_bot(api, store, assistant):
            api.say(private_chat(user), user, OPENINGS[0])
            await api.wait_sent(1, timeout=10)
        fetched = [c for c in api.calls("getUpdates") if c.params.get("offset") in (None, 0)]
        assert len(fetched) >= 2  # asked again from the start: the first fetch was not confirmed
        assert len(api.sent()) == 1

    with FakeBotApi() as api:
        asyncio.run(scenario(api))
