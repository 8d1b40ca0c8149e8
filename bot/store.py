"""Conversation state storage shared by every channel.

A store maps a conversation key (channel-free: ``chat`` and ``user``) to a JSON-able dict, and
keeps the replies already given to channel messages so that a redelivered message (a Telegram
update fetched twice, a WeChat retry with the same MsgId) gets the same reply and is not handled
twice. ``MemoryStore`` serves the terminal by default; ``SqliteStore`` is the embedded persistent
default for every channel (``BOT_STORE`` / ``--store``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
State = dict[str, Any]

SCHEMA_VERSION = 1
REPLIES_KEPT_DAYS = 2  # channel replies kept for redeliveries (WeChat retries, Telegram restarts)
PURGE_EVERY = 200  # replies inserted between two purges of the old ones


class StoreError(Exception):
    """The store file cannot be used (corrupt, unreadable, or of another program)."""


class Store(Protocol):
    """What the core and the channels need from a state store."""

    def update(self, key: str, change: Callable[[State | None], tuple[State | None, T]]) -> T:
        """Atomically read the state of ``key``, pass it to ``change`` and save what it returns.

        ``change`` gets the stored state (or None) and returns ``(new_state, value)``; a None
        new state deletes the key. Nothing is saved when ``change`` raises.
        """
        ...

    def load(self, key: str) -> State | None:
        """The stored state of ``key``, or None."""
        ...

    def seen(self, message_key: str, compute: Callable[[], str]) -> tuple[str, bool]:
        """The reply once given to a channel message, computing and keeping it the first time.

        Returns ``(reply, fresh)``; ``fresh`` is False when the reply was already stored.
        """
        ...

    def peek(self, message_key: str) -> str | None:
        """The reply kept for a channel message, or None (nothing is stored)."""
        ...

    def close(self) -> None: ...


class MemoryStore:
    """A store in process memory (the terminal's default: nothing survives the process)."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}
        self._replies: dict[str, str] = {}
        self._lock = threading.RLock()

    def update(self, key: str, change: Callable[[State | None], tuple[State | None, T]]) -> T:
        with self._lock:
            raw = self._states.get(key)
            new, value = change(json.loads(raw) if raw is not None else None)
            if new is None:
                self._states.pop(key, None)
            else:
                self._states[key] = json.dumps(new, ensure_ascii=False)
            return value

    def load(self, key: str) -> State | None:
        with self._lock:
            raw = self._states.get(key)
        return json.loads(raw) if raw is not None else None

    def seen(self, message_key: str, compute: Callable[[], str]) -> tuple[str, bool]:
        with self._lock:
            if message_key in self._replies:
                return self._replies[message_key], False
            reply = compute()
            self._replies[message_key] = reply
            return reply, True

    def peek(self, message_key: str) -> str | None:
        with self._lock:
            return self._replies.get(message_key)

    def close(self) -> None:
        pass


class SqliteStore:
    """A store in one SQLite file: atomic read-modify-write, safe across threads.

    Raises:
        StoreError: when the file exists but is not a store of this program, or is corrupt.
            The file is never overwritten in that case.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._inserts = 0
        try:
            self._db = sqlite3.connect(
                str(self.path), timeout=10, isolation_level=None, check_same_thread=False
            )
            self._check_and_create()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"状态文件 {self.path} 无法使用({exc});文件未被改动,请检查或换一个路径"
            ) from exc

    def _check_and_create(self) -> None:
        db = self._db
        ok = db.execute("PRAGMA quick_check").fetchone()
        if not ok or ok[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {ok}")
        found = db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        tables = {row[0] for row in found}
        ours = {"meta", "conversations", "replies"}
        if tables and not ours <= tables:
            raise sqlite3.DatabaseError(f"not a 落户助手 store (tables: {sorted(tables)})")
        # Only a file known to be ours (or a new one) is switched to WAL: it rewrites the header.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        with self._transaction():
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS conversations "
                "(key TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS replies "
                "(key TEXT PRIMARY KEY, reply TEXT NOT NULL, created REAL NOT NULL)"
            )
            # old replies are purged now and then: by index, not by scan
            db.execute("CREATE INDEX IF NOT EXISTS replies_created ON replies (created)")
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
        version = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if version is None or version[0] != str(SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"unknown store schema {version}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # Re-entrant: `seen` computes a reply through `update`, and both must commit as one.
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def update(self, key: str, change: Callable[[State | None], tuple[State | None, T]]) -> T:
        with self._transaction() as db:
            row = db.execute("SELECT state FROM conversations WHERE key=?", (key,)).fetchone()
            new, value = change(_decode(row[0]) if row else None)
            if new is None:
                db.execute("DELETE FROM conversations WHERE key=?", (key,))
            else:
                db.execute(
                    "INSERT INTO conversations VALUES (?, ?, julianday('now')) ON CONFLICT(key) "
                    "DO UPDATE SET state=excluded.state, updated=excluded.updated",
                    (key, json.dumps(new, ensure_ascii=False)),
                )
            return value

    def load(self, key: str) -> State | None:
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM conversations WHERE key=?", (key,)
            ).fetchone()
        return _decode(row[0]) if row else None

    def seen(self, message_key: str, compute: Callable[[], str]) -> tuple[str, bool]:
        with self._transaction() as db:
            row = db.execute("SELECT reply FROM replies WHERE key=?", (message_key,)).fetchone()
            if row:
                return str(row[0]), False
            reply = compute()
            db.execute(
                "INSERT INTO replies VALUES (?, ?, julianday('now'))", (message_key, reply)
            )
            self._inserts += 1
            if self._inserts % PURGE_EVERY == 1:  # the first insert, then every PURGE_EVERY
                db.execute("DELETE FROM replies WHERE created < julianday('now') - ?",
                           (REPLIES_KEPT_DAYS,))
            return reply, True

    def peek(self, message_key: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT reply FROM replies WHERE key=?", (message_key,)
            ).fetchone()
        return str(row[0]) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _decode(raw: str) -> State | None:
    """A stored state; a row that does not decode is treated as no state (and logged upstream)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def open_store(path: str | None) -> Store:
    """A SQLite store at ``path``, or a memory store when no path is given."""
    return SqliteStore(path) if path else MemoryStore()
