"""Conversations as data: every case of tests/conversations/*.yaml, run through the assistant.

A case is ``{id, turns}``; a turn is ``{say, user?, aside?, new_question?, expect}``.
``expect`` may hold:

- ``asking``: the slot the reply asks (null: it asks nothing);
- ``result: null``: the reply gives no result;
- ``verdict``, ``credential``, ``purpose``: fields of the result (a result must be there);
- ``reasons_include``, ``cites``: values that must be in ``result.reasons`` / ``citations``;
- ``unknown``: exactly these slots are in ``result.unknown``;
- ``options_include``: offered options; ``not_asking``: slots this reply must not ask;
- ``text_contains`` / ``text_excludes``: a string or a list of strings.

Every reply is also held to the protocol: non-empty text, a protocol slot or nothing, string
options, a known verdict; and within one question no slot is asked twice (``aside: true`` marks a
turn that only reminds of the pending question, like 「帮助」; ``new_question: true`` one that
starts another question before the first is answered, like 「那积分呢」 mid-question).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.assistant import Assistant
from bot.engine import Engine
from bot.protocol import SLOTS, VERDICTS, Reply
from bot.store import MemoryStore
from bot.yamlsafe import load_yaml

HERE = Path(__file__).resolve().parent / "conversations"
TURN_KEYS = {"say", "user", "aside", "new_question", "expect"}
EXPECT_KEYS = {"asking", "result", "verdict", "credential", "purpose", "reasons_include", "cites",
               "unknown", "options_include", "not_asking", "text_contains", "text_excludes",
               # the parts of an answer: checked by tests/test_answers.py
               "points", "scope", "first", "checklist", "gap", "brief_contains", "details"}
RESULT_KEYS = {"verdict", "credential", "purpose", "reasons_include", "cites", "unknown"}


def load_cases() -> list[Any]:
    cases = []
    for path in sorted(HERE.glob("*.yaml")):
        for case in load_yaml(path):
            cases.append(pytest.param(case, id=f"{path.stem}:{case['id']}"))
    return cases


CASES = load_cases()


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_conversation_files_are_well_formed() -> None:
    ids = [param.id for param in CASES]
    assert len(ids) == len(set(ids)), "a case id used twice"
    assert len(ids) >= 30
    for param in CASES:
        case = param.values[0]
        assert set(case) == {"id", "turns"} and case["turns"], case.get("id")
        for turn in case["turns"]:
            assert set(turn) <= TURN_KEYS and {"say", "expect"} <= set(turn), turn
            assert isinstance(turn["say"], str), turn
            assert set(turn["expect"]) <= EXPECT_KEYS, turn["expect"]


def check_protocol(reply: Reply) -> None:
    assert isinstance(reply, Reply)
    assert reply.text.strip(), "a reply with no text"
    assert reply.asking is None or reply.asking in SLOTS, reply.asking
    assert all(isinstance(o, str) and o for o in reply.options)
    if reply.result is not None:
        assert reply.result.verdict in VERDICTS
        assert reply.asking is None, "a reply that answers asks nothing"


def check_expect(reply: Reply, expect: dict[str, Any]) -> None:
    if "asking" in expect:
        assert reply.asking == expect["asking"]
    if "result" in expect:
        assert expect["result"] is None, "result: only null is meaningful"
        assert reply.result is None, reply.result
    for slot in expect.get("not_asking", []):
        assert reply.asking != slot
    for option in expect.get("options_include", []):
        assert option in reply.options
    for text in as_list(expect.get("text_contains", [])):
        assert text in reply.text
    for text in as_list(expect.get("text_excludes", [])):
        assert text not in reply.text
    if not RESULT_KEYS & set(expect):
        return
    result = reply.result
    assert result is not None, f"no result; asking {reply.asking}"
    for key in ("verdict", "credential", "purpose"):
        if key in expect:
            assert getattr(result, key) == expect[key], key
    for reason in expect.get("reasons_include", []):
        assert reason in result.reasons
    for cite in expect.get("cites", []):
        assert cite in result.citations
    if "unknown" in expect:
        assert sorted(result.unknown) == sorted(expect["unknown"])


@pytest.mark.parametrize("case", CASES)
def test_conversation(engine: Engine, case: dict[str, Any]) -> None:
    assistant = Assistant(engine, MemoryStore())
    asked: dict[str, list[str]] = {}  # per user: slots asked in the current question
    transcript: list[str] = []
    for turn in case["turns"]:
        user = str(turn.get("user", "u"))
        reply = assistant.handle("chat", user, turn["say"])
        transcript.append(f"{user}> {turn['say']}\n   {reply.asking} {reply.result}\n"
                          f"   {reply.text[:200]!r}")
        context = "\n".join(transcript)
        try:
            check_protocol(reply)
            check_expect(reply, turn["expect"])
            pending = asked.setdefault(user, [])
            if turn.get("new_question"):
                pending.clear()  # a changed purpose is a new question with its own requirements
            if reply.asking is None:
                pending.clear()
            elif not turn.get("aside"):
                assert reply.asking not in pending, f"{reply.asking} asked twice"
                pending.append(reply.asking)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- transcript ---\n{context}") from exc
