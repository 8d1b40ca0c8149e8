"""The web chat page: ``python -m bot web [--listen HOST:PORT] [--store PATH] ...``.

An aiohttp server with the chat page (``static/``) and a JSON API over the same core and the
same store as every channel. Settings: ``bot.channels.web.settings``; routes and limits:
``bot.channels.web.server``.
"""

from __future__ import annotations

from bot.assistant import build_assistant
from bot.channels.serving import run_server
from bot.channels.web.server import create_app
from bot.channels.web.settings import load_settings


def main(argv: list[str]) -> int:
    """Serve the page until interrupted; return the exit status (2: bad settings/store/data)."""
    return run_server(
        argv, load_settings,
        lambda settings, store: create_app(settings, build_assistant(store)),
        lambda s: f"web page at http://{f'[{s.host}]' if ':' in s.host else s.host}:{s.port}/ "
                  f"({s.session_rate} msg/min per conversation)")
