"""The tables of a store file, and the upgrade of older store files to the current schema.

Schema 2 (current): times are Unix seconds (the store's clock); every row that belongs to a
person names them in ``person`` (``person_key(chat, user)``) so that it can be deleted with them.
Schema 1 (before): conversation keys ``conv:<chat>\\x1f<user>``, times as julianday, no persons.
"""

from __future__ import annotations

import json
import sqlite3

SCHEMA_VERSION = 2
TABLES = ("meta", "conversations", "replies")  # present in every schema: the file is ours
_JULIAN_UNIX_EPOCH = 2440587.5

_CREATE = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS conversations (key TEXT PRIMARY KEY, person TEXT,"
    " state TEXT NOT NULL, updated REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, person TEXT,"
    " reply TEXT NOT NULL, created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " channel TEXT NOT NULL, message_id TEXT NOT NULL, person TEXT NOT NULL,"
    " payload TEXT NOT NULL, created REAL NOT NULL, done INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (channel, message_id))",
    "CREATE TABLE IF NOT EXISTS nonces (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
    " expires REAL NOT NULL)",
    # purges and deletions go by index, never by scan
    "CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated)",
    "CREATE INDEX IF NOT EXISTS conversations_person ON conversations (person)",
    "CREATE INDEX IF NOT EXISTS replies_created ON replies (created)",
    "CREATE INDEX IF NOT EXISTS replies_person ON replies (person)",
    "CREATE INDEX IF NOT EXISTS inbox_person ON inbox (person)",
    "CREATE INDEX IF NOT EXISTS inbox_pending ON inbox (channel, done, seq)",
    "CREATE INDEX IF NOT EXISTS inbox_created ON inbox (created)",
    "CREATE INDEX IF NOT EXISTS nonces_expires ON nonces (expires)",
)


def person_key(chat: str, user: str) -> str:
    """The one string naming the person ``user`` in ``chat``; distinct pairs never share it.

    A JSON array (ASCII-escaped, so any string, even a lone surrogate, can be stored).
    """
    return json.dumps([chat, user])


def create_or_upgrade(db: sqlite3.Connection) -> None:
    """Create the tables of a new file or upgrade an old one; call inside a write transaction.

    Raises:
        sqlite3.DatabaseError: the file is not a store of this program, or of a newer schema.
    """
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if tables - {"sqlite_sequence"} and not set(TABLES) <= tables:
        raise sqlite3.DatabaseError(f"not a 落户助手 store (tables: {sorted(tables)})")
    version = None
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        version = row[0] if row else None
    if version == "1":
        _upgrade_from_1(db)
    elif version not in (None, str(SCHEMA_VERSION)):
        raise sqlite3.DatabaseError(f"unknown store schema {version}")
    for statement in _CREATE:
        db.execute(statement)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))


def _upgrade_from_1(db: sqlite3.Connection) -> None:
    """Schema 1 → 2: persons named, keys unambiguous, times in Unix seconds."""
    for table, column in (("conversations", "updated"), ("replies", "created")):
        db.execute(f"ALTER TABLE {table} ADD COLUMN person TEXT")
        db.execute(f"UPDATE {table} SET {column} = ({column} - ?) * 86400.0",
                   (_JULIAN_UNIX_EPOCH,))
    rows = db.execute("SELECT key FROM conversations").fetchall()
    for (key,) in rows:
        new_key, person = _upgraded_key(str(key))
        db.execute("UPDATE OR REPLACE conversations SET key=?, person=? WHERE key=?",
                   (new_key, person, key))


def _upgraded_key(key: str) -> tuple[str, str]:
    """A schema 1 conversation key → (its key now, the person it belongs to).

    ``conv:<chat>\\x1f<user>`` is split at the first separator: channel chat ids (Telegram
    numbers, WeChat openids) never hold one, so that is how every real key was made.
    """
    if key.startswith("conv:") and "\x1f" in key:
        chat, user = key[len("conv:"):].split("\x1f", 1)
        person = person_key(chat, user)
        return person, person
    if key.startswith("wechat-options:"):
        openid = key[len("wechat-options:"):]
        return key, person_key(openid, openid)
    return key, key
