"""The WeCom channel end to end: the production app on loopback, callbacks built as WeCom does.

Dialog tests are core-agnostic: the expected replies come from a separate reference assistant
fed the same messages, so they hold for whatever the core says.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.assistant import Assistant, build_assistant, build_engine
from bot.channels.wechat_text import ONLY_TEXT, TROUBLE
from bot.channels.wecom import (
    DETAILS_HINT,
    STREAM_GONE,
    WELCOME,
    create_app,
    main,
    render_reply,
    reply_key,
)
from bot.channels.wecom_protocol import MAX_STREAM_BYTES
from bot.channels.wecom_settings import ConfigError, Settings, load_settings
from bot.engine import Engine
from bot.protocol import Reply
from bot.store import MemoryStore, SqliteStore, person_key

from .answers import MAX_REPLIES, SLOT_ANSWERS
from .wechat_client import serve
from .wecom_client import FakeWeCom, callback

TOKEN = "luohu-wecom-token"
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")  # 43 characters
GROUP = "wrkSFfCgAAtMQKg4xopw"
MENU = ("积分", "居转户", "人才引进")
SECRET = "SECRET-TEXT"


# --- doubles and fixtures --------------------------------------------------------------------


@dataclass
class CountingCore:
    """Passes everything to a core and records (chat, user, text) of what reached it."""

    inner: Assistant | ScriptedCore
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def handle(self, chat: str, user: str, text: str) -> Reply:
        self.calls.append((chat, user, text))
        return self.inner.handle(chat, user, text)

    def reset(self, chat: str, user: str) -> Reply:
        self.calls.append((chat, user, "<reset>"))
        return self.inner.reset(chat, user)

    @property
    def texts(self) -> list[str]:
        return [text for _, _, text in self.calls]


@dataclass
class ScriptedCore:
    """A core that always answers ``text`` (with ``brief``) and offers ``options``."""

    text: str = "你想办理哪一项?"
    options: tuple[str, ...] = MENU
    brief: str = ""
    error: Exception | None = None

    def handle(self, chat: str, user: str, text: str) -> Reply:
        if self.error is not None:
            raise self.error
        return Reply(text=self.text, asking="purpose", options=self.options, brief=self.brief)

    def reset(self, chat: str, user: str) -> Reply:
        return Reply(text="好的,已清空。")


@dataclass(frozen=True)
class Running:
    """A server under test: the fake WeCom that talks to it and the core behind it."""

    wecom: FakeWeCom
    core: CountingCore
    store: SqliteStore


Launch = Callable[..., Running]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that connects anywhere but loopback."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        if isinstance(address, tuple) and not ipaddress.ip_address(address[0]).is_loopback:
            raise AssertionError(f"test tried to reach the network: {address}")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)


def wecom_crypto(receive_id: str = "") -> WeChatCrypto:
    return WeChatCrypto(TOKEN, AES_KEY, receive_id)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start the production app on loopback: ``launch(core, real=..., path=...)``.

    ``real`` puts the real assistant behind it; otherwise ``core`` or a ``ScriptedCore``.
    """
    numbers = itertools.count()
    with ExitStack() as stack:

        def start(
            core: ScriptedCore | None = None, *, real: bool = False, path: Path | None = None
        ) -> Running:
            store = SqliteStore(path or tmp_path / f"wecom-{next(numbers)}.sqlite3")
            stack.callback(store.close)
            inner = build_assistant(store, engine()) if real else core or ScriptedCore()
            counting = CountingCore(inner)
            settings = Settings(TOKEN, AES_KEY, store_path=str(store.path))
            address = stack.enter_context(serve(create_app(settings, counting, store)))
            return Running(FakeWeCom(address, wecom_crypto()), counting, store)

        yield start


@functools.cache
def engine() -> Engine:
    """The real engine, loaded once for the module (knowledge/ and dialogs/ take a while)."""
    return build_engine()


def reference() -> Assistant:
    """A separate assistant fed the same messages: what the channel should send."""
    return build_assistant(MemoryStore(), engine())


def next_answer(reply: Reply) -> tuple[str, str]:
    """What the person sends to ``reply`` and what that means: a digit when there are options."""
    if reply.options:
        return "1", reply.options[0]
    answer = SLOT_ANSWERS.get(reply.asking or "", "对口")
    return answer, answer


def finished(reply: Reply) -> bool:
    return reply.result is not None or reply.asking is None


# --- dialogs ---------------------------------------------------------------------------------


def test_two_people_in_a_group_reach_their_own_verdicts(launch: Launch) -> None:
    server = launch(real=True)
    expected_core = reference()
    chat = f"wecom:{GROUP}"
    said = {"alice": "中级会计能积分吗", "bob": "电工技师能落户吗"}
    meant = dict(said)
    verdicts: dict[str, Reply] = {}
    for _ in range(MAX_REPLIES):
        for user in [name for name in said if name not in verdicts]:
            expected = expected_core.handle(chat, user, meant[user])
            answer = server.wecom.text(user, said[user], group=GROUP)
            assert answer.content == render_reply(expected, group=True)
            if finished(expected):
                verdicts[user] = expected
            else:
                said[user], meant[user] = next_answer(expected)
    assert set(verdicts) == {"alice", "bob"}, "no verdict after 10 replies"
    assert all(reply.result is not None for reply in verdicts.values())
    assert {(c, u) for c, u, _ in server.core.calls} == {(chat, "alice"), (chat, "bob")}
    assert not any(text.startswith("@") for text in server.core.texts)


def test_a_one_to_one_dialog_gets_whole_answers(launch: Launch) -> None:
    server = launch(real=True)
    expected_core = reference()
    chat, said, meant = "wecom:single:carol", "中级会计能积分吗", "中级会计能积分吗"
    for _ in range(MAX_REPLIES):
        expected = expected_core.handle(chat, "carol", meant)
        assert server.wecom.text("carol", said).content == render_reply(expected, group=False)
        if finished(expected):
            assert expected.result is not None
            break
        said, meant = next_answer(expected)
    else:
        pytest.fail(f"no verdict after {MAX_REPLIES} replies")
    assert {(c, u) for c, u, _ in server.core.calls} == {(chat, "carol")}


def test_a_group_gets_the_brief_and_how_to_ask_for_details(launch: Launch) -> None:
    core = ScriptedCore(text="结论。\n依据很长很长。", options=(), brief="结论。")
    server = launch(core=core)
    assert server.wecom.text("dave", "问题", group=GROUP).content == f"结论。\n\n{DETAILS_HINT}"
    assert server.wecom.text("dave", "问题").content == "结论。\n依据很长很长。"
    core.brief = ""
    assert server.wecom.text("dave", "问题", group=GROUP).content == "结论。\n依据很长很长。"


def test_options_are_numbered_and_a_digit_answers_per_person(launch: Launch) -> None:
    server = launch(core=ScriptedCore())
    offered = server.wecom.text("erin", "问题", group=GROUP).content
    assert offered.endswith("\n\n回复 1 积分, 2 居转户, 3 人才引进")
    server.wecom.text("erin", "2", group=GROUP)
    server.wecom.text("erin", "「3」")  # 1:1 is another conversation: nothing offered there
    assert server.core.texts == ["问题", "居转户", "「3」"]


def test_a_repeated_msgid_gets_the_same_reply_once_even_after_a_restart(
    launch: Launch, tmp_path: Path
) -> None:
    path = tmp_path / "restart.sqlite3"
    first = launch(real=True, path=path)
    reply = first.wecom.text("frank", "中级会计能积分吗", group=GROUP, msgid="msg-42")
    again = [first.wecom.text("frank", "中级会计能积分吗", group=GROUP, msgid="msg-42")]
    second = launch(real=True, path=path)
    again.append(second.wecom.text("frank", "中级会计能积分吗", group=GROUP, msgid="msg-42"))
    assert [answer.content for answer in again] == [reply.content] * 2
    assert [answer.stream["id"] for answer in again] == [reply.stream["id"]] * 2
    assert first.core.texts == ["中级会计能积分吗"]
    assert second.core.texts == []


def test_a_stream_refresh_gets_the_finished_content_again(launch: Launch) -> None:
    server = launch(core=ScriptedCore())
    first = server.wecom.text("gina", "问题", group=GROUP)
    refresh = server.wecom.message("gina", "stream", {"stream": {"id": first.stream["id"]}},
                                   group=GROUP)
    assert refresh.stream == first.stream
    unknown = server.wecom.message("gina", "stream", {"stream": {"id": "never-sent"}})
    assert unknown.stream == {"id": "never-sent", "finish": True, "content": STREAM_GONE}
    assert server.core.texts == ["问题"]


def test_a_voice_message_is_answered_from_its_transcript(launch: Launch) -> None:
    server = launch(real=True)
    expected_core = reference()
    answer = server.wecom.message("hank", "voice", {"voice": {"content": "中级会计能积分吗"}})
    expected = expected_core.handle("wecom:single:hank", "hank", "中级会计能积分吗")
    assert answer.content == render_reply(expected, group=False)
    assert server.core.texts == ["中级会计能积分吗"]


def test_a_quoted_message_is_not_read(launch: Launch) -> None:
    server = launch(core=ScriptedCore())
    quote = {"msgtype": "text", "text": {"content": "电工技师能落户吗"}}
    server.wecom.text("ivy", "那中级会计呢", group=GROUP, quote=quote)
    assert server.core.texts == ["那中级会计呢"]


def test_mixed_messages_use_their_text(launch: Launch) -> None:
    server = launch(core=ScriptedCore())
    items = [
        {"msgtype": "image", "image": {"url": "https://example.invalid/a.png"}},
        {"msgtype": "text", "text": {"content": "@落户助手 这个证书能积分吗"}},
    ]
    server.wecom.message("jack", "mixed", {"mixed": {"msg_item": items}}, group=GROUP)
    assert server.core.texts == ["这个证书能积分吗"]


@pytest.mark.parametrize(
    ("msgtype", "extra"),
    [
        ("image", {"image": {"url": "https://example.invalid/a.png"}}),
        ("file", {"file": {"url": "https://example.invalid/a.pdf"}}),
        ("mixed", {"mixed": {"msg_item": [{"msgtype": "image", "image": {"url": "x"}}]}}),
        ("video", {"video": {"url": "https://example.invalid/a.mp4"}}),
    ],
)
def test_non_text_messages_get_a_note(
    launch: Launch, msgtype: str, extra: dict[str, object]
) -> None:
    server = launch()
    assert server.wecom.message("kate", msgtype, extra, group=GROUP).content == ONLY_TEXT
    assert server.core.calls == []


def test_entering_the_chat_gets_the_welcome(launch: Launch) -> None:
    server = launch()
    enter = server.wecom.message("liam", "event", {"event": {"eventtype": "enter_chat"}})
    assert enter.reply == {"msgtype": "text", "text": {"content": WELCOME}}
    other = server.wecom.message("liam", "event", {"event": {"eventtype": "feedback_event"}})
    assert (other.status, other.body) == (200, "")
    assert server.core.calls == []


def test_reset_words_reset_the_conversation(launch: Launch) -> None:
    server = launch(core=ScriptedCore())
    assert server.wecom.text("mia", "重新开始", group=GROUP).content == "好的,已清空。"
    assert server.core.calls == [(f"wecom:{GROUP}", "mia", "<reset>")]


def test_a_long_reply_is_cut_to_the_limit_and_keeps_its_choices(launch: Launch) -> None:
    server = launch(core=ScriptedCore(text="很长的回答。\n" * 4000))
    content = server.wecom.text("nick", "问题").content
    assert len(content.encode("utf-8")) <= MAX_STREAM_BYTES
    assert "已截断" in content
    assert content.endswith("回复 1 积分, 2 居转户, 3 人才引进")


def test_a_core_failure_is_apologised_for_and_not_remembered(
    launch: Launch, caplog: pytest.LogCaptureFixture
) -> None:
    server = launch(core=ScriptedCore(error=RuntimeError(SECRET)))
    assert server.wecom.text("olga", "问题", msgid="m-fail").content == TROUBLE
    assert server.wecom.text("olga", "问题", msgid="m-fail").content == TROUBLE
    assert server.core.texts == ["问题", "问题"]
    assert "RuntimeError" in caplog.text
    assert SECRET not in caplog.text


def test_deleting_my_data_leaves_no_row_of_the_person(launch: Launch) -> None:
    server = launch(real=True)
    asked = server.wecom.text("pam", "中级会计能积分吗", group=GROUP, msgid="m-ask")
    assert "回复 1" in asked.content
    gone = server.wecom.text("pam", "删除我的数据", group=GROUP, msgid="m-forget")
    assert "删除" in gone.content
    assert server.store.forget(person_key(f"wecom:{GROUP}", "pam")) == 0
    assert server.store.peek(reply_key("m-ask")) is None
    server.wecom.text("pam", "1", group=GROUP)
    assert server.core.texts[-1] == "1"  # the options offered before are gone too


def test_logs_never_hold_message_text(launch: Launch, caplog: pytest.LogCaptureFixture) -> None:
    server = launch(real=True)
    with caplog.at_level(logging.DEBUG):
        server.wecom.text("pete", f"中级会计能积分吗{SECRET}", group=GROUP)
        server.wecom.text("pete", f"中级会计能积分吗{SECRET}", group=GROUP, msgid="dup")
        server.wecom.text("pete", f"中级会计能积分吗{SECRET}", group=GROUP, msgid="dup")
    assert "answered" in caplog.text
    assert SECRET not in caplog.text


# --- URL verification ------------------------------------------------------------------------


def test_url_verification_answers_the_decrypted_echostr(launch: Launch) -> None:
    server = launch()
    assert server.wecom.verify("echo-4711") == (200, "echo-4711")


@pytest.mark.parametrize(("signature", "age"), [("0" * 40, 0), (None, 3600)],
                         ids=["forged", "stale"])
def test_url_verification_refuses_bad_requests(
    launch: Launch, signature: str | None, age: int
) -> None:
    server = launch()
    timestamp = str(int(time.time()) - age)
    status, body = server.wecom.verify("echo-4711", signature=signature, timestamp=timestamp)
    assert status == 403
    assert "echo-4711" not in body


def test_url_verification_without_a_readable_echostr_gets_400(launch: Launch) -> None:
    server = launch()
    query = server.wecom.signed_query("bm90IGNpcGhlcnRleHQ=")
    assert server.wecom.request("GET", query | {"echostr": "bm90IGNpcGhlcnRleHQ="}, None)[0] == 400
    assert server.wecom.request("GET", server.wecom.signed_query(""), None)[0] == 400


# --- bad requests ----------------------------------------------------------------------------


def _text(content: str = "中级会计能积分吗") -> dict[str, object]:
    return callback("quinn", "text", {"text": {"content": content}}, msgid="bad-1")


@pytest.mark.parametrize(
    ("signature", "offset"),
    [("0" * 40, 0), (None, -301), (None, 600), (None, None)],
    ids=["forged", "stale", "future", "not-a-time"],
)
def test_bad_signatures_and_stale_timestamps_get_403(
    launch: Launch, signature: str | None, offset: int | None
) -> None:
    server = launch()
    # The timestamp is signed correctly: only its freshness fails.
    timestamp = "yesterday" if offset is None else str(int(time.time()) + offset)
    answer = server.wecom.post(_text(), signature=signature, timestamp=timestamp)
    assert answer.status == 403
    assert server.core.calls == []


def test_an_unsigned_post_gets_403(launch: Launch) -> None:
    server = launch()
    encrypted, _ = server.wecom.encrypt(json.dumps(_text()), str(int(time.time())), "n1")
    body = json.dumps({"encrypt": encrypted}).encode()
    assert server.wecom.request("POST", {}, body)[0] == 403
    assert server.core.calls == []


def test_a_reused_nonce_is_a_replay_and_gets_403(launch: Launch) -> None:
    server = launch()
    now = int(time.time())
    first = server.wecom.post(_text("第一条"), nonce="nonce-1", timestamp=str(now))
    assert first.status == 200
    replay = callback("mallory", "text", {"text": {"content": "别的内容"}}, msgid="bad-2")
    assert server.wecom.post(replay, nonce="nonce-1", timestamp=str(now)).status == 403
    later = str(now + 1)
    assert server.wecom.post(_text("第一条"), nonce="nonce-1", timestamp=later).status == 403
    assert server.wecom.verify("echo", nonce="nonce-1")[0] == 403
    assert server.core.texts == ["第一条"]


def test_the_same_request_again_is_a_retry_and_gets_the_same_reply(launch: Launch) -> None:
    server = launch()
    now = str(int(time.time()))  # WeCom retries a callback it got no answer to, unchanged
    first = server.wecom.post(_text("第一条"), nonce="nonce-2", timestamp=now)
    assert [server.wecom.repeat().content for _ in range(2)] == [first.content] * 2
    assert server.core.texts == ["第一条"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"encrypt": "SECRET-TEXT',
        b"not json SECRET-TEXT",
        b'{"something": "SECRET-TEXT"}',
        b'["SECRET-TEXT"]',
        b"\xff\xfe SECRET-TEXT",
    ],
    ids=["truncated", "not-json", "no-encrypt", "not-an-object", "not-utf8"],
)
def test_malformed_bodies_get_400_and_are_not_logged(
    launch: Launch, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    server = launch()
    query = server.wecom.signed_query("SECRET-TEXT")
    with caplog.at_level(logging.INFO):
        assert server.wecom.request("POST", query, body)[0] == 400
    assert "refused" in caplog.text
    assert SECRET not in caplog.text
    assert server.core.calls == []


@pytest.mark.parametrize(
    "plain",
    [
        "not json SECRET-TEXT",
        '["SECRET-TEXT"]',
        '{"msgtype": "text", "text": {"content": "SECRET-TEXT"}}',
        '{"msgid": "1", "msgtype": "text", "from": {"userid": "u"}, "text": "SECRET-TEXT"}',
        '{"msgid": "1", "msgtype": "text", "from": {"userid": "u"}, "chattype": "SECRET-TEXT",'
        ' "text": {"content": "x"}}',
        '{"msgid": "1", "msgtype": "text", "from": {"userid": "u"}, "chattype": "group",'
        ' "text": {"content": "SECRET-TEXT"}}',
    ],
    ids=["not-json", "not-an-object", "no-msgid", "text-not-object", "bad-chattype", "no-chatid"],
)
def test_malformed_callbacks_get_400_and_are_not_logged(
    launch: Launch, plain: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = launch()
    with caplog.at_level(logging.INFO):
        assert server.wecom.post(plain).status == 400
    assert SECRET not in caplog.text
    assert server.core.calls == []


def test_undecryptable_bodies_get_400(launch: Launch, caplog: pytest.LogCaptureFixture) -> None:
    server = launch()
    corp_app = FakeWeCom(server.wecom.address, wecom_crypto(receive_id="wwcorp0123"))
    assert corp_app.post(_text(SECRET)).status == 400  # another ReceiveId
    for garbage in ["bm90IGNpcGhlcnRleHQ=", "not base64 at all!", "A" * 64]:
        query = server.wecom.signed_query(garbage)
        body = json.dumps({"encrypt": garbage}).encode()
        assert server.wecom.request("POST", query, body)[0] == 400
    assert SECRET not in caplog.text
    assert server.core.calls == []


def test_oversized_bodies_get_413(launch: Launch) -> None:
    server = launch()
    big = json.dumps({"encrypt": "A" * 70_000}).encode()
    query = server.wecom.signed_query("A" * 70_000)
    assert server.wecom.request("POST", query, big)[0] == 413
    chunks = iter([b'{"encrypt": "'] + [b"A" * 8192] * 10 + [b'"}'])
    assert server.wecom.request("POST", server.wecom.signed_query("x"), chunks)[0] == 413
    assert server.core.calls == []


# --- settings and start-up -------------------------------------------------------------------


def test_settings_come_from_the_environment() -> None:
    env = {"WECOM_TOKEN": "t", "WECOM_AES_KEY": AES_KEY, "BOT_STORE": "x.db"}
    settings = load_settings(["--listen", "0.0.0.0:9000", "--path", "/cb"], env)
    assert settings == Settings("t", AES_KEY, "x.db", "0.0.0.0", 9000, "/cb")


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        ([], {"WECOM_AES_KEY": AES_KEY}, "WECOM_TOKEN"),
        ([], {"WECOM_TOKEN": "t"}, "WECOM_AES_KEY"),
        ([], {"WECOM_TOKEN": "t", "WECOM_AES_KEY": AES_KEY[:-1]}, "WECOM_AES_KEY"),
        ([], {"WECOM_TOKEN": "t", "WECOM_AES_KEY": "!" * 43}, "WECOM_AES_KEY"),
        (["--listen", "nowhere"], {"WECOM_TOKEN": "t", "WECOM_AES_KEY": AES_KEY}, "--listen"),
        (["--path", "cb"], {"WECOM_TOKEN": "t", "WECOM_AES_KEY": AES_KEY}, "--path"),
    ],
)
def test_bad_settings_are_one_line_errors(
    argv: list[str],
    env: dict[str, str],
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ConfigError, match=says):
        load_settings(argv, env)
    for name in ("WECOM_TOKEN", "WECOM_AES_KEY", "BOT_STORE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_python_m_bot_wecom_serves_the_callback(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY}
    argv = ["--listen", f"127.0.0.1:{port}", "--store", str(tmp_path / "cli.db")]
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "wecom", *argv], env=env, stderr=subprocess.PIPE
    )
    try:
        wecom = FakeWeCom(("127.0.0.1", port), wecom_crypto())
        deadline = time.monotonic() + 60
        while True:
            try:
                assert wecom.verify("echo-cli") == (200, "echo-cli")
                break
            except ConnectionRefusedError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.05)  # polling for readiness, not waiting for something to happen
        assert "回复 1" in wecom.text("rita", "中级会计能积分吗", group=GROUP).content
    finally:
        process.terminate()
        process.communicate(timeout=30)

