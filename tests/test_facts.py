"""Where facts are read from loose Chinese answers (bot/facts.py); social insurance judged."""

from __future__ import annotations

from typing import Any

import pytest

from bot.engine import Engine
from bot.facts import ALL_MONTHS, MINIMUM, UNKNOWN, FactParser, evaluate_social_insurance
from bot.knowledge import Knowledge, Rule
from bot.rules import FAIL, OPEN, PASS, check
from bot.text import arabic_numerals, normalise


@pytest.fixture(scope="module")
def parser(engine: Engine) -> FactParser:
    return engine.nlu.facts


def si_rule(kb: Knowledge, purpose: str) -> Rule:
    """The note 3 rule of a purpose (its window, months and multiple come from notes.yaml)."""
    (rule,) = [r for r in kb.notes["note#3"].rules if purpose in r.purposes]
    return rule


def si_answer(parser: FactParser, text: str, multiple: float | None = 1.3) -> Any:
    return parser.social_insurance(normalise(text), True, multiple)


def meets(kb: Knowledge, value: Any, purpose: str) -> bool | None:
    p = si_rule(kb, purpose).params
    ok, _ = evaluate_social_insurance(value, int(p["window_months"]), int(p["months"]),
                                      float(p["multiple"]))
    return ok


def test_note_3_thresholds_are_the_seed_s(kb: Knowledge) -> None:
    assert dict(si_rule(kb, "points").params) == {"window_months": 12, "months": 6, "multiple": 1}
    assert dict(si_rule(kb, "settle").params) == {"window_months": 48, "months": 36,
                                                  "multiple": 1.3}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("三十六个月", "36个月"), ("三年半", "42个月"), ("十来个月", "10个月"), ("两年", "2年"),
     ("半年", "6个月"), ("1.5倍", "1.5倍"), ("一直", "一直"), ("二级建造师", "二级建造师")],
)
def test_chinese_numerals_before_a_unit_become_arabic(text: str, expected: str) -> None:
    assert arabic_numerals(text) == expected


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
        ("将近三年,一直1.5倍", [[35, 1.5]]),
        ("两年半,一直1.5倍", [[30, 1.5]]),
        ("有40个月,基数1.5倍", [[40, 1.5]]),
        ("去年才来上海,一直1.5倍", [[12, 1.5]]),
        ("前年开始1.3倍,之前都是最低", [[24, 1.3], [ALL_MONTHS, MINIMUM]]),
        ("基数是社平的130%", [[None, 1.3]]),
    ],
)
def test_social_insurance_answers_become_segments(
    parser: FactParser, text: str, segments: list[list[Any]]
) -> None:
    value = si_answer(parser, text)
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
    kb: Knowledge, parser: FactParser, text: str, purpose: str, ok: bool
) -> None:
    value = si_answer(parser, text, None)
    assert isinstance(value, dict), value
    assert meets(kb, value, purpose) is ok


def test_months_stated_for_a_longer_window_count_only_as_far_as_they_must(
    kb: Knowledge, parser: FactParser
) -> None:
    value = parser.social_insurance(normalise("最近四年里有40个月社保基数在1.3倍以上"), False)
    assert value == {"segments": [[40, 1.3]], "window": 48, "answer": None}
    assert meets(kb, value, "settle") is True
    # 40 of the last 48 months guarantee only 4 of the last 12: open for points, not a failure
    assert evaluate_social_insurance(value, 12, 6, 1.0) == (None, 4)


def test_a_duration_without_a_multiple_is_taken_at_the_multiple_asked(
    parser: FactParser
) -> None:
    assert si_answer(parser, "有40个月", 1.0)["segments"] == [[40, 1.0]]
    assert si_answer(parser, "没有36个月", 1.3) == {"segments": [], "window": None,
                                                   "answer": False}


# (slot, answer, value) for answers to the question about that slot
LOOSE = [
    ("job_match", "对口的", True),
    ("job_match", "基本对口", True),
    ("job_match", "不对口", False),
    ("job_match", "不是很对口", False),
    ("job_match", "不清楚", UNKNOWN),
    ("stem_degree", "文科", False),
    ("stem_degree", "本科是文科", False),
    ("stem_degree", "理工", True),
    ("stem_degree", "计算机专业", True),
    ("stem_degree", "会计专业", False),
    ("stem_degree", "不清楚", UNKNOWN),
    ("where_obtained", "在上海评的", "shanghai"),
    ("where_obtained", "在上海上班期间回江苏考的证", "other_province_while_shanghai"),
    ("where_obtained", "来上海前在老家工作时评的", "elsewhere_before"),
    ("where_obtained", "不清楚", UNKNOWN),
    ("at_firm", "在律所", True),
    ("at_firm", "没在事务所", False),
    ("at_firm", "公司法务", False),
    ("at_firm", "不知道", UNKNOWN),
    ("social_insurance", "不清楚", UNKNOWN),
]


@pytest.mark.parametrize(("slot", "text", "value"), LOOSE)
def test_loose_answers(parser: FactParser, slot: str, text: str, value: object) -> None:
    assert getattr(parser, slot)(normalise(text), True) == value


@pytest.mark.parametrize(
    ("text", "note", "status"),
    [
        ("在江苏评的", "note#5", FAIL),  # a senior title from elsewhere: only for 人才引进
        ("在上海评的", "note#5", PASS),
        ("在上海上班期间回江苏考的证", "note#5", PASS),
        ("在上海上班期间回江苏考的证", "note#6", FAIL),  # another province's while in Shanghai
        ("来上海前在老家工作时评的", "note#6", PASS),
        ("在上海评的", "note#6", PASS),
        ("不清楚", "note#6", OPEN),
    ],
)
def test_where_obtained_answers_against_notes_5_and_6(
    kb: Knowledge, parser: FactParser, text: str, note: str, status: str
) -> None:
    (rule,) = kb.notes[note].rules
    outcome = check(rule, {"where_obtained": parser.where_obtained(normalise(text), True)})
    assert outcome is not None and outcome.status == status


def test_facts_stated_in_an_opening_message_are_all_read(engine: Engine) -> None:
    u = engine.nlu.understand("我有中级会计,社保一直1.5倍,岗位对口,本科是计算机专业,能落户吗")
    assert u.match is not None and u.match.target == "professional#20"
    assert u.purpose == "settle"
    assert u.facts["social_insurance"]["segments"] == [[ALL_MONTHS, 1.5]]
    assert u.facts["job_match"] is True
    assert u.facts["stem_degree"] is True


def test_outside_an_answer_not_knowing_is_no_fact(engine: Engine) -> None:
    u = engine.nlu.understand("中级会计能落户吗,我也不清楚")
    assert UNKNOWN not in u.facts.values()
    assert u.unknown is True


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("48个月里有12个月没交,其他都是1.5倍", True),   # 36 months left
        ("有13个月没交,其他都是1.5倍", False),           # 35 months left
        ("不到1.3倍", False),
        ("差一点到1.3倍", False),
        ("去年才来上海,一直1.5倍", False),               # all there is: 12 months
    ],
)
def test_settle_requirement_on_loose_answers(parser: FactParser, text: str, verdict: bool) -> None:
    value = si_answer(parser, text)
    assert isinstance(value, dict), value
    assert evaluate_social_insurance(value, 48, 36, 1.3)[0] is verdict
