"""The parsed-data cache: it must never serve stale or invalid data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import datacache, yamlsafe
from bot.datacache import YamlError, cache_dir, load_data


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("LUOHU_CACHE_DIR", str(folder))
    return folder


def test_a_parsed_file_is_cached_and_served_from_the_cache(tmp_path: Path, cache: Path) -> None:
    data = tmp_path / "d.yaml"
    data.write_text("a: yes\ncode: 6-18-01-11\n", encoding="utf-8")
    assert load_data(data) == {"a": "yes", "code": "6-18-01-11"}
    assert len(list(cache.glob("d-*.marshal"))) == 1
    (entry,) = cache.glob("d-*.marshal")
    entry.write_bytes(datacache.marshal.dumps({"from": "cache"}))
    assert load_data(data) == {"from": "cache"}


def test_an_edited_file_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    data = tmp_path / "d.yaml"
    data.write_text("a: 1\n", encoding="utf-8")
    assert load_data(data) == {"a": 1}
    data.write_text("a: 2\n", encoding="utf-8")
    assert load_data(data) == {"a": 2}


def test_a_broken_file_raises_every_time_and_is_never_cached(tmp_path: Path, cache: Path) -> None:
    data = tmp_path / "d.yaml"
    data.write_text("a: 1\na: 2\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(YamlError, match="duplicate key"):
            load_data(data)
    assert not list(cache.glob("*.marshal")) if cache.exists() else True


def test_a_cache_that_cannot_be_written_still_parses(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("LUOHU_CACHE_DIR", str(blocker / "cache"))
    data = tmp_path / "d.yaml"
    data.write_text("a: [x, y]\n", encoding="utf-8")
    assert load_data(data) == {"a": ["x", "y"]}


def test_a_corrupt_cache_entry_is_ignored(tmp_path: Path, cache: Path) -> None:
    data = tmp_path / "d.yaml"
    data.write_text("a: 1\n", encoding="utf-8")
    load_data(data)
    (entry,) = cache.glob("d-*.marshal")
    entry.write_bytes(b"\x00garbage")
    assert load_data(data) == {"a": 1}


@pytest.fixture
def parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the parser's source standing for it in the cache key."""
    source = tmp_path / "yamlsafe.py"
    source.write_bytes(Path(yamlsafe.__file__).read_bytes())
    monkeypatch.setattr(datacache, "PARSER_SOURCES", (source,))
    return source


def test_a_changed_parser_invalidates_a_warm_cache(tmp_path: Path, cache: Path,
                                                   parser: Path) -> None:
    data = tmp_path / "d.yaml"
    data.write_text("a: 1\n", encoding="utf-8")
    load_data(data)
    (entry,) = cache.glob("d-*.marshal")
    entry.write_bytes(datacache.marshal.dumps({"from": "cache"}))
    assert load_data(data) == {"from": "cache"}  # warm: served without parsing
    with parser.open("a", encoding="utf-8") as source:
        source.write("# a change to the parser\n")
    datacache.code_version.cache_clear()  # a new process (the version is read once)
    assert load_data(data) == {"a": 1}


def test_the_key_covers_the_real_parser_sources() -> None:
    covered = {path.resolve() for path in datacache.PARSER_SOURCES}
    assert covered == {Path(yamlsafe.__file__).resolve(), Path(datacache.__file__).resolve()}


def test_an_unreadable_parser_source_caches_nothing(tmp_path: Path, cache: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datacache, "PARSER_SOURCES", (tmp_path / "missing.py",))
    data = tmp_path / "d.yaml"
    data.write_text("a: 1\n", encoding="utf-8")
    assert load_data(data) == {"a": 1}
    assert not cache.exists() or not list(cache.iterdir())


def test_the_suite_and_its_processes_use_a_temporary_cache() -> None:
    """tests/conftest.py points the cache at a fresh temporary directory for the whole run."""
    home = Path.home().resolve()
    assert not cache_dir().resolve().is_relative_to(home)
    child = subprocess.run([sys.executable, "-c", "from bot.datacache import cache_dir; "
                            "print(cache_dir())"], capture_output=True, text=True, check=True,
                           env=os.environ.copy())
    assert Path(child.stdout.strip()) == cache_dir()
