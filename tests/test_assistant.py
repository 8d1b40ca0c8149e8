"""The assistant over a store: one reply per message, at most one step per message id, the
conversation kept through engine errors, a person's data deleted at once."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.assistant import Assistant
from bot.engine import Engine
from bot.protocol import Reply
from bot.store import MemoryStore, SqliteStore, person_key

OPEN = "中级会计能落户吗"  # asks social_insurance (turn 1)
INSURANCE = "最近四年里有40个月社保基数在1.3倍以上"  # then asks job_match (turn 2)


def count_steps(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every text the engine steps on (the engine itself is unchanged)."""
    texts: list[str] = []
    real = engine.step

    def step(state: Any, text: str) -> Any:
        texts.append(text)
        return real(state, text)

    monkeypatch.setattr(engine, "step", step)
    return texts


def all_rows(path: Path) -> list[str]:
    """Every row of every table of the file, as text."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [repr(row) for t in tables for row in db.execute(f"SELECT * FROM {t}")]
    finally:
        db.close()


# --- message ids -------------------------------------------------------------------------------


def test_a_repeated_message_id_gets_the_same_full_reply_without_a_second_step(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = count_steps(assistant.engine, monkeypatch)
    assistant.handle("c", "u", OPEN, message_id="1")
    first = assistant.handle("c", "u", INSURANCE, message_id="2")
    again = assistant.handle("c", "u", INSURANCE, message_id="2")
    assert again == first and first.asking == "job_match" and first.turn == 2
    assert steps == [OPEN, INSURANCE]
    assert assistant.pending("c", "u") == ("job_match", 2)
    result = assistant.handle("c", "u", "对口的", message_id="3")
    assert result.result is not None
    assert assistant.handle("c", "u", "对口的", message_id="3") == result, "result kept too"
    assert assistant.handle("c", "other", OPEN, message_id="1").asking == "social_insurance", (
        "ids are per person")


def test_the_step_and_the_kept_reply_commit_together(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "s.db")
    assistant = Assistant(engine, store)
    assistant.handle("c", "u", OPEN, message_id="1")
    real_keep = store.keep_reply

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")  # as if killed between the step and keeping its reply

    monkeypatch.setattr(store, "keep_reply", crash)
    assert "抱歉" in assistant.handle("c", "u", INSURANCE, message_id="2").text
    assert assistant.pending("c", "u") == ("social_insurance", 1), "the step was undone"
    monkeypatch.setattr(store, "keep_reply", real_keep)
    assert assistant.handle("c", "u", INSURANCE, message_id="2").asking == "job_match"
    store.close()


def test_handling_an_inbox_entry_marks_it_done_with_the_step(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "s.db")
    assistant = Assistant(engine, store)
    me = person_key("c", "u")
    store.inbox_add("tg", [("100", me, OPEN), ("101", me, INSURANCE)])
    monkeypatch.setattr(store, "keep_reply", lambda *a, **k: (_ for _ in ()).throw(OSError()))
    assistant.handle("c", "u", OPEN, message_id="100", inbox="tg")
    assert [m for m, _, _ in store.inbox_pending("tg")] == ["100", "101"], "failed: pending"
    monkeypatch.undo()
    for message_id, _, text in store.inbox_pending("tg"):
        assistant.handle("c", "u", text, message_id=message_id, inbox="tg")
    assert store.inbox_pending("tg") == []
    assert assistant.pending("c", "u") == ("job_match", 2)
    assert store.inbox_add("tg", [("100", me, OPEN)]) == 0, "a handled id is not taken again"
    store.close()


# --- engine errors -----------------------------------------------------------------------------


def fail_once(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Make the engine raise on its next step only; returns how many times it raised."""
    real, raised = engine.step, [0]

    def step(state: Any, text: str) -> Any:
        if not raised[0]:
            raised[0] += 1
            raise ValueError(f"bug on {text}")  # the message quotes the text: never logged
        return real(state, text)

    monkeypatch.setattr(engine, "step", step)
    return lambda: raised[0]


def test_an_engine_error_mid_dialog_keeps_the_conversation(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assistant.handle("c", "u", OPEN)
    raised = fail_once(assistant.engine, monkeypatch)
    with caplog.at_level(logging.DEBUG):
        apology = assistant.handle("c", "u", INSURANCE, message_id="m-7")
    assert raised() == 1
    assert "回答都还在" in apology.text
    assert "m-7" in caplog.text and INSURANCE not in caplog.text and "社保" not in caplog.text
    assert assistant.handle("c", "u", INSURANCE).asking == "job_match", "the dialog goes on"
    result = assistant.handle("c", "u", "对口的").result
    assert result is not None and result.credential == "professional#20"


def test_a_state_the_engine_keeps_failing_on_is_started_over_at_the_third_error(
    assistant: Assistant, caplog: pytest.LogCaptureFixture
) -> None:
    assistant.handle("c", "u", OPEN)
    key = assistant.key("c", "u")
    # a kept state this engine cannot use (memory of other certificates is not a mapping)
    assistant.store.update(key, lambda s: ({**(s or {}), "memory": 5}, None))
    for _ in range(2):
        assert "回答都还在" in assistant.handle("c", "u", "焊工技师能积分吗").text
        assert assistant.store.load(key)["facts"]["credential"] == "professional#20"  # type: ignore[index]
    reply = assistant.handle("c", "u", "焊工技师能积分吗")
    assert reply.text.startswith("抱歉,之前的对话") and (reply.asking or reply.result)
    assert assistant.store.load(key)["facts"]["credential"] == "skilled#30"  # type: ignore[index]
    assert "焊工" not in caplog.text


# --- deleting a person's data ------------------------------------------------------------------


def test_forget_leaves_no_row_of_the_person(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    assistant = Assistant(engine, store)
    for user in ("me", "other"):
        assistant.handle("c", user, OPEN, message_id="1")
        store.inbox_add("tg", [(f"u-{user}", person_key("c", user), '{"text": "x"}')])
    reply = assistant.forget("c", "me")
    assert reply.forget and "删除" in reply.text
    me = person_key("c", "me").replace('"', "'")
    left = all_rows(path)
    assert left and not [row for row in left if '"me"' in row or me in row]
    assert any('"other"' in row for row in left)
    assert assistant.pending("c", "me") == (None, 0)
    store.close()


def test_a_forget_reply_of_the_engine_deletes_the_person(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    assistant = Assistant(engine, store)
    assistant.handle("c", "me", OPEN, message_id="1")
    store.inbox_add("tg", [("9", person_key("c", "me"), "{}")])
    monkeypatch.setattr(engine, "step", lambda state, text: (None, Reply("已删除", forget=True)))
    assert assistant.handle("c", "me", "删除", message_id="9", inbox="tg").forget
    assert not [row for row in all_rows(path) if '"me"' in row]
    store.close()


# Engine dependency: the engine answers 「删除我的数据」 with Reply(forget=True) and state None
# (the lead's change to bot/engine.py).
def test_saying_delete_my_data_leaves_no_row(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    assistant = Assistant(engine, store)
    assistant.handle("c", "me", OPEN, message_id="1")
    assert assistant.handle("c", "me", "删除我的数据", message_id="2").forget
    assert not [row for row in all_rows(path) if '"me"' in row]
    store.close()


# --- retention -----------------------------------------------------------------------------------


def test_a_conversation_idle_past_retention_starts_fresh(engine: Engine) -> None:
    clock = [1_800_000_000.0]
    assistant = Assistant(engine, MemoryStore(now=lambda: clock[0], retention=30))
    assistant.handle("c", "u", OPEN)
    clock[0] += 29 * 86400
    assert assistant.pending("c", "u") == ("social_insurance", 1)
    clock[0] += 2 * 86400
    assert assistant.pending("c", "u") == (None, 0)
    assert assistant.handle("c", "u", INSURANCE).asking != "job_match", "nothing resumed"
