"""Parsed data files, cached: the bot starts without importing or running the YAML parser.

A data file's parsed form is kept in a cache file named by a hash of the file's bytes (and the
Python version and this module's format), so an edited file is parsed afresh and a file that
does not parse is never cached: the strict parser (bot/yamlsafe.py) still sees every change.
The cache lives in ``$LUOHU_CACHE_DIR``, else ``$XDG_CACHE_HOME/luohu`` or ``~/.cache/luohu``;
when it cannot be read or written, files are simply parsed.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

FORMAT = b"luohu-data-1"


class YamlError(Exception):
    """A YAML file that does not parse, with the place of the problem."""

    def __init__(self, path: str, place: str, message: str) -> None:
        super().__init__(f"{path}: {place}: {message}")
        self.path, self.place, self.message = path, place, message


def cache_dir() -> Path:
    explicit = os.environ.get("LUOHU_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "luohu"


def load_data(path: Path) -> Any:
    """The parsed content of a YAML data file, from the cache when it is up to date.

    Raises:
        YamlError: the file cannot be read or parsed.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlError(str(path), "file", f"cannot be read ({exc})") from exc
    digest = hashlib.blake2b(raw + FORMAT + sys.version.encode(), digest_size=16).hexdigest()
    cached = cache_dir() / f"{path.stem}-{digest}.marshal"
    try:
        return marshal.loads(cached.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    from bot.yamlsafe import parse_yaml  # the parser only when the cache cannot serve

    value = parse_yaml(raw, path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(marshal.dumps(value))
        os.replace(partial, cached)
    except (OSError, ValueError):
        pass  # a read-only home: parse every time
    return value
