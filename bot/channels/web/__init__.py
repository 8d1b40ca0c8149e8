"""The web chat page: ``python -m bot web [--listen HOST:PORT] [--store PATH] ...``.

An aiohttp server with the chat page (``static/``) and a JSON API over the same core and the
same store as every channel. Settings: ``bot.channels.web.settings``; routes and limits:
``bot.channels.web.server``.
"""

from __future__ import annotations

import logging
import os
import sys

from aiohttp import web

from bot.assistant import build_assistant
from bot.channels.web.server import create_app
from bot.channels.web.settings import ConfigError, load_settings
from bot.clock import ClockError, clock_from_env
from bot.knowledge import KnowledgeError
from bot.store import StoreError, open_store

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    """Serve the page until interrupted; return the exit status (2: bad settings/store/data)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(argv, os.environ)
        clock_from_env()  # a bad BOT_TODAY is one line here, not a traceback later
        store = open_store(settings.store_path)
    except (ConfigError, StoreError, ClockError) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 2
    try:
        app = create_app(settings, build_assistant(store))
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        log.info(
            "web page at http://%s:%d/ (state in %s, %d msg/min per conversation)",
            host,
            settings.port,
            settings.store_path,
            settings.session_rate,
        )
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
