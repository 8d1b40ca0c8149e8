"""Where a certificate name is matched: phrasings, level traps, typos, scripts and noise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine
from bot.matching import Match
from bot.understand import Context
from bot.yamlsafe import load_yaml

PHRASINGS = load_yaml(Path(__file__).resolve().parent / "data" / "phrasings.yaml")


def match_of(engine: Engine, text: str, asking: str | None = None) -> Match | None:
    return engine.nlu.understand(text, Context(asking=asking)).match


def test_the_phrasings_file_is_well_formed() -> None:
    assert len(PHRASINGS) >= 200
    texts = [item["text"] for item in PHRASINGS]
    assert len(set(texts)) == len(texts), "a phrasing listed twice"
    assert all(set(item) == {"text", "expect"} for item in PHRASINGS)


@pytest.mark.parametrize("item", PHRASINGS, ids=[item["text"] for item in PHRASINGS])
def test_phrasing_matches_its_target(engine: Engine, item: dict[str, str]) -> None:
    match = match_of(engine, item["text"])
    assert match is not None, "nothing matched"
    if item["expect"] == "near":
        assert match.target.startswith("near:"), match
    else:
        assert match.target == item["expect"], match


# (id, text, slot being asked, expected target or None, expected level, target it must not be)
TRAPS: list[tuple[str, str, str | None, str | None, str | None, str | None]] = [
    # levels the catalogue does not list
    ("二级建造师", "二级建造师", None, "near", None, "professional#8"),
    ("二建", "二建能落户吗", None, "near", None, "professional#8"),
    ("建造师二级", "建造师二级可以积分吗", None, "near", None, "professional#8"),
    ("二级注册建造师", "我有二级注册建造师证书", None, "near", None, "professional#8"),
    ("二级建造师-answer", "二级建造师", "credential", "near", None, "professional#8"),
    ("初级会计", "初级会计能积分吗", None, "near", None, "professional#20"),
    ("初级会计师", "初级会计师", "credential", "near", None, "professional#20"),
    ("初级造价工程师", "初级造价工程师", "credential", None, None, "professional#6"),
    ("中级造价工程师", "中级造价工程师能积分吗", None, None, None, "professional#6"),
    # skill levels: 高级 alone is 三级 (高级工), not 高级技师
    ("高级焊工", "高级焊工能落户吗", None, "skilled#30", "3", None),
    ("电工高级技师", "电工高级技师能落户吗", None, "skilled#31", "1", None),
    ("焊工技师", "焊工技师能积分吗", None, "skilled#30", "2", None),
    ("三级焊工", "三级焊工", "credential", "skilled#30", "3", None),
    ("焊工一级", "焊工一级可以落户吗", None, "skilled#30", "1", None),
    ("焊工-level-open", "焊工能积分吗", None, "skilled#30", None, None),
    ("CATTI二级", "CATTI二级能落户吗", None, "professional#33", None, None),
    # senior forms of a 中级 row are senior titles
    ("高级会计师", "高级会计师能落户吗", None, "title#senior", None, "professional#20"),
    ("高级工程师", "高级工程师", "credential", "title#senior", None, None),
    # typos: one wrong character, but never across a stated level
    ("中级会记-question", "中级会记能落户吗", None, "professional#20", None, None),
    ("中级会记-answer", "中级会记", "credential", "professional#20", None, None),
    ("一级建照师", "一级建照师能积分吗", None, "professional#8", None, None),
    ("注册安全工成师-question", "注册安全工成师能积分吗", None, "professional#12", None, None),
    ("注册安全工成师-answer", "注册安全工成师", "credential", "professional#12", None, None),
    ("二级建照师-question", "二级建照师能落户吗", None, "near", None, "professional#8"),
    ("二级建照师-answer", "二级建照师", "credential", None, None, "professional#8"),
    ("二级消仿工程师", "二级消仿工程师能落户吗", None, "near", None, "title#intermediate"),
    ("注册消仿工程师", "注册消仿工程师能积分吗", None, "unleveled:professional#1", None,
     "title#intermediate"),
    ("注册会计帅", "注册会计帅能落户吗", None, "professional#55", None,
     "unleveled:professional#20"),
    # traditional characters and full-width forms
    ("中級會計師", "中級會計師能落戶嗎", None, "professional#20", None, None),
    ("二級建造師", "二級建造師", "credential", "near", None, "professional#8"),
    ("full-width", "ＣＡＴＴＩ二級", "credential", "professional#33", None, None),
]


@pytest.mark.parametrize(("text", "asking", "target", "level", "never"),
                         [pytest.param(*case[1:], id=case[0]) for case in TRAPS])
def test_levels_typos_and_scripts(
    engine: Engine, text: str, asking: str | None, target: str | None, level: str | None,
    never: str | None,
) -> None:
    match = match_of(engine, text, asking)
    if never is not None:
        assert match is None or match.target != never, match
    if target == "near":
        assert match is not None and match.target.startswith("near:"), match
    elif target is not None:
        assert match is not None and match.target == target, match
    if level is not None or (target and target.startswith("skilled#")):
        assert match is not None and match.level == level, match


@pytest.mark.parametrize(
    ("text", "cites"),
    [
        ("二级建造师能落户吗", "professional#8"),
        ("二建可以积分吗", "professional#8"),
        ("二级消防工程师能落户吗", "professional#1"),
        ("二级造价工程师可以积分吗", "professional#6"),
        ("初级注安能落户吗", "professional#12"),
        ("初级造价工程师能落户吗", "professional#6"),
        ("三级注册消防工程师能积分吗", "professional#1"),
    ],
)
def test_an_unlisted_level_is_answered_not_listed_with_the_nearest_row(
    engine: Engine, text: str, cites: str
) -> None:
    _, reply = engine.step(None, text)
    assert reply.result is not None, reply.text
    assert reply.result.verdict == "not_listed"
    assert reply.result.credential is None
    assert reply.result.reasons == ("not_listed",)
    assert cites in reply.result.citations


@pytest.mark.parametrize("text", ["初级会计能积分吗", "助理工程师能落户吗", "护师能积分吗"])
def test_a_junior_title_counts_for_nothing(engine: Engine, text: str) -> None:
    _, reply = engine.step(None, text)
    assert reply.result is not None, reply.text
    result = reply.result
    assert (result.verdict, result.reasons) == ("not_eligible", ("level_not_accepted",))
    assert reply.result.credential is None


UNLISTED = ["教师资格证", "护士执业证", "低压电工证", "CFA", "ACCA", "PMP", "执业医师资格",
            "注册验船师C级", "社会工作者(初级)", "二级建筑师"]


@pytest.mark.parametrize("text", UNLISTED)
def test_licences_and_unlisted_levels_are_near_misses(engine: Engine, text: str) -> None:
    match = match_of(engine, f"{text}能积分吗")
    assert match is not None and match.target.startswith("near:"), match


NOISY = [
    "@小王 @李四\u2005大家好👋👋 <p>想问一下</p> > 引用:我有 **中级会计** 证书 [详情](https://a.b/c?x=1)"
    " 🙏🙏 能落户吗??",
    "<b>请问</b>\u200b\u200b`中级会计`\n\n能不能落户呀~~~谢谢🙏 #求助# https://example.com/x",
    "【求助】HR群里问一下&nbsp;:中级会计能落户吗😭😭😭" + "哈" * 300,
]


@pytest.mark.parametrize("text", NOISY, ids=["mentions-markdown", "html-zero-width", "long-tail"])
def test_a_name_inside_a_noisy_message(engine: Engine, text: str) -> None:
    u = engine.nlu.understand(text)
    assert u.match is not None and u.match.target == "professional#20", u.match
    assert u.purpose == "settle"


def test_a_url_or_mention_is_not_read_as_a_certificate(engine: Engine) -> None:
    assert match_of(engine, "看看 https://example.com/一级建造师 这个链接") is None
    assert match_of(engine, "@一级建造师 你好") is None


def test_the_matcher_reports_where_it_found_the_name(engine: Engine) -> None:
    exact: Any = match_of(engine, "我有一建")
    assert exact is not None and (exact.surface, exact.fuzzy) == ("一建", False)
    fuzzy: Any = match_of(engine, "一级建照师能积分吗")
    assert fuzzy is not None and fuzzy.fuzzy is True
