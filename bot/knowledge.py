"""The knowledge base: knowledge/*.yaml parsed once into frozen, typed objects.

Every problem in the data is collected and reported at once (file, place, bad value, what is
allowed) through ``KnowledgeError``; nothing here raises a bare traceback at a user. The shapes
are in ``bot.knowledge_model``, the name index in ``bot.names``; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.datacache import YamlError, load_data
from bot.knowledge_aliases import aliases, fields
from bot.knowledge_model import (
    CATALOGUES,
    CHECKS,
    CODE,
    GRADES,
    KINDS,
    NEAR_MISS_KINDS,
    OCR_ARTEFACTS,
    PREDICATES,
    SI_PARAMS,
    Ambiguous,
    Catalogue,
    Fact,
    Knowledge,
    KnowledgeError,
    NearMiss,
    Note,
    Problem,
    Purpose,
    Row,
    Rule,
    Title,
    freeze,
    normalise_name,
)
from bot.knowledge_reader import Reader, as_dict, as_list
from bot.names import LEVEL_PREFIX, LEVEL_SUFFIX, name_index, row_names
from bot.protocol import PURPOSES, REASONS, SLOTS

__all__ = [
    "CATALOGUES", "CHECKS", "GRADES", "KINDS", "KNOWLEDGE_DIR", "LEVEL_PREFIX", "LEVEL_SUFFIX",
    "NEAR_MISS_KINDS", "PREDICATES", "Ambiguous", "Catalogue", "Fact", "Knowledge",
    "KnowledgeError", "NearMiss", "Note", "Problem", "Purpose", "Row", "Rule", "Title", "freeze",
    "load_knowledge", "name_index", "normalise_name", "row_names",
]

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"


def _load_file(directory: Path, name: str, problems: list[Problem]) -> Any:
    try:
        return load_data(directory / name)
    except YamlError as exc:
        problems.append(Problem(exc.path, exc.place, None, exc.message))
        return None


def _catalogue(data: Any, key: str, reader: Reader) -> Catalogue:
    top = reader.mapping(data, key, ("catalogue", "name", "short", "rows"))
    if top.get("catalogue") != key:
        reader.problem("catalogue", top.get("catalogue"), f"expected {key!r}")
    rows: list[Row] = []
    seen: set[int] = set()
    raw_rows = as_list(top.get("rows"))
    fields = {"professional": ("levels", "titles", "senior"), "skilled": (),
              "lingang": ("code",)}[key]
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
            senior=reader.strings(row.get("senior"), f"{place}.senior"),
        ))
    if seen:
        missing = sorted(set(range(1, max(seen) + 1)) - seen)
        if missing:
            reader.problem("rows", missing, "row numbers missing")
    return Catalogue(key, str(top.get("name", "")), str(top.get("short", "")),
                     tuple(sorted(rows, key=lambda r: r.n)))


def _notes(data: Any, reader: Reader, rows: Mapping[str, Row]) -> tuple[dict[str, Note],
                                                                        dict[str, Purpose]]:
    top = reader.mapping(data, "notes.yaml", ("notes", "purposes"))
    notes: dict[str, Note] = {}
    for i, raw in enumerate(as_list(top.get("notes"))):
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
    raw_purposes = as_dict(top.get("purposes"))
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


def _rule(raw: Any, place: str, note: str, reader: Reader, rows: Mapping[str, Row]) -> Rule:
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


def _titles(data: Any, reader: Reader) -> tuple[dict[str, Title], tuple[str, ...]]:
    top = reader.mapping(data, "titles.yaml", ("titles",), ("jobs",))
    titles: dict[str, Title] = {}
    if "titles" in top and not isinstance(top["titles"], dict):
        reader.problem("titles", type(top["titles"]).__name__, "expected a mapping")
    for key, raw in as_dict(top.get("titles")).items():
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
    return titles, reader.strings(top.get("jobs"), "jobs")


def _near_misses(data: Any, reader: Reader, rows: Mapping[str, Row]) -> tuple[NearMiss, ...]:
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


def _background(data: Any, reader: Reader) -> tuple[dict[str, Fact], dict[str, int], str]:
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
    for grade, value in as_dict(top.get("points_by_grade")).items():
        if grade not in GRADES or not isinstance(value, int):
            reader.problem(f"points_by_grade.{grade}", value, f"grades: {list(GRADES)}, int")
        else:
            points[grade] = value
    return facts, points, str(top.get("source_note", ""))


LEXICON_SECTIONS = (
    "purposes", "purpose_loose", "settle_assumed", "levels", "level_options", "answers", "degree",
    "where_obtained", "firm", "social_insurance", "intents", "certificate_hints",
    "certificate_words", "catalogue_words", "job_change", "confusables", "post_words",
    "clause_breaks", "negations", "job_topic", "generic_titles", "others", "level_asked_before",
    "field_stopwords", "posts", "past_markers", "purpose_both", "selves", "proxies", "compounds",
    "function_words",
)


def load_knowledge(directory: Path = KNOWLEDGE_DIR) -> Knowledge:
    """Parse and validate knowledge/.

    Raises:
        KnowledgeError: listing every problem found, each with file, place and value.
    """
    problems: list[Problem] = []

    def reader(name: str) -> tuple[Any, Reader]:
        return _load_file(directory, name, problems), Reader(name, problems)

    catalogues = {}
    for key in CATALOGUES:
        data, r = reader(f"{key}.yaml")
        catalogues[key] = _catalogue(data, key, r)
    rows = {row.id: row for cat in catalogues.values() for row in cat.rows}
    notes, purposes = _notes(*reader("notes.yaml"), rows)
    titles, job_words = _titles(*reader("titles.yaml"))
    near = _near_misses(*reader("near_misses.yaml"), rows)
    facts, points, source_note = _background(*reader("background.yaml"))
    for key, purpose in purposes.items():
        for fact_id in purpose.background:
            if fact_id not in facts:
                problems.append(Problem("notes.yaml", f"purposes.{key}.background", fact_id,
                                        f"unknown background fact; known: {sorted(facts)}"))
    alias_table, unleveled, ambiguous = aliases(*reader("aliases.yaml"), rows)
    field_table = fields(*reader("fields.yaml"), rows)
    lex_data, lex = reader("lexicon.yaml")
    lexicon = lex.mapping(lex_data, "lexicon.yaml", LEXICON_SECTIONS, ("sub_questions",))
    if problems:
        raise KnowledgeError(problems)
    kb = Knowledge(
        catalogues=MappingProxyType(catalogues), rows=MappingProxyType(rows),
        notes=MappingProxyType(notes), purposes=MappingProxyType(purposes),
        titles=MappingProxyType(titles), near_misses=near, facts=MappingProxyType(facts),
        points_by_grade=MappingProxyType(points), aliases=MappingProxyType(alias_table),
        unleveled=MappingProxyType(unleveled), lexicon=freeze(lexicon), source_note=source_note,
        ambiguous=MappingProxyType(ambiguous), job_words=job_words,
        fields=MappingProxyType(field_table),
    )
    names = name_index(kb, problems.append)
    if problems:
        raise KnowledgeError(problems)
    return replace(kb, names=MappingProxyType(names))
