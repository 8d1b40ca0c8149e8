"""What the HTTP channels (WeChat, WeCom, the web page) share: settings errors and the
``--listen`` flag, and the guards every callback request passes (body size, timestamp age),
each refusal logged without the body.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import NoReturn, Protocol, TypeVar

from aiohttp import web

from bot.clock import ClockError, clock_from_env
from bot.knowledge import KnowledgeError
from bot.store import Store, StoreError, open_store

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """The settings cannot start the server; the message is one line for the operator."""


class SettingsParser(argparse.ArgumentParser):
    """An argument parser whose errors are ``ConfigError`` (one line, no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) as a host and a port.

    Raises:
        ConfigError: when ``listen`` is not of that form.
    """
    host, _, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen 应为 HOST:PORT,收到 {listen!r} / --listen must be HOST:PORT")
    return host, int(port)


def reject(request: web.Request, error: type[web.HTTPError], reason: str) -> NoReturn:
    """Log why a request is refused (never its body) and refuse it."""
    log.warning("%s %s refused: %s", request.method, request.path, reason)
    raise error(text=reason)


def fresh(timestamp: str, now: float, skew: float) -> bool:
    """Whether a callback's ``timestamp`` (seconds) is within ``skew`` seconds of ``now``."""
    try:
        return abs(now - int(timestamp)) <= skew
    except ValueError:
        return False


async def read_body(request: web.Request, max_body: int) -> bytes:
    """The request body, refused with 413 past ``max_body`` bytes (with or without a length;
    the application's ``client_max_size`` stops bodies without one)."""
    size = request.content_length
    if size is not None and size > max_body:
        log.warning("%s %s refused: body of %d bytes", request.method, request.path, size)
        raise web.HTTPRequestEntityTooLarge(max_size=max_body, actual_size=size)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        log.warning("%s %s refused: body over %d bytes", request.method, request.path, max_body)
        raise


class ServerSettings(Protocol):
    """What ``run_server`` reads of a channel's settings."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def store_path(self) -> str: ...


S = TypeVar("S", bound=ServerSettings)


def run_server(argv: list[str], load: Callable[[list[str], Mapping[str, str]], S],
               make_app: Callable[[S, Store], web.Application],
               banner: Callable[[S], str]) -> int:
    """Run an HTTP channel until interrupted: settings from ``argv`` and the environment, the
    store, the app; a bad setting, store, BOT_TODAY or data file is one line and status 2, a port
    that cannot be opened status 1.
    """
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load(argv, os.environ)
        clock_from_env()  # a bad BOT_TODAY is one line here, not a traceback later
        store = open_store(settings.store_path)
    except (ConfigError, StoreError, ClockError) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 2
    try:
        app = make_app(settings, store)
        log.info("%s, state in %s", banner(settings), settings.store_path)
        web.run_app(app, host=settings.host, port=settings.port, access_log=None, print=None)
    except KnowledgeError as exc:
        print(f"错误 / error: 数据有误,请运行 python -m bot check ({exc})", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"错误 / error: 无法监听 {settings.host}:{settings.port} ({exc})", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0
