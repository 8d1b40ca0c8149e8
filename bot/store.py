"""Conversation state storage shared by every channel.

A store maps a key to a JSON-able state dict (a conversation, keyed by ``person_key(chat,
user)``), keeps the replies already given to channel messages (so that a redelivered message gets
the same reply and is not handled twice), a per-channel inbox of messages received but not yet
handled, and a TTL table of nonces already used. Every row that belongs to a person names them, so
``forget`` deletes all of it at once; rows past their use are purged in the normal course of work
(a conversation idle longer than ``BOT_RETENTION_DAYS``, default 30, with all its facts).

``SqliteStore`` is the persistent default of every channel (``BOT_STORE`` / ``--store``);
``MemoryStore`` is the same store in process memory (the terminal's default).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from bot.store_schema import SCHEMA_VERSION, create_or_upgrade, person_key

__all__ = [
    "SCHEMA_VERSION",
    "MemoryStore",
    "SqliteStore",
    "State",
    "Store",
    "StoreError",
    "message_key",
    "open_store",
    "person_key",
    "retention_days",
]

T = TypeVar("T")
State = dict[str, Any]
Clock = Callable[[], float]

DAY = 86400.0
RETENTION_DAYS = 30.0  # default idle time after which a conversation and its facts are deleted
REPLIES_KEPT_DAYS = 2.0  # replies and handled inbox entries kept for redeliveries
PURGE_EVERY = 100  # writes between two purges (the first write of a process purges too)
PURGE_LIMIT = 500  # rows at most per table and purge: a purge never stalls a message
OPEN_TIMEOUT = 10.0  # seconds to wait for a file another process is creating or writing


class StoreError(Exception):
    """The store file cannot be used (corrupt, unreadable, or of another program)."""


def message_key(person: str, message_id: str) -> str:
    """The key of the reply kept for ``message_id`` of ``person`` (see ``person_key``)."""
    return json.dumps([person, message_id])


def retention_days(environ: dict[str, str] | None = None) -> float:
    """``BOT_RETENTION_DAYS`` (days, > 0; fractions allowed), default 30.

    Raises:
        StoreError: the variable is set to something else than a positive number.
    """
    raw = (os.environ if environ is None else environ).get("BOT_RETENTION_DAYS", "").strip()
    if not raw:
        return RETENTION_DAYS
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not 0 < days < 1e6:
        raise StoreError(f"BOT_RETENTION_DAYS={raw!r}: expected a positive number of days")
    return days


class SqliteStore:
    """A store in one SQLite file: atomic read-modify-write, safe across threads and processes.

    Args:
        path: the file (created when missing), or ``":memory:"``.
        now: the clock, Unix seconds (tests pass their own to age data without sleeping).
        retention: idle days after which a conversation is deleted (default: ``retention_days()``).

    Raises:
        StoreError: the file exists but is not a store of this program, is of a newer schema, or
            is corrupt (it is never overwritten then); or BOT_RETENTION_DAYS is wrong.
    """

    def __init__(self, path: str | Path, *, now: Clock = time.time,
                 retention: float | None = None) -> None:
        self.path = Path(path)
        self._now = now
        self._keep = (retention_days() if retention is None else retention) * DAY
        self._lock = threading.RLock()
        self._depth = 0
        self._writes = 0
        try:
            self._db = sqlite3.connect(str(path), timeout=OPEN_TIMEOUT, isolation_level=None,
                                       check_same_thread=False)
            _retry_while_busy(self._open)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"状态文件 {self.path} 无法使用({exc});文件未被改动,请检查或换一个路径"
            ) from exc

    def _open(self) -> None:
        db = self._db
        ok = db.execute("PRAGMA quick_check").fetchone()
        if not ok or ok[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {ok}")
        with self.transaction():  # refuses a foreign file before WAL rewrites its header
            create_or_upgrade(db)
        if str(self.path) != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")

    # --- transactions and conversations ------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction around the block; nested uses join the outer one.

        Everything the block does through this store commits together, or nothing does when it
        raises (the exception goes on).
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def update(self, key: str, change: Callable[[State | None], tuple[State | None, T]], *,
               person: str | None = None) -> T:
        """Atomically read the state of ``key``, pass it to ``change`` and save what it returns.

        ``change`` gets the stored state (None when there is none, or it was idle longer than the
        retention period) and returns ``(new_state, value)``; a None new state deletes the key.
        Nothing is saved when ``change`` raises. ``person`` (default: ``key``) is whose state
        it is. Returns ``value``.
        """
        with self.transaction():
            new, value = change(self._load(key))
            if new is None:
                self._db.execute("DELETE FROM conversations WHERE key=?", (key,))
            else:
                self._db.execute(
                    "INSERT INTO conversations VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE "
                    "SET person=excluded.person, state=excluded.state, updated=excluded.updated",
                    (key, person or key, _encode(new), self._now()),
                )
            self._wrote()
            return value

    def load(self, key: str) -> State | None:
        """The stored state of ``key``, or None (none, unreadable, or idle past retention)."""
        with self._lock:
            return self._load(key)

    def _load(self, key: str) -> State | None:
        row = self._db.execute(
            "SELECT state FROM conversations WHERE key=? AND updated >= ?",
            (key, self._now() - self._keep),
        ).fetchone()
        return _decode(row[0]) if row else None

    # --- replies kept for messages -----------------------------------------------------------

    def seen(self, message_key: str, compute: Callable[[], str], *,
             person: str | None = None) -> tuple[str, bool]:
        """The reply once given to a channel message, computing and keeping it the first time.

        ``compute`` runs in the same transaction (a state change it makes through ``update`` is
        undone when it raises). Returns ``(reply, fresh)``; ``fresh`` is False when the reply was
        already stored.
        """
        with self.transaction():
            kept = self.peek(message_key)
            if kept is not None:
                return kept, False
            reply = compute()
            self.keep_reply(message_key, reply, person=person)
            return reply, True

    def peek(self, message_key: str) -> str | None:
        """The reply kept for a channel message, or None (nothing is stored)."""
        with self._lock:
            row = self._db.execute(
                "SELECT reply FROM replies WHERE key=? AND created >= ?",
                (message_key, self._now() - REPLIES_KEPT_DAYS * DAY),
            ).fetchone()
        return str(row[0]) if row else None

    def keep_reply(self, message_key: str, reply: str, *, person: str | None = None) -> None:
        """Keep ``reply`` for ``message_key`` (replacing any), on behalf of ``person``."""
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?)",
                             (message_key, person, reply, self._now()))
            self._wrote()

    # --- the inbox ---------------------------------------------------------------------------

    def inbox_add(self, channel: str, items: Sequence[tuple[str, str, str]]) -> int:
        """Keep received messages of ``channel`` until they are handled; one transaction.

        Each item is ``(message_id, person, payload)``: the channel's unique id of the message,
        ``person_key(chat, user)`` of its sender (so ``forget`` deletes it; it also orders the
        person's messages), and the message as the channel wants it back (e.g. JSON). An id
        already in the inbox (pending or handled) or already answered is ignored. Returns how
        many items were added.
        """
        added = 0
        with self.transaction():
            for message_id, person, payload in items:
                if self.peek(message_key(person, message_id)) is not None:
                    continue
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO inbox (channel, message_id, person, payload, created)"
                    " VALUES (?, ?, ?, ?, ?)", (channel, message_id, person, payload, self._now()))
                added += cursor.rowcount
            self._wrote()
        return added

    def inbox_pending(self, channel: str, limit: int = 100) -> list[tuple[str, str, str]]:
        """Up to ``limit`` unhandled ``(message_id, person, payload)`` of ``channel``, in
        arrival order (oldest first)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT message_id, person, payload FROM inbox WHERE channel=? AND done=0 "
                "ORDER BY seq LIMIT ?", (channel, limit)).fetchall()
        return [(str(m), str(p), str(x)) for m, p, x in rows]

    def inbox_done(self, channel: str, message_id: str) -> None:
        """Mark an inbox entry handled (no-op when absent); ``Assistant.handle(..., inbox=)``
        does this in the transaction of the step, use it for messages that need no step."""
        with self.transaction():
            self._db.execute("UPDATE inbox SET done=1 WHERE channel=? AND message_id=?",
                             (channel, message_id))

    # --- nonces, deletion, retention ---------------------------------------------------------

    def claim_nonce(self, key: str, value: str, ttl: float) -> bool:
        """Bind the nonce ``key`` to ``value`` (e.g. a digest of the body it signed) for ``ttl``
        seconds. True when the nonce is new or already bound to this same ``value`` (a retry);
        False when it is bound to another value within its ttl (a replay)."""
        now = self._now()
        with self.transaction():
            row = self._db.execute("SELECT value FROM nonces WHERE key=? AND expires > ?",
                                   (key, now)).fetchone()
            if row:
                return bool(row[0] == value)
            self._db.execute("INSERT OR REPLACE INTO nonces VALUES (?, ?, ?)",
                             (key, value, now + ttl))
            self._wrote()
            return True

    def forget(self, person: str) -> int:
        """Delete every row of ``person`` (conversations, kept replies, inbox); the row count."""
        deleted = 0
        with self.transaction():
            for table in ("conversations", "replies", "inbox"):
                cursor = self._db.execute(f"DELETE FROM {table} WHERE person=?", (person,))
                deleted += cursor.rowcount
        return deleted

    def purge(self) -> int:
        """Delete rows past their use, at most ``PURGE_LIMIT`` per table; the row count.

        Runs by itself every ``PURGE_EVERY`` writes; public for tools and tests.
        """
        now = self._now()
        rules = (
            ("conversations", "updated < ?", now - self._keep),
            ("replies", "created < ?", now - REPLIES_KEPT_DAYS * DAY),
            ("inbox", "done=1 AND created < ?", now - REPLIES_KEPT_DAYS * DAY),
            ("inbox", "created < ?", now - self._keep),
            ("nonces", "expires <= ?", now),
        )
        deleted = 0
        with self.transaction():
            for table, where, limit in rules:
                cursor = self._db.execute(
                    f"DELETE FROM {table} WHERE rowid IN "
                    f"(SELECT rowid FROM {table} WHERE {where} LIMIT ?)", (limit, PURGE_LIMIT))
                deleted += cursor.rowcount
        return deleted

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 1:  # the first write, then every PURGE_EVERY
            self.purge()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class MemoryStore(SqliteStore):
    """The same store in process memory (nothing survives the process)."""

    def __init__(self, *, now: Clock = time.time, retention: float | None = None) -> None:
        super().__init__(":memory:", now=now, retention=retention)


Store = SqliteStore  # what the core and the channels use (both classes behave alike)


def _retry_while_busy(action: Callable[[], None]) -> None:
    """Run ``action``, again while another process holds the file (creating it, switching it to
    WAL): SQLite reports some of those moments as busy without waiting on its timeout."""
    deadline = time.monotonic() + OPEN_TIMEOUT
    pause = 0.005
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _encode(state: State) -> str:
    """JSON of a state: UTF-8 when it can be, \\u-escaped when it holds a lone surrogate."""
    raw = json.dumps(state, ensure_ascii=False)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(state)
    return raw


def _decode(raw: str) -> State | None:
    """A stored state; a row that does not decode is treated as no state."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def open_store(path: str | None) -> Store:
    """A SQLite store at ``path``, or a memory store when no path is given.

    Raises:
        StoreError: as ``SqliteStore``.
    """
    return SqliteStore(path) if path else MemoryStore()
