"""The web channel's API over real HTTP on loopback: the production app, a real SQLite store.

Dialog tests are core-agnostic: what each reply must be comes from a separate reference
assistant (same engine, memory store) fed the same messages.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.assistant import Assistant
from bot.channels.web.server import STATIC, create_app
from bot.channels.web.settings import Settings
from bot.engine import Engine
from bot.store import SqliteStore

from .web_client import (
    MAX_REPLIES,
    PERSONAS,
    REPLY_KEYS,
    SLOT_ANSWERS,
    Client,
    Recorder,
    converse,
    expected_json,
    next_message,
    reference,
    serve,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    db = SqliteStore(tmp_path / "web.db")
    yield db
    db.close()


@pytest.fixture
def real(engine: Engine, store: SqliteStore) -> Iterator[tuple[str, int]]:
    """The production app over the real engine and a SQLite store, generous rate limits."""
    with serve(create_app(Settings(client_rate=10_000), Assistant(engine, store))) as address:
        yield address


# --- the page --------------------------------------------------------------------------------


def test_the_page_and_its_assets_come_from_the_bot_with_a_strict_policy() -> None:
    with serve(create_app(Settings(max_text=321), Recorder())) as address:
        client = Client(address)
        page = client.request("GET", "/")
        assets = [client.request("GET", f"/static/{name}") for name in ("app.js", "style.css")]
        missing = client.request("GET", "/static/../settings.py")
    assert page.status == 200 and page.headers.get_content_type() == "text/html"
    html = page.body.decode()
    assert "落户助手" in html and 'maxlength="321"' in html and "{{" not in html
    assert "<script>" not in html and not re.search(r"\son[a-z]+\s*=", html)  # no inline script
    policy = dict(
        (name, sources)
        for name, *sources in (part.split() for part in page.headers["Content-Security-Policy"]
                               .split(";"))
    )
    assert policy["default-src"] == ["'none'"] and policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert policy.pop("frame-ancestors") == ["'self'"]
    assert {source for sources in policy.values() for source in sources} <= {
        "'self'", "'none'", "data:"
    }  # nothing inline, nothing from elsewhere
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert [a.status for a in assets] == [200, 200]
    assert [a.headers["Cache-Control"] for a in assets] == ["no-cache", "no-cache"]
    assert assets[0].headers.get_content_type() in ("text/javascript", "application/javascript")
    assert assets[1].headers.get_content_type() == "text/css"
    assert missing.status in (403, 404)
    for path in STATIC.iterdir():  # nothing from a CDN: the page must work on an intranet
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, path


def test_healthz() -> None:
    with serve(create_app(Settings(), Recorder())) as address:
        answer = Client(address).request("GET", "/healthz")
    assert answer.status == 200 and answer.json == {"ok": True}


# --- conversations ---------------------------------------------------------------------------


def test_a_whole_dialog_reaches_the_reference_verdict(
    real: tuple[str, int], engine: Engine
) -> None:
    client = Client(real)
    first = client.post_json("/api/chat", {"text": "中级会计能落户吗"})
    cookie = first.cookie
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == 30 * 24 * 3600 and not cookie["secure"]
    assert len(cookie.value) == 32
    assert set(first.json) == REPLY_KEYS and first.headers["Cache-Control"] == "no-store"
    ref = reference(engine)
    ref.handle("r", "r", "中级会计能落户吗")
    result = converse(client.say, ref, "r", SLOT_ANSWERS["social_insurance"], {})
    assert result["result"]["verdict"] and result["result"]["citations"]


def test_the_cookie_continues_a_conversation_and_another_browser_gets_its_own(
    real: tuple[str, int], engine: Engine
) -> None:
    alice, bob = Client(real), Client(real)
    asked = alice.say("中级会计能落户吗")
    assert asked["asking"] is not None
    alice_after_reload = Client(real, sid=alice.sid)  # same cookie: a reload
    bob_first = bob.say(SLOT_ANSWERS[asked["asking"]])
    assert bob.sid != alice.sid
    ref = reference(engine)
    assert bob_first == expected_json(ref.handle("b", "b", SLOT_ANSWERS[asked["asking"]]))
    ref.handle("a", "a", "中级会计能落户吗")
    converse(alice_after_reload.say, ref, "a", SLOT_ANSWERS[asked["asking"]], {})


def test_a_message_sent_again_with_its_id_gets_the_kept_reply_and_steps_once(
    real: tuple[str, int], engine: Engine
) -> None:
    client, ref = Client(real), reference(engine)
    ref.handle("r", "r", "中级会计能落户吗")
    client.post_json("/api/chat", {"text": "中级会计能落户吗", "id": "m1"})
    first = client.post_json("/api/chat", {"text": "满足", "id": "m2"})
    again = client.post_json("/api/chat", {"text": "满足", "id": "m2"})
    assert first.json == again.json == expected_json(ref.handle("r", "r", "满足"))
    answer = SLOT_ANSWERS[first.json["asking"]]
    assert client.say(answer) == expected_json(ref.handle("r", "r", answer))


def test_the_conversation_key_is_web_plus_the_session_id() -> None:
    core = Recorder()
    with serve(create_app(Settings(), core)) as address:
        client = Client(address)
        client.say("你好")
        client.say("再问一句")
        client.request("POST", "/api/reset")
    sid = client.sid
    assert sid is not None
    assert core.calls == [(f"web:{sid}", sid, "你好"), (f"web:{sid}", sid, "再问一句"),
                          (f"web:{sid}", sid, "<reset>")]


def test_a_forged_or_malformed_cookie_gets_a_fresh_session() -> None:
    core = Recorder()
    with serve(create_app(Settings(), core)) as address:
        client = Client(address, sid="x; admin=1")
        client.say("你好")
    assert client.sid is not None and len(client.sid) == 32 and core.calls[0][1] == client.sid


def test_reset_starts_the_conversation_over(real: tuple[str, int], engine: Engine) -> None:
    client = Client(real)
    client.say("中级会计能落户吗")
    sid = client.sid
    answer = client.request("POST", "/api/reset")
    ref = reference(engine)
    ref.handle("r", "r", "中级会计能落户吗")
    assert answer.status == 200 and answer.json == expected_json(ref.reset("r", "r"))
    assert client.sid == sid
    assert client.say("满足") == expected_json(ref.handle("r", "r", "满足"))


def test_forget_deletes_at_once_and_clears_the_cookie() -> None:
    core = Recorder()
    with serve(create_app(Settings(), core)) as address:
        client = Client(address)
        client.say("中级会计能落户吗")
        sid = client.sid
        answer = client.request("POST", "/api/forget")
        client.say("你好")
    assert answer.status == 200 and answer.json["forget"] is True
    assert answer.cookie["max-age"] == "0" and client.sid not in (None, sid)
    assert core.calls[1] == (f"web:{sid}", sid, "<forget>")
    assert core.calls[2][1] == client.sid


@pytest.mark.parametrize("path", ["/api/chat", "/api/reset", "/api/forget"])
def test_a_post_from_another_sites_page_is_refused(path: str) -> None:
    core = Recorder()
    with serve(create_app(Settings(), core)) as address:
        own = Client(address, headers={"Origin": f"http://{address[0]}:{address[1]}"})
        other = Client(address, headers={"Origin": "https://evil.example"})
        allowed = own.post_json(path, {"text": "你好"})
        refused = other.post_json(path, {"text": "你好"})
    assert allowed.status == 200 and len(core.calls) == 1
    assert (refused.status, refused.json["error"]) == (403, "forbidden_origin")


def test_a_failing_core_is_a_json_500_without_its_details() -> None:
    with serve(create_app(Settings(), Recorder(fail=True))) as address:
        answer = Client(address).post_json("/api/chat", {"text": "你好"})
    assert answer.status == 500 and answer.json["error"] == "internal"
    assert "secret" not in answer.body.decode() and "Traceback" not in answer.body.decode()


def test_fifty_concurrent_sessions_each_reach_their_own_verdict(
    real: tuple[str, int], engine: Engine
) -> None:
    host, port = real
    url = f"http://{host}:{port}/api/chat"

    async def person(index: int) -> list[tuple[str, dict[str, Any]]]:
        opening, persona = PERSONAS[index % len(PERSONAS)]
        jar = aiohttp.CookieJar(unsafe=True)  # keeps cookies of an IP-address host
        said: list[tuple[str, dict[str, Any]]] = []
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            text = opening
            for _ in range(MAX_REPLIES):
                async with session.post(url, json={"text": text}) as response:
                    assert response.status == 200, await response.text()
                    reply = await response.json()
                said.append((text, reply))
                if reply["result"] is not None:
                    return said
                text = next_message(reply, persona)
        raise AssertionError(f"session {index}: no result after {MAX_REPLIES} replies")

    async def everyone() -> list[list[tuple[str, dict[str, Any]]]]:
        return await asyncio.gather(*(person(i) for i in range(50)))

    dialogs = asyncio.run(everyone())
    ref = reference(engine)
    verdicts = set()
    for index, said in enumerate(dialogs):
        for text, reply in said:
            assert reply == expected_json(ref.handle(f"p{index}", "u", text)), (index, text)
        result = said[-1][1]["result"]
        verdicts.add((result["verdict"], result["credential"]))
    assert len(verdicts) >= 3, verdicts  # the personas differ, so must their results


# --- bad requests ----------------------------------------------------------------------------

BAD_REQUESTS = [
    # (body, content type, status, error code)
    (b'{"text": "hi"}', "text/plain", 415, "unsupported_media_type"),
    (b'{"text": "hi"}', "", 415, "unsupported_media_type"),
    (b"text=hi", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"text": ', "application/json", 400, "malformed_json"),
    (b"", "application/json", 400, "malformed_json"),
    (b'{"text": "\xff\xfe"}', "application/json", 400, "malformed_json"),
    (b"[" * 1500 + b"]" * 1500, "application/json", 400, "malformed_json"),
    (b'["text"]', "application/json", 400, "bad_request"),
    (b'"text"', "application/json", 400, "bad_request"),
    (b"{}", "application/json", 400, "bad_request"),
    (b'{"text": 5}', "application/json", 400, "bad_request"),
    (b'{"text": null}', "application/json", 400, "bad_request"),
    (b'{"text": ["hi"]}', "application/json", 400, "bad_request"),
    (b'{"text": {"a": 1}}', "application/json", 400, "bad_request"),
    (b'{"text": "hi", "id": 5}', "application/json", 400, "bad_request"),
    (b'{"text": "hi", "id": "a b"}', "application/json", 400, "bad_request"),
    (b'{"text": "hi", "id": ""}', "application/json", 400, "bad_request"),
    ('{"text": "hi", "id": "%s"}' % ("x" * 65), "application/json", 400, "bad_request"),
    (b'{"text": "  \\n "}', "application/json", 400, "empty_text"),
    (b'{"text": "\\ud800"}', "application/json", 400, "bad_text"),
    ('{"text": "%s"}' % ("会" * 201), "application/json", 400, "text_too_long"),
    (b'{"text": "%s"}' % (b"a" * 5000), "application/json", 413, "body_too_large"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "code"), BAD_REQUESTS)
def test_a_bad_request_gets_a_json_error_and_never_reaches_the_core(
    body: bytes | str, content_type: str, status: int, code: str
) -> None:
    core = Recorder()
    raw = body.encode() if isinstance(body, str) else body
    headers = {"Content_Type": content_type} if content_type else {}
    with serve(create_app(Settings(max_text=200), core)) as address:
        answer = Client(address).request("POST", "/api/chat", raw, **headers)
    assert (answer.status, answer.json["error"]) == (status, code)
    assert answer.json["message"] and not answer.json["message"].isascii()
    assert core.calls == []


def test_the_limits_are_inclusive() -> None:
    core = Recorder()
    config = Settings(max_text=200, max_body=1000)
    with serve(create_app(config, core)) as address:
        client = Client(address)
        longest = client.post_json("/api/chat", {"text": "会" * 200})
        padded = b'{"text": "hi"}' + b" " * (1000 - 14)
        fullest = client.request("POST", "/api/chat", padded, Content_Type="application/json")
    assert (longest.status, fullest.status) == (200, 200)
    assert [call[2] for call in core.calls] == ["会" * 200, "hi"]


def test_a_body_without_a_length_is_cut_off_too() -> None:
    core = Recorder()
    chunks = [b'{"text": "', *([b"a" * 1000] * 8), b'"}']
    with serve(create_app(Settings(max_body=4096), core)) as address:
        connection = http.client.HTTPConnection(*address, timeout=10)
        connection.request("POST", "/api/chat", body=iter(chunks), encode_chunked=True,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
        connection.close()
    assert (status, body["error"]) == (413, "body_too_large") and core.calls == []


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/api/chat", 405, "method_not_allowed"), ("POST", "/api/nothing", 404, "not_found")],
)
def test_unknown_routes_and_methods_answer_in_json(
    method: str, path: str, status: int, code: str
) -> None:
    with serve(create_app(Settings(), Recorder())) as address:
        answer = Client(address).request(method, path)
    assert (answer.status, answer.json["error"]) == (status, code)


def test_whatever_the_body_the_answer_is_json_with_a_known_status() -> None:
    core = Recorder()
    with serve(create_app(Settings(max_text=50, max_body=512), core)) as address:

        @settings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.one_of(st.binary(max_size=700), st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=80),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                st.sampled_from(["text", "id", "x"]), inner, max_size=3),
            max_leaves=8).map(lambda v: json.dumps(v).encode())))
        def check(body: bytes) -> None:
            answer = Client(address).request(
                "POST", "/api/chat", body, Content_Type="application/json"
            )
            assert answer.status in (200, 400, 413)
            assert set(answer.json) == (REPLY_KEYS if answer.status == 200
                                        else {"error", "message"})

        check()
