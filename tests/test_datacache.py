"""The parsed-data cache: it must never serve stale or invalid data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import datacache
from bot.datacache import YamlError, load_data


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
