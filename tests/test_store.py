"""Conversation state storage: round trips, atomic updates, refusing files that are not ours."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store import MemoryStore, SqliteStore, Store, StoreError, open_store

STATE = {"state": "ask_job_match", "turn": 3, "facts": {"credential": "professional#20",
         "social_insurance": {"segments": [[-1, 1.5]], "window": None, "answer": None}},
         "asked": ["social_insurance"], "text": "中文 ✓ \u2028 \x00"}


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "s.db")
    yield made
    made.close()


def put(state: dict[str, Any] | None) -> Callable[[Any], tuple[Any, str]]:
    return lambda _old: (state, "done")


def test_round_trip(store: Store) -> None:
    assert store.load("k") is None
    assert store.update("k", put(STATE)) == "done"
    assert store.load("k") == STATE
    seen: list[Any] = []
    store.update("k", lambda old: (seen.append(old), (None, 1))[1])
    assert seen == [STATE]
    assert store.load("k") is None, "a None state deletes the key"


def test_keys_are_separate(store: Store) -> None:
    store.update("conv:a\x1fu", put({"n": 1}))
    store.update("conv:a\x1fv", put({"n": 2}))
    assert store.load("conv:a\x1fu") == {"n": 1}
    assert store.load("conv:a\x1fv") == {"n": 2}


def test_an_exception_in_the_change_leaves_the_old_state(store: Store) -> None:
    store.update("k", put(STATE))

    def change(old: Any) -> tuple[Any, None]:
        old["turn"] = 99  # even a change made in place before failing must not stick
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.update("k", change)
    assert store.load("k") == STATE
    store.update("k", put({"after": True}))  # the store still works
    assert store.load("k") == {"after": True}


def test_a_state_that_cannot_be_stored_leaves_the_old_state(store: Store) -> None:
    store.update("k", put(STATE))
    with pytest.raises(TypeError):
        store.update("k", put({"not json": object()}))
    assert store.load("k") == STATE


def test_a_failed_reply_computation_undoes_its_state_change(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    try:
        store.update("k", put(STATE))

        def compute() -> str:
            store.update("k", put({"half": "done"}))  # a channel computes through update
            raise RuntimeError("send failed")

        with pytest.raises(RuntimeError):
            store.seen("msg", compute)
        assert store.load("k") == STATE
        assert store.seen("msg", lambda: "again") == ("again", True)
    finally:
        store.close()


def test_seen_computes_a_reply_once(store: Store) -> None:
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        return "回复"

    assert store.seen("msg-1", compute) == ("回复", True)
    assert store.seen("msg-1", compute) == ("回复", False)
    assert calls == [1]


def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = SqliteStore(path)
    first.update("k", put(STATE))
    first.seen("msg", lambda: "r")
    first.close()
    second = SqliteStore(path)
    try:
        assert second.load("k") == STATE
        assert second.seen("msg", lambda: "other") == ("r", False)
    finally:
        second.close()


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\xff" * 3000, b"SQLite format 3\x00" + b"\xab" * 4080, b"not a database at all\n"],
    ids=["binary", "fake-header", "text"],
)
def test_a_corrupt_file_raises_store_error_and_is_left_unchanged(
    tmp_path: Path, garbage: bytes
) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(garbage)
    with pytest.raises(StoreError):
        SqliteStore(path)
    assert path.read_bytes() == garbage


def test_a_damaged_store_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    for i in range(200):
        store.update(f"k{i}", put({"i": i, "pad": "x" * 200}))
    store.close()
    for side in ("-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)
    data = bytearray(path.read_bytes())
    data[4096:12288] = b"\xde\xad" * 4096  # overwrite pages after the header
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        SqliteStore(path)
    assert path.read_bytes() == bytes(data)


def test_a_foreign_sqlite_database_raises_store_error_and_is_left_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "foreign.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO users VALUES (1, 'alice')")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError):
        SqliteStore(path)
    assert path.read_bytes() == before
    with pytest.raises(StoreError):
        open_store(str(path))


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='999' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(StoreError):
        SqliteStore(path)


def increment(old: dict[str, Any] | None) -> tuple[dict[str, Any], None]:
    count = (old or {}).get("n", 0)
    return {"n": count + 1}, None


def hammer(update: Callable[[], None], threads: int, times: int) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work() -> None:
        try:
            start.wait()
            for _ in range(times):
                update()
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []


def test_concurrent_updates_lose_nothing(store: Store) -> None:
    hammer(lambda: store.update("counter", increment), threads=8, times=50)
    assert store.load("counter") == {"n": 400}


def test_concurrent_updates_through_two_connections_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    stores = [SqliteStore(path), SqliteStore(path)]
    try:
        turn = iter(range(10**9))
        hammer(lambda: stores[next(turn) % 2].update("counter", increment), threads=6,
               times=30)
        assert stores[0].load("counter") == {"n": 180}
    finally:
        for s in stores:
            s.close()


def test_open_store_without_a_path_is_in_memory() -> None:
    assert isinstance(open_store(None), MemoryStore)



@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_peek_reads_a_kept_reply_without_storing_anything(kind: str, tmp_path: Path) -> None:
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "s.db")
    assert store.peek("wechat:1") is None
    assert store.peek("wechat:1") is None  # looking did not store
    store.seen("wechat:1", lambda: "答复")
    assert store.peek("wechat:1") == "答复"
