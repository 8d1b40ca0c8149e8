"""Settings of the web channel: a flag beats its environment variable, which beats the default.

    --listen           WEB_LISTEN           127.0.0.1:8000  HOST:PORT to serve on
    --store            BOT_STORE            luohu.db        SQLite state file (all channels)
    --max-body         WEB_MAX_BODY         4096            bytes an API request body may hold
    --max-text         WEB_MAX_TEXT         500             characters a message may hold
    --client-rate      WEB_CLIENT_RATE      120             API requests/minute per client address
    --session-rate     WEB_SESSION_RATE     30              messages/minute per conversation
    --trust-proxy      WEB_TRUST_PROXY      0               client address and scheme from
                                                            X-Forwarded-For / X-Forwarded-Proto
    --frame-ancestors  WEB_FRAME_ANCESTORS  'self'          who may embed the page (CSP)
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.channels.serving import ConfigError, SettingsParser, parse_listen

DEFAULT_LISTEN = "127.0.0.1:8000"
DEFAULT_STORE = "luohu.db"
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """What the web channel needs to run.

    Attributes:
        host: the address to listen on.
        port: the port to listen on (0: any free port).
        store_path: the SQLite state file, or empty for memory only (tests).
        max_body: the largest API request body, in bytes.
        max_text: the longest message, in characters.
        client_rate: API requests per minute one client address may make (burst of the same).
        session_rate: messages per minute one conversation may send (burst of the same).
        trust_proxy: whether X-Forwarded-For / X-Forwarded-Proto (set by a reverse proxy in
            front) name the client; never turn on without such a proxy.
        frame_ancestors: the CSP ``frame-ancestors`` sources allowed to embed the page.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    store_path: str = DEFAULT_STORE
    max_body: int = 4096
    max_text: int = 500
    client_rate: int = 120
    session_rate: int = 30
    trust_proxy: bool = False
    frame_ancestors: str = "'self'"


def _parser() -> argparse.ArgumentParser:
    parser = SettingsParser(prog="python -m bot web", description="网页对话服务")
    parser.add_argument("--listen", help=f"HOST:PORT (默认 $WEB_LISTEN 或 {DEFAULT_LISTEN})")
    parser.add_argument("--store", help=f"状态文件 (默认 $BOT_STORE 或 {DEFAULT_STORE})")
    parser.add_argument("--max-body", help="请求体最大字节数 (默认 4096)")
    parser.add_argument("--max-text", help="一条消息最多字数 (默认 500)")
    parser.add_argument("--client-rate", help="每个客户端地址每分钟请求数 (默认 120)")
    parser.add_argument("--session-rate", help="每个会话每分钟消息数 (默认 30)")
    parser.add_argument(
        "--trust-proxy",
        action="store_const",
        const="1",
        help="信任反向代理的 X-Forwarded-For / X-Forwarded-Proto",
    )
    parser.add_argument("--frame-ancestors", help="允许嵌入本页的来源 (默认 'self')")
    return parser


def _positive(name: str, raw: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", raw.strip()) or int(raw) <= 0:
        raise ConfigError(f"{name} 应为正整数,收到 {raw!r} / {name} must be a positive integer")
    return int(raw)


def _flag(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise ConfigError(f"{name} 应为 1 或 0,收到 {raw!r} / {name} must be 1 or 0")
    return word in TRUE_WORDS


def _frame_ancestors(raw: str) -> str:
    # Each source is one CSP token: no separators that could open another directive.
    if not raw.strip() or re.search(r"[\"\\;,\x00-\x1f]", raw):
        raise ConfigError(
            f"WEB_FRAME_ANCESTORS 应为空格分隔的来源,收到 {raw!r} / "
            "WEB_FRAME_ANCESTORS must be space-separated CSP sources"
        )
    return " ".join(raw.split())


def load_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Settings from the command line and the environment (a flag beats its variable).

    Raises:
        ConfigError: when a setting is malformed (a one-line message).
    """
    args = _parser().parse_args(list(argv))

    def pick(flag: str | None, variable: str) -> str | None:
        if flag is not None:
            return flag
        value = environ.get(variable, "").strip()
        return value or None

    def number(flag: str | None, variable: str, default: int) -> int:
        raw = pick(flag, variable)
        return default if raw is None else _positive(variable, raw)

    host, port = parse_listen(pick(args.listen, "WEB_LISTEN") or DEFAULT_LISTEN)
    defaults = Settings()
    ancestors = pick(args.frame_ancestors, "WEB_FRAME_ANCESTORS")
    return Settings(
        host=host,
        port=port,
        store_path=pick(args.store, "BOT_STORE") or DEFAULT_STORE,
        max_body=number(args.max_body, "WEB_MAX_BODY", defaults.max_body),
        max_text=number(args.max_text, "WEB_MAX_TEXT", defaults.max_text),
        client_rate=number(args.client_rate, "WEB_CLIENT_RATE", defaults.client_rate),
        session_rate=number(args.session_rate, "WEB_SESSION_RATE", defaults.session_rate),
        trust_proxy=_flag("WEB_TRUST_PROXY", pick(args.trust_proxy, "WEB_TRUST_PROXY") or ""),
        frame_ancestors=(
            defaults.frame_ancestors if ancestors is None else _frame_ancestors(ancestors)
        ),
    )
