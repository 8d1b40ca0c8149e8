"""The shapes of the knowledge base: frozen, typed objects (loaded by ``bot.knowledge``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

CATALOGUES = ("professional", "skilled", "lingang")
KINDS = ("professional", "skilled", "title", "lingang")
GRADES = (
    "qualification", "intermediate", "senior", "skill1", "skill2", "skill3", "skill4", "skill5",
    "junior",
)
NEAR_MISS_KINDS = ("level", "junior", "licence", "other")
CODE = re.compile(r"^\d-\d\d-\d\d-\d\d$")
# Checks and predicates the rules may name: implemented in bot/rules.py, listed here so that the
# data is validated without importing the engine.
CHECKS = ("is_yes", "social_insurance", "obtained_working_in_shanghai",
          "not_other_province_while_in_shanghai")
PREDICATES = ("engineering_only",)
SI_PARAMS = ("window_months", "months", "multiple")
OCR_ARTEFACTS = re.compile(r"[帅约\s]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a data file."""

    file: str
    place: str
    value: object
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.place}: {self.message} (value: {self.value!r})"


class KnowledgeError(Exception):
    """The data has problems; ``problems`` lists all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Row:
    """One row of one catalogue."""

    id: str
    catalogue: str
    n: int
    names: tuple[str, ...]
    levels: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    code: str | None = None
    senior: tuple[str, ...] = ()
    """Levels a person may state that make the certificate a senior title (一级 of row 33)."""

    @property
    def name(self) -> str:
        return self.names[0]


@dataclass(frozen=True)
class Catalogue:
    key: str
    name: str
    short: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Rule:
    """When a note applies, which fact it needs and how that fact is checked."""

    note: str
    purposes: frozenset[str]
    slot: str
    check: str
    reason: str
    kinds: frozenset[str] | None = None
    grades: frozenset[str] | None = None
    rows: frozenset[str] | None = None
    when: tuple[str, ...] = ()
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    summary: str = ""  # this rule in a line, when the note's summary covers several rules


@dataclass(frozen=True)
class Note:
    id: str
    text: str
    summary: str
    topics: tuple[str, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Purpose:
    key: str
    name: str
    accepts: frozenset[str]
    level_rule: str
    background: tuple[str, ...]


@dataclass(frozen=True)
class Title:
    """A generic title (not a catalogue row): 中级职称 or 高级职称."""

    id: str
    name: str
    grade: str
    engineering: tuple[str, ...]
    other: tuple[str, ...]


@dataclass(frozen=True)
class NearMiss:
    """A certificate that is not listed, with the correction to give."""

    names: tuple[str, ...]
    kind: str
    says: str
    nearest: tuple[str, ...]


@dataclass(frozen=True)
class Ambiguous:
    """A name that fits several certificates: the bot asks which one, never guesses.

    ``candidates``: ``(label, target)`` pairs in the order offered; a target is a row id or
    ``near`` (the label names a near miss).
    """

    key: str
    names: tuple[str, ...]
    candidates: tuple[tuple[str, str], ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self.candidates)


@dataclass(frozen=True)
class Fact:
    id: str
    text: str
    source: str
    topics: tuple[str, ...] = ()  # words of a question this fact answers


@dataclass(frozen=True)
class Knowledge:
    """Everything the bot knows, frozen."""

    catalogues: Mapping[str, Catalogue]
    rows: Mapping[str, Row]
    notes: Mapping[str, Note]
    purposes: Mapping[str, Purpose]
    titles: Mapping[str, Title]
    near_misses: tuple[NearMiss, ...]
    facts: Mapping[str, Fact]
    points_by_grade: Mapping[str, int]
    aliases: Mapping[str, tuple[str, ...]]
    unleveled: Mapping[str, tuple[str, ...]]
    lexicon: Mapping[str, Any]
    source_note: str
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Every recognised name → its meaning (see ``name_index``)."""
    ambiguous: Mapping[str, Ambiguous] = field(default_factory=lambda: MappingProxyType({}))
    """Names that fit several certificates, by key (``ambiguous:<key>`` targets)."""
    job_words: tuple[str, ...] = ()
    """Words that name a job, not a title (翻译, 记者): never read as a certificate."""
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """Row id → words that name a post in the row's field (「在医院护理部」 for 主管护师): a job
    described with one of them matches the certificate (note 1)."""

    def rules(self) -> Iterable[Rule]:
        for note in self.notes.values():
            yield from note.rules


_SPACE = re.compile(r"\s+")


def normalise_name(text: str) -> str:
    """The form in which names are compared: NFKC (half-width), lower case, no spaces."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


def freeze(value: Any) -> Any:
    """Deep-freeze parsed YAML: dicts become read-only mappings, lists tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value
