"""Answers people can act on (issue 11): the parts of an answer, through the public entry points.

The conversations of tests/conversations/answers.yaml are run here with the part checks (scope
line, checklist, points, gap, the sub-question answered first, the brief, 「详细」); the rest
drives ``decide`` and ``Writer.answer`` over the whole catalogue.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from bot.answer_parts import SUB_QUESTIONS, Answer, fits_brief, make_brief
from bot.assistant import Assistant
from bot.engine import Engine
from bot.insurance import ALL_MONTHS
from bot.knowledge import Knowledge
from bot.person import UNKNOWN
from bot.protocol import Reply
from bot.rules import INCENTIVE_FACT, LOWER_TIERS_FACT, decide
from bot.store import MemoryStore
from bot.yamlsafe import load_yaml

ROOT = Path(__file__).resolve().parent.parent
CASES = load_yaml(ROOT / "tests" / "conversations" / "answers.yaml")
SIMULATOR = ROOT.parent / "shared" / "eval" / "simulate.py"
PERSONA_SETS = [ROOT.parent / "shared" / "eval" / "dev.yaml",
                *sorted((ROOT / "tests" / "personas").glob("*.yaml"))]
MAX_TEXT = 600

SI_OK = {"segments": [[ALL_MONTHS, 2.0]], "window": None, "answer": None}
PASSING: dict[str, Any] = {"social_insurance": SI_OK, "job_match": True, "stem_degree": True,
                           "where_obtained": "shanghai", "at_firm": True}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def assert_brief(reply: Reply) -> None:
    """Every answer has a short form of at most 3 lines and 120 characters."""
    short = reply.short
    assert short.strip()
    assert len(short) <= 120 and len(short.splitlines()) <= 3, short
    assert len(reply.text) <= MAX_TEXT, (len(reply.text), reply.text)


def checklist_of(engine: Engine, text: str) -> list[str]:
    """The lines of the checklist of other conditions (empty when the answer has none)."""
    lines = text.splitlines()
    header = str(engine.t["checklist_header"])
    if header not in lines:
        return []
    start = lines.index(header) + 1
    marker = str(engine.t["checklist_item"]).split("{", 1)[0]
    out = []
    for line in lines[start:]:
        if not line.startswith(marker):
            break
        out.append(line)
    return out


def check_parts(engine: Engine, reply: Reply, expect: dict[str, Any], last: str | None) -> None:
    text = reply.text
    if "points" in expect:
        assert reply.result is not None and reply.result.points == expect["points"]
    if "scope" in expect:
        scope = [line for line in text.splitlines() if line.startswith("初步判断")]
        assert scope and expect["scope"] in scope[0], scope
    if "first" in expect:
        assert expect["first"] in text.splitlines()[0], text
    if "checklist" in expect:
        items = checklist_of(engine, text)
        if not expect["checklist"]:
            assert not items, items
        for wanted in expect["checklist"]:
            assert any(wanted in item for item in items), (wanted, items)
    if "gap" in expect:
        assert re.search(rf"差\s*{expect['gap']}\s*个月", text), text
    for wanted in as_list(expect.get("brief_contains", [])):
        assert wanted in reply.short, reply.short
    if expect.get("details"):
        assert last is not None and reply.text == last


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_answer_parts(engine: Engine, case: dict[str, Any]) -> None:
    from test_conversations import check_expect, check_protocol  # the shared checks

    assistant = Assistant(engine, MemoryStore())
    last: str | None = None
    transcript = []
    for turn in case["turns"]:
        reply = assistant.handle("group", "u", turn["say"])
        transcript.append(f"> {turn['say']}\n{reply.text}\n  brief: {reply.short!r}")
        try:
            check_protocol(reply)
            check_expect(reply, turn["expect"])
            check_parts(engine, reply, turn["expect"], last)
            if reply.result is not None:
                assert_brief(reply)
                last = reply.text
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- transcript ---\n" + "\n".join(transcript)) from exc


# --- the score --------------------------------------------------------------------------------

POINTS = [
    ("professional#20", None, "", 100),
    ("title#intermediate", None, "讲师", 100),
    ("title#senior", None, "高级经济师", 140),
    ("skilled#30", "1", "", 140),
    ("skilled#30", "2", "", 100),
    ("skilled#30", "3", "", 60),
    ("skilled#30", "4", "", 30),
    ("skilled#30", "5", "", 15),
]


@pytest.mark.parametrize(("credential", "level", "surface", "points"), POINTS)
def test_every_points_result_carries_the_score(
    engine: Engine, credential: str, level: str | None, surface: str, points: int
) -> None:
    facts: dict[str, Any] = {"credential": credential, "surface": surface, "purpose": "points",
                             **PASSING}
    if level:
        facts["level"] = level
    decision = decide(engine.kb, facts, engine.dialog.slot_order)
    assert decision.result is not None
    assert (decision.result.verdict, decision.result.points) == ("eligible", points)
    text = engine.writer.answer(decision, facts, []).text
    assert f"{points}分" in text.splitlines()[0]
    facts["purpose"] = "settle"
    settle = decide(engine.kb, facts, engine.dialog.slot_order).result
    assert settle is not None and settle.points is None


def test_a_failed_fact_keeps_the_score_of_the_credential(engine: Engine) -> None:
    facts = {"credential": "professional#20", "surface": "", "purpose": "points",
             "job_match": False, "social_insurance": SI_OK}
    result = decide(engine.kb, facts, engine.dialog.slot_order).result
    assert result is not None
    assert (result.verdict, result.points) == ("not_eligible", 100)


def test_a_lower_tier_still_applies_note_6(engine: Engine) -> None:
    facts = {"credential": "skilled#30", "surface": "", "purpose": "points", "level": "3",
             "job_match": True, "where_obtained": "other_province_while_shanghai"}
    decision = decide(engine.kb, facts, engine.dialog.slot_order)
    result = decision.result
    assert result is not None
    assert (result.verdict, result.reasons, result.points) == (
        "not_eligible", ("non_shanghai_certificate",), 60)
    text = engine.writer.answer(decision, facts, []).text
    assert "注6" in text and "直接" in text and "人社" in text


def test_a_lower_tier_asks_only_notes_1_and_6(engine: Engine) -> None:
    facts: dict[str, Any] = {"credential": "skilled#30", "surface": "", "purpose": "points",
                             "level": "4"}
    asked = []
    for _ in range(6):
        decision = decide(engine.kb, facts, engine.dialog.slot_order)
        if decision.ask is None:
            break
        asked.append(decision.ask)
        facts[decision.ask] = PASSING[decision.ask]
    assert sorted(asked) == ["job_match", "where_obtained"]
    assert decision.result is not None and decision.result.points == 30
    assert LOWER_TIERS_FACT in decision.result.citations


def test_the_facts_the_rules_name_are_in_the_knowledge(kb: Knowledge, engine: Engine) -> None:
    assert {LOWER_TIERS_FACT, INCENTIVE_FACT, "bg#talent", "bg#points-skill-tiers"} <= set(
        kb.facts)
    for lists in engine.t["checklist"].values():
        for items in lists.values():
            assert set(items) <= set(kb.facts), items
            assert set(items) <= set(engine.t["brief_checklist_items"]), items


# --- sub-questions ----------------------------------------------------------------------------

def answer_with(engine: Engine, facts: dict[str, Any], asks: dict[str, int | None]) -> Answer:
    decision = decide(engine.kb, facts, engine.dialog.slot_order)
    assert decision.result is not None
    return engine.writer.answer(decision, facts, [], asks)


@pytest.mark.parametrize(("facts", "asks", "first", "absent"), [
    ({"credential": "professional#1", "purpose": "points"}, {"points": 140}, "不是140分", ""),
    ({"credential": "professional#1", "purpose": "points"}, {"points": 100}, "100分", "不是"),
    ({"credential": "professional#1", "purpose": "settle"}, {"points": None}, "100分", ""),
    ({"credential": "skilled#30", "level": "3", "purpose": "points"}, {"points": 100},
     "60分,不是100分", ""),
    ({"credential": "professional#20", "purpose": "points"}, {"title": None}, "会计师", ""),
    ({"credential": "professional#55", "purpose": "points"}, {"title": None}, "没有列", ""),
    ({"credential": "title#intermediate", "surface": "讲师", "purpose": "points",
      "where_obtained": "shanghai"}, {"title": None}, "中级职称", ""),
    ({"credential": "skilled#30", "level": "2", "purpose": "points",
      "where_obtained": "shanghai"}, {"title": None}, "不对应职称", ""),
    ({"credential": "professional#20", "purpose": "settle"}, {"seven_years": None}, "7年", ""),
    ({"credential": "title#senior", "surface": "高级经济师", "purpose": "settle",
      "where_obtained": "shanghai"}, {"seven_years": None}, "激励条件", ""),
    ({"credential": "professional#20", "purpose": "points"}, {"seven_years": None}, "不是积分",
     ""),
    ({"credential": "professional#8", "purpose": "points"}, {"registration": None}, "注册后",
     ""),
], ids=["points-other", "points-same", "points-for-settle", "points-lower-tier", "title-row",
        "title-none", "title-generic", "title-skill", "seven-years-settle",
        "seven-years-incentive", "seven-years-points", "registration"])
def test_a_sub_question_is_answered_first(
    engine: Engine, facts: dict[str, Any], asks: dict[str, int | None], first: str, absent: str
) -> None:
    facts = {"surface": "", **PASSING, **facts}
    answer = answer_with(engine, facts, asks)
    line = answer.text.splitlines()[0]
    assert first in line, answer.text
    if absent:
        assert absent not in line
    assert first in answer.brief.splitlines()[0] or not answer.brief


def test_sub_questions_are_answered_in_a_fixed_order_and_unknown_kinds_ignored(
    engine: Engine,
) -> None:
    facts = {"credential": "professional#8", "surface": "", "purpose": "points", **PASSING}
    asks: dict[str, int | None] = {"registration": None, "points": 140, "weather": None}
    lines = answer_with(engine, facts, asks).text.splitlines()
    assert "不是140分" in lines[0] and "注册" in lines[1] and lines[2].startswith("初步判断")
    assert SUB_QUESTIONS[0] == "points"


def test_the_lexicon_names_every_kind_of_sub_question(kb: Knowledge) -> None:
    section = kb.lexicon["sub_questions"]
    assert set(section) == set(SUB_QUESTIONS)
    assert all(section[kind] for kind in SUB_QUESTIONS)


# --- the brief and the length, over the whole catalogue ---------------------------------------

def every_answer(engine: Engine) -> list[tuple[str, Answer]]:
    """An answer for every row and title, each purpose, with passing, failing and open facts."""
    kb = engine.kb
    out = []
    credentials: list[tuple[str, str | None]] = [(r, None) for r in kb.rows
                                                 if not r.startswith("skilled#")]
    credentials += [(r, lvl) for r in kb.rows if r.startswith("skilled#") for lvl in "12345"]
    credentials += [("title#intermediate", None), ("title#senior", None)]
    variants = [PASSING, {**PASSING, "job_match": False},
                {k: UNKNOWN for k in PASSING}, {**PASSING, "at_firm": False}]
    for target, level in credentials:
        for purpose in ("points", "settle", "talent"):
            for facts in variants:
                person = {"credential": target, "surface": "工程师", "purpose": purpose,
                          **facts}
                if level:
                    person["level"] = level
                decision = decide(kb, person, engine.dialog.slot_order)
                if decision.result is not None:
                    answer = engine.writer.answer(decision, person, [], {"points": 140})
                    out.append((f"{target}/{level}/{purpose}", answer))
    return out


def test_every_answer_has_a_brief_and_stays_under_600_characters(engine: Engine) -> None:
    answers = every_answer(engine)
    assert len(answers) > 500
    for name, answer in answers:
        assert len(answer.text) <= MAX_TEXT, (name, len(answer.text))
        short = answer.brief or answer.text
        assert len(short) <= 120 and len(short.splitlines()) <= 3, (name, short)
        if answer.brief:
            assert not fits_brief(answer.text)
            assert answer.brief.splitlines()[0] in answer.text


def test_a_settle_answer_never_says_settlement_on_the_credential_alone(engine: Engine) -> None:
    for name, answer in every_answer(engine):
        assert "可以落户" not in answer.text, name
        if "/settle" in name and "证书这一项符合" in answer.text:
            assert "个税" in answer.text and "三者一致" in answer.text, name


def test_a_level_3_is_never_offered_settle(engine: Engine) -> None:
    for name, answer in every_answer(engine):
        if name.startswith("skilled#") and name.split("/")[1] in "345":
            assert "或居转户" not in answer.text, name


def test_the_brief_keeps_whole_lines_within_the_limits() -> None:
    assert make_brief("短答案", ["短答案"]) == ""
    text = "\n".join(["一" * 50, "二" * 50, "三" * 50, "四" * 10])
    brief = make_brief(text, ["一" * 50, "二" * 50, "三" * 50, "四" * 10])
    assert brief == "一" * 50 + "\n" + "二" * 50 + "\n" + "四" * 10
    clipped = make_brief("长" * 300, ["长" * 300])
    assert len(clipped) == 120 and clipped.endswith("…")


def test_a_side_answer_gets_a_brief_too(assistant: Assistant) -> None:
    reply = assistant.handle("group", "u", "临港紧缺目录有哪些工种")
    assert reply.result is not None and reply.has_details
    assert len(reply.short) <= 120 and len(reply.short.splitlines()) <= 3


class InProcessBot:
    """The simulator's bot, answered in process by an assistant (no subprocess per set)."""

    def __init__(self, engine: Engine) -> None:
        self.assistant = Assistant(engine, MemoryStore())
        self.replies: list[Reply] = []

    def send(self, chat: str, user: str, text: str) -> dict[str, Any]:
        reply = self.assistant.handle(chat, user, text)
        self.replies.append(reply)
        return reply.to_json(chat, user)


@pytest.mark.skipif(not SIMULATOR.exists(), reason="../shared/eval/simulate.py is not here")
def test_no_answer_in_any_persona_set_is_longer_than_600_characters(engine: Engine) -> None:
    spec = importlib.util.spec_from_file_location("simulate", SIMULATOR)
    assert spec is not None and spec.loader is not None
    simulate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(simulate)
    bot = InProcessBot(engine)
    for cases in (p for p in PERSONA_SETS if p.exists()):
        simulate.run_cases(load_yaml(cases), bot, cases.stem)
    answers = [r for r in bot.replies if r.result is not None]
    assert len(answers) > 500
    for reply in bot.replies:
        assert len(reply.text) <= MAX_TEXT, reply.text
    for reply in answers:
        assert_brief(reply)
