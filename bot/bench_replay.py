"""The message stream of ``python -m bot bench``: the persona dialogs of a case file replayed
through the assistant as ``../shared/eval/simulate.py`` drives them (each persona answers what
the bot asks; cases of one group share a chat and take turns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from bot.assistant import Assistant

UNKNOWN = "不清楚"  # simulate.py's answer to a slot the persona has no answer for
MAX_REPLIES = 10


class Message(NamedTuple):
    chat: str
    user: str
    text: str


class _Persona:
    """One persona case answering what the bot asks, as simulate.py's personas do."""

    def __init__(self, case: dict[str, Any], chat: str) -> None:
        self.case, self.chat, self.user = case, chat, f"u-{case['id']}"
        self.stages: list[dict[str, Any]] = [case, *case.get("then", [])]
        self.stage, self.replies = 0, 0
        self.pending: str | None = case["open"]
        self.passed = True

    def take(self, reply: dict[str, Any]) -> None:
        self.replies += 1
        expect = self.stages[self.stage].get("expect", {})
        result, asking = reply["result"], reply["asking"]
        if result is not None or (expect.get("help") and asking is None):
            self.passed &= result is None or _as_expected(result, expect)
            self.stage += 1
            done = self.stage >= len(self.stages)
            self.pending = None if done else self.stages[self.stage]["say"]
        elif asking is None or self.replies >= MAX_REPLIES:
            self.passed, self.pending = False, None
        else:
            self.pending = self.case.get("say", {}).get(asking, UNKNOWN)


def _as_expected(result: dict[str, Any], expect: dict[str, Any]) -> bool:
    def among(key: str) -> bool:
        want = expect[key]
        return result[key] in (want if isinstance(want, list) else [want])

    return (all(among(key) for key in ("verdict", "credential", "purpose") if key in expect)
            and set(expect.get("reasons_include", [])) <= set(result["reasons"])
            and set(expect.get("cites", [])) <= set(result["citations"]))


def replay(assistant: Assistant, cases: list[dict[str, Any]]) -> tuple[
        list[Message], list[dict[str, Any]], int]:
    """Run the dialogs: (messages in order, the reply to each, number of cases as expected).

    Cases of one ``group`` share a chat and take turns, as in simulate.py.
    """
    groups: dict[str, list[_Persona]] = {}
    for case in cases:
        chat = f"bench-{case.get('group') or case['id']}"
        groups.setdefault(chat, []).append(_Persona(case, chat))
    messages: list[Message] = []
    replies: list[dict[str, Any]] = []
    for members in groups.values():
        while any(p.pending is not None for p in members):
            for persona in members:
                if persona.pending is None:
                    continue
                message = Message(persona.chat, persona.user, persona.pending)
                reply = assistant.handle(*message).to_json(message.chat, message.user)
                messages.append(message)
                replies.append(reply)
                persona.take(reply)
    passed = sum(p.passed for members in groups.values() for p in members)
    return messages, replies, passed


def load_cases(path: Path) -> list[dict[str, Any]]:
    import yaml

    with path.open(encoding="utf-8") as handle:
        return list(yaml.safe_load(handle) or [])
