"""Whatever people type, the assistant answers, within the protocol, and keeps a usable state."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.assistant import SORRY, Assistant
from bot.engine import Engine
from bot.protocol import SLOTS, VERDICTS, Reply
from bot.store import MemoryStore
from bot.text import MAX_CHARS

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

any_char = st.characters(exclude_categories=())  # every code point, lone surrogates included
any_text = st.text(any_char, max_size=300)
OPENINGS = ["中级会计能落户吗", "一建能积分吗", "焊工能落户吗", "我有一建", "建造师能积分吗",
            "高级工程师能落户吗", "我是律师能落户吗", "注册会计师能居转户吗", "中级会计",
            "注册安全工程师能积分吗", "电工技师能用吗", "二级建造师能落户吗", "你好"]
ANSWERS = ["不清楚", "对口", "不对口", "文科", "理工", "一直1.5倍", "最低基数", "三十六个月",
           "在江苏评的", "在上海考的", "在上海上班期间回江苏考的证", "在事务所", "不在事务所",
           "1", "2", "3", "9", "0", "二级", "高级", "积分", "居转户", "人才引进", "那积分呢",
           "说错了,是二级建造师", "帮助", "取消", "重新开始", "职业编码6-31-07-03是什么", ""]
answer = st.one_of(st.sampled_from(ANSWERS), any_text, st.just("OPTION"))


class _Errors(logging.Handler):
    """Every record logged at ERROR or above while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def no_error_logged() -> Iterator[None]:
    """Fail when anything logs an error: the assistant catches an engine's exception, keeps the
    state and apologises, so a raised error is not the only sign of one. (A handler of its own
    rather than pytest's caplog: one per hypothesis example, not one per test.)"""
    errors, root = _Errors(), logging.getLogger()
    root.addHandler(errors)
    try:
        yield
    finally:
        root.removeHandler(errors)
    assert not errors.records, "logged: " + "; ".join(
        r.getMessage().splitlines()[0] for r in errors.records[:3])


def apologies(engine: Engine) -> tuple[str, ...]:
    """The texts a reply starts with when something failed."""
    return SORRY, engine.t["engine_error"], engine.t["engine_restart"]


def check(reply: Reply, engine: Engine) -> None:
    assert isinstance(reply, Reply)
    assert reply.text.strip(), "a reply with no text"
    assert not reply.text.startswith(apologies(engine)), f"an apology: {reply.text}"
    assert reply.asking is None or reply.asking in SLOTS
    assert isinstance(reply.options, tuple)
    assert all(isinstance(o, str) and o for o in reply.options)
    if reply.result is not None:
        assert reply.result.verdict in VERDICTS
        assert reply.asking is None


def check_state(store: MemoryStore, key: str) -> None:
    state = store.load(key)
    assert state is None or isinstance(state, dict)
    json.dumps(state)  # the state must stay JSON-able


@PROPERTY
@given(texts=st.lists(any_text, min_size=1, max_size=4))
def test_any_text_gets_a_reply_within_the_protocol(engine: Engine, texts: list[str]) -> None:
    store = MemoryStore()
    assistant = Assistant(engine, store)
    with no_error_logged():
        for text in texts:
            check(assistant.handle("c", "u", text), engine)
            check_state(store, assistant.key("c", "u"))
        check(assistant.handle("c", "u", "中级会计能落户吗"), engine)


@PROPERTY
@given(opening=st.sampled_from(OPENINGS), answers=st.lists(answer, min_size=1, max_size=8),
       data=st.data())
def test_random_answers_to_every_question(
    engine: Engine, opening: str, answers: list[str], data: st.DataObject
) -> None:
    store = MemoryStore()
    assistant = Assistant(engine, store)
    with no_error_logged():
        reply = assistant.handle("c", "u", opening)
        check(reply, engine)
        for text in answers:
            if text == "OPTION":
                text = data.draw(st.sampled_from(reply.options)) if reply.options else "不清楚"
            reply = assistant.handle("c", "u", text)
            check(reply, engine)
            check_state(store, assistant.key("c", "u"))


@PROPERTY
@given(state=st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["state", "turn", "facts", "asked", "options", "credential",
                         "level", "purpose", "social_insurance", "ask_params"]),
        inner, max_size=5),
    max_leaves=12))
def test_a_damaged_stored_state_is_survived(engine: Engine, state: object) -> None:
    store = MemoryStore()
    assistant = Assistant(engine, store)
    store.update(assistant.key("c", "u"), lambda _old: (state, None))
    with no_error_logged():
        check(assistant.handle("c", "u", "一直1.5倍"), engine)
        check(assistant.handle("c", "u", "中级会计能落户吗"), engine)


def test_a_100_kb_message_is_read_as_its_first_part(engine: Engine) -> None:
    """The work per message is capped: a message of any length is read as its first
    MAX_CHARS characters (the bench prints what a long message costs)."""
    rng = random.Random(2023)
    noise = "".join(chr(rng.choice([rng.randrange(0x20, 0x7F), rng.randrange(0x4E00, 0x9FA5),
                                    rng.randrange(0x1F300, 0x1F64F)])) for _ in range(100_000))
    for text in ("中级会计能落户吗" + "哈" * 100_000, noise, "对" * 100_000,
                 "一直1.5倍," * 20_000):
        whole, cut = Assistant(engine, MemoryStore()), Assistant(engine, MemoryStore())
        with no_error_logged():
            reply = whole.handle("c", "u", text)
            check(reply, engine)
        assert reply == cut.handle("c", "u", text[:MAX_CHARS])
