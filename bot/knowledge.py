"""The knowledge base: knowledge/*.yaml parsed once into frozen, typed objects.

Every problem in the data is collected and reported at once (file, place, bad value, what is
allowed) through ``KnowledgeError``; nothing here raises a bare traceback at a user.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.datacache import YamlError, load_data
from bot.protocol import PURPOSES, REASONS, SLOTS

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
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


class _Reader:
    """Reads one file's parsed YAML, collecting problems instead of raising."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file, self.problems = file, problems

    def problem(self, place: str, value: object, message: str) -> None:
        self.problems.append(Problem(self.file, place, value, message))

    def mapping(
        self, value: Any, place: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(place, value, "expected a mapping")
            return {}
        required, allowed = tuple(required), set(required) | set(optional)
        for key in value:
            if key not in allowed:
                self.problem(f"{place}.{key}", key, f"unknown key; allowed: {sorted(allowed)}")
        for key in required:
            if key not in value:
                self.problem(place, None, f"missing key {key!r}")
        return value

    def strings(
        self, value: Any, place: str, allowed: Iterable[str] | None = None
    ) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(place, value, "expected a list of strings")
            return ()
        out = []
        options = tuple(allowed) if allowed is not None else None
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.problem(f"{place}[{i}]", item, "expected a non-empty string")
            elif options is not None and item not in options:
                self.problem(f"{place}[{i}]", item, f"not allowed; allowed: {list(options)}")
            else:
                out.append(item)
        return tuple(out)

    def text(self, value: Any, place: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.problem(place, value, "expected a non-empty string")
            return ""
        return value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _load_file(directory: Path, name: str, problems: list[Problem]) -> Any:
    try:
        return load_data(directory / name)
    except YamlError as exc:
        problems.append(Problem(exc.path, exc.place, None, exc.message))
        return None


def _catalogue(data: Any, key: str, reader: _Reader) -> Catalogue:
    top = reader.mapping(data, key, ("catalogue", "name", "short", "rows"))
    if top.get("catalogue") != key:
        reader.problem("catalogue", top.get("catalogue"), f"expected {key!r}")
    rows: list[Row] = []
    seen: set[int] = set()
    raw_rows = _list(top.get("rows"))
    fields = {"professional": ("levels", "titles"), "skilled": (), "lingang": ("code",)}[key]
    for i, raw in enumerate(raw_rows):
        place = f"rows[{i}]"
        row = reader.mapping(raw, place, ("n", "names"), fields)
        n = row.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            reader.problem(f"{place}.n", n, "expected a positive row number")
            continue
        if n in seen:
            reader.problem(f"{place}.n", n, "row number listed twice")
        seen.add(n)
        names = reader.strings(row.get("names"), f"{place}.names")
        if not names:
            reader.problem(f"{place}.names", row.get("names"), "a row needs at least one name")
        titles = reader.strings(row.get("titles"), f"{place}.titles")
        for j, text in enumerate((*names, *titles)):
            if OCR_ARTEFACTS.search(text):
                reader.problem(f"{place}", text, f"OCR artefact (帅, 约 or a space) in name {j}")
        code = row.get("code")
        if key == "lingang" and not (isinstance(code, str) and CODE.match(code)):
            reader.problem(f"{place}.code", code, "expected an occupation code like 4-04-05-05")
        rows.append(Row(
            id=f"{key}#{n}", catalogue=key, n=n, names=names,
            levels=reader.strings(row.get("levels"), f"{place}.levels"),
            titles=titles, code=code if isinstance(code, str) else None,
        ))
    if seen:
        missing = sorted(set(range(1, max(seen) + 1)) - seen)
        if missing:
            reader.problem("rows", missing, "row numbers missing")
    return Catalogue(key, str(top.get("name", "")), str(top.get("short", "")),
                     tuple(sorted(rows, key=lambda r: r.n)))


def _notes(data: Any, reader: _Reader, rows: Mapping[str, Row]) -> tuple[dict[str, Note],
                                                                        dict[str, Purpose]]:
    top = reader.mapping(data, "notes.yaml", ("notes", "purposes"))
    notes: dict[str, Note] = {}
    for i, raw in enumerate(_list(top.get("notes"))):
        place = f"notes[{i}]"
        item = reader.mapping(raw, place, ("id", "text", "summary", "rules"), ("topics",))
        note_id = reader.text(item.get("id"), f"{place}.id")
        if note_id in notes:
            reader.problem(f"{place}.id", note_id, "note listed twice")
        rules = []
        for j, raw_rule in enumerate(item.get("rules") or []):
            rules.append(_rule(raw_rule, f"{place}.rules[{j}]", note_id, reader, rows))
        notes[note_id] = Note(note_id, reader.text(item.get("text"), f"{place}.text"),
                              reader.text(item.get("summary"), f"{place}.summary"),
                              reader.strings(item.get("topics"), f"{place}.topics"), tuple(rules))
    purposes: dict[str, Purpose] = {}
    raw_purposes = _dict(top.get("purposes"))
    for key, raw in raw_purposes.items():
        place = f"purposes.{key}"
        if key not in PURPOSES:
            reader.problem(place, key, f"unknown purpose; allowed: {list(PURPOSES)}")
        item = reader.mapping(raw, place, ("name", "accepts", "level_rule", "background"))
        purposes[key] = Purpose(
            key, reader.text(item.get("name"), f"{place}.name"),
            frozenset(reader.strings(item.get("accepts"), f"{place}.accepts", GRADES)),
            reader.text(item.get("level_rule"), f"{place}.level_rule"),
            reader.strings(item.get("background"), f"{place}.background"),
        )
    for key in PURPOSES:
        if key not in purposes:
            reader.problem("purposes", key, "purpose missing")
    for key, purpose in purposes.items():
        if purpose.level_rule and purpose.level_rule not in notes:
            reader.problem(f"purposes.{key}.level_rule", purpose.level_rule,
                           f"unknown note; known: {sorted(notes)}")
    return notes, purposes


def _rule(raw: Any, place: str, note: str, reader: _Reader, rows: Mapping[str, Row]) -> Rule:
    item = reader.mapping(raw, place, ("purposes", "slot", "check", "reason"),
                          ("kinds", "grades", "rows", "when", "params", "summary"))
    slot, check, reason = item.get("slot"), item.get("check"), item.get("reason")
    if slot not in SLOTS:
        reader.problem(f"{place}.slot", slot, f"unknown slot; allowed: {list(SLOTS)}")
    if check not in CHECKS:
        reader.problem(f"{place}.check", check, f"unknown check; allowed: {list(CHECKS)}")
    if reason not in REASONS:
        reader.problem(f"{place}.reason", reason, f"unknown reason; allowed: {list(REASONS)}")
    row_ids = reader.strings(item.get("rows"), f"{place}.rows")
    for row_id in row_ids:
        if row_id not in rows:
            reader.problem(f"{place}.rows", row_id, "unknown catalogue row")
    params = item.get("params") or {}
    if check == "social_insurance":
        params = reader.mapping(params, f"{place}.params", SI_PARAMS)
        for key, value in params.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                reader.problem(f"{place}.params.{key}", value, "expected a positive number")
    elif params:
        reader.problem(f"{place}.params", params, f"check {check!r} takes no params")

    def optional(key: str, allowed: Iterable[str]) -> frozenset[str] | None:
        return frozenset(reader.strings(item[key], f"{place}.{key}", allowed)) if key in item \
            else None

    return Rule(
        note=note,
        purposes=frozenset(reader.strings(item.get("purposes"), f"{place}.purposes", PURPOSES)),
        slot=str(slot), check=str(check), reason=str(reason),
        kinds=optional("kinds", KINDS), grades=optional("grades", GRADES),
        rows=frozenset(row_ids) if row_ids else None,
        when=reader.strings(item.get("when"), f"{place}.when", PREDICATES),
        params=MappingProxyType(dict(params)),
        summary=str(item.get("summary") or ""),
    )


def _titles(data: Any, reader: _Reader) -> dict[str, Title]:
    top = reader.mapping(data, "titles.yaml", ("titles",))
    titles: dict[str, Title] = {}
    if "titles" in top and not isinstance(top["titles"], dict):
        reader.problem("titles", type(top["titles"]).__name__, "expected a mapping")
    for key, raw in _dict(top.get("titles")).items():
        place = f"titles.{key}"
        if key not in ("title#intermediate", "title#senior"):
            reader.problem(place, key, "allowed: title#intermediate, title#senior")
        item = reader.mapping(raw, place, ("name", "grade", "engineering", "other"))
        grade = item.get("grade")
        if grade not in GRADES:
            reader.problem(f"{place}.grade", grade, f"allowed: {list(GRADES)}")
        titles[key] = Title(key, reader.text(item.get("name"), f"{place}.name"), str(grade),
                            reader.strings(item.get("engineering"), f"{place}.engineering"),
                            reader.strings(item.get("other"), f"{place}.other"))
    return titles


def _near_misses(data: Any, reader: _Reader, rows: Mapping[str, Row]) -> tuple[NearMiss, ...]:
    top = reader.mapping(data, "near_misses.yaml", ("near_misses",))
    out = []
    for i, raw in enumerate(top.get("near_misses") or []):
        place = f"near_misses[{i}]"
        item = reader.mapping(raw, place, ("names", "kind", "says", "nearest"))
        if item.get("kind") not in NEAR_MISS_KINDS:
            reader.problem(f"{place}.kind", item.get("kind"), f"allowed: {list(NEAR_MISS_KINDS)}")
        nearest = reader.strings(item.get("nearest"), f"{place}.nearest")
        for row_id in nearest:
            if row_id not in rows:
                reader.problem(f"{place}.nearest", row_id, "unknown catalogue row")
        out.append(NearMiss(reader.strings(item.get("names"), f"{place}.names"),
                            str(item.get("kind")), reader.text(item.get("says"), f"{place}.says"),
                            nearest))
    return tuple(out)


def _background(data: Any, reader: _Reader) -> tuple[dict[str, Fact], dict[str, int], str]:
    top = reader.mapping(data, "background.yaml", ("facts", "points_by_grade", "source_note"))
    facts: dict[str, Fact] = {}
    for i, raw in enumerate(top.get("facts") or []):
        place = f"facts[{i}]"
        item = reader.mapping(raw, place, ("id", "text", "source"), ("topics",))
        fact_id = reader.text(item.get("id"), f"{place}.id")
        if not fact_id.startswith("bg#"):
            reader.problem(f"{place}.id", fact_id, "background ids start with bg#")
        facts[fact_id] = Fact(fact_id, reader.text(item.get("text"), f"{place}.text"),
                              reader.text(item.get("source"), f"{place}.source"),
                              reader.strings(item.get("topics"), f"{place}.topics"))
    points: dict[str, int] = {}
    if "points_by_grade" in top and not isinstance(top["points_by_grade"], dict):
        reader.problem("points_by_grade", type(top["points_by_grade"]).__name__,
                       "expected a mapping of grade → points")
    for grade, value in _dict(top.get("points_by_grade")).items():
        if grade not in GRADES or not isinstance(value, int):
            reader.problem(f"points_by_grade.{grade}", value, f"grades: {list(GRADES)}, int")
        else:
            points[grade] = value
    return facts, points, str(top.get("source_note", ""))


def _aliases(data: Any, reader: _Reader, rows: Mapping[str, Row]) -> tuple[
        dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    top = reader.mapping(data, "aliases.yaml", ("aliases", "unleveled"))
    out = []
    for section in ("aliases", "unleveled"):
        table: dict[str, tuple[str, ...]] = {}
        raw = _dict(top.get(section))
        for row_id, names in raw.items():
            if row_id not in rows:
                reader.problem(f"{section}.{row_id}", row_id, "unknown catalogue row")
            table[row_id] = reader.strings(names, f"{section}.{row_id}")
        out.append(table)
    return out[0], out[1]


LEXICON_SECTIONS = (
    "purposes", "purpose_loose", "settle_assumed", "levels", "level_options", "answers", "degree",
    "where_obtained", "firm", "social_insurance", "intents", "certificate_hints",
    "certificate_words", "catalogue_words", "job_change", "confusables", "post_words",
    "clause_breaks",
    "function_words",
)


def load_knowledge(directory: Path = KNOWLEDGE_DIR) -> Knowledge:
    """Parse and validate knowledge/.

    Raises:
        KnowledgeError: listing every problem found, each with file, place and value.
    """
    problems: list[Problem] = []

    def reader(name: str) -> tuple[Any, _Reader]:
        return _load_file(directory, name, problems), _Reader(name, problems)

    catalogues = {}
    for key in CATALOGUES:
        data, r = reader(f"{key}.yaml")
        catalogues[key] = _catalogue(data, key, r)
    rows = {row.id: row for cat in catalogues.values() for row in cat.rows}
    notes, purposes = _notes(*reader("notes.yaml"), rows)
    titles = _titles(*reader("titles.yaml"))
    near = _near_misses(*reader("near_misses.yaml"), rows)
    facts, points, source_note = _background(*reader("background.yaml"))
    for key, purpose in purposes.items():
        for fact_id in purpose.background:
            if fact_id not in facts:
                problems.append(Problem("notes.yaml", f"purposes.{key}.background", fact_id,
                                        f"unknown background fact; known: {sorted(facts)}"))
    aliases, unleveled = _aliases(*reader("aliases.yaml"), rows)
    lex_data, lex = reader("lexicon.yaml")
    lexicon = lex.mapping(lex_data, "lexicon.yaml", LEXICON_SECTIONS)
    if problems:
        raise KnowledgeError(problems)
    kb = Knowledge(
        catalogues=MappingProxyType(catalogues), rows=MappingProxyType(rows),
        notes=MappingProxyType(notes), purposes=MappingProxyType(purposes),
        titles=MappingProxyType(titles), near_misses=near, facts=MappingProxyType(facts),
        points_by_grade=MappingProxyType(points), aliases=MappingProxyType(aliases),
        unleveled=MappingProxyType(unleveled), lexicon=freeze(lexicon), source_note=source_note,
    )
    names = name_index(kb, problems.append)
    if problems:
        raise KnowledgeError(problems)
    return replace(kb, names=MappingProxyType(names))


_LEVEL = "[一二三中高初abc]级"
LEVEL_SUFFIX = re.compile(rf"^(?P<base>.+?)\((?P<levels>{_LEVEL}(?:、{_LEVEL})*)\)$")
LEVEL_PREFIX = re.compile(r"^(?P<levels>[一二三]级)(?P<base>.+)$")


def row_names(row: Row) -> tuple[list[str], list[str]]:
    """The names a row answers to, derived from its official names: ``(full, unleveled)``.

    Full names state the row's level (一级建造师, 建造师一级, 建造师(一级)); unleveled ones are an
    official name stripped of its level, which leaves the level to ask (建造师).
    """
    full: list[str] = []
    bases: list[str] = []
    for raw in row.names:
        name = normalise_name(raw)
        full += [name, name.replace("(", "").replace(")", "")]
        match = LEVEL_SUFFIX.match(name) or LEVEL_PREFIX.match(name)
        if match:
            base = match["base"]
            for level in match["levels"].split("、"):
                full += [level + base, base + level, f"{base}({level})"]
            bases.append(base)
    names = set(full)
    # a base of one or two characters (质量) is too common a word to stand for the row
    unleveled = [b for b in dict.fromkeys(bases) if b not in names and len(b) >= 3]
    return list(dict.fromkeys(full)), unleveled


def name_index(kb: Knowledge, report: Callable[[Problem], None] | None = None) -> dict[str, str]:
    """Every name the bot recognises → what it means.

    Values: a row id (``professional#8``), a title id, ``unleveled:<row id>`` or
    ``near:<index>``. A name claimed twice is reported through ``report``.
    """
    index: dict[str, str] = {}
    owner_file: dict[str, str] = {}

    def claim(name: str, target: str, file: str) -> None:
        key = normalise_name(name)
        if key in index and index[key] != target:
            if report:
                report(Problem(file, key, target,
                               f"name claimed by {index[key]} ({owner_file[key]}) as well"))
            return
        index[key], owner_file[key] = target, file

    skilled = {normalise_name(n) for row in kb.catalogues["skilled"].rows for n in row.names}
    for row in kb.rows.values():
        full, bases = row_names(row)
        for name in full:
            if row.catalogue == "lingang" and name in skilled:
                continue  # on both lists (DOMAIN.md: say both); the skilled row is the credential
            claim(name, row.id, f"{row.catalogue}.yaml")
        for name in bases:
            claim(name, f"unleveled:{row.id}", f"{row.catalogue}.yaml")
    for row_id, names in kb.aliases.items():
        for name in names:
            claim(name, row_id, "aliases.yaml")
    for row_id, names in kb.unleveled.items():
        for name in names:
            claim(name, f"unleveled:{row_id}", "aliases.yaml")
    for title in kb.titles.values():
        for name in (*title.engineering, *title.other):
            claim(name, title.id, "titles.yaml")
    for i, near in enumerate(kb.near_misses):
        for name in near.names:
            claim(name, f"near:{i}", "near_misses.yaml")
    return index

