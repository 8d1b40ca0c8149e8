"""Social-insurance answers in whole conversations, today fixed by BOT_TODAY as in production:
start dates, periods said twice, not knowing, one statement settling both purposes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot.assistant import Assistant
from bot.dialog import load_dialog
from bot.engine import Engine
from bot.knowledge import Knowledge, load_knowledge
from bot.protocol import Reply
from bot.store import MemoryStore

TODAY = "2026-11-29"


OTHER_ANSWERS = {"job_match": "对口", "stem_degree": "理工科", "where_obtained": "在上海考的",
                 "at_firm": "在事务所", "purpose": "居转户", "level": "中级"}


@pytest.fixture(scope="module")
def fixed_day_engine() -> Iterator[Engine]:
    knowledge: Knowledge = load_knowledge()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOT_TODAY", TODAY)
        yield Engine(knowledge, load_dialog(knowledge))


def converse(engine: Engine, opening: str, si: str) -> list[Reply]:
    """The replies to ``opening`` and the answers after it, until a result (at most 8)."""
    assistant = Assistant(engine, MemoryStore())
    replies = [assistant.handle("c", "u", opening)]
    while replies[-1].result is None and replies[-1].asking and len(replies) < 8:
        slot = replies[-1].asking
        replies.append(assistant.handle("c", "u", si if slot == "social_insurance"
                                        else OTHER_ANSWERS.get(slot, "不清楚")))
    return replies


def months_said(replies: list[Reply]) -> list[int]:
    return [int(n) for reply in replies for n in re.findall(r"(\d+)个月", reply.text)]


def test_a_start_date_in_a_conversation(fixed_day_engine: Engine) -> None:
    replies = converse(fixed_day_engine, "中级会计能落户吗",
                       "2025年1月开始才按1.3倍交的,之前都是最低基数")
    result = replies[-1].result
    assert result is not None and result.verdict == "not_eligible"
    assert "social_insurance_short" in result.reasons
    assert "23个月" in replies[-1].text
    assert all(n <= 48 for n in months_said(replies))  # never 「24301个月」


def test_a_period_said_twice_in_a_conversation(fixed_day_engine: Engine) -> None:
    replies = converse(fixed_day_engine, "中级会计能落户吗", "近两年24个月都是1.3倍")
    result = replies[-1].result
    assert result is not None and result.verdict == "not_eligible"
    assert "24个月" in replies[-1].text and all(n <= 48 for n in months_said(replies))


def test_not_knowing_gives_a_conditional_answer(fixed_day_engine: Engine) -> None:
    replies = converse(fixed_day_engine, "中级会计能落户吗", "我不是很清楚")
    result = replies[-1].result
    assert result is not None and result.verdict == "conditional"
    assert "social_insurance" in result.unknown


def test_one_statement_settles_the_other_purpose(fixed_day_engine: Engine) -> None:
    assistant = Assistant(fixed_day_engine, MemoryStore())
    reply = assistant.handle("c", "u", "中级会计能落户吗")
    for _ in range(6):
        if reply.result is not None or not reply.asking:
            break
        reply = assistant.handle("c", "u", "一直1.5倍,差不多三年多"
                                 if reply.asking == "social_insurance"
                                 else OTHER_ANSWERS.get(reply.asking, "不清楚"))
    assert reply.result is not None and reply.result.verdict == "eligible"
    reply = assistant.handle("c", "u", "那积分呢")
    assert reply.asking != "social_insurance"  # 三年多 of the latest months: 积分 is settled
