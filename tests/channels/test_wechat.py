"""The WeChat channel end to end: the production app on loopback, requests built as WeChat does.

Dialog tests are core-agnostic: the expected replies come from a separate reference assistant
fed the same messages, so they hold for the placeholder core and for the real engine alike.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from bot.assistant import Assistant, build_assistant
from bot.channels.wechat import ConfigError, Settings, create_app, load_settings, main
from bot.channels.wechat_text import (
    MAX_REPLY_BYTES,
    ONLY_TEXT,
    TROUBLE,
    WELCOME,
    choice_index,
    fit_bytes,
    render_reply,
)
from bot.protocol import Reply
from bot.store import MemoryStore, SqliteStore

from .answers import MAX_REPLIES, SLOT_ANSWERS
from .wechat_client import ACCOUNT, FakeWeChat, message_xml, serve, sign

TOKEN = "luohu-test-token"
APP_ID = "wx0123456789abcdef"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters
OPENING = "中级会计能积分吗"
MENU = ("积分", "居转户", "人才引进")


# --- doubles and fixtures --------------------------------------------------------------------


@dataclass
class CountingCore:
    """Passes everything to a core and records what reached it."""

    inner: Assistant | ScriptedCore
    calls: list[str] = field(default_factory=list)

    def handle(self, chat: str, user: str, text: str) -> Reply:
        assert chat == user, "WeChat chats are one person each"
        self.calls.append(text)
        return self.inner.handle(chat, user, text)

    def reset(self, chat: str, user: str) -> Reply:
        self.calls.append("<reset>")
        return self.inner.reset(chat, user)


@dataclass
class ScriptedCore:
    """A core that always answers ``text`` and offers ``options`` (or raises ``error``)."""

    text: str = "你想办理哪一项?"
    options: tuple[str, ...] = MENU
    error: Exception | None = None

    def handle(self, chat: str, user: str, text: str) -> Reply:
        if self.error is not None:
            raise self.error
        return Reply(text=self.text, asking="purpose", options=self.options)

    def reset(self, chat: str, user: str) -> Reply:
        return Reply(text="好的,已清空。")


@dataclass(frozen=True)
class Running:
    """A server under test: the fake WeChat that talks to it and the core behind it."""

    wechat: FakeWeChat
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


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start the production app on loopback: ``launch(mode, core=..., aes_key=...,
    server_mode=...)``; ``mode`` is how the fake WeChat sends, ``server_mode`` the server's
    WECHAT_MODE (default: compatible with a key, so it takes both)."""
    numbers = itertools.count()
    with ExitStack() as stack:

        def start(
            mode: str = "plain", core: ScriptedCore | None = None, aes_key: str = AES_KEY,
            server_mode: str = "",
        ) -> Running:
            store = SqliteStore(tmp_path / f"wechat-{next(numbers)}.sqlite3")
            stack.callback(store.close)
            counting = CountingCore(core or build_assistant(store))
            settings = Settings(TOKEN, APP_ID, aes_key, store_path=str(store.path),
                                mode=server_mode or ("compatible" if aes_key else "plain"))
            address = stack.enter_context(serve(create_app(settings, counting, store)))
            crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID) if mode == "safe" else None
            return Running(FakeWeChat(address, TOKEN, crypto=crypto), counting, store)

        yield start


@pytest.fixture(params=["plain", "safe"])
def mode(request: pytest.FixtureRequest) -> str:
    """明文模式 and 安全模式 (the server has a key in both: 兼容模式 serves either)."""
    return str(request.param)


def rendered(reply: Reply) -> str:
    return render_reply(reply.text, reply.options)


def next_answer(reply: Reply) -> tuple[str, str]:
    """What the person sends to ``reply`` and what that means: a digit when there are options."""
    if reply.options:
        return "1", reply.options[0]
    answer = SLOT_ANSWERS.get(reply.asking or "", "对口")
    return answer, answer


# --- dialogs ---------------------------------------------------------------------------------


def test_a_whole_dialog_reaches_the_reference_verdict(launch: Launch, mode: str) -> None:
    server = launch(mode)
    reference = build_assistant(MemoryStore())
    openid, said, meant = "o_dialog", OPENING, OPENING
    replies = 0
    while replies < MAX_REPLIES:
        replies += 1
        expected = reference.handle(openid, openid, meant)
        answer = server.wechat.text(openid, said)
        assert answer.content == rendered(expected)
        assert (answer.reply or {})["ToUserName"] == openid
        assert (answer.reply or {})["FromUserName"] == ACCOUNT
        if expected.result is not None or expected.asking is None:
            break
        said, meant = next_answer(expected)
    else:
        pytest.fail(f"no verdict after {MAX_REPLIES} replies")
    assert len(server.core.calls) == replies


def test_a_retry_gets_the_same_reply_and_the_dialog_steps_once(launch: Launch, mode: str) -> None:
    server = launch(mode)
    reference = build_assistant(MemoryStore())
    openid = "o_retry"
    msg_id = server.wechat.new_id()
    first = server.wechat.text(openid, OPENING, msg_id)
    retries = [server.wechat.text(openid, OPENING, msg_id) for _ in range(3)]

    expected = reference.handle(openid, openid, OPENING)
    assert first.content == rendered(expected)
    assert [retry.content for retry in retries] == [first.content] * 3
    assert server.core.calls == [OPENING]
    assert isinstance(server.core.inner, Assistant)
    assert server.core.inner.pending(openid, openid) == reference.pending(openid, openid)
    said, meant = next_answer(expected)
    assert server.wechat.text(openid, said).content == rendered(
        reference.handle(openid, openid, meant)
    )


def test_options_are_numbered_and_answered_by_digit(launch: Launch, mode: str) -> None:
    server = launch(mode, core=ScriptedCore())
    offered = server.wechat.text("o_menu", OPENING).content
    assert offered.endswith("\n\n回复 1 积分, 2 居转户, 3 人才引进")
    for said in ["2", "2", "「3」", "选1", " 第 2 个 ", "4", "积分"]:
        server.wechat.text("o_menu", said)
    picked = ["居转户", "居转户", "人才引进", "积分", "居转户"]
    assert server.core.calls == [OPENING, *picked, "4", "积分"]


def test_options_and_replies_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "wechat.sqlite3"
    settings = Settings(TOKEN, store_path=str(path))
    before = CountingCore(ScriptedCore())
    store = SqliteStore(path)
    with serve(create_app(settings, before, store)) as address:
        wechat = FakeWeChat(address, TOKEN)
        msg_id = wechat.new_id()
        offered = wechat.text("o_restart", OPENING, msg_id).content
    store.close()

    after = CountingCore(ScriptedCore())
    store = SqliteStore(path)
    with serve(create_app(settings, after, store)) as address:
        wechat = FakeWeChat(address, TOKEN, next_id=msg_id)
        assert wechat.text("o_restart", OPENING, msg_id).content == offered
        wechat.text("o_restart", "2")
    store.close()
    assert before.calls == [OPENING]
    assert after.calls == ["居转户"]


def test_a_reply_without_options_clears_the_old_ones(launch: Launch) -> None:
    core = ScriptedCore()
    server = launch(core=core)
    server.wechat.text("o_clear", OPENING)
    core.options = ()
    assert "回复 1" not in server.wechat.text("o_clear", "1").content
    server.wechat.text("o_clear", "1")
    assert server.core.calls == [OPENING, "积分", "1"]


def test_reset_words_reset_the_conversation(launch: Launch) -> None:
    server = launch(core=ScriptedCore())
    assert server.wechat.text("o_reset", "重新开始").content == "好的,已清空。"
    assert server.core.calls == ["<reset>"]


def test_a_long_reply_is_cut_to_the_limit_and_keeps_its_choices(launch: Launch) -> None:
    server = launch(core=ScriptedCore(text="很长的回答。\n" * 400))
    content = server.wechat.text("o_long", OPENING).content
    assert len(content.encode("utf-8")) <= MAX_REPLY_BYTES
    assert "已截断" in content
    assert content.endswith("回复 1 积分, 2 居转户, 3 人才引进")


def test_reply_text_cannot_break_the_xml(launch: Launch, mode: str) -> None:
    server = launch(mode, core=ScriptedCore(text="a]]><b>x</b>\x07", options=()))
    assert server.wechat.text("o_xml", OPENING).content == "a]] ><b>x</b>"


def test_a_core_failure_is_apologised_for_and_not_remembered(launch: Launch) -> None:
    server = launch(core=ScriptedCore(error=RuntimeError("secret internals")))
    msg_id = server.wechat.new_id()
    assert server.wechat.text("o_fail", OPENING, msg_id).content == TROUBLE
    assert server.wechat.text("o_fail", OPENING, msg_id).content == TROUBLE
    assert server.core.calls == [OPENING, OPENING]


# --- events and other message types ----------------------------------------------------------


def test_subscribe_gets_the_welcome(launch: Launch, mode: str) -> None:
    server = launch(mode)
    assert server.wechat.event("o_new", "subscribe").content == WELCOME
    assert server.core.calls == []


def test_unsubscribe_and_other_events_get_success(launch: Launch, mode: str) -> None:
    server = launch(mode)
    for event in ["unsubscribe", "LOCATION", "some_future_event"]:
        answer = server.wechat.event("o_gone", event)
        assert (answer.status, answer.body) == (200, "success")
    assert server.core.calls == []


@pytest.mark.parametrize(
    ("msg_type", "fields"),
    [
        ("image", {"PicUrl": "http://example.invalid/a.jpg", "MediaId": "m1"}),
        ("voice", {"MediaId": "m2", "Format": "amr"}),
        ("location", {"Location_X": "31.2", "Location_Y": "121.5", "Label": "上海"}),
        ("some_future_type", {}),
    ],
)
def test_non_text_messages_get_a_note(
    launch: Launch, mode: str, msg_type: str, fields: dict[str, str]
) -> None:
    server = launch(mode)
    answer = server.wechat.post_message("o_pic", msg_type, {**fields, "MsgId": 77})
    assert answer.content == ONLY_TEXT
    assert server.core.calls == []


# --- URL verification ------------------------------------------------------------------------


def test_url_verification_echoes_echostr(launch: Launch) -> None:
    server = launch()
    answer = server.wechat.verify("echo-4711")
    assert (answer.status, answer.body) == (200, "echo-4711")


@pytest.mark.parametrize(
    ("signature", "age"), [("0" * 40, 0), (None, 3600)], ids=["forged", "stale"]
)
def test_url_verification_refuses_bad_requests(
    launch: Launch, signature: str | None, age: int
) -> None:
    server = launch()
    timestamp = str(int(time.time()) - age)
    answer = server.wechat.verify("echo-4711", signature=signature, timestamp=timestamp)
    assert answer.status == 403
    assert "echo-4711" not in answer.body


def test_url_verification_without_parameters_is_refused(launch: Launch) -> None:
    server = launch()
    assert server.wechat.request("GET", {"echostr": "x"}, None)[0] == 403


# --- bad requests ----------------------------------------------------------------------------


def _text_xml(content: str = OPENING) -> str:
    return message_xml("o_bad", "text", {"Content": content, "MsgId": 5}, int(time.time()))


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [("0" * 40, "0"), (None, "-301"), (None, "600"), (None, "yesterday")],
    ids=["forged", "stale", "future", "not-a-time"],
)
def test_bad_signatures_and_stale_timestamps_get_403(
    launch: Launch, mode: str, signature: str | None, timestamp: str
) -> None:
    server = launch(mode)
    # A timestamp is an offset from now, signed correctly: only its freshness fails.
    if timestamp.lstrip("-").isdigit():
        timestamp = str(int(time.time()) + int(timestamp))
    answer = server.wechat.post(_text_xml(), signature=signature, timestamp=timestamp)
    assert answer.status == 403
    assert server.core.calls == []


def test_an_unsigned_post_gets_403(launch: Launch) -> None:
    server = launch()
    assert server.wechat.request("POST", {}, _text_xml().encode())[0] == 403
    assert server.core.calls == []


def test_a_wrong_msg_signature_gets_403(launch: Launch) -> None:
    server = launch("safe")
    assert server.wechat.post(_text_xml(), msg_signature="0" * 40).status == 403
    assert server.core.calls == []


@pytest.mark.parametrize(
    "body",
    [
        "<xml><ToUserName>SECRET-BODY",
        "not xml at all SECRET-BODY",
        "<xml><Content>SECRET-BODY</Content></xml>",
        '<!DOCTYPE x [<!ENTITY e "SECRET-BODY">]><xml><MsgType>text</MsgType>&e;</xml>',
        "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
        "<MsgType>text</MsgType><Content><i>SECRET-BODY</i></Content></xml>",
        b"\xff\xfe SECRET-BODY",
    ],
    ids=["truncated", "not-xml", "no-type", "entity", "nested", "not-utf8"],
)
def test_malformed_bodies_get_400_and_are_not_logged(
    launch: Launch, mode: str, body: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    server = launch(mode)
    with caplog.at_level(logging.INFO):
        assert server.wechat.post(body).status == 400
    assert "refused" in caplog.text
    assert "SECRET-BODY" not in caplog.text
    assert server.core.calls == []


def test_undecryptable_messages_get_400(launch: Launch) -> None:
    server = launch("safe")
    other_app = WeChatCrypto(TOKEN, AES_KEY, "wx_someone_else")
    foreign = FakeWeChat(server.wechat.address, TOKEN, crypto=other_app)
    assert foreign.post(_text_xml()).status == 400
    garbage = "<xml><Encrypt>bm90IGNpcGhlcnRleHQ=</Encrypt></xml>"
    timestamp, nonce = str(int(time.time())), "1"
    query = {
        "signature": sign(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, timestamp, nonce, "bm90IGNpcGhlcnRleHQ="),
    }
    assert server.wechat.request("POST", query, garbage.encode())[0] == 400
    assert server.core.calls == []


def test_encrypted_messages_without_a_key_get_400(launch: Launch) -> None:
    server = launch(aes_key="")
    safe = FakeWeChat(server.wechat.address, TOKEN, crypto=WeChatCrypto(TOKEN, AES_KEY, APP_ID))
    assert safe.post(_text_xml()).status == 400
    assert server.core.calls == []


def test_oversized_bodies_get_413(launch: Launch, mode: str) -> None:
    server = launch(mode)
    assert server.wechat.post(_text_xml("长" * 30_000)).status == 413
    assert server.core.calls == []


# --- replays and downgrades ------------------------------------------------------------------


@pytest.mark.parametrize("server_mode", ["plain", "compatible"])
def test_a_replayed_signature_with_another_body_gets_403(
    launch: Launch, server_mode: str
) -> None:
    server = launch("plain", core=ScriptedCore(), server_mode=server_mode)
    timestamp = str(int(time.time()))
    signature = sign(TOKEN, timestamp, "captured")
    first = server.wechat.post(message_xml("o_victim", "text", {"Content": "积分", "MsgId": 1},
                                           int(timestamp)), timestamp=timestamp,
                               signature=signature, nonce="captured")
    assert first.status == 200
    for openid, text in (("o_victim", "重新开始"), ("o_other", "积分")):
        forged = message_xml(openid, "text", {"Content": text, "MsgId": 2}, int(timestamp))
        replay = server.wechat.post(forged, timestamp=timestamp, signature=signature,
                                    nonce="captured")
        assert replay.status == 403, openid
    assert server.core.calls == ["积分"]


def test_the_same_nonce_with_the_same_message_is_a_retry(launch: Launch) -> None:
    server = launch("plain", core=ScriptedCore())
    xml = message_xml("o_retry", "text", {"Content": "积分", "MsgId": 3}, int(time.time()))
    answers = [server.wechat.post(xml, nonce="n-retry") for _ in range(2)]
    assert [a.status for a in answers] == [200, 200]
    assert answers[0].content == answers[1].content
    assert server.core.calls == ["积分"]


def test_a_plain_request_in_safe_mode_gets_403(launch: Launch) -> None:
    server = launch("safe", core=ScriptedCore(), server_mode="safe")
    assert server.wechat.post(_text_xml(), plain=True).status == 403
    assert server.core.calls == []
    assert server.wechat.post(_text_xml()).status == 200, "encrypted requests are served"
    assert server.core.calls == [OPENING]


def test_safe_is_the_default_mode_with_a_key(launch: Launch, tmp_path: Path) -> None:
    with_key = Settings(TOKEN, APP_ID, AES_KEY)
    assert (with_key.effective_mode, Settings(TOKEN).effective_mode) == ("safe", "plain")
    store = SqliteStore(tmp_path / "default.sqlite3")
    with serve(create_app(with_key, CountingCore(ScriptedCore()), store)) as address:
        wechat = FakeWeChat(address, TOKEN, crypto=WeChatCrypto(TOKEN, AES_KEY, APP_ID))
        assert wechat.post(_text_xml(), plain=True).status == 403
        assert wechat.post(_text_xml()).status == 200
    store.close()


# --- settings and main -----------------------------------------------------------------------


def test_settings_come_from_the_environment_and_options() -> None:
    env = {"WECHAT_TOKEN": "t", "WECHAT_APP_ID": APP_ID, "WECHAT_AES_KEY": AES_KEY}
    settings = load_settings(["--listen", "0.0.0.0:80", "--path", "/wx"], env | {"BOT_STORE": "s"})
    assert settings == Settings("t", APP_ID, AES_KEY, "s", "0.0.0.0", 80, "/wx")
    assert load_settings([], {"WECHAT_TOKEN": "t"}) == Settings("t", store_path="luohu.db")
    assert load_settings(["--listen", "[::1]:9000"], env).host == "::1"
    assert load_settings([], env).effective_mode == "safe"
    assert load_settings([], env | {"WECHAT_MODE": "Compatible"}).mode == "compatible"
    assert load_settings([], {"WECHAT_TOKEN": "t", "WECHAT_MODE": "plain"}).mode == "plain"


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        ([], {}, "WECHAT_TOKEN"),
        ([], {"WECHAT_TOKEN": "t", "WECHAT_AES_KEY": AES_KEY}, "WECHAT_APP_ID"),
        ([], {"WECHAT_TOKEN": "t", "WECHAT_APP_ID": APP_ID, "WECHAT_AES_KEY": "short"}, "43"),
        (["--listen", "8080"], {"WECHAT_TOKEN": "t"}, "--listen"),
        (["--path", "wx"], {"WECHAT_TOKEN": "t"}, "--path"),
        (["--bogus"], {"WECHAT_TOKEN": "t"}, "--bogus"),
        ([], {"WECHAT_TOKEN": "t", "WECHAT_MODE": "secure"}, "WECHAT_MODE"),
        ([], {"WECHAT_TOKEN": "t", "WECHAT_MODE": "safe"}, "WECHAT_AES_KEY"),
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
    for name in ("WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_AES_KEY", "WECHAT_MODE", "BOT_STORE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_corrupt_store_is_a_one_line_error_and_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("WECHAT_TOKEN", "t")
    monkeypatch.setenv("BOT_STORE", str(path))
    assert main([]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert err.count("\n") == 1
    assert path.read_bytes() == b"this is not a database" * 100


# --- the wording helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "index"),
    [
        ("1", 0),
        ("1", 0),
        ("「2」", 1),
        ("选3", 2),
        ("选择 2", 1),
        ("第1个", 0),
        ("3。", 2),
        ("4", None),
        ("0", None),
        ("积分", None),
        ("12个月", None),
    ],
)
def test_choice_index(said: str, index: int | None) -> None:
    assert choice_index(said, 3) == index


@given(st.text(), st.integers(min_value=0, max_value=4096))
def test_fit_bytes_stays_within_the_limit(text: str, limit: int) -> None:
    cut = fit_bytes(text, limit)
    assert len(cut.encode("utf-8")) <= limit
    if len(text.encode("utf-8")) <= limit:
        assert cut == text


@given(st.text(), st.lists(st.text(min_size=1, max_size=10), max_size=5))
def test_render_reply_stays_within_the_limit(text: str, options: list[str]) -> None:
    assert len(render_reply(text, options).encode("utf-8")) <= MAX_REPLY_BYTES


def test_oversized_chunked_bodies_get_413(launch: Launch) -> None:
    server = launch()
    timestamp, nonce = str(int(time.time())), "1"
    query = {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    chunks = iter([_text_xml().encode()] + [b" " * 8192] * 10)
    assert server.wechat.request("POST", query, chunks)[0] == 413
    assert server.core.calls == []
