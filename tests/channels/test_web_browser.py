"""The chat page in a real Chromium (Playwright's Python API, Debian's /usr/bin/chromium).

Playwright never downloads a browser here: it drives the system Chromium. Without it, or
without the playwright package, every test here FAILS and says how to install them.
Screenshots of a phone and a desktop size go to artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.assistant import Assistant
from bot.channels.web.server import create_app
from bot.channels.web.settings import Settings
from bot.engine import Engine
from bot.protocol import Reply
from bot.store import MemoryStore, SqliteStore

from .web_client import MAX_REPLIES, SLOT_ANSWERS, serve

CHROMIUM = Path(os.environ.get("WEB_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL = (
    "install it as the README's test command does: "
    "apt-get update && apt-get install -y chromium fonts-noto-cjk "
    '(and .venv/bin/pip install -e ".[dev]" for playwright; it must not download browsers)'
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TIMEOUT_MS = 15_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

Page = Any  # playwright.sync_api.Page, imported lazily so a missing package fails loudly


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, or a failure that says how to install it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the playwright package is missing: {INSTALL}", pytrace=False)
    if not CHROMIUM.is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: {INSTALL}", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(engine: Engine, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start the production app over the real engine and SQLite; returns its base URL."""
    stack: list[Any] = []

    def start(**settings: Any) -> str:
        store = SqliteStore(tmp_path / f"web{len(stack)}.db")
        runner = serve(create_app(Settings(**settings), Assistant(engine, store)))
        host, port = runner.__enter__()
        stack.append((runner, store))
        return f"http://{host}:{port}/"

    yield start
    for runner, store in reversed(stack):
        runner.__exit__(None, None, None)
        store.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (its own cookies and storage)."""
    contexts: list[Any] = []

    def open_page(viewport: dict[str, int] = PHONE, **options: Any) -> Page:
        context = browser.new_context(viewport=viewport, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


# --- driving the page ------------------------------------------------------------------------


def bot_bubbles(page: Page) -> Any:
    return page.locator("#log .msg.bot:not(.intro)")


def wait_idle(page: Page, replies: int) -> None:
    """Wait until ``replies`` bot replies are shown and the page accepts input again."""
    page.wait_for_function(
        "n => document.querySelectorAll('#log .msg.bot:not(.intro)').length >= n"
        " && !document.getElementById('send').disabled",
        arg=replies,
    )


def type_message(page: Page, text: str) -> None:
    before = bot_bubbles(page).count()
    page.fill("#input", text)
    page.press("#input", "Enter")
    wait_idle(page, before + 1)


def click_option(page: Page, option: str) -> None:
    before = bot_bubbles(page).count()
    page.locator("#options button").get_by_text(option, exact=True).click()
    wait_idle(page, before + 1)


def options(page: Page) -> list[str]:
    return [str(text) for text in page.locator("#options button").all_text_contents()]


def last_reply(page: Page) -> str:
    return str(bot_bubbles(page).last.evaluate("el => el.firstChild.textContent"))


def cited(reply: Reply) -> list[str]:
    """What the page must show for each citation of ``reply``: 第N项 for a catalogue row, 注N for
    a note, 中级职称/高级职称 for a title, 背景信息 for a background fact."""
    names = {"title#intermediate": "中级职称", "title#senior": "高级职称"}
    shown = []
    for code in reply.result.citations if reply.result else ():
        kind, _, number = code.partition("#")
        if code in names or kind == "bg":
            shown.append(names.get(code, "背景信息"))
        else:
            shown.append(f"注{number}" if kind == "note" else f"第{number}项")
    return shown


def dialog_by(page: Page, ref: Assistant, chat: str, opening: str, *, click: bool) -> Reply:
    """Ask ``opening``, then answer by clicking the first option or typing; check each reply."""
    type_message(page, opening)
    expected = ref.handle(chat, chat, opening)
    for _ in range(MAX_REPLIES):
        assert last_reply(page) == expected.text
        assert options(page) == list(expected.options)
        if expected.result is not None:
            cites = bot_bubbles(page).last.locator(".cites").text_content() or ""
            assert cites.startswith("依据:") and all(c in cites for c in cited(expected))
            return expected
        assert expected.asking is not None, expected.text
        if click and expected.options:
            answer = expected.options[0]
            click_option(page, answer)
        else:
            answer = SLOT_ANSWERS[expected.asking]
            type_message(page, answer)
        expected = ref.handle(chat, chat, answer)
    raise AssertionError(f"no verdict after {MAX_REPLIES} replies to {opening!r}")


def reference(engine: Engine) -> Assistant:
    return Assistant(engine, MemoryStore())


# --- the tests -------------------------------------------------------------------------------


def test_a_whole_dialog_to_a_verdict_by_clicking_the_option_buttons(
    server: Callable[..., str], new_page: Callable[..., Page], engine: Engine
) -> None:
    page = new_page()
    page.goto(server())
    result = dialog_by(page, reference(engine), "c", "中级会计能落户吗", click=True)
    assert result.result is not None and result.result.verdict


def test_a_whole_dialog_to_a_verdict_by_typing(
    server: Callable[..., str], new_page: Callable[..., Page], engine: Engine
) -> None:
    page = new_page()
    page.goto(server())
    result = dialog_by(page, reference(engine), "t", "焊工技师能积分吗", click=False)
    assert result.result is not None and result.result.verdict


def test_a_link_with_q_opens_with_the_question_asked_and_copy_link_gives_it_back(
    server: Callable[..., str], new_page: Callable[..., Page], engine: Engine
) -> None:
    question = "中级会计能落户吗"
    base = server()
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"{base}?q={quote(question)}")
    wait_idle(page, 1)
    assert page.locator("#log .msg.me").all_text_contents() == [question]
    assert last_reply(page) == reference(engine).handle("q", "q", question).text
    assert "?q=" not in page.url  # a reload must not ask it again
    page.locator("#copy").click()
    page.locator("#status").get_by_text("链接已复制").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == f"{base}?q={quote(question)}"


def test_a_reload_keeps_the_conversation(
    server: Callable[..., str], new_page: Callable[..., Page], engine: Engine
) -> None:
    page = new_page()
    page.goto(server())
    ref = reference(engine)
    type_message(page, "中级会计能落户吗")
    ref.handle("r", "r", "中级会计能落户吗")
    before = page.locator("#log .msg").all_text_contents()
    shown_options = options(page)
    page.reload()
    assert page.locator("#log .msg").all_text_contents() == before
    assert options(page) == shown_options and shown_options
    click_option(page, shown_options[0])  # the server continues the same conversation
    assert last_reply(page) == ref.handle("r", "r", shown_options[0]).text


def test_two_browsers_do_not_share_a_conversation(
    server: Callable[..., str], new_page: Callable[..., Page], engine: Engine
) -> None:
    base = server()
    alice, bob = new_page(), new_page()
    alice.goto(base)
    type_message(alice, "中级会计能落户吗")
    bob.goto(base)
    assert bot_bubbles(bob).count() == 0 and options(bob) == []
    type_message(bob, "满足")
    assert last_reply(bob) == reference(engine).handle("b", "b", "满足").text
    cookies = [page.context.cookies()[0]["value"] for page in (alice, bob)]
    assert cookies[0] != cookies[1]
    assert [c["httpOnly"] for c in alice.context.cookies()] == [True]
    assert alice.evaluate("document.cookie") == ""  # HttpOnly: the script cannot read it


@pytest.mark.parametrize(
    "markup", ["<b>x</b>", "<img src=x onerror=\"document.title='pwned'\">"]
)
def test_typed_markup_comes_back_as_text(
    server: Callable[..., str], new_page: Callable[..., Page], markup: str
) -> None:
    page = new_page()
    page.goto(server())
    title = page.title()
    type_message(page, markup)
    assert page.locator("#log .msg.me").last.text_content() == markup
    assert page.locator("#log b, #log img, #log script").count() == 0
    page.reload()  # the kept transcript is rendered as text too
    assert page.locator("#log .msg.me").last.text_content() == markup
    assert page.locator("#log b, #log img").count() == 0 and page.title() == title


def test_the_rate_limit_message_appears(
    server: Callable[..., str], new_page: Callable[..., Page]
) -> None:
    page = new_page()
    page.goto(server(session_rate=2))
    type_message(page, "中级会计能落户吗")
    type_message(page, "满足")
    page.fill("#input", "不满足")
    page.press("#input", "Enter")
    error = page.locator("#log .msg.error")
    error.wait_for()
    assert re.search(r"太快.*秒后再试", error.text_content() or "")
    assert page.input_value("#input") == "不满足"  # kept to send again


def test_a_lost_answer_is_retried_and_the_message_counts_once(
    server: Callable[..., str], new_page: Callable[..., Page], engine: Engine
) -> None:
    page = new_page()
    page.goto(server())
    ref = reference(engine)
    type_message(page, "中级会计能落户吗")
    ref.handle("l", "l", "中级会计能落户吗")
    lost: list[str] = []

    def lose_the_answer(route: Any) -> None:
        route.fetch()  # the server handles the message; the page never hears back
        lost.append(route.request.post_data_json["id"])
        route.abort("connectionreset")

    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data_json["id"]) if r.method == "POST" else 0)
    page.route("**/api/chat", lose_the_answer, times=1)
    click_option(page, options(page)[0])
    assert len(lost) == 1 and sent == [lost[0], lost[0]]  # the retry carries the same id
    first = ref.handle("l", "l", "满足")
    assert last_reply(page) == first.text and page.locator("#log .msg.error").count() == 0
    answer = SLOT_ANSWERS[str(first.asking)]
    type_message(page, answer)
    assert last_reply(page) == ref.handle("l", "l", answer).text


def test_delete_my_data_empties_the_page_and_the_conversation(
    server: Callable[..., str], new_page: Callable[..., Page], engine: Engine
) -> None:
    page = new_page()
    page.goto(server())
    type_message(page, "中级会计能落户吗")
    page.locator("#forget").click()
    page.wait_for_function(  # a function, not an expression: the page's CSP forbids eval
        "() => !document.querySelector('#log .msg.me')"
        " && !document.getElementById('send').disabled"
    )
    assert page.locator("#log .msg.me").count() == 0 and bot_bubbles(page).count() == 1
    assert page.context.cookies() == []
    page.reload()
    assert bot_bubbles(page).count() == 1
    type_message(page, "满足")  # a new conversation: not an answer to the old question
    assert last_reply(page) == reference(engine).handle("f", "f", "满足").text


@pytest.mark.parametrize(("name", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_no_horizontal_scroll_at_phone_and_desktop_sizes(
    server: Callable[..., str],
    new_page: Callable[..., Page],
    engine: Engine,
    name: str,
    viewport: dict[str, int],
) -> None:
    page = new_page(viewport=viewport)
    page.goto(server())
    dialog_by(page, reference(engine), name, "中级会计能落户吗", click=True)
    type_message(page, "证书编号" + "0123456789" * 12 + " https://example.invalid/" + "x" * 80)
    overflow = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const wide = [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > width + 0.5)
            .map(el => el.tagName + '.' + el.className);
          return {scroll: document.documentElement.scrollWidth, width, wide};
        }"""
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"web-{name}.png"), full_page=True)
    assert overflow["scroll"] <= overflow["width"], overflow
    assert overflow["wide"] == [], overflow
