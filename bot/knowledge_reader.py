"""Reading parsed YAML of knowledge/ while collecting every problem instead of raising."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.knowledge_model import Problem


class Reader:
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


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}
