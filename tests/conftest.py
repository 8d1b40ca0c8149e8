"""Shared fixtures: the real knowledge, dialog and engine, built once per test session.

Every test here runs offline: a connection to anything but loopback fails the test.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.assistant import Assistant, build_engine
from bot.dialog import Dialog
from bot.engine import Engine
from bot.knowledge import Knowledge
from bot.store import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
# Dates in answers are counted up to "today": fixed for every test and every bot process the
# tests start (PROTOCOL.md, BOT_TODAY).
TODAY = "2026-11-29"
os.environ["BOT_TODAY"] = TODAY
# The parsed-data cache (bot/datacache.py) of this run and of every process it starts: a fresh
# temporary directory, never the user's ~/.cache/luohu (a warm cache there could hide a change).
CACHE_DIR = tempfile.mkdtemp(prefix="luohu-test-cache-")
os.environ["LUOHU_CACHE_DIR"] = CACHE_DIR
atexit.register(shutil.rmtree, CACHE_DIR, ignore_errors=True)


def _is_local(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and socketpairs
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach the network."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: object) -> None:
        if not _is_local(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        if not _is_local(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The engine over knowledge/ and dialogs/ as shipped (loaded and checked once)."""
    return build_engine()


@pytest.fixture(scope="session")
def kb(engine: Engine) -> Knowledge:
    return engine.kb


@pytest.fixture(scope="session")
def dialog(engine: Engine) -> Dialog:
    return engine.dialog


@pytest.fixture
def assistant(engine: Engine) -> Iterator[Assistant]:
    """An assistant over the shared engine with a fresh in-memory store."""
    store = MemoryStore()
    yield Assistant(engine, store)
    store.close()
