"""The web chat page and its JSON API over the core (aiohttp).

Routes:
    GET  /             the chat page (static/index.html; the script and style under /static/)
    POST /api/chat     ``{"text": str, "id": str (optional)}`` → ``{"text", "brief", "asking",
                       "options", "result", "forget"}`` (PROTOCOL.md's reply without
                       ``chat``/``user``); a message ``id`` already handled in this conversation
                       gets its kept reply again, not a second step (a retry after a lost answer)
    POST /api/reset    no body → the same shape; the conversation starts over (「重新开始」)
    POST /api/forget   no body → the same shape with ``forget: true``; every record of the
                       person is deleted at once and the cookie cleared (「删除我的数据」)
    GET  /healthz      ``{"ok": true}``

A conversation is identified by a random session id in the ``luohu_sid`` cookie (HttpOnly,
SameSite=Lax, 30 days, Secure over HTTPS); its key in the core is chat = ``"web:" + id``,
user = id. Every API error is ``{"error": code, "message": 中文说明}`` with status 400, 403
(a POST whose Origin is another site), 404, 405, 413, 415, 429 or 500, never a traceback.
Every response carries a Content-Security-Policy that allows no inline script and nothing from
another origin.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from bot.channels.web.ratelimit import RateLimiter
from bot.channels.web.settings import Settings
from bot.logsafe import log_failure
from bot.protocol import Reply

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "luohu_sid"
SESSION_DAYS = 30  # as long as the store keeps an idle conversation
SESSION_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
MESSAGE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
REPLY_FIELDS = ("text", "brief", "asking", "options", "result")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Core(Protocol):
    """The part of ``bot.assistant.Assistant`` this channel uses."""

    def handle(
        self, chat: str, user: str, text: str, message_id: str | None = None
    ) -> Reply: ...

    def reset(self, chat: str, user: str) -> Reply: ...

    def forget(self, chat: str, user: str) -> Reply: ...


class ApiError(Exception):
    """A request the API refuses: answered as ``{"error": code, "message": message}``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


STATUS_ERRORS = {
    404: ("not_found", "没有这个地址。"),
    405: ("method_not_allowed", "这个地址不支持这种请求方式。"),
    413: ("body_too_large", "消息太长了,请精简后再发。"),
}
INTERNAL = ApiError(500, "internal", "抱歉,服务器出了点问题,请稍后再试。")


def conversation(session: str) -> tuple[str, str]:
    """The core's (chat, user) of a web session id."""
    return f"web:{session}", session


def content_security_policy(frame_ancestors: str) -> str:
    """The CSP of every response: own-origin script, style and requests only, no inline."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {frame_ancestors}"
    )


@dataclass(frozen=True)
class WebChannel:
    """The page and API handlers over one core."""

    settings: Settings
    core: Core
    page_html: str
    clients: RateLimiter
    sessions: RateLimiter

    async def page(self, request: web.Request) -> web.Response:
        """The chat page (``?q=`` is read by the page's script)."""
        return web.Response(
            text=self.page_html,
            content_type="text/html",
            headers={"Cache-Control": "no-cache"},
        )

    async def chat(self, request: web.Request) -> web.Response:
        """One message of the person's conversation → the core's reply."""
        self._guard(request)
        session = self.session_of(request)
        text, message_id = await self._read_message(request)
        self._limit(self.sessions, session)
        reply = self.core.handle(*conversation(session), text, message_id)
        return self._answer(request, session, reply)

    async def reset(self, request: web.Request) -> web.Response:
        """Start the person's conversation over (「重新开始」)."""
        self._guard(request)
        session = self.session_of(request)
        return self._answer(request, session, self.core.reset(*conversation(session)))

    async def forget(self, request: web.Request) -> web.Response:
        """Delete everything kept about the person at once (「删除我的数据」)."""
        self._guard(request)
        session = self.session_of(request)
        return self._answer(request, session, self.core.forget(*conversation(session)))

    async def healthz(self, request: web.Request) -> web.Response:
        """Liveness for a load balancer or a process manager."""
        return web.json_response({"ok": True})

    # --- request parts --------------------------------------------------------------------

    def _guard(self, request: web.Request) -> None:
        """Refuse a POST another site's page makes (403) and apply the per-client rate limit."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise ApiError(403, "forbidden_origin", "请在本站页面上使用。")
        self._limit(self.clients, self.client_address(request))

    def client_address(self, request: web.Request) -> str:
        """The client's address: the peer, or the proxy's X-Forwarded-For when trusted."""
        if self.settings.trust_proxy:
            forwarded = request.headers.get("X-Forwarded-For", "")
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            if hops:
                return hops[-1]  # appended by our proxy; earlier hops are the client's word
        return request.remote or "unknown"

    def is_https(self, request: web.Request) -> bool:
        """Whether the person reached us over HTTPS (directly or through a trusted proxy)."""
        if self.settings.trust_proxy:
            proto = request.headers.get("X-Forwarded-Proto", "")
            if proto:
                return proto.split(",")[0].strip().lower() == "https"
        return request.secure

    @staticmethod
    def session_of(request: web.Request) -> str:
        """The session id from the cookie, or a new random one (32 URL-safe characters)."""
        sid = request.cookies.get(SESSION_COOKIE, "")
        return sid if SESSION_PATTERN.fullmatch(sid) else secrets.token_urlsafe(24)

    async def _read_message(self, request: web.Request) -> tuple[str, str | None]:
        if request.content_type != "application/json":
            raise ApiError(
                415, "unsupported_media_type", "请以 JSON 发送(Content-Type: application/json)。"
            )
        size = request.content_length
        if size is not None and size > self.settings.max_body:
            raise web.HTTPRequestEntityTooLarge(
                max_size=self.settings.max_body, actual_size=size
            )
        body = await request.read()  # client_max_size stops a body without a length
        return parse_message(body, self.settings.max_text)

    @staticmethod
    def _limit(limiter: RateLimiter, key: str) -> None:
        wait = limiter.take(key)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"消息发得太快了,请 {seconds} 秒后再试。",
                {"Retry-After": str(seconds)},
            )

    def _answer(self, request: web.Request, session: str, reply: Reply) -> web.Response:
        payload = reply.to_json(*conversation(session))
        body: dict[str, Any] = {name: payload[name] for name in REPLY_FIELDS}
        body["forget"] = reply.forget
        response = web.json_response(body, dumps=_dumps, headers={"Cache-Control": "no-store"})
        if reply.forget:  # the data is gone: the next message starts a new session
            response.del_cookie(SESSION_COOKIE, path="/")
        else:
            response.set_cookie(
                SESSION_COOKIE,
                session,
                max_age=SESSION_DAYS * 24 * 3600,
                path="/",
                httponly=True,
                samesite="Lax",
                secure=self.is_https(request),
            )
        return response


def parse_message(body: bytes, max_text: int) -> tuple[str, str | None]:
    """The ``text`` and the optional message ``id`` of an API request body.

    Raises:
        ApiError: 400 when the body is not UTF-8 JSON, not an object with a string ``text``
            (and, if given, an ``id`` of 1-64 letters, digits, ``-`` or ``_``), or the text is
            empty, over ``max_text`` characters, or not encodable.
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "请求不是有效的 JSON。") from None
    text = data.get("text") if isinstance(data, dict) else None
    message_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(text, str) or not (
        message_id is None
        or (isinstance(message_id, str) and MESSAGE_ID_PATTERN.fullmatch(message_id))
    ):
        raise ApiError(400, "bad_request", '请求应为 {"text": "你的问题"},text 是字符串。')
    if not text.strip():
        raise ApiError(400, "empty_text", "消息是空的,请输入你的问题。")
    if len(text) > max_text:
        raise ApiError(
            400, "text_too_long", f"一条消息最多 {max_text} 个字,请精简后再发。"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "bad_text", "消息里有无法识别的字符。") from None
    return text, message_id


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def error_response(error: ApiError) -> web.Response:
    """The JSON answer to a refused request."""
    return web.json_response(
        {"error": error.code, "message": error.message},
        status=error.status,
        dumps=_dumps,
        headers={"Cache-Control": "no-store", **error.headers},
    )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """API errors as JSON; nothing unexpected reaches the person as a traceback."""
    try:
        return await handler(request)
    except ApiError as error:
        log.info("%s %s refused: %s", request.method, request.path, error.code)
        return error_response(error)
    except web.HTTPException as exc:
        known = STATUS_ERRORS.get(exc.status)
        if known is None or not request.path.startswith("/api/"):
            raise
        log.info("%s %s refused: %s", request.method, request.path, known[0])
        return error_response(ApiError(exc.status, *known))
    except Exception as exc:
        log_failure(log, f"{request.method} {request.path} failed", exc)
        return error_response(INTERNAL)


def load_page(settings: Settings) -> str:
    """static/index.html with the settings the page needs filled in."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return html.replace("{{MAX_TEXT}}", str(settings.max_text))


def create_app(
    settings: Settings, core: Core, *, clock: Callable[[], float] = time.monotonic
) -> web.Application:
    """The aiohttp application: page, static assets, API and health check.

    Args:
        settings: limits, proxy trust and embedding policy.
        core: the assistant conversations go to.
        clock: monotonic seconds, for the rate limits.
    """
    channel = WebChannel(
        settings,
        core,
        load_page(settings),
        RateLimiter(settings.client_rate, clock),
        RateLimiter(settings.session_rate, clock),
    )
    app = web.Application(client_max_size=settings.max_body, middlewares=[json_errors])
    app.router.add_get("/", channel.page)
    app.router.add_static("/static/", STATIC)
    app.router.add_post("/api/chat", channel.chat)
    app.router.add_post("/api/reset", channel.reset)
    app.router.add_post("/api/forget", channel.forget)
    app.router.add_get("/healthz", channel.healthz)
    policy = content_security_policy(settings.frame_ancestors)

    async def secure_headers(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        # Revalidate (ETag/Last-Modified) rather than guess: WeChat's browser caches hard.
        response.headers.setdefault("Cache-Control", "no-cache")

    app.on_response_prepare.append(secure_headers)
    return app
