"""The Telegram channel as a real process and through its entry points: ``main``'s one-line
errors; ``python -m bot telegram`` in webhook mode with real HTTP posts; SIGKILL mid-batch
(polling and webhook), and every update still gets exactly one reply, in each person's order."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.assistant import build_assistant
from bot.channels import telegram as tg
from bot.store import MemoryStore, SqliteStore

from .fake_telegram import FakeBotApi
from .telegram_helpers import OPENINGS, UNKNOWN, BotProcess, bot_env, free_port, settle
from .telegram_objects import TOKEN, group_chat, message_dict, person, private_chat

STARTUP = 40.0  # seconds a fresh process may take to poll (a busy shared machine)


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



# --- webhook mode through the entry point -------------------------------------------------------


def webhook_env(api: FakeBotApi, store: Path, port: int) -> dict[str, str]:
    return bot_env(
        api,
        store,
        TELEGRAM_WEBHOOK_URL="https://bot.example/tg/hook",
        TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        TELEGRAM_WEBHOOK_SECRET="right_secret",
    )


async def post(url: str, body: Any, secret: str | None = "right_secret") -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as res:
        return res.status


def test_webhook_mode_serves_stored_updates_through_python_m_bot(tmp_path: Path) -> None:
    """Real HTTP posts to the webhook server of ``python -m bot telegram``; it never polls. An
    update answered 200 survives a SIGKILL before its reply: 200 means stored."""

    async def scenario(api: FakeBotApi) -> None:
        store, port = tmp_path / "state.db", free_port()
        url = f"http://127.0.0.1:{port}/tg/hook"
        user = person(1501, "小周")
        chat = private_chat(user)
        first = {"update_id": 1, "message": message_dict(1, chat, user, OPENINGS[0])}
        second: dict[str, Any] = {"update_id": 2, "message": message_dict(2, chat, user, "/help")}
        second["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 5}]
        bot = BotProcess(webhook_env(api, store, port), tmp_path / "bot.log")
        try:
            await api.wait_for(lambda a: bool(a.calls("setWebhook")), STARTUP, "setWebhook")
            assert await post(url, first, secret=None) == 403
            assert await post(url, first, secret="wrong") == 403
            assert await post(url, {"no": "update"}) == 400
            assert await post(url, first) == 200
            (params,) = await api.wait_sent(1, timeout=20)
            api.hold("sendMessage")  # the next reply cannot go out before the kill
            assert await post(url, second) == 200
            await api.wait_for(lambda a: a.held() == 1, 20, "the reply to be held")
            bot.kill()
            api.release()
            await api.wait_for(lambda a: a.held() == 0, 10, "the held reply to be dropped")
            assert len(api.sent()) == 1
            bot = BotProcess(webhook_env(api, store, port), tmp_path / "bot.log")
            await api.wait_sent(2, timeout=STARTUP)
            await settle(api, store)
        finally:
            assert bot.stop() in (0, -9), (tmp_path / "bot.log").read_text()
        assert not api.calls("getUpdates", ok=False)  # webhook mode never polls
        hook = api.calls("setWebhook")[-1]
        assert hook.params["url"] == "https://bot.example/tg/hook"
        assert hook.params["secret_token"] == "right_secret"
        expected = build_assistant(MemoryStore()).handle(str(user["id"]), str(user["id"]),
                                                         OPENINGS[0])
        assert params["text"] == expected.text
        welcome = tg.HELP.format(days="30")
        assert [p["text"] for p in api.sent()] == [expected.text, welcome]  # each once

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


# --- SIGKILL mid-batch --------------------------------------------------------------------------


def test_sigkill_mid_batch_loses_no_update_and_answers_none_twice(tmp_path: Path) -> None:
    """Updates fetched and acknowledged before the kill are in the inbox: the restarted bot
    answers each of them once, in each person's order (group replies quote what they answer)."""

    async def scenario(api: FakeBotApi) -> None:
        store = tmp_path / "state.db"
        group = group_chat()
        people = [person(2100 + n, f"用户{n}") for n in range(4)]
        said = [OPENINGS[0], UNKNOWN, UNKNOWN, OPENINGS[1], UNKNOWN]
        api.hold("sendMessage", after=5)
        bot = BotProcess(bot_env(api, store), tmp_path / "bot.log")
        asked: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
        for text in said:
            for who in people:
                asked.append((who, text, api.say(group, who, f"/ask {text}", command=True)))
        probe = SqliteStore(store)

        def mid_batch(api: FakeBotApi) -> bool:
            """Every update acknowledged; some replies held (not delivered); every delivered
            one recorded (the instant between delivery and record is the one window a kill
            repeats a reply in: README, Guarantees)."""
            if api.held() == 0 or api.unconfirmed() > 0:
                return False
            return len(asked) - len(probe.inbox_pending("telegram", 1000)) == len(api.sent())

        try:
            await api.wait_for(mid_batch, STARTUP, "the bot to be stuck mid-batch")
            bot.kill()
            api.release()
            await api.wait_for(lambda a: a.held() == 0, 10, "the held replies to be dropped")
            before = len(api.sent())
            assert before < len(asked)
            bot = BotProcess(bot_env(api, store), tmp_path / "bot.log")
            await api.wait_sent(len(asked), timeout=STARTUP)
            await settle(api, store)
        finally:
            probe.close()
            assert bot.stop() in (0, -9), (tmp_path / "bot.log").read_text()
        sent = api.sent()
        quoted = Counter(p["reply_parameters"]["message_id"] for p in sent)
        assert all(quoted[m["message_id"]] == 1 for _, _, m in asked), quoted
        assert len(sent) == len(asked)
        ref = build_assistant(MemoryStore())
        for who in people:
            key = (str(group["id"]), str(who["id"]))
            mine = [(text, m["message_id"]) for w, text, m in asked if w is who]
            got = [(p["reply_parameters"]["message_id"], p["text"]) for p in sent
                   if p["reply_parameters"]["message_id"] in {i for _, i in mine}]
            want = [(i, tg.split_text(ref.handle(*key, t).short)[0]) for t, i in mine]
            assert got == want  # in order, each with the reply the core gives in that order

    with FakeBotApi() as api:
        asyncio.run(scenario(api))


def test_a_button_press_stepped_before_a_sigkill_gets_its_reply_after_restart(
    tmp_path: Path,
) -> None:
    """The press moved the conversation on (committed) but its reply never left: replayed from
    the inbox, it is not taken for a stale button, and the kept reply is sent once."""

    async def scenario(api: FakeBotApi) -> None:
        store = tmp_path / "state.db"
        user = person(2201, "小何")
        chat = private_chat(user)
        key = (str(user["id"]), str(user["id"]))
        ref = build_assistant(MemoryStore())
        bot = BotProcess(bot_env(api, store), tmp_path / "bot.log")
        try:
            api.say(chat, user, OPENINGS[0])
            first = ref.handle(*key, OPENINGS[0])
            await api.wait_sent(1, timeout=STARTUP)
            await settle(api, store)
            message = api.message(chat["id"], api.replies()[0]["message_id"])
            data = message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            api.hold("sendMessage")
            api.press(user, message, data)
            await api.wait_for(lambda a: a.held() == 1, 20, "the reply to the press to be held")
            bot.kill()
            api.release()
            await api.wait_for(lambda a: a.held() == 0, 10, "the held reply to be dropped")
            bot = BotProcess(bot_env(api, store), tmp_path / "bot.log")
            await api.wait_sent(2, timeout=STARTUP)
            await settle(api, store)
        finally:
            assert bot.stop() in (0, -9), (tmp_path / "bot.log").read_text()
        expected = ref.handle(*key, first.options[0])
        assert [p["text"] for p in api.sent()] == [first.text, expected.text]

    with FakeBotApi() as api:
        asyncio.run(scenario(api))
