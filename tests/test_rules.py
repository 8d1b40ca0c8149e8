"""Where a verdict is decided: the seed's six notes as rules (bot/rules.py ``decide``)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dialog import Dialog
from bot.insurance import ALL_MONTHS
from bot.knowledge import Knowledge
from bot.person import UNKNOWN
from bot.rules import decide

SI_OK = {"segments": [[ALL_MONTHS, 2.0]], "window": None, "answer": None}
SI_5_MONTHS = {"segments": [[5, 1.0]], "window": None, "answer": None}
SI_35_MONTHS = {"segments": [[35, 1.3]], "window": None, "answer": None}
SI_1_29 = {"segments": [[ALL_MONTHS, 1.29]], "window": None, "answer": None}
# the answer that passes each slot's rule
PASSING: dict[str, Any] = {"social_insurance": SI_OK, "job_match": True, "stem_degree": True,
                           "where_obtained": "shanghai", "at_firm": True}
OK = {"social_insurance": SI_OK, "job_match": True}


def person(credential: str, purpose: str | None = None, level: str | None = None,
           surface: str = "", **facts: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"credential": credential, "surface": surface, **facts}
    if purpose:
        out["purpose"] = purpose
    if level:
        out["level"] = level
    return out


# (id, facts, verdict, reasons, citations that must be there, unknown)
NOTES = [
    # note 1: the certificate must match the post, for every purpose
    ("n1-qualification-settle", person("professional#20", "settle", social_insurance=SI_OK,
                                       job_match=False),
     "not_eligible", ("job_mismatch",), ("professional#20", "note#1"), ()),
    ("n1-skill-points", person("skilled#30", "points", "2", social_insurance=SI_OK,
                               where_obtained="shanghai", job_match=False),
     "not_eligible", ("job_mismatch",), ("skilled#30", "note#1"), ()),
    ("n1-title-talent", person("title#senior", "talent", surface="高级经济师", job_match=False),
     "not_eligible", ("job_mismatch",), ("note#1",), ()),
    # note 2: the 工程 series needs a 理工类 degree; rows that also give 经济师 do not
    ("n2-engineering-row", person("professional#12", "settle", stem_degree=False, **OK),
     "not_eligible", ("degree_mismatch",), ("professional#12", "note#2"), ()),
    ("n2-engineering-title", person("title#intermediate", "points", surface="工程师",
                                    stem_degree=False, where_obtained="shanghai", **OK),
     "not_eligible", ("degree_mismatch",), ("note#2",), ()),
    ("n2-row-6-economist", person("professional#6", "settle", stem_degree=False, **OK),
     "eligible", (), ("professional#6",), ()),
    ("n2-row-8-economist", person("professional#8", "points", stem_degree=False, **OK),
     "eligible", (), ("professional#8",), ()),
    ("n2-row-52-economist-or-accountant", person("professional#52", "settle",
                                                  stem_degree=False, **OK),
     "eligible", (), ("professional#52",), ()),
    # note 3: social insurance, per purpose
    ("n3-points-5-months", person("professional#20", "points", social_insurance=SI_5_MONTHS,
                                  job_match=True),
     "not_eligible", ("social_insurance_short",), ("note#3",), ()),
    ("n3-settle-35-months", person("professional#20", "settle", social_insurance=SI_35_MONTHS,
                                   job_match=True),
     "not_eligible", ("social_insurance_short",), ("note#3",), ()),
    ("n3-settle-1.29", person("skilled#30", "settle", "2", social_insurance=SI_1_29,
                              job_match=True, where_obtained="shanghai"),
     "not_eligible", ("social_insurance_short",), ("note#3",), ()),
    ("n3-points-senior", person("title#senior", "points", surface="高级经济师",
                                social_insurance=SI_5_MONTHS, job_match=True,
                                where_obtained="shanghai"),
     "not_eligible", ("social_insurance_short",), ("note#3",), ()),
    # note 4: 注册会计师 / 律师 only at their firm, and only for settle
    ("n4-cpa-settle", person("professional#55", "settle", at_firm=False, **OK),
     "not_eligible", ("not_at_firm",), ("professional#55", "note#4"), ()),
    ("n4-lawyer-settle", person("professional#56", "settle", at_firm=False, **OK),
     "not_eligible", ("not_at_firm",), ("professional#56", "note#4"), ()),
    ("n4-cpa-points", person("professional#55", "points", at_firm=False, **OK),
     "eligible", (), ("professional#55",), ()),
    ("n4-other-row-settle", person("professional#20", "settle", at_firm=False, **OK),
     "eligible", (), ("professional#20",), ()),
    # note 5: senior title or 高级技师 for settle must be obtained while working in Shanghai
    ("n5-senior-title", person("title#senior", "settle", surface="高级经济师", job_match=True,
                               where_obtained="elsewhere_before"),
     "not_eligible", ("obtained_outside_shanghai",), ("note#5",), ()),
    ("n5-skill-level-1", person("skilled#31", "settle", "1", job_match=True,
                                where_obtained="elsewhere_before"),
     "not_eligible", ("obtained_outside_shanghai",), ("skilled#31", "note#5"), ()),
    ("n5-senior-title-points", person("title#senior", "points", surface="高级经济师",
                                      where_obtained="elsewhere_before", **OK),
     "eligible", (), (), ()),
    ("n5-intermediate-title-from-before", person("title#intermediate", "settle",
                                                 surface="讲师",
                                                 where_obtained="elsewhere_before", **OK),
     "eligible", (), (), ()),
    # note 6: another province's certificate obtained while working in Shanghai
    ("n6-skill-points", person("skilled#30", "points", "2",
                               where_obtained="other_province_while_shanghai", **OK),
     "not_eligible", ("non_shanghai_certificate",), ("note#6",), ()),
    ("n6-title-settle", person("title#intermediate", "settle", surface="讲师",
                               where_obtained="other_province_while_shanghai", **OK),
     "not_eligible", ("non_shanghai_certificate",), ("note#6",), ()),
    ("n6-national-exam", person("professional#20", "settle",
                                where_obtained="other_province_while_shanghai", **OK),
     "eligible", (), ("professional#20",), ()),
    # levels: 三级 and below do not take 居转户; for 积分 they earn the lower tiers (60/30/15),
    # with notes 1 and 6 (DOMAIN.md 3: 「answer `eligible` with those points, apply note 1 (and
    # note 6 where it applies)」)
    ("level-3-settle", person("skilled#30", "settle", "3"),
     "not_eligible", ("level_not_accepted",), ("skilled#30", "note#3"), ()),
    ("level-3-points", person("skilled#30", "points", "3", job_match=True,
                              where_obtained="shanghai"),
     "eligible", (), ("skilled#30", "note#1", "note#6"), ()),
    ("level-5-points", person("skilled#61", "points", "5", job_match=True,
                              where_obtained="shanghai"),
     "eligible", (), ("skilled#61",), ()),
    # a fact the person does not know: conditional, naming it
    ("unknown-si", person("professional#20", "settle", social_insurance=UNKNOWN,
                          job_match=True),
     "conditional", (), ("note#3",), ("social_insurance",)),
    ("unknown-where", person("skilled#30", "settle", "2", where_obtained=UNKNOWN, **OK),
     "conditional", (), ("note#6",), ("where_obtained",)),
    ("unknown-two", person("professional#12", "points", stem_degree=UNKNOWN,
                           social_insurance=SI_OK, job_match=UNKNOWN),
     "conditional", (), ("note#1", "note#2"), ("job_match", "stem_degree")),
    ("failure-beats-unknown", person("professional#20", "settle", social_insurance=UNKNOWN,
                                     job_match=False),
     "not_eligible", ("job_mismatch",), (), ()),
    # not listed
    ("near-miss", person("near:0", "settle"),
     "not_listed", ("not_listed",), ("professional#8",), ()),
    ("level-conflict", person("conflict:professional#8", "settle", "二级"),
     "not_listed", ("not_listed",), ("professional#8",), ()),
]


@pytest.mark.parametrize(("facts", "verdict", "reasons", "cites", "unknown"),
                         [pytest.param(*case[1:], id=case[0]) for case in NOTES])
def test_notes_as_rules(
    kb: Knowledge, dialog: Dialog, facts: dict[str, Any], verdict: str,
    reasons: tuple[str, ...], cites: tuple[str, ...], unknown: tuple[str, ...],
) -> None:
    decision = decide(kb, facts, dialog.slot_order)
    assert decision.ask is None, f"asks {decision.ask}"
    result = decision.result
    assert result is not None
    assert result.verdict == verdict
    assert tuple(sorted(result.reasons)) == tuple(sorted(reasons))
    assert set(cites) <= set(result.citations), result.citations
    assert tuple(sorted(result.unknown)) == tuple(sorted(unknown))
    assert result.purpose == facts.get("purpose")
    if not facts["credential"].startswith(("near:", "conflict:")):
        assert result.credential == facts["credential"]
    else:
        assert result.credential is None


# (credential, level, surface, purpose) → the facts the rules need for this person, no more
NEEDS = [
    ("professional#20", None, "", "settle", {"social_insurance", "job_match"}),
    ("professional#20", None, "", "points", {"social_insurance", "job_match"}),
    ("professional#12", None, "", "settle", {"social_insurance", "job_match", "stem_degree"}),
    ("professional#6", None, "", "settle", {"social_insurance", "job_match"}),
    ("professional#55", None, "", "settle", {"at_firm", "social_insurance", "job_match"}),
    ("professional#55", None, "", "points", {"social_insurance", "job_match"}),
    ("title#senior", None, "高级经济师", "settle", {"where_obtained", "job_match"}),
    ("title#senior", None, "高级工程师", "settle",
     {"where_obtained", "job_match", "stem_degree"}),
    ("title#senior", None, "高级经济师", "points",
     {"where_obtained", "social_insurance", "job_match"}),
    ("title#intermediate", None, "工程师", "settle",
     {"where_obtained", "social_insurance", "job_match", "stem_degree"}),
    ("skilled#30", "2", "", "settle", {"where_obtained", "social_insurance", "job_match"}),
    ("skilled#30", "1", "", "settle", {"where_obtained", "job_match"}),
    ("skilled#30", "1", "", "points", {"where_obtained", "social_insurance", "job_match"}),
]


@pytest.mark.parametrize(("credential", "level", "surface", "purpose", "needed"), NEEDS)
def test_only_the_facts_a_rule_needs_are_asked_and_each_once(
    kb: Knowledge, dialog: Dialog, credential: str, level: str | None, surface: str,
    purpose: str, needed: set[str],
) -> None:
    facts = person(credential, purpose, level, surface)
    asked: list[str] = []
    for _ in range(10):
        decision = decide(kb, facts, dialog.slot_order)
        if decision.ask is None:
            break
        asked.append(decision.ask)
        facts[decision.ask] = PASSING[decision.ask]
    assert decision.result is not None
    assert decision.result.verdict == "eligible"
    assert sorted(asked) == sorted(needed)


@pytest.mark.parametrize(
    ("facts", "ask"),
    [
        ({}, "credential"),
        (person("unleveled:professional#8"), "level"),
        (person("skilled#30", "settle"), "level"),
        (person("professional#20"), "purpose"),
    ],
    ids=["nothing", "unleveled-name", "skill-without-level", "no-purpose"],
)
def test_what_is_asked_before_the_notes(
    kb: Knowledge, dialog: Dialog, facts: dict[str, Any], ask: str
) -> None:
    assert decide(kb, facts, dialog.slot_order).ask == ask


def test_a_lingang_occupation_is_information_without_an_invented_benefit(
    kb: Knowledge, dialog: Dialog
) -> None:
    result = decide(kb, person("lingang#3", "settle"), dialog.slot_order).result
    assert result is not None
    assert (result.verdict, result.credential, result.reasons) == ("info", "lingang#3", ())


def test_talent_with_a_mid_level_certificate_is_information(
    kb: Knowledge, dialog: Dialog
) -> None:
    result = decide(kb, person("skilled#30", "talent", "2"), dialog.slot_order).result
    assert result is not None and result.verdict == "info"
