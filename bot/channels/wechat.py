"""WeChat Official Account (公众号) channel: the callback server WeChat posts messages to.

``python -m bot wechat [--listen HOST:PORT] [--path /wechat] [--store PATH]`` serves the
message callback of 公众号后台 → 基本配置 → 服务器配置 on aiohttp. Settings come from the
environment (``bot.channels.wechat_settings``: WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_AES_KEY,
WECHAT_MODE, BOT_STORE).

Every request is signed by WeChat; a request whose signature is missing or wrong, or whose
timestamp is more than five minutes off, is refused (403) before its body is read. In safe mode
a plain request is refused (403): safe mode cannot be downgraded. The signature covers only the
timestamp and nonce, so a nonce is bound to the message it came with for the timestamp window:
the same nonce with another message is a replay (403); with the same message, a retry. Text
messages go to the core with chat = user = the sender's openid, and the reply goes back as a
passive reply (encrypted when the request was). A WeChat retry of a message (same MsgId) gets
the reply already given: ``Store.seen`` runs each message through the core once, the step and
the kept reply in one transaction.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import BaseEvent
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import BaseMessage, TextMessage
from wechatpy.utils import check_signature

from bot.assistant import build_assistant
from bot.channels.serving import fresh, read_body, reject, run_server
from bot.channels.wechat_settings import (
    DEFAULT_STORE,
    ConfigError,
    Settings,
    load_settings,
    parse_listen,
)
from bot.channels.wechat_text import (
    ONLY_TEXT,
    TROUBLE,
    WELCOME,
    choice_index,
    is_reset,
    render_reply,
)
from bot.protocol import Reply
from bot.store import State, Store, person_key

__all__ = ["DEFAULT_STORE", "ConfigError", "Settings", "create_app", "load_settings", "main",
           "parse_listen"]

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_CLOCK_SKEW = 300.0

class Core(Protocol):
    """The part of ``bot.assistant.Assistant`` this channel uses."""

    def handle(self, chat: str, user: str, text: str) -> Reply: ...

    def reset(self, chat: str, user: str) -> Reply: ...


class Kind(enum.Enum):
    """What to do with an incoming message."""

    TEXT = "text"  # goes to the core
    WELCOME = "welcome"  # a new follower: welcome and help
    SILENT = "silent"  # unsubscribe and other events: no reply
    OTHER = "other"  # image, voice, …: say that only text is understood


@dataclass(frozen=True)
class Incoming:
    """A parsed callback message, checked once at the edge.

    Attributes:
        kind: how the channel answers it.
        sender: the sender's openid (FromUserName).
        key: the de-duplication key of the message in the store.
        text: the text of a text message, else empty.
        message: the wechatpy message, to address the reply.
    """

    kind: Kind
    sender: str
    key: str
    text: str
    message: BaseMessage


class BadMessage(Exception):
    """The body is not a WeChat message (the reason never includes the body)."""


# --- the dialog step: options in the store, the core, the rendered reply ---------------------


def options_key(openid: str) -> str:
    """The store key of the options last offered to ``openid``."""
    return f"wechat-options:{openid}"


def answer_text(core: Core, store: Store, openid: str, text: str) -> str:
    """One dialog step for a text message: resolve a numbered answer, ask the core, render.

    The options offered with the reply are kept in ``store`` so that a digit sent later (even
    after a restart) maps back to its option.
    """
    if is_reset(text):
        reply = core.reset(openid, openid)
    else:
        reply = core.handle(openid, openid, resolve_choice(store, openid, text))
    remember_options(store, openid, reply.options)
    return render_reply(reply.text, reply.options)


def resolve_choice(store: Store, openid: str, text: str) -> str:
    """The option ``text`` picks by number, or ``text`` itself."""
    state = store.load(options_key(openid)) or {}
    options = [str(option) for option in state.get("options", [])]
    index = choice_index(text, len(options))
    return text if index is None else options[index]


def remember_options(store: Store, openid: str, options: Sequence[str]) -> None:
    """Keep the options just offered to ``openid`` (none clears the old ones)."""

    def change(_old: State | None) -> tuple[State | None, None]:
        return ({"options": list(options)} if options else None), None

    store.update(options_key(openid), change, person=person_key(openid, openid))


# --- parsing at the edge ---------------------------------------------------------------------


def parse_incoming(xml: str) -> Incoming:
    """Parse a callback body into an ``Incoming``.

    Raises:
        BadMessage: when ``xml`` is not a WeChat message.
    """
    try:
        message = parse_message(xml)
        sender, account = message.source, message.target
        msg_id = message.id
        text = message.content if isinstance(message, TextMessage) else ""
    # wechatpy lets whatever xmltodict, expat and its field converters raise escape.
    except Exception as exc:
        raise BadMessage(type(exc).__name__) from None
    if not (isinstance(sender, str) and sender and isinstance(account, str) and account):
        raise BadMessage("no FromUserName or ToUserName")
    if not isinstance(text, str | None):
        raise BadMessage("Content is not text")
    key = f"wechat:{msg_id}" if msg_id else f"wechat:{sender}:{message.time}"
    return Incoming(_kind(message), sender, key, text or "", message)


def _kind(message: BaseMessage) -> Kind:
    if isinstance(message, TextMessage):
        return Kind.TEXT
    if isinstance(message, BaseEvent):
        return Kind.WELCOME if message.event.startswith("subscribe") else Kind.SILENT
    # parse_message gives an UnknownMessage for events it has no class for, too.
    raw_type = str(getattr(message, "_data", {}).get("MsgType", "")).lower()
    return Kind.SILENT if raw_type == "event" else Kind.OTHER


# --- the HTTP handlers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    """The callback endpoint: URL verification (GET) and messages (POST)."""

    settings: Settings
    core: Core
    store: Store
    crypto: WeChatCrypto | None
    clock: Callable[[], float]

    async def verify_url(self, request: web.Request) -> web.Response:
        """Answer WeChat's URL check by echoing ``echostr`` when the signature holds."""
        self._authenticate(request)
        echo = request.query.get("echostr")
        if not echo:
            raise web.HTTPBadRequest(text="missing echostr")
        return web.Response(text=echo)

    async def receive(self, request: web.Request) -> web.Response:
        """Handle one pushed message and answer with a passive reply (or ``success``)."""
        started = time.perf_counter()
        self._authenticate(request)
        body = await read_body(request, MAX_BODY)
        encrypted = request.query.get("encrypt_type", "raw").lower() == "aes"
        if not encrypted and self.settings.effective_mode == "safe":
            reject(request, web.HTTPForbidden, "plain request in safe mode")
        xml = self._decrypt(request, body) if encrypted else _decode(request, body)
        self._claim_nonce(request, xml)
        try:
            incoming = parse_incoming(xml)
        except BadMessage as exc:
            reject(request, web.HTTPBadRequest, f"malformed message ({exc})")
        content = self._answer(incoming)
        log.info(
            "%s from %s… answered in %.1f ms",
            incoming.kind.value,
            incoming.sender[:8],
            (time.perf_counter() - started) * 1000,
        )
        if content is None:
            return web.Response(text="success")
        return web.Response(
            text=self._render(request, incoming, content, encrypted),
            content_type="application/xml",
        )

    def _authenticate(self, request: web.Request) -> None:
        query = request.query
        signature, timestamp, nonce = (
            query.get(k, "") for k in ("signature", "timestamp", "nonce")
        )
        if not (signature and timestamp and nonce):
            reject(request, web.HTTPForbidden, "unsigned request")
        try:
            check_signature(self.settings.token, signature, timestamp, nonce)
        except InvalidSignatureException:
            reject(request, web.HTTPForbidden, "wrong signature")
        if not fresh(timestamp, self.clock(), MAX_CLOCK_SKEW):
            reject(request, web.HTTPForbidden, "stale or future timestamp")

    def _claim_nonce(self, request: web.Request, xml: str) -> None:
        """Bind the request's nonce to its message for the timestamp window (refuse a replay)."""
        query = request.query
        key = f"wechat:{query['timestamp']}:{query['nonce']}"
        digest = hashlib.sha256(xml.encode("utf-8", "surrogatepass")).hexdigest()
        if not self.store.claim_nonce(key, digest, ttl=2 * MAX_CLOCK_SKEW):
            reject(request, web.HTTPForbidden, "nonce already used with another message")

    def _decrypt(self, request: web.Request, body: bytes) -> str:
        if self.crypto is None:
            reject(request, web.HTTPBadRequest, "encrypted message but WECHAT_AES_KEY is not set")
        msg_signature = request.query.get("msg_signature", "")
        if not msg_signature:
            reject(request, web.HTTPForbidden, "encrypted message without msg_signature")
        query = request.query
        try:
            xml = self.crypto.decrypt_message(
                body, msg_signature, query["timestamp"], query["nonce"]
            )
        except InvalidSignatureException:
            reject(request, web.HTTPForbidden, "wrong msg_signature")
        # base64, AES padding, app id and XML errors all surface as different exception types.
        except Exception as exc:
            reject(request, web.HTTPBadRequest, f"cannot decrypt ({type(exc).__name__})")
        return str(xml)

    def _answer(self, incoming: Incoming) -> str | None:
        if incoming.kind is Kind.WELCOME:
            return WELCOME
        if incoming.kind is Kind.OTHER:
            return ONLY_TEXT
        if incoming.kind is Kind.SILENT:
            return None
        try:
            content, fresh = self.store.seen(
                incoming.key,
                lambda: answer_text(self.core, self.store, incoming.sender, incoming.text),
                person=person_key(incoming.sender, incoming.sender),
            )
        # Not stored, so WeChat's retry tries again; the person never sees exception text, and
        # the log gets its type only (an exception's message may quote the text).
        except Exception as exc:
            log.error("the core failed on %s (%s)", incoming.key, type(exc).__name__)
            return TROUBLE
        if not fresh:
            log.info("%s is a retry: the stored reply is sent again", incoming.key)
        return content

    def _render(
        self, request: web.Request, incoming: Incoming, content: str, encrypted: bool
    ) -> str:
        xml = str(create_reply(content, incoming.message).render())
        if not encrypted or self.crypto is None:
            return xml
        timestamp = str(int(self.clock()))
        return str(self.crypto.encrypt_message(xml, request.query["nonce"], timestamp))


def _decode(request: web.Request, body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        reject(request, web.HTTPBadRequest, "body is not UTF-8")


# --- composition root ------------------------------------------------------------------------


def make_crypto(settings: Settings) -> WeChatCrypto | None:
    """The message crypto for 安全模式/兼容模式, or None in plain mode."""
    if not settings.aes_key or settings.effective_mode == "plain":
        return None
    return WeChatCrypto(settings.token, settings.aes_key, settings.app_id)


def create_app(
    settings: Settings, core: Core, store: Store, *, clock: Callable[[], float] = time.time
) -> web.Application:
    """The aiohttp application serving the callback at ``settings.path``.

    Args:
        settings: token, keys and path.
        core: the assistant to hand text messages to.
        store: where replies already given and the offered options are kept.
        clock: the current Unix time (for the timestamp check and reply timestamps).
    """
    callback = Callback(settings, core, store, make_crypto(settings), clock)
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_get(settings.path, callback.verify_url)
    app.router.add_post(settings.path, callback.receive)
    return app


def main(argv: list[str]) -> int:
    """Run the WeChat callback server until interrupted; return the exit status."""
    modes = {"plain": "明文模式", "compatible": "兼容模式", "safe": "安全模式"}
    return run_server(
        argv, load_settings,
        lambda settings, store: create_app(settings, build_assistant(store), store),
        lambda s: f"WeChat callback at http://{s.host}:{s.port}{s.path} "
                  f"({modes[s.effective_mode]})")
