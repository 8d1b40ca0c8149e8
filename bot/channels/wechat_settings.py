"""The WeChat channel's settings: the command line and the environment, checked at start.

    WECHAT_TOKEN     the 令牌 (Token) of 服务器配置 (required)
    WECHAT_APP_ID    the AppID (required with an AES key)
    WECHAT_AES_KEY   the EncodingAESKey (43 characters) for 安全模式 and 兼容模式
    WECHAT_MODE      plain | compatible | safe: which requests are accepted (明文 only, both, or
                     encrypted only); default safe with an AES key, else plain
    BOT_STORE        the SQLite state file (default ``luohu.db``; ``--store`` overrides)
"""

from __future__ import annotations

import argparse
import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.channels.serving import ConfigError, SettingsParser, parse_listen

DEFAULT_STORE = "luohu.db"
DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_PATH = "/wechat"
MODES = ("plain", "compatible", "safe")


@dataclass(frozen=True)
class Settings:
    """What the WeChat channel needs to run.

    Attributes:
        token: the 令牌 WeChat signs every request with.
        app_id: the account's AppID; needed to decrypt with ``aes_key``.
        aes_key: the EncodingAESKey, or empty for 明文模式 only.
        store_path: the SQLite state file.
        host: the address to listen on.
        port: the port to listen on.
        path: the URL path of the callback.
        mode: ``plain`` (明文模式 only), ``compatible`` (兼容模式: plain or encrypted) or
            ``safe`` (安全模式: encrypted only); empty means safe with an AES key, else plain.
    """

    token: str
    app_id: str = ""
    aes_key: str = ""
    store_path: str = DEFAULT_STORE
    host: str = "127.0.0.1"
    port: int = 8080
    path: str = DEFAULT_PATH
    mode: str = ""

    @property
    def effective_mode(self) -> str:
        """The mode in force: ``mode``, or its default for the key."""
        return self.mode or ("safe" if self.aes_key else "plain")


def _parser() -> argparse.ArgumentParser:
    parser = SettingsParser(prog="python -m bot wechat", description="微信公众号回调服务")
    parser.add_argument("--listen", default=DEFAULT_LISTEN, help="HOST:PORT (默认 %(default)s)")
    parser.add_argument("--path", default=DEFAULT_PATH, help="回调 URL 路径 (默认 %(default)s)")
    parser.add_argument("--store", help=f"状态文件 (默认 $BOT_STORE 或 {DEFAULT_STORE})")
    return parser


def _check_aes_key(aes_key: str, app_id: str) -> None:
    if not app_id:
        raise ConfigError(
            "设置了 WECHAT_AES_KEY 但未设置 WECHAT_APP_ID / WECHAT_APP_ID is not set"
        )
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except binascii.Error:
        key = b""
    if len(aes_key) != 43 or len(key) != 32:
        raise ConfigError(
            "WECHAT_AES_KEY 应为 43 位 EncodingAESKey / WECHAT_AES_KEY must have 43 characters"
        )


def load_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Settings from the command line and the environment.

    Raises:
        ConfigError: when a setting is missing or malformed (a one-line message).
    """
    args = _parser().parse_args(list(argv))
    token = environ.get("WECHAT_TOKEN", "").strip()
    if not token:
        raise ConfigError("未设置 WECHAT_TOKEN(服务器配置的令牌)/ WECHAT_TOKEN is not set")
    app_id = environ.get("WECHAT_APP_ID", "").strip()
    aes_key = environ.get("WECHAT_AES_KEY", "").strip()
    if aes_key:
        _check_aes_key(aes_key, app_id)
    mode = _check_mode(environ.get("WECHAT_MODE", "").strip().lower(), aes_key)
    if not args.path.startswith("/"):
        raise ConfigError(f"--path 应以 / 开头,收到 {args.path!r} / --path must start with /")
    host, port = parse_listen(args.listen)
    store_path = args.store or environ.get("BOT_STORE", "").strip() or DEFAULT_STORE
    return Settings(token, app_id, aes_key, store_path, host, port, args.path, mode)


def _check_mode(mode: str, aes_key: str) -> str:
    if mode and mode not in MODES:
        raise ConfigError(
            f"WECHAT_MODE 应为 plain、compatible 或 safe,收到 {mode!r} / "
            "WECHAT_MODE must be plain, compatible or safe"
        )
    if mode in ("compatible", "safe") and not aes_key:
        raise ConfigError(
            f"WECHAT_MODE={mode} 需要 WECHAT_AES_KEY / WECHAT_MODE={mode} needs WECHAT_AES_KEY"
        )
    return mode

