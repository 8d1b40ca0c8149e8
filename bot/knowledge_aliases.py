"""Loading what people type for the rows: aliases, unleveled names and ambiguous names
(aliases.yaml), and the words of each row's field (fields.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.knowledge_model import Ambiguous, Row
from bot.knowledge_reader import Reader, as_dict


def aliases(data: Any, reader: Reader, rows: Mapping[str, Row]) -> tuple[
        dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], dict[str, Ambiguous]]:
    top = reader.mapping(data, "aliases.yaml", ("aliases", "unleveled"), ("ambiguous",))
    out = []
    for section in ("aliases", "unleveled"):
        table: dict[str, tuple[str, ...]] = {}
        raw = as_dict(top.get(section))
        for row_id, names in raw.items():
            if row_id not in rows:
                reader.problem(f"{section}.{row_id}", row_id, "unknown catalogue row")
            table[row_id] = reader.strings(names, f"{section}.{row_id}")
        out.append(table)
    return out[0], out[1], _ambiguous(top.get("ambiguous"), reader, rows)


def fields(data: Any, reader: Reader, rows: Mapping[str, Row]) -> dict[str, tuple[str, ...]]:
    """fields.yaml: row id → words that name a post in that row's field (note 1)."""
    top = reader.mapping(data, "fields.yaml", ("fields",), ("titles",))
    out: dict[str, tuple[str, ...]] = {}
    for row_id, words in as_dict(top.get("fields")).items():
        if row_id not in rows:
            reader.problem(f"fields.{row_id}", row_id, "unknown catalogue row")
        out[str(row_id)] = reader.strings(words, f"fields.{row_id}")
    for ending, row_id in as_dict(top.get("titles")).items():
        if row_id not in rows:
            reader.problem(f"titles.{ending}", row_id, "unknown catalogue row")
        out[f"title:{ending}"] = (str(row_id),)
    return out


def _ambiguous(data: Any, reader: Reader, rows: Mapping[str, Row]) -> dict[str, Ambiguous]:
    """``ambiguous:`` of aliases.yaml: key → {names, candidates: {label: row id or near}}."""
    if data is not None and not isinstance(data, dict):
        reader.problem("ambiguous", type(data).__name__, "expected a mapping of name → entry")
    out: dict[str, Ambiguous] = {}
    for key, raw in as_dict(data).items():
        place = f"ambiguous.{key}"
        item = reader.mapping(raw, place, ("names", "candidates"))
        candidates = item.get("candidates")
        if not isinstance(candidates, dict) or len(candidates) < 2:
            reader.problem(f"{place}.candidates", candidates,
                           "expected a mapping of at least two labels → row id or near")
            candidates = {}
        for label, target in candidates.items():
            if target != "near" and target not in rows:
                reader.problem(f"{place}.candidates.{label}", target,
                               "expected a catalogue row id or near")
        names = reader.strings(item.get("names"), f"{place}.names")
        if not names:
            reader.problem(f"{place}.names", item.get("names"), "expected at least one name")
        out[str(key)] = Ambiguous(str(key), names, tuple(
            (str(label), str(target)) for label, target in candidates.items()))
    return out
