"""The Telegram channel's settings, read once from the environment (``TELEGRAM_*``)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_STORE = "luohu.db"
DEFAULT_LISTEN = "0.0.0.0:8443"
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates in webhook mode.

    Attributes:
        url: the public HTTPS URL registered with Telegram (its path is the local path too).
        listen: the local address to bind.
        port: the local port to bind.
        secret_token: checked on every request (header ``X-Telegram-Bot-Api-Secret-Token``).
    """

    url: str
    listen: str
    port: int
    secret_token: str = field(repr=False)

    @property
    def path(self) -> str:
        """The URL's path without its leading slash (``"tg/hook"``)."""
        return urlsplit(self.url).path.lstrip("/")


@dataclass(frozen=True)
class Settings:
    """Everything the channel needs, read once from the environment.

    Attributes:
        token: the bot token (never logged).
        base_url: the Bot API base the token is appended to.
        store_path: the SQLite state file shared by the core, the inbox and de-duplication.
        poll_timeout: seconds a getUpdates long poll may wait.
        send_timeout: seconds a sent request may wait for Telegram's answer (read timeout);
            past it the send counts as ambiguous and is not repeated.
        webhook: webhook mode when set, long polling otherwise.
    """

    token: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    store_path: str = DEFAULT_STORE
    poll_timeout: int = 25
    send_timeout: float = 10.0
    webhook: Webhook | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], store: str | None = None) -> Settings:
        """Read ``TELEGRAM_*`` and ``BOT_STORE`` from ``env``.

        Raises:
            SettingsError: a required setting is missing or a value is malformed.
        """
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise SettingsError("缺少 TELEGRAM_BOT_TOKEN:请设置为 @BotFather 给出的机器人令牌")
        if not _TOKEN.fullmatch(token):
            raise SettingsError("TELEGRAM_BOT_TOKEN 格式不对:应形如 123456789:AAE…")
        return cls(
            token=token,
            base_url=env.get("TELEGRAM_BASE_URL", "").strip() or DEFAULT_BASE_URL,
            store_path=store or env.get("BOT_STORE", "").strip() or DEFAULT_STORE,
            poll_timeout=_int(env, "TELEGRAM_POLL_TIMEOUT", 25),
            send_timeout=_seconds(env, "TELEGRAM_SEND_TIMEOUT", 10.0),
            webhook=_webhook(env),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise SettingsError(f"{name} 应为非负整数,而不是 {raw!r}")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 600:
        raise SettingsError(f"{name} 应为 0 到 600 之间的秒数,而不是 {raw!r}")
    return value


def _webhook(env: Mapping[str, str]) -> Webhook | None:
    url = env.get("TELEGRAM_WEBHOOK_URL", "").strip()
    if not url:
        return None
    if not url.startswith("https://"):
        raise SettingsError(f"TELEGRAM_WEBHOOK_URL 必须是 https:// 开头的公网地址,而不是 {url!r}")
    listen = env.get("TELEGRAM_WEBHOOK_LISTEN", "").strip() or DEFAULT_LISTEN
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise SettingsError("TELEGRAM_WEBHOOK_LISTEN 应形如 0.0.0.0:8443")
    secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or secrets.token_urlsafe(32)
    if not _SECRET.fullmatch(secret):
        raise SettingsError("TELEGRAM_WEBHOOK_SECRET 只能含字母、数字、_ 和 -,最长 256 个字符")
    return Webhook(url=url, listen=host, port=int(port), secret_token=secret)
