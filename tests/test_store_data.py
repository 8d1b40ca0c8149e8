"""The store's data rules: persons and keys, retention and purges, forget, the inbox, nonces,
creation by two processes at once, and the upgrade of schema 1 files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.store as store_module
from bot.store import (
    SCHEMA_VERSION,
    MemoryStore,
    SqliteStore,
    Store,
    StoreError,
    message_key,
    person_key,
)

STATE = {"state": "ask_job_match", "turn": 3, "facts": {"credential": "professional#20"},
         "asked": ["social_insurance"]}


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "s.db")
    yield made
    made.close()


def put(state: dict[str, Any] | None) -> Callable[[Any], tuple[Any, str]]:
    return lambda _old: (state, "done")


class Clock:
    """A clock tests move by hand (Unix seconds)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, days: float) -> None:
        self.now += days * 86400


def rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """What the file itself holds (read by a separate connection)."""
    db = sqlite3.connect(path)
    try:
        return db.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        db.close()


def test_two_processes_creating_one_new_file_both_start(tmp_path: Path) -> None:
    opener = (
        "import sys; from bot.store import SqliteStore\n"
        "sys.stdin.readline()\n"  # both wait here, then open at the same instant
        "SqliteStore(sys.argv[1]).update('k', lambda s: ({'ok': 1}, None))\n"
    )
    for attempt in range(30):
        path = tmp_path / f"new{attempt}.db"
        procs = [subprocess.Popen([sys.executable, "-c", opener, str(path)],
                                  stdin=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
        for proc in procs:
            assert proc.stdin is not None
        for proc in procs:  # the interpreters are up; release both
            proc.stdin.write(b"go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, f"attempt {attempt}: {err.decode()[-500:]}"


def test_an_idle_conversation_is_gone_from_the_file_and_starts_fresh(tmp_path: Path) -> None:
    path, clock = tmp_path / "s.db", Clock()
    store = SqliteStore(path, now=clock, retention=30)
    store.update("old", put(STATE))
    store.update("recent", put({"n": 1}))
    clock.advance(29)
    store.update("recent", put({"n": 2}))
    clock.advance(2)  # "old" idle 31 days, "recent" 2
    assert store.load("old") is None, "never resumed, even before the purge"
    store.close()
    restarted = SqliteStore(path, now=clock, retention=30)  # a restart's first write purges
    restarted.update("other", put({"n": 3}))
    restarted.close()
    kept = {row[0] for row in rows(path, "conversations")}
    assert kept == {"recent", "other"}


def test_a_purge_is_bounded_and_purging_goes_on_with_the_writes(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteStore(tmp_path / "s.db", now=clock, retention=1)
    for i in range(store_module.PURGE_LIMIT + 50):
        store.update(f"k{i}", put({"i": i}))
    clock.advance(2)
    assert store.purge() == store_module.PURGE_LIMIT
    assert store.purge() == 50
    for i in range(store_module.PURGE_LIMIT + 50):
        store.update(f"k{i}", put({"i": i}))
    clock.advance(2)
    for i in range(store_module.PURGE_EVERY * 2):
        store.update("fresh", put({"i": i}))
    assert store.purge() == 0, "the writes purged everything expired on their way"
    store.close()


def test_bad_retention_settings_are_refused_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for bad in ("0", "-3", "abc", "nan", "inf"):
        monkeypatch.setenv("BOT_RETENTION_DAYS", bad)
        with pytest.raises(StoreError, match="BOT_RETENTION_DAYS"):
            SqliteStore(tmp_path / "s.db")
    monkeypatch.setenv("BOT_RETENTION_DAYS", "0.5")
    assert store_module.retention_days() == 0.5


def test_forget_deletes_every_row_of_a_person_and_no_other(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    me, other = person_key("c", "me"), person_key("c", "other")
    for who in (me, other):
        store.update(who, put(STATE))
        store.update(f"options:{who}", put({"o": 1}), person=who)
        store.keep_reply(message_key(who, "m1"), "r", person=who)
        store.inbox_add("telegram", [(f"u-{who}", who, "{}")])
    assert store.forget(me) == 4
    for table in ("conversations", "replies", "inbox"):
        found = rows(path, table)
        assert found and not any(me in map(str, row) for row in found), table
    store.close()


def test_the_inbox_keeps_arrival_order_and_ignores_repeats(store: Store) -> None:
    alice, bob = person_key("1", "a"), person_key("2", "b")
    added = store.inbox_add("tg", [("10", alice, '{"n":10}'), ("11", bob, '{"n":11}')])
    assert added == 2
    assert store.inbox_add("tg", [("10", alice, "again"), ("12", alice, '{"n":12}')]) == 1
    assert store.inbox_pending("tg") == [
        ("10", alice, '{"n":10}'), ("11", bob, '{"n":11}'), ("12", alice, '{"n":12}')]
    assert store.inbox_pending("tg", limit=1) == [("10", alice, '{"n":10}')]
    assert store.inbox_pending("other") == []
    store.inbox_done("tg", "10")
    assert [m for m, _, _ in store.inbox_pending("tg")] == ["11", "12"]
    assert store.inbox_add("tg", [("10", alice, "redelivered")]) == 0, "handled: ignored"
    store.keep_reply(message_key(bob, "13"), "answered", person=bob)
    assert store.inbox_add("tg", [("13", bob, "{}")]) == 0, "already answered: ignored"


def test_a_nonce_is_bound_to_its_value_within_its_ttl_and_forgotten_after() -> None:
    clock = Clock()
    store = MemoryStore(now=clock)
    assert store.claim_nonce("wechat:n1", "body-a", ttl=600)
    assert store.claim_nonce("wechat:n1", "body-a", ttl=600), "the same body: a retry"
    assert not store.claim_nonce("wechat:n1", "body-b", ttl=600), "another body: a replay"
    assert store.claim_nonce("wechat:n2", "body-b", ttl=600)
    clock.advance(601 / 86400)
    assert store.claim_nonce("wechat:n1", "body-b", ttl=600)
    assert store.purge() == 1, "n2 expired and is purged; n1 was bound again"
    clock.advance(601 / 86400)
    assert store.purge() == 1
    store.close()


# any text, and short strings made of separators and JSON's own characters, where collisions
# hide (a small universe, so that hypothesis meets the same key from two pairs)
PIECES = ("", "x", "\x1f", '"', ",", '", "', "[", "]", "\\")
PART = st.one_of(st.lists(st.sampled_from(PIECES), max_size=3).map("".join), st.text())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(PART, PART), min_size=2, max_size=40))
def test_distinct_people_never_share_a_key(people: list[tuple[str, str]]) -> None:
    keys = {person_key(chat, user) for chat, user in people}
    assert len(keys) == len(set(people))
    messages = {message_key(person_key(chat, user), "m") for chat, user in people}
    assert len(messages) == len(set(people))


def test_the_colliding_pair_of_the_old_format_keeps_two_conversations(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    first, second = person_key("x\x1fy", "z"), person_key("x", "y\x1fz")
    store.update(first, put({"n": 1}))
    store.update(second, put({"n": 2}))
    assert (store.load(first), store.load(second)) == ({"n": 1}, {"n": 2})
    store.close()


def make_schema_1(path: Path) -> None:
    """A store file as the previous version wrote it."""
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "CREATE TABLE conversations (key TEXT PRIMARY KEY, state TEXT NOT NULL,"
        " updated REAL NOT NULL);"
        "CREATE TABLE replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL, created REAL NOT NULL);"
        "INSERT INTO meta VALUES ('schema', '1');"
        "INSERT INTO conversations VALUES ('conv:123\x1f456', '{\"n\": 1}', julianday('now'));"
        "INSERT INTO conversations VALUES ('wechat-options:oX', '{\"options\": [\"a\"]}',"
        " julianday('now'));"
        "INSERT INTO conversations VALUES ('conv:old\x1fu', '{\"n\": 2}', julianday('now') - 40);"
        "INSERT INTO replies VALUES ('telegram:123:9', 'r', julianday('now'));"
    )
    db.commit()
    db.close()


def test_a_schema_1_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_schema_1(path)
    store = SqliteStore(path)
    assert store.load(person_key("123", "456")) == {"n": 1}
    assert store.load("wechat-options:oX") == {"options": ["a"]}
    assert store.load(person_key("old", "u")) is None, "40 days idle: expired"
    assert store.peek("telegram:123:9") == "r"
    assert store.forget(person_key("oX", "oX")) == 1, "the options are the person's"
    store.close()
    assert rows(path, "meta") == [("schema", str(SCHEMA_VERSION))]
    assert SqliteStore(path).load(person_key("123", "456")) == {"n": 1}, "upgraded once"
