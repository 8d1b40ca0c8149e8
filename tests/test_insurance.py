"""Social insurance read from loose answers and judged against note 3 (bot/insurance.py).
Whole conversations: tests/test_insurance_dialogs.py.

Every date is counted against a fixed today, ``TODAY`` (2026-11-29, as the persona sets).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from bot.clock import fixed
from bot.insurance import (
    ALL_MONTHS,
    MINIMUM,
    InsuranceReader,
    evaluate_social_insurance,
    merge_social_insurance,
)
from bot.knowledge import Knowledge, Rule, load_knowledge
from bot.person import UNKNOWN
from bot.text import normalise

TODAY = date(2026, 11, 29)
POINTS, SETTLE = (12, 6, 1.0), (48, 36, 1.3)  # (window, months, multiple) of note 3


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture(scope="module")
def make(knowledge: Knowledge) -> Callable[[date], InsuranceReader]:
    return lambda today: InsuranceReader(knowledge.lexicon, fixed(today))


@pytest.fixture(scope="module")
def reader(make: Callable[[date], InsuranceReader]) -> InsuranceReader:
    return make(TODAY)


def answer(reader: InsuranceReader, text: str, multiple: float | None = 1.3) -> Any:
    return reader.read(normalise(text), True, multiple)


def asked(value: Any, rule: tuple[int, int, float]) -> dict[str, Any]:
    """The value as the engine stores it for an answer to the question of ``rule``."""
    assert isinstance(value, dict), value
    return {**value, "asked": list(rule)}


def judge(value: Any, rule: tuple[int, int, float]) -> tuple[bool | None, int | None]:
    return evaluate_social_insurance(value, *rule)


def si_rule(kb: Knowledge, purpose: str) -> Rule:
    """The note 3 rule of a purpose (its window, months and multiple come from notes.yaml)."""
    (rule,) = [r for r in kb.notes["note#3"].rules if purpose in r.purposes]
    return rule


def meets(kb: Knowledge, value: Any, purpose: str) -> bool | None:
    p = si_rule(kb, purpose).params
    ok, _ = evaluate_social_insurance(value, int(p["window_months"]), int(p["months"]),
                                      float(p["multiple"]))
    return ok


# --- moved from tests/test_facts.py ---------------------------------------------------------


def test_note_3_thresholds_are_the_seed_s(knowledge: Knowledge) -> None:
    assert dict(si_rule(knowledge, "points").params) == {"window_months": 12, "months": 6,
                                                         "multiple": 1}
    assert dict(si_rule(knowledge, "settle").params) == {"window_months": 48, "months": 36,
                                                         "multiple": 1.3}


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("三十六个月", [[36, 1.3]]),
        ("三年半", [[42, 1.3]]),
        ("十来个月", [[10, 1.3]]),
        ("有40个月", [[40, 1.3]]),
        ("大概40个月", [[40, 1.3]]),
        ("差不多3年多", [[36, 1.3]]),
        ("差不多三年", [[36, 1.3]]),
        ("一直1.5倍", [[ALL_MONTHS, 1.5]]),
        ("一直都是社平的1.5倍", [[ALL_MONTHS, 1.5]]),
        ("最低基数", [[None, MINIMUM]]),
        ("一直最低基数", [[ALL_MONTHS, MINIMUM]]),
        ("前两年1倍后两年1.5倍", [[24, 1.0], [24, 1.5]]),
        ("36个月1.3倍", [[36, 1.3]]),
        ("半年1倍", [[6, 1.0]]),
        ("3年零1个月", [[37, 1.3]]),
        ("差两个月满三年,都是1.5倍", [[34, 1.5]]),
        ("将近三年,一直1.5倍", [[35, 1.5]]),
        ("两年半,一直1.5倍", [[30, 1.5]]),
        ("有40个月,基数1.5倍", [[40, 1.5]]),
        # counted up to today, both months included: 2025-01 … 2026-11 (was at least 12)
        ("去年才来上海,一直1.5倍", [[23, 1.5]]),
        # 2024-01 … 2026-11 (was at least 24)
        ("前年开始1.3倍,之前都是最低", [[35, 1.3], [ALL_MONTHS, MINIMUM]]),
        ("基数是社平的130%", [[None, 1.3]]),
    ],
)
def test_social_insurance_answers_become_segments(
    reader: InsuranceReader, text: str, segments: list[list[Any]]
) -> None:
    value = answer(reader, text)
    assert isinstance(value, dict), value
    assert value["segments"] == segments


@pytest.mark.parametrize(
    ("text", "purpose", "ok"),
    [
        # settle: 36 of the last 48 months at 1.3x or more
        ("36个月1.3倍", "settle", True),
        ("35个月1.3倍", "settle", False),
        ("三十六个月1.3倍", "settle", True),
        ("三十五个月1.3倍", "settle", False),
        ("一直1.3倍", "settle", True),
        ("一直1.29倍", "settle", False),
        ("一直1.5倍", "settle", True),
        ("一直社平", "settle", False),
        ("最低基数", "settle", False),
        ("前两年1倍后两年1.5倍", "settle", False),
        ("三年半1.5倍", "settle", True),
        # points: 6 of the last 12 months at 1x or more
        ("6个月1倍", "points", True),
        ("5个月1倍", "points", False),
        ("半年1倍", "points", True),
        ("一直社平", "points", True),
        ("一直0.99倍", "points", False),
        ("一直最低基数", "points", False),
        ("前两年1倍后两年1.5倍", "points", True),
        # a bare yes or no
        ("满足", "settle", True),
        ("不满足", "points", False),
    ],
)
def test_social_insurance_boundaries(
    knowledge: Knowledge, reader: InsuranceReader, text: str, purpose: str, ok: bool
) -> None:
    value = answer(reader, text, None)
    assert isinstance(value, dict), value
    assert meets(knowledge, value, purpose) is ok


def test_months_stated_for_a_longer_window_count_only_as_far_as_they_must(
    knowledge: Knowledge, reader: InsuranceReader
) -> None:
    value = reader.read(normalise("最近四年里有40个月社保基数在1.3倍以上"), False)
    assert value == {"segments": [[40, 1.3]], "window": 48, "answer": None}
    assert meets(knowledge, value, "settle") is True
    # 40 of the last 48 months guarantee only 4 of the last 12: open for points, not a failure
    assert evaluate_social_insurance(value, 12, 6, 1.0) == (None, 4)


def test_a_duration_without_a_multiple_is_taken_at_the_multiple_asked(
    reader: InsuranceReader
) -> None:
    assert answer(reader, "有40个月", 1.0)["segments"] == [[40, 1.0]]
    assert answer(reader, "没有36个月", 1.3) == {"segments": [], "window": None,
                                                "answer": False}


def test_not_knowing_is_unknown(reader: InsuranceReader) -> None:
    assert answer(reader, "不清楚") == UNKNOWN


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("48个月里有12个月没交,其他都是1.5倍", True),   # 36 months left
        ("有13个月没交,其他都是1.5倍", False),           # 35 months left
        ("不到1.3倍", False),
        ("差一点到1.3倍", False),
        ("去年才来上海,一直1.5倍", False),               # all there is: 23 months
    ],
)
def test_settle_requirement_on_loose_answers(
    reader: InsuranceReader, text: str, verdict: bool
) -> None:
    value = answer(reader, text)
    assert isinstance(value, dict), value
    assert evaluate_social_insurance(value, 48, 36, 1.3)[0] is verdict


# --- start dates: months counted up to today, capped at the window -------------------------


@pytest.mark.parametrize(
    ("text", "months", "since"),
    [
        ("2025年1月开始才按1.3倍交的,之前都是最低基数", 23, "2025-01"),
        ("从去年3月起一直按1.3倍以上交", 21, "2025-03"),
        ("前年年底才开始", 24, "2024-12"),
        ("今年2月开始", 10, "2026-02"),
        ("23年5月起", 43, "2023-05"),
        ("2025年开始", 23, "2025-01"),   # a year alone: from its January
        ("今年11月开始", 1, "2026-11"),  # this month counts
        ("去年三月份开始", 21, "2025-03"),
        ("大前年年初就开始按1.3倍交了", 47, "2023-01"),
    ],
)
def test_a_start_date_counts_the_months_up_to_today(
    reader: InsuranceReader, text: str, months: int, since: str
) -> None:
    value = answer(reader, text)
    assert value["segments"][0] == [months, 1.3]
    assert value["since"] == since
    assert value["total"] is True and value["recent"] == [0]


@pytest.mark.parametrize(
    ("text", "months"),
    [("从2022年1月到2024年12月都是1.5倍", 36), ("2022年1月到2024年12月都是1.5倍", 36),
     ("2023年到2024年1.5倍", 24), ("2025年3月至今1.5倍", 21), ("从2024年6月到2027年1.5倍", 30)],
)
def test_a_range_counts_its_months(reader: InsuranceReader, text: str, months: int) -> None:
    assert answer(reader, text)["segments"] == [[months, 1.5]]


def test_a_start_date_is_never_read_as_a_duration(reader: InsuranceReader) -> None:
    for text in ("2025年1月开始才按1.3倍交的", "2024年5月开始才1.3倍的", "24年7月开始"):
        value = answer(reader, text)
        assert all(0 <= m <= 48 for m, _ in value["segments"]), value  # never 「24301个月」


def test_a_start_date_decides_both_windows(reader: InsuranceReader) -> None:
    value = asked(answer(reader, "2025年1月开始才按1.3倍交的,之前都是最低基数"), SETTLE)
    assert value["segments"] == [[23, 1.3], [ALL_MONTHS, MINIMUM]]
    assert judge(value, SETTLE) == (False, 23)
    assert judge(value, POINTS) == (True, 12)  # the latest months: the whole points window


def test_months_since_a_date_are_capped_at_the_window(
    reader: InsuranceReader, knowledge: Knowledge
) -> None:
    value = asked(answer(reader, "2010年开始一直1.5倍"), SETTLE)
    assert value["segments"] == [[203, 1.5]]
    assert judge(value, SETTLE) == (True, 48)
    assert judge(value, POINTS) == (True, 12)
    capped = InsuranceReader(knowledge.lexicon, fixed(TODAY), longest_window=48)
    assert answer(capped, "2010年开始一直1.5倍")["segments"] == [[48, 1.5]]


@pytest.mark.parametrize("text", ["今年12月开始", "2027年开始", "2025年13月开始", "1900年开始"])
def test_a_date_beyond_sense_is_not_a_fact(reader: InsuranceReader, text: str) -> None:
    value = answer(reader, f"{text}1.3倍")
    assert value["segments"] == [[None, 1.3]], value  # months open: asked again, never guessed


def test_a_relative_year_without_a_start_word_is_a_span(reader: InsuranceReader) -> None:
    assert answer(reader, "去年整年1倍以上", 1.0)["segments"] == [[12, 1.0]]
    assert answer(reader, "去年一整年")["segments"] == [[12, 1.3]]
    assert answer(reader, "去年都1倍以上", 1.0)["segments"] == [[12, 1.0]]
    assert "since" not in answer(reader, "去年整年1倍以上")


def test_outside_an_answer_only_durations_about_insurance_count(
    reader: InsuranceReader,
) -> None:
    def segments(text: str) -> Any:
        value = reader.read(normalise(text), False)
        assert isinstance(value, dict), value
        return value["segments"]

    assert segments("我拿证3年了,社保一直1.5倍") == [[ALL_MONTHS, 1.5]]
    assert segments("我2023年5月拿的证,社保一直1.5倍") == [[ALL_MONTHS, 1.5]]
    assert segments("来上海3年了,社保一直1.5倍") == [[36, 1.5]]
    assert segments("2023年5月起在上海交社保,一直1.5倍") == [[43, 1.5]]


def test_the_clock_decides_what_today_is(make: Callable[[date], InsuranceReader]) -> None:
    text = normalise("从去年3月起一直1.5倍")
    assert make(date(2026, 3, 1)).read(text, True, 1.3)["segments"] == [[13, 1.5]]
    assert make(date(2027, 3, 1)).read(text, True, 1.3)["segments"] == [[13, 1.5]]
    assert make(date(2026, 12, 31)).read(text, True, 1.3)["segments"] == [[22, 1.5]]


# --- periods said twice, whole years, total statements ---------------------------------------


def test_a_period_said_twice_is_one_period(reader: InsuranceReader) -> None:
    value = asked(answer(reader, "近两年24个月都是1.3倍"), SETTLE)
    assert value["segments"] == [[24, 1.3]] and value["window"] == 24
    assert judge(value, SETTLE) == (False, 24)  # the answer to the 4-year question: 24, not 48
    assert judge(value, POINTS) == (True, 12)
    assert answer(reader, "最近两年吧 就这24个月到了社平130%")["segments"] == [[24, 1.3]]
    assert answer(reader, "就最近三个月 3个月到了1倍 之前都最低")["segments"][0] == [3, 1.0]


def test_months_never_exceed_the_window_said(reader: InsuranceReader) -> None:
    value = answer(reader, "最近12个月里有18个月1.5倍")
    assert value["window"] == 12 and value["segments"] == [[12, 1.5]]


def test_the_latest_months_and_the_rest_decide_every_window(reader: InsuranceReader) -> None:
    value = answer(reader, "最近18个月1.5倍,之前最低基数")
    assert value["segments"] == [[18, 1.5], [ALL_MONTHS, MINIMUM]] and value["total"] is True
    assert judge(value, SETTLE) == (False, 18)  # decided, never open
    assert judge(value, POINTS) == (True, 12)


def test_a_correction_inside_the_answer_wins(reader: InsuranceReader) -> None:
    value = asked(answer(reader, "1.3倍交满48个月…不对 刚问了HR 去年才调到1.3倍 之前都是1倍"),
                  SETTLE)
    assert value["segments"] == [[23, 1.3], [ALL_MONTHS, 1.0]]
    assert judge(value, SETTLE) == (False, 23)


# --- recency: what one statement settles -----------------------------------------------------


def test_always_with_a_duration_settles_both_windows(reader: InsuranceReader) -> None:
    value = asked(answer(reader, "一直1.5倍,差不多三年多"), SETTLE)
    assert value["segments"] == [[36, 1.5]] and value["recent"] == [0]
    assert judge(value, SETTLE) == (True, 36)
    assert judge(value, POINTS) == (True, 12)  # no second question for 积分


def test_months_somewhere_in_a_longer_span_count_only_as_far_as_they_must(
    reader: InsuranceReader,
) -> None:
    value = asked(answer(reader, "48个月里有40个月1.3倍"), SETTLE)
    assert value["window"] == 48 and "recent" not in value
    assert judge(value, SETTLE) == (True, 40)
    assert judge(value, POINTS) == (None, 4)


def test_recency_belongs_to_the_part_that_says_it(reader: InsuranceReader) -> None:
    value = answer(reader, "最近四年只有20个月到1.3倍,最近一年都在1倍以上")
    assert value["segments"] == [[20, 1.3], [12, 1.0]] and value["recent"] == [1]
    assert judge(value, SETTLE) == (False, 20)
    assert judge(value, POINTS) == (True, 12)
    value = answer(reader, "最近四年有30个月1.3倍,最近一年都是最低")
    assert judge(value, POINTS) == (False, 0)  # the 30 months are not the latest ones


def test_an_answer_for_a_shorter_window_leaves_a_longer_one_open(
    reader: InsuranceReader,
) -> None:
    value = asked(answer(reader, "一直1.5倍,两年", 1.0), POINTS)
    assert judge(value, POINTS) == (True, 12)
    assert judge(value, SETTLE) == (None, 24)  # asked again for 居转户, once


# --- not knowing, loose multiples -------------------------------------------------------------


@pytest.mark.parametrize("text", ["我不是很清楚", "不太清楚", "记不清了", "不记得了", "忘了"])
def test_not_knowing_is_never_a_no(reader: InsuranceReader, text: str) -> None:
    assert answer(reader, text) == UNKNOWN


@pytest.mark.parametrize(
    ("text", "multiple"),
    [("一倍三", 1.3), ("一倍半", 1.5), ("两倍", 2.0), ("社平的百分之一百三十以上", 1.3),
     ("130%", 1.3), ("1.5倍左右", 1.5), ("基数一直是一倍五", 1.5), ("1.5x", 1.5)],
)
def test_multiples_as_people_say_them(reader: InsuranceReader, text: str,
                                      multiple: float) -> None:
    assert answer(reader, text)["segments"][0][1] == multiple


@pytest.mark.parametrize("text", ["25倍", "100倍", "一直30倍", "百分之五千"])
def test_a_multiple_beyond_sense_is_not_a_fact(reader: InsuranceReader, text: str) -> None:
    value = answer(reader, text)
    assert not (isinstance(value, dict) and value["segments"]), value


def test_a_corrected_rate_keeps_the_months_and_how_they_were_said(
    reader: InsuranceReader,
) -> None:
    old = answer(reader, "从去年3月起一直1倍")
    new = answer(reader, "其实是1.5倍")
    merged = merge_social_insurance(old, new)
    assert merged["segments"] == [[21, 1.5]]
    assert merged["recent"] == [0] and merged["total"] is True

