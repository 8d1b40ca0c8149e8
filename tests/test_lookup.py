"""Catalogue lookups through the engine: every official name and every 临港 code finds its row."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.knowledge import Row, load_knowledge

_KB = load_knowledge()  # parametrisation needs the rows at collection time
ALL_ROWS = sorted(_KB.rows, key=lambda r: (r.split("#")[0], int(r.split("#")[1])))
LINGANG = list(_KB.catalogues["lingang"].rows)
TWINS = {"lingang#11": "skilled#22"}  # on both lists: the skilled row is the credential
QUESTIONS = ["{}对应什么职称", "{}在目录里吗"]


def test_there_are_139_rows_to_look_up() -> None:
    assert len(ALL_ROWS) == 139


@pytest.mark.parametrize("row_id", ALL_ROWS)
def test_every_official_name_of_a_row_looks_up_that_row(engine: Engine, row_id: str) -> None:
    row = engine.kb.rows[row_id]
    expected = TWINS.get(row_id, row_id)
    for name in row.names:
        for question in QUESTIONS:
            text = question.format(name)
            _, reply = engine.step(None, text)
            assert reply.result is not None, f"{text}: {reply.text}"
            assert (reply.result.credential, reply.result.verdict) == (expected, "info"), text
            assert row_id in reply.result.citations, text
            assert reply.asking is None and reply.text.strip()


def test_a_trade_on_both_lists_cites_both(engine: Engine) -> None:
    _, reply = engine.step(None, "飞机外场调试与维护工在目录里吗")
    assert reply.result is not None
    assert reply.result.credential == "skilled#22"
    assert {"skilled#22", "lingang#11"} <= set(reply.result.citations)
    assert "6-23-03-13" in reply.text


@pytest.mark.parametrize("row", LINGANG, ids=[row.id for row in LINGANG])
def test_every_lingang_code_finds_its_occupation(engine: Engine, row: Row) -> None:
    _, reply = engine.step(None, f"职业编码{row.code}是什么")
    assert reply.result is not None, reply.text
    assert (reply.result.credential, reply.result.verdict) == (row.id, "info")
    assert row.name in reply.text and row.code in reply.text


def test_a_lookup_mid_question_keeps_the_question_pending(engine: Engine) -> None:
    state, first = engine.step(None, "中级会计能落户吗")
    assert first.asking is not None
    state, aside = engine.step(state, "职业编码6-31-07-03是什么")
    assert aside.result is not None and aside.result.credential == "lingang#20"
    assert engine.dialog.states[state["state"]].slot == first.asking
    state, _ = engine.step(state, "一直1.5倍")
    assert state["facts"]["credential"] == "professional#20"
    assert state["facts"]["social_insurance"]["segments"] == [[-1, 1.5]]
