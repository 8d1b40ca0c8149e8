"""The JSON Lines front (``python -m bot chat --jsonl``): in-process and as a real process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.assistant import Assistant
from bot.channels.terminal import run_jsonl
from bot.engine import Engine
from bot.protocol import SLOTS, VERDICTS
from bot.store import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
REPLY_KEYS = {"chat", "user", "text", "asking", "options", "result", "brief"}


def line(text: str, chat: str = "c", user: str = "u", id: str | None = None) -> bytes:
    message = {"chat": chat, "user": user, "text": text, **({} if id is None else {"id": id})}
    return (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")


# (id, raw input line, True when it must get an error line)
LINES: list[tuple[str, bytes, bool]] = [
    ("question", line("中级会计能落户吗"), False),
    ("malformed-json", b'{"chat": "c", "user": \n', True),
    ("json-array", b'["c", "u", "hi"]\n', True),
    ("json-string", b'"hello"\n', True),
    ("json-null", b"null\n", True),
    ("missing-text", b'{"chat": "c", "user": "u"}\n', True),
    ("number-chat", b'{"chat": 1, "user": "u", "text": "hi"}\n', True),
    ("null-text", b'{"chat": "c", "user": "u", "text": null}\n', True),
    ("list-user", b'{"chat": "c", "user": ["u"], "text": "hi"}\n', True),
    ("empty-line", b"\n", True),
    ("blank-line", b"   \t \n", True),
    ("huge-number", b'{"chat": "c", "user": "u", "text": 1e999999}\n', True),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000 + b"\n", True),
    ("invalid-utf8-line", b'\xff\xfe{"chat": "c", "user": "u", "text": "hi"}\n', True),
    ("invalid-utf8-in-text", b'{"chat": "c", "user": "u", "text": "\xff\xfe\xc3"}\n', False),
    ("lone-surrogate-text", b'{"chat": "c", "user": "u", "text": "\\ud800 x \\udfff"}\n', False),
    ("lone-surrogate-chat", b'{"chat": "c\\ud800", "user": "u", "text": "hi"}\n', False),
    ("nul-and-controls", b'{"chat": "c", "user": "u", "text": "a\\u0000b\\u001bc\\u2028"}\n',
     False),
    ("extra-fields", b'{"chat": "c", "user": "u", "text": "hi", "x": [1]}\n', False),
    ("crlf", b'{"chat": "c", "user": "u", "text": "hi"}\r\n', False),
    ("bom", b'\xef\xbb\xbf{"chat": "c", "user": "u", "text": "hi"}\n', None),
    ("answer", line("一直1.5倍"), False),
    ("string-id", line("你好", id="m-1"), False),
    ("number-id", b'{"chat": "c", "user": "u", "text": "hi", "id": 1}\n', True),
    ("null-id", b'{"chat": "c", "user": "u", "text": "hi", "id": null}\n', True),
    ("object-id", b'{"chat": "c", "user": "u", "text": "hi", "id": {"n": 1}}\n', True),
]


def check_reply_line(out: dict[str, Any], sent: bytes) -> None:
    assert set(out) == REPLY_KEYS, out
    assert isinstance(out["text"], str) and out["text"].strip()
    assert out["asking"] is None or out["asking"] in SLOTS
    assert isinstance(out["options"], list) and all(isinstance(o, str) for o in out["options"])
    if out["result"] is not None:
        assert out["result"]["verdict"] in VERDICTS
    sent_json = json.loads(sent.decode("utf-8", errors="replace").lstrip("\ufeff"))
    assert (out["chat"], out["user"]) == (sent_json["chat"], sent_json["user"])


def check_replies(raw_out: bytes, sent: list[bytes], errors: list[bool | None]) -> None:
    out_lines = raw_out.decode("utf-8").splitlines()
    assert len(out_lines) == len(sent), "one reply line per input line"
    for out_line, raw, error in zip(out_lines, sent, errors, strict=True):
        out = json.loads(out_line)
        assert isinstance(out, dict)
        if error is None:  # either is acceptable, but it must be one of the two
            error = "error" in out
        if error:
            assert set(out) == {"error"} and isinstance(out["error"], str) and out["error"]
        else:
            check_reply_line(out, raw)


@pytest.mark.parametrize(("raw", "error"), [pytest.param(*c[1:], id=c[0]) for c in LINES])
def test_each_kind_of_line_gets_one_answer_and_the_front_goes_on(
    engine: Engine, raw: bytes, error: bool | None
) -> None:
    sent = [raw, line("你好")]
    stdout = io.BytesIO()
    status = run_jsonl(Assistant(engine, MemoryStore()), io.BytesIO(b"".join(sent)), stdout)
    assert status == 0
    check_replies(stdout.getvalue(), sent, [error, False])


def test_replies_come_in_order_and_keep_state_per_user(engine: Engine) -> None:
    sent = [line("中级会计能落户吗", user="a"), line("一建能积分吗", user="b"),
            line("一直1.5倍", user="a"), line("一直1.5倍", user="b"),
            line("对口", user="a"), line("对口", user="b")]
    stdout = io.BytesIO()
    run_jsonl(Assistant(engine, MemoryStore()), io.BytesIO(b"".join(sent)), stdout)
    outs = [json.loads(x) for x in stdout.getvalue().decode("utf-8").splitlines()]
    assert [o["user"] for o in outs] == ["a", "b", "a", "b", "a", "b"]
    assert [o["asking"] for o in outs[:4]] == ["social_insurance"] * 2 + ["job_match"] * 2
    assert outs[4]["result"]["credential"] == "professional#20"
    assert outs[4]["result"]["purpose"] == "settle"
    assert outs[5]["result"]["credential"] == "professional#8"
    assert outs[5]["result"]["purpose"] == "points"


def test_a_repeated_id_gets_the_same_reply_and_one_step(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []
    real = engine.step
    monkeypatch.setattr(engine, "step",
                        lambda state, text: (steps.append(text), real(state, text))[1])
    sent = [line("中级会计能落户吗", id="1"), line("一直1.5倍", id="2"),
            line("一直1.5倍", id="2"),  # a client resending after a crash
            line("对口", id="3")]
    stdout = io.BytesIO()
    run_jsonl(Assistant(engine, MemoryStore()), io.BytesIO(b"".join(sent)), stdout)
    outs = stdout.getvalue().decode("utf-8").splitlines()
    assert outs[2] == outs[1] and json.loads(outs[1])["asking"] == "job_match"
    assert steps == ["中级会计能落户吗", "一直1.5倍", "对口"]
    assert json.loads(outs[3])["result"]["credential"] == "professional#20"


def test_an_internal_error_is_an_apology_and_not_a_crash(engine: Engine) -> None:
    class Broken(MemoryStore):
        def update(self, key, change):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk on fire")

    stdout = io.BytesIO()
    sent = [line("中级会计能落户吗"), line("你好")]
    assert run_jsonl(Assistant(engine, Broken()), io.BytesIO(b"".join(sent)), stdout) == 0
    outs = [json.loads(x) for x in stdout.getvalue().decode("utf-8").splitlines()]
    assert len(outs) == 2
    assert all(o["text"] and "disk on fire" not in o["text"] for o in outs)


# --- the real process ---------------------------------------------------------------------------


def run_chat(stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "bot", "chat", "--jsonl", *args], input=stdin,
                          capture_output=True, cwd=ROOT, timeout=60)


def test_the_process_answers_every_line_and_exits_0_at_eof() -> None:
    sent = [raw for _, raw, _ in LINES if len(raw) < 1000]
    errors = [error for _, raw, error in LINES if len(raw) < 1000]
    last_without_newline = line("对口").rstrip(b"\n")
    done = run_chat(b"".join(sent) + last_without_newline)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    check_replies(done.stdout, [*sent, last_without_newline], [*errors, False])


def test_the_process_flushes_each_reply_before_the_next_line_arrives() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "chat", "--jsonl"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    watchdog = threading.Timer(20, proc.kill)
    watchdog.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        for text, asking in (("中级会计能落户吗", "social_insurance"), ("一直1.5倍", "job_match")):
            proc.stdin.write(line(text))
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())
            assert reply["asking"] == asking
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        watchdog.cancel()
        proc.kill()


def test_a_store_file_resumes_the_dialog_after_a_restart(tmp_path: Path) -> None:
    store = str(tmp_path / "state.sqlite3")
    first = run_chat(line("中级会计能落户吗") + line("一直1.5倍"), "--store", store)
    assert first.returncode == 0, first.stderr.decode("utf-8", "replace")
    assert json.loads(first.stdout.splitlines()[-1])["asking"] == "job_match"
    second = run_chat(line("对口"), "--store", store)
    assert second.returncode == 0, second.stderr.decode("utf-8", "replace")
    result = json.loads(second.stdout)["result"]
    assert (result["verdict"], result["credential"], result["purpose"]) == (
        "eligible", "professional#20", "settle")


def test_a_repeated_id_after_a_restart_gets_the_kept_reply(tmp_path: Path) -> None:
    store = str(tmp_path / "state.sqlite3")
    opening = line("中级会计能落户吗", id="1") + line("一直1.5倍", id="2")
    first = run_chat(opening, "--store", store)
    assert first.returncode == 0, first.stderr.decode("utf-8", "replace")
    # the client did not see reply 2 (it was killed) and sends the line again to a new process
    second = run_chat(line("一直1.5倍", id="2") + line("对口", id="3"), "--store", store)
    assert second.returncode == 0, second.stderr.decode("utf-8", "replace")
    again, result = second.stdout.splitlines()
    assert again == first.stdout.splitlines()[1]
    assert json.loads(result)["result"]["credential"] == "professional#20"


def test_a_foreign_store_file_is_refused_in_one_line_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "not-a-store.db"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    done = run_chat(line("你好"), "--store", str(path))
    assert done.returncode != 0
    assert done.stdout == b""
    assert len(done.stderr.decode("utf-8").strip().splitlines()) == 1
    assert path.read_bytes() == before
