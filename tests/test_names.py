"""Every name people type finds its row, its question or its correction (tests/data/names.yaml).

Names are tried through the Matcher the bot uses, alone (the answer to 「你有哪个证书?」, fuzzy
matching on) and inside a question (「…能积分吗」); the issue's conversations go through
``Assistant.handle``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.assistant import Assistant
from bot.engine import Engine
from bot.knowledge import Knowledge, load_knowledge, normalise_name
from bot.matching import Match
from bot.text import normalise
from bot.yamlsafe import load_yaml

DATA = load_yaml(Path(__file__).resolve().parent / "data" / "names.yaml")
NAMES: list[dict[str, Any]] = DATA["names"]
REPLIES: list[dict[str, Any]] = DATA["replies"]
_KB = load_knowledge()  # parametrisation needs the data at collection time
# what a plain answer to each question is (the conversations go on until a result)
PLAIN_ANSWERS = {
    "purpose": "积分", "social_insurance": "一直1.5倍", "job_match": "对口",
    "stem_degree": "理工类", "where_obtained": "在上海工作期间在上海取得", "at_firm": "在事务所",
}


def find(engine: Engine, text: str, fuzzy: bool) -> Match | None:
    """The certificate the Matcher finds in ``text`` (``fuzzy``: typos allowed)."""
    matcher = engine.nlu.matcher
    said = normalise(text)
    return matcher.find(said, fuzzy_text=said if fuzzy else None)


def near_index(kb: Knowledge, name: str) -> str:
    for i, near in enumerate(kb.near_misses):
        if normalise_name(name) in {normalise_name(n) for n in near.names}:
            return f"near:{i}"
    raise AssertionError(f"{name} is no near miss's name")


def expected_target(kb: Knowledge, expect: str) -> str | None:
    if expect == "none":
        return None
    if expect.startswith("near:"):
        return near_index(kb, expect[5:])
    return expect


# --- the table itself --------------------------------------------------------------------------


def test_the_table_is_large_and_lists_each_name_once() -> None:
    assert len(NAMES) >= 400
    names = [normalise_name(item["name"]) for item in NAMES]
    assert len(set(names)) == len(names), "a name listed twice"
    assert all(set(item) <= {"name", "expect", "level", "options"} for item in NAMES)


def test_every_alias_near_miss_ambiguous_name_title_and_job_word_is_in_the_table(
    kb: Knowledge,
) -> None:
    listed = {normalise_name(item["name"]) for item in NAMES}
    data = [n for names in (*kb.aliases.values(), *kb.unleveled.values()) for n in names]
    data += [n for entry in kb.ambiguous.values() for n in entry.names]
    data += [n for near in kb.near_misses for n in near.names]
    data += [n for title in kb.titles.values() for n in (*title.engineering, *title.other)]
    data += list(kb.job_words)
    missing = [n for n in data if normalise_name(n) not in listed]
    assert missing == [], "names in knowledge/ without a row in tests/data/names.yaml"


# every name of issue 10's "Wrong today" and "Names to add" lists
ISSUE_10 = [
    "评估师", "注册评估师", "房地产评估师", "房产评估师", "土地评估师", "土地估价师",
    "二手车鉴定评估师", "旧机动车鉴定评估师", "珠宝评估师", "翻译专业资格二级", "翻译证二级",
    "中级护士", "护师中级", "中级医师", "中级药师", "中级检验技师", "主管检验师",
    "机动车检测维修专业技术人员", "机动车检测维修士", "实习律师证", "律师助理", "网工",
    "信管师", "安评师", "系分", "a证", "翻译", "我是做翻译的", "记者", "责任编辑",
    "数据库工程师", "主任编辑", "小学高级教师", "高级教练", "信管", "软考网工", "软设", "网规",
    "系规", "系统集成", "数据库系统工程师", "嵌入式系统设计师", "软评", "高项证", "中级银行",
    "环评", "设备监理", "注册监理", "监理", "监理证", "电焊", "电焊工", "氩弧焊", "二保焊",
    "汽修", "汽车修理工", "电梯技师", "加工中心操作工", "线切割工", "工业机器人操作员",
    "保险公估师", "拍卖师", "药剂师", "会计证", "一级播音员", "主任播音员", "一级实习指导教师",
    "高级实习指导教师", "一级校对", "教练", "一级教练", "三级律师", "二级律师", "一级律师",
]


def test_every_name_of_issue_10_is_in_the_table() -> None:
    listed = {normalise_name(item["name"]) for item in NAMES}
    assert [n for n in ISSUE_10 if normalise_name(n) not in listed] == []


# --- name → row, question or correction ---------------------------------------------------------


@pytest.mark.parametrize("item", NAMES, ids=[item["name"] for item in NAMES])
def test_a_name_finds_what_it_means(engine: Engine, kb: Knowledge, item: dict[str, Any]) -> None:
    target = expected_target(kb, str(item["expect"]))
    for text, fuzzy in ((item["name"], True), (f"{item['name']}能积分吗", False)):
        match = find(engine, text, fuzzy)
        if target is None:
            assert match is None or match.target.startswith("near:"), (text, match)
            continue
        assert match is not None, f"{text}: nothing matched"
        assert match.target == target, (text, match)
        if "level" in item:
            assert match.level == str(item["level"]), (text, match)
        if "options" in item:
            assert [label for label, _ in match.candidates] == item["options"], (text, match)


@pytest.mark.parametrize("key", sorted(_KB.ambiguous))
def test_each_candidate_of_an_ambiguous_name_resolves_to_its_target(
    engine: Engine, kb: Knowledge, key: str
) -> None:
    for label, target in kb.ambiguous[key].candidates:
        match = find(engine, label, fuzzy=False)
        assert match is not None, label
        if target == "near":
            assert match.target.startswith("near:"), (label, match)
        else:
            assert match.target == target, (label, match)


def test_an_ambiguous_name_is_asked_by_the_rules_never_guessed(engine: Engine) -> None:
    from bot.rules import decide

    match = find(engine, "评估师能积分吗", fuzzy=False)
    assert match is not None
    facts = {"credential": match.target, "surface": match.surface, "purpose": "points"}
    decision = decide(engine.kb, facts, engine.dialog.slot_order)
    assert decision.ask == "credential" and decision.result is None
    assert decision.options == ("房地产估价师", "资产评估师", "矿业权评估师")


@pytest.mark.parametrize("text", ["二级建造师", "二建能落户吗", "建造师二级", "二级建照师",
                                  "二级注册建造师证书"])
def test_the_level_guard_stays_strict(engine: Engine, text: str) -> None:
    for fuzzy in (True, False):
        match = find(engine, text, fuzzy)
        assert match is None or match.target != "professional#8", (text, match)


# --- conversations ------------------------------------------------------------------------------


def converse(assistant: Assistant, says: list[str]) -> tuple[Any, list[str]]:
    """Send ``says``: the last reply, and the text of every reply."""
    texts = []
    reply = None
    for text in says:
        reply = assistant.handle("names", "u1", text)
        texts.append(reply.text)
    assert reply is not None
    return reply, texts


def finish(assistant: Assistant, reply: Any, texts: list[str]) -> Any:
    """Answer each further question plainly until a result (at most 6 more messages)."""
    for _ in range(6):
        if reply.result is not None or reply.asking not in PLAIN_ANSWERS:
            break
        reply = assistant.handle("names", "u1", PLAIN_ANSWERS[reply.asking])
        texts.append(reply.text)
    return reply


def _reply_params() -> list[Any]:
    params = []
    for item in REPLIES:
        marks = [pytest.mark.xfail(reason=item["pending"], strict=False)] \
            if item.get("pending") else []
        params.append(pytest.param(item, marks=marks, id=" → ".join(item["says"])))
    return params


@pytest.mark.parametrize("item", _reply_params())
def test_a_conversation_comes_to_its_row_question_or_correction(
    assistant: Assistant, item: dict[str, Any]
) -> None:
    reply, texts = converse(assistant, list(item["says"]))
    if "asks" in item:
        assert reply.asking == item["asks"], reply.text
    if "options" in item:
        assert list(reply.options[: len(item["options"])]) == item["options"], reply.options
    if "credential" in item or "verdict" in item or "cites" in item:
        reply = finish(assistant, reply, texts)
        assert reply.result is not None, texts
        if "credential" in item:
            assert reply.result.credential == item["credential"], texts
        if "verdict" in item:
            assert reply.result.verdict == item["verdict"], texts
        if "cites" in item:
            assert item["cites"] in reply.result.citations, texts
    for word in item.get("not_in_text", []):
        assert all(word not in text for text in texts), texts
