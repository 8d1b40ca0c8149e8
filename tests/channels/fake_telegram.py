"""A local fake of the Telegram Bot API for offline end-to-end tests.

It serves ``http://127.0.0.1:<random port>/bot<token>/<method>`` from its own thread, records
every call (failed ones too), keeps a queue of updates with Telegram's getUpdates semantics
(``offset`` confirms, ``timeout`` long-polls), and can be told to fail the next calls of a method
(a 429 with ``retry_after``, a 502 …), to answer one late (:meth:`FakeBotApi.stall`: delivered,
but the client times out), or to hold calls until released (:meth:`FakeBotApi.hold`: a client
killed meanwhile never delivered them). Tests build updates with :meth:`FakeBotApi.say` and
:meth:`FakeBotApi.press` and wait for the bot's calls with :meth:`FakeBotApi.wait_for`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .telegram_objects import BOT, TOKEN, message_dict, param_value


@dataclass(frozen=True)
class Call:
    """One request the bot made: the method, its parameters, and the status it got."""

    method: str
    params: dict[str, Any]
    status: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None = None
    stall: float = 0.0  # status 200: handled normally, answered this many seconds late


class FakeBotApi:
    """The fake server. Use as a context manager: ``with FakeBotApi() as api: ...``."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = 0
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}  # the first chat object seen for each id
        self._sent: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._arrived: asyncio.Event | None = None
        self._held: dict[str, int] = {}  # method -> calls still let through before holding
        self._holding = 0  # calls waiting to be released
        self._released: asyncio.Event | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # --- lifecycle ---

    def __enter__(self) -> FakeBotApi:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _start(self) -> None:
        self._arrived = asyncio.Event()
        self._released = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        self._closing = True  # long polls the bot abandoned must not hold the shutdown
        self._wake()
        self._let_go()
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- what tests do ---

    def fail(
        self, method: str, status: int, description: str, retry_after: int | None = None
    ) -> None:
        """Make the next call of ``method`` fail with ``status``."""
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(status, description, retry_after))

    def stall(self, method: str, seconds: float) -> None:
        """Handle the next call of ``method`` (it is delivered) but answer ``seconds`` late."""
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(200, "", stall=seconds))

    def hold(self, method: str, after: int = 0) -> None:
        """Let ``after`` more calls of ``method`` through, then hold the rest until released."""
        with self._lock:
            self._held[method] = after
        self._loop.call_soon_threadsafe(self._hold_again)

    def release(self) -> None:
        """Go on with held calls; those whose client has gone are dropped (status 499)."""
        with self._lock:
            self._held.clear()
        self._loop.call_soon_threadsafe(self._let_go)

    def held(self) -> int:
        """How many calls are waiting to be released."""
        with self._lock:
            return self._holding

    def unconfirmed(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._lock:
            return len(self._updates)

    def push(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue one update (``kind`` is ``message``, ``callback_query`` …); its update_id."""
        with self._lock:
            update_id = next(self._update_ids)
            self._updates.append({"update_id": update_id, kind: payload})
        self._loop.call_soon_threadsafe(self._wake)
        return update_id

    def say(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        text: str | None,
        *,
        reply_to: dict[str, Any] | None = None,
        command: bool = False,
        mention: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue a message from ``user`` in ``chat``; the message dict."""
        message = message_dict(
            next(self._message_ids),
            chat,
            user,
            text,
            reply_to=reply_to,
            command=command,
            mention=mention,
            extra=extra,
        )
        with self._lock:
            self._messages[chat["id"], message["message_id"]] = message
            self._chats.setdefault(chat["id"], chat)
        self.push("message", message)
        return message

    def redeliver(self, message: dict[str, Any]) -> int:
        """Queue ``message`` again in a new update, as Telegram does after a lost confirmation."""
        return self.push("message", message)

    def press(self, user: dict[str, Any], message: dict[str, Any], data: str) -> str:
        """Queue a button press by ``user`` on the bot's ``message``; the callback query id."""
        query_id = f"cb{next(self._callback_ids)}"
        self.push(
            "callback_query",
            {
                "id": query_id,
                "from": user,
                "message": message,
                "chat_instance": "ci",
                "data": data,
            },
        )
        return query_id

    def calls(self, method: str | None = None, ok: bool = True) -> list[Call]:
        """Recorded calls (of ``method``; only successful ones unless ``ok`` is False)."""
        with self._lock:
            return [
                call
                for call in self._calls
                if (method is None or call.method == method) and (call.status == 200 or not ok)
            ]

    def sent(self) -> list[dict[str, Any]]:
        """Parameters of every delivered sendMessage, in order."""
        return [call.params for call in self.calls("sendMessage")]

    def replies(self) -> list[dict[str, Any]]:
        """Every message the bot sent, as it was when sent, in order."""
        with self._lock:
            return list(self._sent)

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message as the fake server knows it (with its reply markup)."""
        with self._lock:
            return self._messages[chat_id, message_id]

    async def wait_for(
        self, ready: Callable[[FakeBotApi], bool], timeout: float = 5.0, what: str = ""
    ) -> None:
        """Wait (without blocking the event loop) until ``ready(self)`` holds."""
        deadline = time.monotonic() + timeout
        while not ready(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what or ready}; calls: {self._log()}"
                )
            await asyncio.sleep(0.002)

    async def wait_sent(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``count`` messages were delivered; all delivered messages."""
        await self.wait_for(lambda api: len(api.sent()) >= count, timeout, f"{count} messages")
        return self.sent()

    def _log(self) -> list[str]:
        with self._lock:
            return [f"{call.method}:{call.status}" for call in self._calls[-30:]]

    # --- the server ---

    def _wake(self) -> None:
        assert self._arrived is not None
        self._arrived.set()

    def _hold_again(self) -> None:
        assert self._released is not None
        self._released.clear()

    def _let_go(self) -> None:
        assert self._released is not None
        self._released.set()

    async def _wait_if_held(self, method: str) -> None:
        assert self._released is not None
        with self._lock:
            left = self._held.get(method)
            if left is None:
                return
            if left > 0:
                self._held[method] = left - 1
                return
            self._holding += 1
        try:
            await self._released.wait()
        finally:
            with self._lock:
                self._holding -= 1

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":  # the Bot API takes JSON bodies too
            body = await request.json() if request.can_read_body else {}
            params = {key: param_value(key, value) for key, value in body.items()}
        else:
            form = await request.post() if request.can_read_body else {}
            params = {key: param_value(key, str(value)) for key, value in form.items()}
        params.update({key: param_value(key, value) for key, value in request.query.items()})
        if request.match_info["token"] != self.token:
            return self._reply(method, params, 401, {"description": "Unauthorized"})
        with self._lock:
            queued = self._faults.get(method)
            fault = queued.pop(0) if queued else None
        if fault is not None and fault.status != 200:
            return self._fault(method, params, fault)
        await self._wait_if_held(method)
        if request.transport is None or request.transport.is_closing():
            self._record(method, params, 499)  # the client died while held: never delivered
            return web.Response(status=499)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._reply(method, params, 404, {"description": "Not Found"})
        result = await handler(params)
        response = self._reply(method, params, 200, {"result": result})
        if fault is not None:  # delivered; the answer comes too late for the client
            await asyncio.sleep(fault.stall)
        return response

    def _fault(self, method: str, params: dict[str, Any], fault: _Fault) -> web.Response:
        if fault.status >= 500:
            self._record(method, params, fault.status)
            return web.Response(status=fault.status, text=fault.description)
        body: dict[str, Any] = {"description": fault.description}
        if fault.retry_after is not None:
            body["parameters"] = {"retry_after": fault.retry_after}
        return self._reply(method, params, fault.status, body)

    def _reply(
        self, method: str, params: dict[str, Any], status: int, body: dict[str, Any]
    ) -> web.Response:
        self._record(method, params, status)
        payload = {"ok": status == 200, **body}
        if status != 200:
            payload["error_code"] = status
        return web.json_response(payload, status=status)

    def _record(self, method: str, params: dict[str, Any], status: int) -> None:
        with self._lock:
            self._calls.append(Call(method, params, status))

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return BOT

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        assert self._arrived is not None
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = self._updates[:limit]
                self._arrived.clear()
            if ready or self._closing or time.monotonic() >= deadline:
                return ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": BOT,
            "text": params["text"],
        }
        if "inline_keyboard" in (params.get("reply_markup") or {}):
            message["reply_markup"] = params["reply_markup"]  # Telegram echoes only these
        quoted = (params.get("reply_parameters") or {}).get("message_id")
        with self._lock:
            if quoted is not None and (chat_id, quoted) in self._messages:
                message["reply_to_message"] = self._messages[chat_id, quoted]
            self._messages[chat_id, message["message_id"]] = message
            self._sent.append(copy.deepcopy(message))
        return message

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        with self._lock:
            message = self._messages[int(params["chat_id"]), int(params["message_id"])]
            message.pop("reply_markup", None)
            if "reply_markup" in params:
                message["reply_markup"] = params["reply_markup"]
            return message

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        return True

    def _chat(self, chat_id: int) -> dict[str, Any]:
        with self._lock:
            known = self._chats.get(chat_id)
        if known is not None:
            return dict(known)
        return {"id": chat_id, "type": "private" if chat_id > 0 else "group", "title": "群"}
