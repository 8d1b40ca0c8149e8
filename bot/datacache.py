"""Parsed data files, cached: the bot starts without importing or running the YAML parser.

A data file's parsed form is kept in a cache file named by a hash of the file's bytes and of the
code that parses it (the sources of this module and of bot/yamlsafe.py, and the Python version),
so an edited file, or an edited parser, is parsed afresh, and a file that does not parse is never
cached: the strict parser still sees every change. When the parser's source cannot be read (a
packaged install without sources), nothing is cached.
The cache lives in ``$LUOHU_CACHE_DIR``, else ``$XDG_CACHE_HOME/luohu`` or ``~/.cache/luohu``;
when it cannot be read or written, files are simply parsed.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

FORMAT = b"luohu-data-1"
# The code whose output is cached: a change to any of these files is a new cache key.
PARSER_SOURCES = (Path(__file__), Path(__file__).with_name("yamlsafe.py"))


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


@functools.cache
def code_version(sources: tuple[Path, ...] = PARSER_SOURCES) -> bytes | None:
    """A hash of ``sources`` (the parser's code), the format and the Python version; None when
    a source cannot be read (then nothing is cached: a stale parse could not be told)."""
    digest = hashlib.blake2b(FORMAT + sys.version.encode(), digest_size=16)
    for source in sources:
        try:
            digest.update(source.read_bytes())
        except OSError:
            return None
    return digest.digest()


def load_data(path: Path) -> Any:
    """The parsed content of a YAML data file, from the cache when it is up to date.

    Raises:
        YamlError: the file cannot be read or parsed.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlError(str(path), "file", f"cannot be read ({exc})") from exc
    from_parser = code_version(PARSER_SOURCES)
    if from_parser is None:
        return _parse(raw, path)
    digest = hashlib.blake2b(raw + from_parser, digest_size=16).hexdigest()
    cached = cache_dir() / f"{path.stem}-{digest}.marshal"
    try:
        return marshal.loads(cached.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    value = _parse(raw, path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(marshal.dumps(value))
        os.replace(partial, cached)
    except (OSError, ValueError):
        pass  # a read-only home: parse every time
    return value


def _parse(raw: bytes, path: Path) -> Any:
    from bot.yamlsafe import parse_yaml  # the parser only when the cache cannot serve

    return parse_yaml(raw, path)
