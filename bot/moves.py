"""The dialog moves: when each applies. ``Engine.moves`` pairs these conditions with what the
engine does (bot/engine.py); the first move whose condition holds handles a message.

A condition takes the conversation state, the message's ``Understanding`` and the slot the
bot waits for (None: no question pending).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from bot.protocol import Reply
from bot.understand import Understanding

State = dict[str, Any]
Step = tuple[State | None, Reply]


class Move(NamedTuple):
    """A dialog move: when it applies (state, understanding, slot asked) and what it does."""

    name: str
    when: Callable[[State, Understanding, str | None], bool]
    do: Callable[[State, Understanding, str | None], Step]


def intent(name: str) -> Callable[[State, Understanding, str | None], bool]:
    return lambda c, u, a: u.intent == name


def clarifies(conv: State, u: Understanding, asking: str | None) -> bool:
    """「什么意思?」 to a question, explained once (asked again it is 不清楚)."""
    return u.intent == "clarify" and asking is not None and asking not in conv.get(
        "clarified", [])


def _ambiguous(u: Understanding) -> bool:
    return u.match is not None and u.match.target.startswith("ambiguous:")


def asks_requirements(conv: State, u: Understanding, asking: str | None) -> bool:
    """「监理工程师积分需要什么条件」, unless it answers the pending question or also asks
    whether the certificate can be used (「能加多少分,还是要满足什么条件」: a verdict)."""
    return u.intent == "note_question" and (asking is None or asking not in u.facts) \
        and not _ambiguous(u) and not (u.match and u.purpose and u.asks_eligibility)


def looks_up(conv: State, u: Understanding, asking: str | None) -> bool:
    """「焊工在目录里吗」: with a purpose (「对应什么职称?能落户吗」) it is asked instead."""
    return u.intent == "lookup" and u.match is not None and not u.purpose and not _ambiguous(u)


def asks_notes(conv: State, u: Understanding, asking: str | None) -> bool:
    """「外地的证书能用吗」, 「评工程师一定要理工科吗」: a question about the notes, no
    certificate of the person's named (a title in general at most)."""
    general = u.match is None or (u.match.target.startswith("title#") and not u.purpose)
    return asking is None and general and u.question and bool(u.notes_about) \
        and set(u.facts) <= {"where_obtained", "stem_degree"} and not _follows_up(conv, u)


def asks_background(conv: State, u: Understanding, asking: str | None) -> bool:
    """「在临港工作,居转户年限能缩短吗」, 「高级职称落户可以不用满七年吗」: a question a
    background fact answers, about no certificate of the person's."""
    general = u.match is None or u.generic_title
    return asking is None and general and u.question and bool(u.background_about) \
        and not u.facts and not _follows_up(conv, u)


def _follows_up(conv: State, u: Understanding) -> bool:
    """After an answer, more about the same certificate: another purpose (「那落户呢?是不是还要
    满七年」: the sub-question is answered with the verdict) or a fact corrected (「其实是回老家
    考的,有影响吗」)."""
    if not conv["facts"].get("credential"):
        return False
    return bool(u.facts) or (bool(u.purpose) and u.purpose != conv["facts"].get("purpose"))


def says_nothing(u: Understanding) -> bool:
    return u.match is None and not u.purpose and not u.facts


def states_fact(u: Understanding, slot: str) -> bool:
    """The message gives the slot a value of substance, not a bare yes/no (「不对,我问落户」)."""
    value = u.facts.get(slot)
    if isinstance(value, dict):
        return bool(value.get("segments"))
    return value is not None and slot not in ("job_match", "at_firm")


def changes(u: Understanding, facts: dict[str, Any]) -> bool:
    """An answer names another certificate by a full name (「那一建呢」), not in passing:
    「大专会计」 or 「岗位是会计主管」 answer the question and leave the certificate alone."""
    return (u.match is not None and u.match.target != facts.get("credential") and not u.facts
            and not u.match.target.startswith(("unleveled:", "title#")))
