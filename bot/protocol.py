"""What the core returns to every channel: a reply and, when a question is answered, a result.

The JSON shape is the one of ../shared/PROTOCOL.md; channels translate a ``Reply`` into their own
medium (buttons, numbered choices, HTML) and never look inside the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SLOTS = (
    "purpose",
    "credential",
    "level",
    "social_insurance",
    "job_match",
    "stem_degree",
    "where_obtained",
    "at_firm",
)
VERDICTS = ("eligible", "not_eligible", "conditional", "not_listed", "info")
PURPOSES = ("points", "settle", "talent")
REASONS = (
    "not_listed",
    "level_not_accepted",
    "social_insurance_short",
    "job_mismatch",
    "degree_mismatch",
    "obtained_outside_shanghai",
    "non_shanghai_certificate",
    "not_at_firm",
)


@dataclass(frozen=True)
class Result:
    """The machine-readable answer to one question (PROTOCOL.md, ``result``)."""

    verdict: str
    purpose: str | None = None
    credential: str | None = None
    reasons: tuple[str, ...] = ()
    citations: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    points: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "purpose": self.purpose,
            "credential": self.credential,
            "reasons": list(self.reasons),
            "citations": list(self.citations),
            "unknown": list(self.unknown),
            "points": self.points,
        }


@dataclass(frozen=True)
class Reply:
    """One reply of the core.

    Attributes:
        text: the reply as a person reads it (plain text, Chinese).
        asking: the slot the bot now waits for, or None.
        options: short answers to offer as buttons.
        result: set when this reply answers the question.
        turn: the number of the question asked (for channels that must spot stale buttons).
        brief: the short form for group chats (at most 3 lines); empty means ``text`` is short
            enough to send as it is (see ``short``).
        forget: the person asked to delete their data (「删除我的数据」): the conversation is gone
            and every other record of this person must go too (``Assistant`` does it).
    """

    text: str
    asking: str | None = None
    options: tuple[str, ...] = ()
    result: Result | None = None
    turn: int = 0
    brief: str = ""
    forget: bool = False

    @property
    def short(self) -> str:
        """What a group chat sends first: ``brief`` when there is one, else ``text``."""
        return self.brief or self.text

    @property
    def has_details(self) -> bool:
        """Whether ``text`` says more than ``short`` (a group offers 「详细」 for the rest)."""
        return bool(self.brief) and self.brief != self.text

    def to_json(self, chat: str, user: str) -> dict[str, Any]:
        return {
            "chat": chat,
            "user": user,
            "text": self.text,
            "asking": self.asking,
            "options": list(self.options),
            "result": self.result.to_json() if self.result else None,
            "brief": self.short,
        }
