"""The WeCom channel's settings: the command line and the environment, checked at start.

    WECOM_TOKEN      the Token of the 智能机器人's API settings (required)
    WECOM_AES_KEY    the EncodingAESKey (43 characters, required: WeCom always encrypts)
    BOT_STORE        the SQLite state file (default ``luohu.db``; ``--store`` overrides)
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.channels.serving import ConfigError, SettingsParser, parse_listen
from bot.channels.wecom_protocol import aes_key_bytes

DEFAULT_STORE = "luohu.db"
DEFAULT_LISTEN = "127.0.0.1:8081"
DEFAULT_PATH = "/wecom"


@dataclass(frozen=True)
class Settings:
    """What the WeCom channel needs to run.

    Attributes:
        token: the Token WeCom signs every callback with.
        aes_key: the EncodingAESKey (43 characters).
        store_path: the SQLite state file.
        host: the address to listen on.
        port: the port to listen on.
        path: the URL path of the callback.
    """

    token: str
    aes_key: str
    store_path: str = DEFAULT_STORE
    host: str = "127.0.0.1"
    port: int = 8081
    path: str = DEFAULT_PATH


def _parser() -> argparse.ArgumentParser:
    parser = SettingsParser(prog="python -m bot wecom", description="企业微信智能机器人回调服务")
    parser.add_argument("--listen", default=DEFAULT_LISTEN, help="HOST:PORT (默认 %(default)s)")
    parser.add_argument("--path", default=DEFAULT_PATH, help="回调 URL 路径 (默认 %(default)s)")
    parser.add_argument("--store", help=f"状态文件 (默认 $BOT_STORE 或 {DEFAULT_STORE})")
    return parser


def load_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Settings from the command line and the environment.

    Raises:
        ConfigError: when a setting is missing or malformed (a one-line message).
    """
    args = _parser().parse_args(list(argv))
    token = environ.get("WECOM_TOKEN", "").strip()
    if not token:
        raise ConfigError("未设置 WECOM_TOKEN(机器人 API 配置的 Token)/ WECOM_TOKEN is not set")
    aes_key = environ.get("WECOM_AES_KEY", "").strip()
    if aes_key_bytes(aes_key) is None:
        raise ConfigError(
            "WECOM_AES_KEY 应为 43 位 EncodingAESKey / WECOM_AES_KEY must have 43 characters"
        )
    if not args.path.startswith("/"):
        raise ConfigError(f"--path 应以 / 开头,收到 {args.path!r} / --path must start with /")
    host, port = parse_listen(args.listen)
    store_path = args.store or environ.get("BOT_STORE", "").strip() or DEFAULT_STORE
    return Settings(token, aes_key, store_path, host, port, args.path)
