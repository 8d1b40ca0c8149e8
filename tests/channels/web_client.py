"""Helpers of the web channel's tests: the app on loopback, a cookie-keeping HTTP client, core
doubles, and a driver that talks a persona through a dialog against a reference assistant."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from aiohttp import web

from bot.assistant import Assistant
from bot.channels.web.server import SESSION_COOKIE
from bot.engine import Engine
from bot.protocol import Reply
from bot.store import MemoryStore

from .answers import MAX_REPLIES, SLOT_ANSWERS

PERSONAS: tuple[tuple[str, dict[str, str]], ...] = (
    ("中级会计能落户吗", {}),
    ("中级会计能落户吗", {"social_insurance": "不满足"}),
    ("中级会计能积分吗", {"job_match": "不对口"}),
    ("焊工技师能积分吗", {}),
    ("二级建造师能积分吗", {}),
    ("高级电工能积分吗", {"where_obtained": "在外地考的"}),
    ("我有注册会计师证书,想办居转户", {}),
)
REPLY_KEYS = {"text", "brief", "asking", "options", "result", "forget"}


# --- server and client -----------------------------------------------------------------------


@contextmanager
def serve(app: web.Application) -> Iterator[tuple[str, int]]:
    """Run ``app`` on 127.0.0.1 and a free port in a thread of its own; yield ``(host, port)``.

    The loop is made and run only in that thread, so the caller's thread may run a loop of
    its own (Playwright's sync API does).
    """
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    started: concurrent.futures.Future[tuple[str, int]] = concurrent.futures.Future()

    async def start() -> None:
        try:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
        except Exception as exc:
            started.set_exception(exc)
        else:
            started.set_result(runner.addresses[0][:2])

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield started.result(10)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass
class Answer:
    """One HTTP answer of the server."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> Any:
        assert self.headers.get_content_type() == "application/json", self.body[:200]
        return json.loads(self.body)

    @property
    def cookie(self) -> Any:
        raw = self.headers.get("Set-Cookie")
        return SimpleCookie(raw)[SESSION_COOKIE] if raw else None


@dataclass
class Client:
    """A cookie-keeping HTTP client of one person (one browser)."""

    address: tuple[str, int]
    sid: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> Answer:
        connection = http.client.HTTPConnection(*self.address, timeout=10)
        sent = {**self.headers, **{k.replace("_", "-"): v for k, v in headers.items()}}
        if self.sid:
            sent["Cookie"] = f"{SESSION_COOKIE}={self.sid}"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        finally:
            connection.close()
        if answer.cookie is not None:
            expired = answer.cookie["max-age"] == "0" or not answer.cookie.value
            self.sid = None if expired else answer.cookie.value
        return answer

    def post_json(self, path: str, data: Any) -> Answer:
        body = json.dumps(data, ensure_ascii=False).encode()
        return self.request("POST", path, body, Content_Type="application/json")

    def say(self, text: str) -> dict[str, Any]:
        answer = self.post_json("/api/chat", {"text": text})
        assert answer.status == 200, (answer.status, answer.body)
        return dict(answer.json)


@dataclass
class Recorder:
    """A core double that records what reached it."""

    reply: Reply = field(default_factory=lambda: Reply("好的", "purpose", ("积分", "居转户")))
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    fail: bool = False

    def handle(self, chat: str, user: str, text: str, message_id: str | None = None) -> Reply:
        self.calls.append((chat, user, text))
        if self.fail:
            raise RuntimeError("secret internal detail")
        return self.reply

    def reset(self, chat: str, user: str) -> Reply:
        self.calls.append((chat, user, "<reset>"))
        return Reply("已清空")

    def forget(self, chat: str, user: str) -> Reply:
        self.calls.append((chat, user, "<forget>"))
        return Reply("已删除", forget=True)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reference(engine: Engine) -> Assistant:
    return Assistant(engine, MemoryStore())


def expected_json(reply: Reply) -> dict[str, Any]:
    payload = reply.to_json("c", "u")
    return {**{key: payload[key] for key in REPLY_KEYS - {"forget"}}, "forget": reply.forget}


def next_message(reply: dict[str, Any], persona: dict[str, str]) -> str:
    slot = reply["asking"]
    assert slot is not None, f"no result and no question: {reply['text']!r}"
    return persona.get(slot) or SLOT_ANSWERS[slot]


def converse(
    say: Any, ref: Assistant, chat: str, opening: str, persona: dict[str, str]
) -> dict[str, Any]:
    """Drive one dialog to its result through ``say``, checking every reply against ``ref``."""
    text = opening
    for _ in range(MAX_REPLIES):
        got = say(text)
        assert got == expected_json(ref.handle(chat, chat, text)), text
        if got["result"] is not None:
            return got
        text = next_message(got, persona)
    raise AssertionError(f"no result after {MAX_REPLIES} replies to {opening!r}")
