"""WeCom (企业微信) 智能机器人 channel: the callback server WeCom posts @-mentions to.

``python -m bot wecom [--listen HOST:PORT] [--path /wecom] [--store PATH]`` serves the callback
URL of a 智能机器人 in API mode on aiohttp. Settings come from the environment:

    WECOM_TOKEN      the Token of the robot's API settings (required)
    WECOM_AES_KEY    the EncodingAESKey (43 characters, required: WeCom always encrypts)
    BOT_STORE        the SQLite state file (default ``luohu.db``, shared with the other
                     channels; ``--store`` overrides)

Every request is checked before anything reaches the core: a missing or wrong ``msg_signature``,
a timestamp more than five minutes off, or a nonce already used with another request (a replay;
the very same request again is WeCom's retry) is refused with 403; an oversized body with 413; a
body that does not decrypt or parse with 400 (logged without the body). A group message goes to
the core as chat ``wecom:<chatid>`` and user ``<userid>``, a 1:1 message as chat
``wecom:single:<userid>``; the answer goes back at once as one finished stream message. A
redelivered ``msgid`` (or a stream refresh) gets the reply already given: ``Store.seen`` runs each
message through the core once, in one transaction with its kept reply, across restarts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from bot.assistant import build_assistant
from bot.channels.serving import fresh, read_body, reject, run_server
from bot.channels.wechat_text import (
    ONLY_TEXT,
    TROUBLE,
    choice_index,
    fit_bytes,
    is_reset,
    numbered_choices,
)
from bot.channels.wecom_protocol import (
    MAX_STREAM_BYTES,
    BadMessage,
    CryptoError,
    Incoming,
    Kind,
    WecomCrypto,
    parse_callback,
    stream_reply,
    text_reply,
)
from bot.channels.wecom_settings import Settings, load_settings
from bot.logsafe import log_failure
from bot.protocol import Reply
from bot.store import State, Store, person_key

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_CLOCK_SKEW = 300.0
NONCE_TTL = 2 * MAX_CLOCK_SKEW  # a timestamp up to 5 min ahead stays acceptable for 10 min

WELCOME = (
    "你好,我是落户助手。\n"
    "我根据上海 2023 年的三张目录和六条说明,回答你的证书能否用于《居住证》积分、"
    "居转户或人才引进,并列出依据。\n\n"
    "直接问我就行,例如「中级会计能积分吗」;在群里请先@我。"
    "我问的问题有选项时,回复数字即可;发送「重新开始」可清空对话。"
)
DETAILS_HINT = "想看完整说明,@我发送「详细」。"
STREAM_GONE = "这条回复已经找不到了,请再问我一次。"


class Core(Protocol):
    """The part of ``bot.assistant.Assistant`` this channel uses."""

    def handle(self, chat: str, user: str, text: str) -> Reply: ...

    def reset(self, chat: str, user: str) -> Reply: ...


# --- the dialog step: numbered options in the store, the core, the rendered reply ------------


def reply_key(msgid: str) -> str:
    """The store key of the reply given to ``msgid`` (also the id of its stream)."""
    return f"wecom:{msgid}"


def options_key(chat: str, user: str) -> str:
    """The store key of the options last offered to ``user`` in ``chat``."""
    return f"wecom-options:{person_key(chat, user)}"


def answer_text(core: Core, store: Store, incoming: Incoming) -> tuple[str, bool]:
    """One dialog step for a text message: resolve a numbered answer, ask the core, render.

    The options offered are kept in ``store`` per (chat, user), so a digit sent later (even
    after a restart) maps back to its option.

    Returns:
        The stream content, and whether the person asked to delete their data.
    """
    chat, user, text = incoming.chat, incoming.user, incoming.text
    if is_reset(text):
        reply = core.reset(chat, user)
    else:
        reply = core.handle(chat, user, resolve_choice(store, chat, user, text))
    remember_options(store, chat, user, () if reply.forget else reply.options)
    return render_reply(reply, group=incoming.group), reply.forget


def resolve_choice(store: Store, chat: str, user: str, text: str) -> str:
    """The option ``text`` picks by number, or ``text`` itself."""
    state = store.load(options_key(chat, user)) or {}
    options = [str(option) for option in state.get("options", [])]
    index = choice_index(text, len(options))
    return text if index is None else options[index]


def remember_options(store: Store, chat: str, user: str, options: Sequence[str]) -> None:
    """Keep the options just offered (none clears the old ones)."""

    def change(_old: State | None) -> tuple[State | None, None]:
        return ({"options": list(options)} if options else None), None

    store.update(options_key(chat, user), change, person=person_key(chat, user))


def render_reply(reply: Reply, *, group: bool) -> str:
    """The stream content for a core reply, within WeCom's 20,480 bytes.

    A group gets ``reply.short`` and, when the text says more, how to ask for the rest; a 1:1
    chat gets the whole text. Numbered choices follow and are never cut.
    """
    body = reply.short if group else reply.text
    if group and reply.has_details:
        body = f"{body}\n\n{DETAILS_HINT}"
    choices = numbered_choices(reply.options)
    suffix = f"\n\n{choices}" if choices else ""
    body = fit_bytes(body, MAX_STREAM_BYTES - len(suffix.encode("utf-8")))
    return fit_bytes(body + suffix, MAX_STREAM_BYTES)


# --- the HTTP handlers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    """The signature parameters of a callback's query string."""

    signature: str
    timestamp: str
    nonce: str


@dataclass(frozen=True)
class Callback:
    """The callback endpoint: URL verification (GET) and callbacks (POST)."""

    core: Core
    store: Store
    crypto: WecomCrypto
    clock: Callable[[], float]

    async def verify_url(self, request: web.Request) -> web.Response:
        """Answer WeCom's URL check with the decrypted ``echostr`` when the signature holds."""
        signed = self._signed(request)
        echo = request.query.get("echostr", "")
        if not echo:
            reject(request, web.HTTPBadRequest, "missing echostr")
        self._authenticate(request, signed, echo)
        try:
            return web.Response(text=self.crypto.decrypt(echo))
        except CryptoError as exc:
            reject(request, web.HTTPBadRequest, f"cannot decrypt echostr ({exc})")

    async def receive(self, request: web.Request) -> web.Response:
        """Handle one callback and answer with an encrypted passive reply (or nothing)."""
        started = time.perf_counter()
        signed = self._signed(request)
        encrypted = _encrypted_field(request, await read_body(request, MAX_BODY))
        self._authenticate(request, signed, encrypted)
        try:
            incoming = parse_callback(self.crypto.decrypt(encrypted))
        except (CryptoError, BadMessage) as exc:
            reject(request, web.HTTPBadRequest, f"cannot read the callback ({exc})")
        payload = self._answer(incoming)
        log.info(
            "%s%s from %s… answered in %.1f ms",
            incoming.kind.value,
            " (group)" if incoming.group else "",
            incoming.user[:8],
            (time.perf_counter() - started) * 1000,
        )
        if payload is None:
            return web.Response(text="")
        envelope = self.crypto.envelope(payload, int(self.clock()), signed.nonce)
        return web.json_response(envelope)

    def _signed(self, request: web.Request) -> Signed:
        query = request.query
        signed = Signed(*(query.get(k, "") for k in ("msg_signature", "timestamp", "nonce")))
        if not (signed.signature and signed.timestamp and signed.nonce):
            reject(request, web.HTTPForbidden, "unsigned request")
        if not fresh(signed.timestamp, self.clock(), MAX_CLOCK_SKEW):
            reject(request, web.HTTPForbidden, "stale or future timestamp")
        return signed

    def _authenticate(self, request: web.Request, signed: Signed, encrypted: str) -> None:
        if not self.crypto.verify(signed.signature, signed.timestamp, signed.nonce, encrypted):
            reject(request, web.HTTPForbidden, "wrong msg_signature")
        # Only a signed request claims its nonce, bound to exactly what it signed: the same
        # request again is a retry (its msgid gets the kept reply), anything else a replay.
        signed_digest = hashlib.sha256(f"{signed.timestamp}\n{encrypted}".encode()).hexdigest()
        if not self.store.claim_nonce(f"wecom:{signed.nonce}", signed_digest, NONCE_TTL):
            reject(request, web.HTTPForbidden, "nonce already used with another request")

    def _answer(self, incoming: Incoming) -> dict[str, Any] | None:
        if incoming.kind is Kind.WELCOME:
            return text_reply(WELCOME)
        if incoming.kind is Kind.SILENT:
            return None
        if incoming.kind is Kind.REFRESH:
            content = self.store.peek(reply_key(incoming.stream_id))
            return stream_reply(incoming.stream_id, STREAM_GONE if content is None else content)
        return stream_reply(incoming.msgid, self._content(incoming))

    def _content(self, incoming: Incoming) -> str:
        person = person_key(incoming.chat, incoming.user)
        forget = False

        def compute() -> str:
            nonlocal forget
            if incoming.kind is Kind.OTHER:
                return ONLY_TEXT
            content, forget = answer_text(self.core, self.store, incoming)
            return content

        try:
            with self.store.transaction():
                content, fresh = self.store.seen(reply_key(incoming.msgid), compute, person=person)
                if forget:  # 「删除我的数据」: not even the reply saying so is kept
                    self.store.forget(person)
        # Not stored, so a redelivery tries again; the person never sees exception text, and the
        # log gets its type and stack only (its message may quote the text).
        except Exception as exc:
            log_failure(log, f"the core failed on message {incoming.msgid}", exc)
            return TROUBLE
        if not fresh:
            log.info("message %s is a redelivery: the stored reply is sent again", incoming.msgid)
        return content


def _encrypted_field(request: web.Request, body: bytes) -> str:
    """The ``encrypt`` field of a callback body ``{"encrypt": "..."}``."""
    try:
        data = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        reject(request, web.HTTPBadRequest, "body is not JSON")
    encrypted = data.get("encrypt") if isinstance(data, dict) else None
    if not isinstance(encrypted, str) or not encrypted:
        reject(request, web.HTTPBadRequest, "body has no encrypt field")
    return encrypted


# --- composition root ------------------------------------------------------------------------


def create_app(
    settings: Settings, core: Core, store: Store, *, clock: Callable[[], float] = time.time
) -> web.Application:
    """The aiohttp application serving the callback at ``settings.path``.

    Args:
        settings: token, key and path.
        core: the assistant to hand text messages to.
        store: replies given, options offered and nonces used.
        clock: the current Unix time (for the timestamp check and reply timestamps).

    Raises:
        ValueError: when ``settings.aes_key`` is not a valid EncodingAESKey.
    """
    callback = Callback(core, store, WecomCrypto(settings.token, settings.aes_key), clock)
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_get(settings.path, callback.verify_url)
    app.router.add_post(settings.path, callback.receive)
    return app


def main(argv: list[str]) -> int:
    """Run the WeCom callback server until interrupted; return the exit status."""
    return run_server(
        argv, load_settings,
        lambda settings, store: create_app(settings, build_assistant(store), store),
        lambda s: f"WeCom callback at http://{s.host}:{s.port}{s.path}")
