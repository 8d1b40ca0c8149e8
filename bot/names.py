"""The names the bot recognises: every row's official names, aliases, titles, near misses and
ambiguous names, each with one meaning (a name with two is a problem naming both places)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from bot.knowledge_model import Knowledge, Problem, Row, normalise_name

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

    Values: a row id (``professional#8``), a title id, ``unleveled:<row id>``, ``near:<index>``
    or ``ambiguous:<key>``. A name claimed twice (two rows, or an alias that is also a near
    miss …) is reported through ``report``, naming both places; so are ambiguous candidates that
    do not name their target and job words that are names.
    """
    index: dict[str, str] = {}
    owner: dict[str, str] = {}  # name → "file place" that claimed it first

    def claim(name: str, target: str, file: str, place: str) -> None:
        key = normalise_name(name)
        if key in index and index[key] != target:
            if report:
                report(Problem(file, f"{place}[{key}]", target,
                               f"name claimed by {index[key]} at {owner[key]} as well"))
            return
        index[key] = target
        owner.setdefault(key, f"{file} {place}")

    skilled = {normalise_name(n) for row in kb.catalogues["skilled"].rows for n in row.names}
    for row in kb.rows.values():
        full, bases = row_names(row)
        place = f"rows[n={row.n}]"
        for name in full:
            if row.catalogue == "lingang" and name in skilled:
                continue  # on both lists (DOMAIN.md: say both); the skilled row is the credential
            claim(name, row.id, f"{row.catalogue}.yaml", place)
        for name in bases:
            claim(name, f"unleveled:{row.id}", f"{row.catalogue}.yaml", place)
    for section, table, prefix in (("aliases", kb.aliases, ""),
                                   ("unleveled", kb.unleveled, "unleveled:")):
        for row_id, names in table.items():
            for name in names:
                claim(name, prefix + row_id, "aliases.yaml", f"{section}.{row_id}")
    for key, entry in kb.ambiguous.items():
        for name in entry.names:
            claim(name, f"ambiguous:{key}", "aliases.yaml", f"ambiguous.{key}.names")
    for title in kb.titles.values():
        for group in ("engineering", "other"):
            for name in getattr(title, group):
                claim(name, title.id, "titles.yaml", f"titles.{title.id}.{group}")
    for i, near in enumerate(kb.near_misses):
        for name in near.names:
            claim(name, f"near:{i}", "near_misses.yaml", f"near_misses[{i}].names")
    if report:
        _check_ambiguous(kb, index, report)
        for word in kb.job_words:
            if normalise_name(word) in index:
                report(Problem("titles.yaml", f"jobs[{word}]", index[normalise_name(word)],
                               f"a job word is also a name, claimed at "
                               f"{owner[normalise_name(word)]}"))
    return index


def _check_ambiguous(kb: Knowledge, index: Mapping[str, str],
                     report: Callable[[Problem], None]) -> None:
    """Each candidate's label must be a name of its target, so that choosing it resolves."""
    for key, entry in kb.ambiguous.items():
        for label, target in entry.candidates:
            found = index.get(normalise_name(label), "")
            ok = found.startswith("near:") if target == "near" else found == target
            if not ok:
                report(Problem("aliases.yaml", f"ambiguous.{key}.candidates.{label}", target,
                               f"the label names {found or 'nothing'}, not {target}"))
