"""Facts about the person read from loose Chinese answers (bot/person.py), through the one
parse of a message (``Understander.understand`` with the question pending as its context).

Social insurance: tests/test_insurance.py; numbers: tests/test_numbers.py.
"""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.insurance import ALL_MONTHS
from bot.knowledge import Knowledge
from bot.person import UNKNOWN
from bot.rules import FAIL, OPEN, PASS, check
from bot.understand import Context


def answer(engine: Engine, slot: str, text: str) -> object:
    """The value ``text`` gives ``slot`` when it answers the question about that slot."""
    return engine.nlu.understand(text, Context(asking=slot)).facts.get(slot)


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
    ("at_firm", "在立信会计师事务所有限公司", True),
    ("at_firm", "在招商银行总行做风控", False),
    ("at_firm", "去年从德勤跳到一家上市公司了", False),
    ("at_firm", "不在事务所", False),
    # words inside words and answers to another question (issue 9)
    ("job_match", "对口,天天做会计分录", True),
    ("job_match", "非理工", None),  # about the degree, not the post
    ("job_match", "非常对口", True),
    ("job_match", "我就是干这个的", True),
    ("job_match", "对口吧,其实也不算了", False),
    ("stem_degree", "非理工", False),
    ("stem_degree", "法律,不是理工科", False),
    ("stem_degree", "我是文科生", False),
    ("stem_degree", "理工科", True),
    ("stem_degree", "大专会计", False),
    ("stem_degree", "我不是很清楚", UNKNOWN),
    ("where_obtained", "证是在上海考的 我人是安徽的", "shanghai"),
    ("where_obtained", "在上海上班时回老家考的", "other_province_while_shanghai"),
    ("where_obtained", "是以前在老家工作时评的,来上海之前", "elsewhere_before"),
    ("where_obtained", "老家上班时考的", "elsewhere_before"),
]


@pytest.mark.parametrize(("slot", "text", "value"), LOOSE)
def test_loose_answers(engine: Engine, slot: str, text: str, value: object) -> None:
    assert answer(engine, slot, text) == value


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
    kb: Knowledge, engine: Engine, text: str, note: str, status: str
) -> None:
    (rule,) = kb.notes[note].rules
    outcome = check(rule, {"where_obtained": answer(engine, "where_obtained", text)})
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
    ("text", "absent"),
    [
        ("焊工技师来上海以后能拿来积分吗", "where_obtained"),  # 拿来: use, not obtaining
        ("软考中级能积分吗?同事做项目管理工作", "stem_degree"),  # a job is not a degree
        ("软考中级能积分吗?同事做行政的", "job_match"),  # a colleague's post is not theirs
        ("中级统计师能积分吗,做统计分析的", "purpose_changed"),
    ],
)
def test_facts_come_only_from_words_about_them(engine: Engine, text: str, absent: str) -> None:
    u = engine.nlu.understand(text)
    assert absent not in u.facts
    assert u.purpose == "points"


def test_a_negated_purpose_is_not_the_purpose(engine: Engine) -> None:
    assert engine.nlu.understand("算了不落户了,那积分能用吗").purpose == "points"
    assert engine.nlu.understand("不是落户 是积分").purpose == "points"
    assert engine.nlu.understand("会计分录怎么做").purpose is None  # 计分 inside a word


def test_the_last_level_said_wins(engine: Engine) -> None:
    u = engine.nlu.understand("焊工三级吧……不对不对,是二级的,技师")
    assert u.match is not None and u.match.level == "2"
    assert engine.nlu.understand("车工四级 哦不对 是三级 能积分吗").match.level == "3"
    assert engine.nlu.understand("我是车工三级,不是四级").match.level == "3"
    assert engine.nlu.understand("一建积分算中级吗").match.target == "professional#8"
