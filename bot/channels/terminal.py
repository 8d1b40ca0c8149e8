"""The terminal front: an interactive chat, or the JSON Lines protocol with ``--jsonl``.

``python -m bot chat --jsonl`` reads one JSON object per line from standard input and writes
exactly one JSON object per line to standard output, flushed (../shared/PROTOCOL.md). A line
with an ``id`` is stepped at most once: a repeat gets the reply kept for it (in the ``--store``
file across restarts, for two days).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import IO, Any

from bot.assistant import Assistant, build_assistant
from bot.clock import ClockError
from bot.knowledge import KnowledgeError
from bot.store import StoreError, open_store

log = logging.getLogger("bot.terminal")


def parse_line(line: str) -> tuple[dict[str, str] | None, str | None]:
    """A protocol input line → (message, None) or (None, what is wrong).

    The message has the strings ``chat``, ``user``, ``text`` and, when the line has one, ``id``.
    """
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at column {exc.colno}"
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    except RecursionError:
        return None, "not valid JSON: nested too deeply"
    if not isinstance(value, dict):
        return None, "expected a JSON object with string fields chat, user, text"
    missing = [k for k in ("chat", "user", "text") if not isinstance(value.get(k), str)]
    if missing:
        return None, f"fields must be strings: {', '.join(missing)}"
    if "id" in value and not isinstance(value["id"], str):
        return None, "field id must be a string when present"
    return {k: value[k] for k in ("chat", "user", "text", "id") if k in value}, None


def encode(obj: dict[str, Any]) -> bytes:
    """One output line; text that UTF-8 cannot carry (lone surrogates) is \\u-escaped."""
    try:
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(obj, ensure_ascii=True) + "\n").encode("ascii")


def run_jsonl(assistant: Assistant, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Serve the protocol until end of input; every line gets exactly one reply line."""
    for raw in stdin:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            out: dict[str, Any] = {"error": "empty line: expected a JSON object"}
        else:
            message, error = parse_line(line)
            if message is None:
                out = {"error": error}
            else:
                # with an id, a line handled before (even before a restart, with --store)
                # gets its kept reply again instead of a second step
                reply = assistant.handle(message["chat"], message["user"], message["text"],
                                         message_id=message.get("id"))
                out = reply.to_json(message["chat"], message["user"])
        stdout.write(encode(out))
        stdout.flush()
    return 0


def run_interactive(assistant: Assistant, chat: str, user: str) -> int:
    """A chat for a person at a terminal. Empty line or Ctrl-D ends it."""
    print("落户助手(2023版目录)。输入问题,例如「中级会计能落户吗」;空行或 Ctrl-D 退出。")
    while True:
        try:
            text = input("你> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not text.strip():
            return 0
        reply = assistant.handle(chat, user, text)
        print(reply.text)
        if reply.options:
            print("  " + "  ".join(f"[{i}] {o}" for i, o in enumerate(reply.options, 1)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot chat", description="终端对话")
    parser.add_argument("--jsonl", action="store_true", help="JSON Lines protocol on stdin/stdout")
    parser.add_argument("--store", help="SQLite file that keeps conversations across restarts")
    parser.add_argument("--chat", default="terminal", help="conversation id (interactive)")
    parser.add_argument("--user", default="me", help="user id (interactive)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        assistant = build_assistant(open_store(args.store))
    except (StoreError, KnowledgeError, ClockError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.jsonl:
        return run_jsonl(assistant, sys.stdin.buffer, sys.stdout.buffer)
    return run_interactive(assistant, args.chat, args.user)
