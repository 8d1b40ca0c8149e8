"""A YAML loader that cannot lie: our own SafeLoader subclass, never the global one.

- duplicate keys are an error (PyYAML keeps the last one silently);
- only ``true``/``false`` are booleans: ``yes``, ``no``, ``on``, ``off`` stay strings;
- only plain decimals are integers: ``010`` or ``6-18-01-11`` stay strings;
- the C parser is used where PyYAML was built with it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import yaml

from bot.datacache import YamlError

__all__ = ["StrictLoader", "YamlError", "load_yaml", "parse_yaml"]

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_Base):  # type: ignore[misc,valid-type]
    """SafeLoader with strict scalars and no duplicate keys."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first at line {first})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


for _tag, _regex, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$",
     "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN\0"),
):
    StrictLoader.add_implicit_resolver(_tag, re.compile(_regex), list(_first))
StrictLoader.add_implicit_resolver(  # an empty value
    "tag:yaml.org,2002:null", re.compile(r"^$"), [""]
)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file strictly.

    Raises:
        YamlError: the file cannot be read or parsed; the message names the line and column.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlError(str(path), "file", f"cannot be read ({exc})") from exc
    return parse_yaml(raw, path)


def parse_yaml(raw: bytes, path: Path) -> Any:
    """Parse the bytes of the YAML file at ``path`` strictly (see ``load_yaml``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(str(path), "file", f"is not UTF-8 ({exc})") from exc
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "file"
        message = f"{exc.context or ''} {exc.problem or ''}".strip()
        raise YamlError(str(path), place, message) from exc
    except yaml.YAMLError as exc:
        raise YamlError(str(path), "file", str(exc)) from exc
