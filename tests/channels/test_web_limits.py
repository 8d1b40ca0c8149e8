"""The web channel's rate limits and proxy trust over real HTTP, and its settings (flags,
environment, defaults, one-line errors)."""

from __future__ import annotations

import pytest

from bot.channels.web import main
from bot.channels.web.server import create_app
from bot.channels.web.settings import ConfigError, Settings, load_settings

from .web_client import Client, Clock, Recorder, serve

# --- rate limits -----------------------------------------------------------------------------


def test_the_rate_limit_per_client_answers_429_with_a_friendly_message() -> None:
    clock, core = Clock(), Recorder()
    with serve(create_app(Settings(client_rate=3, session_rate=100), core, clock=clock)) as a:
        statuses = [Client(a).post_json("/api/chat", {"text": "你好"}).status for _ in range(3)]
        refused = Client(a).post_json("/api/chat", {"text": "你好"})
        reset_refused = Client(a).request("POST", "/api/reset")
        clock.now += 20  # one request per 20 s comes back
        again = Client(a).post_json("/api/chat", {"text": "你好"})
    assert statuses == [200, 200, 200]
    assert (refused.status, refused.json["error"]) == (429, "rate_limited")
    assert "太快" in refused.json["message"] and int(refused.headers["Retry-After"]) >= 1
    assert reset_refused.status == 429 and again.status == 200
    assert len(core.calls) == 4


def test_the_rate_limit_per_session_spares_other_sessions() -> None:
    clock, core = Clock(), Recorder()
    with serve(create_app(Settings(client_rate=100, session_rate=2), core, clock=clock)) as a:
        alice, bob = Client(a), Client(a)
        statuses = [alice.post_json("/api/chat", {"text": "你好"}).status for _ in range(3)]
        refused = alice.post_json("/api/chat", {"text": "你好"})
        other = bob.post_json("/api/chat", {"text": "你好"})
    assert statuses == [200, 200, 429] and refused.status == 429
    assert "太快" in refused.json["message"] and other.status == 200


def test_forwarded_addresses_count_only_behind_a_trusted_proxy() -> None:
    def refused_after_two(trust: bool) -> bool:
        config = Settings(client_rate=2, session_rate=100, trust_proxy=trust)
        with serve(create_app(config, Recorder(), clock=Clock())) as address:
            answers = [
                Client(address, headers={"X-Forwarded-For": f"203.0.113.{i}"}).say
                for i in range(3)
            ]
            try:
                for say in answers:
                    say("你好")
            except AssertionError:
                return True
        return False

    assert refused_after_two(trust=False)  # a forged header does not escape the limit
    assert not refused_after_two(trust=True)  # behind the proxy, each person has their own


def test_the_cookie_is_secure_when_the_trusted_proxy_says_https() -> None:
    https = {"X-Forwarded-Proto": "https"}
    with serve(create_app(Settings(trust_proxy=True), Recorder())) as address:
        behind = Client(address, headers=https).post_json("/api/chat", {"text": "你好"})
    with serve(create_app(Settings(), Recorder())) as address:
        forged = Client(address, headers=https).post_json("/api/chat", {"text": "你好"})
    assert behind.cookie["secure"] is True and not forged.cookie["secure"]


# --- settings and the command ----------------------------------------------------------------


def test_settings_come_from_flags_then_environment_then_defaults() -> None:
    environ = {"WEB_LISTEN": "0.0.0.0:9000", "WEB_SESSION_RATE": "7", "BOT_STORE": "env.db",
               "WEB_TRUST_PROXY": "1", "WEB_FRAME_ANCESTORS": "'self' https://hr.example.com"}
    got = load_settings(["--session-rate", "9", "--store", "flag.db"], environ)
    assert (got.host, got.port, got.session_rate) == ("0.0.0.0", 9000, 9)
    assert got.store_path == "flag.db"
    assert got.trust_proxy and got.frame_ancestors == "'self' https://hr.example.com"
    assert got.client_rate == Settings().client_rate and load_settings([], {}) == Settings()


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        (["--listen", "nowhere"], {}),
        (["--max-text", "0"], {}),
        ([], {"WEB_CLIENT_RATE": "many"}),
        ([], {"WEB_TRUST_PROXY": "maybe"}),
        ([], {"WEB_FRAME_ANCESTORS": "'self'; script-src *"}),
        (["--bogus"], {}),
    ],
)
def test_bad_settings_are_a_one_line_error(
    argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError):
        load_settings(argv, environ)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("错误 / error:") and "\n" not in err and "Traceback" not in err
