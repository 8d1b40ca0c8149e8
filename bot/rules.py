"""Where a verdict is decided: the notes of knowledge/notes.yaml applied to a person's facts.

Rules name their checks and predicates; both are a closed set implemented here (data never
holds code). ``decide`` returns either the next fact to ask for or the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.insurance import evaluate_social_insurance
from bot.knowledge import CHECKS, PREDICATES, Knowledge, Row, Rule, normalise_name
from bot.person import UNKNOWN
from bot.protocol import Result

PASS, FAIL, OPEN = "pass", "fail", "open"  # OPEN: the person does not know
# background facts (knowledge/background.yaml) some answers rest on beyond their purpose's own
LOWER_TIERS_FACT = "bg#points-skill-tiers"  # 三级/四级/五级 in 积分 (60/30/15)
INCENTIVE_FACT = "bg#settle-incentive"  # 居转户 激励条件 for senior titles and 高级技师


@dataclass(frozen=True)
class Credential:
    """A person's certificate or title, resolved enough for the rules."""

    id: str
    kind: str  # professional, skilled, title, lingang
    grade: str | None  # qualification, intermediate, senior, skill1 … skill5; None: level open
    engineering_only: bool
    row: Row | None
    surface: str = ""


@dataclass(frozen=True)
class Outcome:
    """One rule checked against the person's fact."""

    rule: Rule
    status: str  # PASS, FAIL, OPEN
    detail: Any = None  # e.g. months found for social insurance


@dataclass(frozen=True)
class Decision:
    """The next question (``ask``) or the answer (``result``), with what it rests on."""

    ask: str | None = None
    ask_rule: Rule | None = None
    result: Result | None = None
    credential: Credential | None = None
    outcomes: tuple[Outcome, ...] = ()
    kind: str = ""  # what the answer is: verdict, near_miss, conflict, lingang, level, talent_info
    options: tuple[str, ...] = ()  # the answers offered for ``ask`` (which of an ambiguous name)


def _is_yes(value: Any, rule: Rule) -> tuple[str | None, Any]:
    return {True: PASS, False: FAIL, UNKNOWN: OPEN}.get(value), None


def _social_insurance(value: Any, rule: Rule) -> tuple[str | None, Any]:
    if value == UNKNOWN:
        return OPEN, None
    if not isinstance(value, Mapping):
        return None, None
    p = rule.params
    ok, found = evaluate_social_insurance(value, int(p["window_months"]), int(p["months"]),
                                          float(p["multiple"]))
    return {True: PASS, False: FAIL, None: OPEN}[ok], found


def _obtained_working_in_shanghai(value: Any, rule: Rule) -> tuple[str | None, Any]:
    table = {"shanghai": PASS, "other_province_while_shanghai": PASS,
             "elsewhere_before": FAIL, "elsewhere": FAIL, UNKNOWN: OPEN}
    return table.get(value), None


def _not_other_province(value: Any, rule: Rule) -> tuple[str | None, Any]:
    table = {"shanghai": PASS, "elsewhere_before": PASS, "elsewhere": OPEN,
             "other_province_while_shanghai": FAIL, UNKNOWN: OPEN}
    return table.get(value), None


CHECK_FUNCTIONS: Mapping[str, Callable[[Any, Rule], tuple[str | None, Any]]] = {
    "is_yes": _is_yes,
    "social_insurance": _social_insurance,
    "obtained_working_in_shanghai": _obtained_working_in_shanghai,
    "not_other_province_while_in_shanghai": _not_other_province,
}
PREDICATE_FUNCTIONS: Mapping[str, Callable[[Credential], bool]] = {
    "engineering_only": lambda credential: credential.engineering_only,
}
assert set(CHECK_FUNCTIONS) == set(CHECKS) and set(PREDICATE_FUNCTIONS) == set(PREDICATES)


def resolve_credential(kb: Knowledge, target: str, level: str | None,
                       surface: str = "") -> Credential:
    """The credential a (resolved) match target stands for."""
    if target.startswith("title#"):
        title = kb.titles[target]
        names = {normalise_name(n) for n in title.engineering}
        return Credential(target, "title", title.grade, normalise_name(surface) in names,
                          None, surface)
    row = kb.rows[target]
    if row.catalogue == "professional":
        series = set(kb.titles["title#intermediate"].engineering)
        engineering = bool(row.titles) and all(t in series for t in row.titles)
        return Credential(row.id, "professional", "qualification", engineering, row, surface)
    if row.catalogue == "skilled":
        return Credential(row.id, "skilled", f"skill{level}" if level else None, False, row,
                          surface)
    return Credential(row.id, "lingang", None, False, row, surface)


def applicable_rules(kb: Knowledge, credential: Credential, purpose: str) -> list[Rule]:
    """The note rules that apply to this credential for this purpose, in notes order."""
    out = []
    for rule in kb.rules():
        if purpose not in rule.purposes:
            continue
        if rule.kinds is not None and credential.kind not in rule.kinds:
            continue
        if rule.grades is not None and credential.grade not in rule.grades:
            continue
        if rule.rows is not None and credential.id not in rule.rows:
            continue
        if not all(PREDICATE_FUNCTIONS[name](credential) for name in rule.when):
            continue
        out.append(rule)
    return out


def check(rule: Rule, facts: Mapping[str, Any]) -> Outcome | None:
    """The outcome of one rule, or None when its fact is not known yet."""
    if rule.slot not in facts:
        return None
    status, detail = CHECK_FUNCTIONS[rule.check](facts[rule.slot], rule)
    return Outcome(rule, status, detail) if status else None


def decide(kb: Knowledge, facts: Mapping[str, Any], slot_order: tuple[str, ...]) -> Decision:
    """The next fact to ask for, or the result, for the facts known so far.

    ``facts`` holds ``credential`` (a match target), ``level``, ``purpose`` and the note slots.
    Failed facts decide at once; the next question is the first missing slot in
    ``slot_order``; facts the person did not know make the answer conditional.
    """
    target = facts.get("credential")
    if target is None:
        return Decision(ask="credential")
    if target.startswith("ambiguous:"):
        return ask_which(kb, target)
    purpose = facts.get("purpose")
    nothing = 0 if purpose == "points" else None  # a name outside the catalogues earns nothing
    if target.startswith("near:"):
        near = kb.near_misses[int(target[5:])]
        if near.kind == "junior" and purpose:  # 初级 titles count for nothing (DOMAIN.md 3)
            return Decision(result=Result("not_eligible", purpose, None, ("level_not_accepted",),
                                          near.nearest, points=nothing), kind="near_miss")
        return Decision(result=Result("not_listed", purpose, None, ("not_listed",),
                                      near.nearest, points=nothing), kind="near_miss")
    if target.startswith("conflict:"):
        row_id = target.split(":", 1)[1]
        return Decision(result=Result("not_listed", purpose, None, ("not_listed",),
                                      (row_id,), points=nothing), kind="conflict")
    if target.startswith("unleveled:"):
        return Decision(ask="level")
    credential = resolve_credential(kb, target, facts.get("level"), facts.get("surface", ""))
    if credential.kind == "lingang":
        return Decision(result=Result("info", facts.get("purpose"), credential.id, (),
                                      (credential.id,)), credential=credential, kind="lingang")
    if credential.grade is None:
        return Decision(ask="level", credential=credential)
    if purpose is None:
        return Decision(ask="purpose", credential=credential)
    return _verdict(kb, credential, purpose, facts, slot_order)


def ask_which(kb: Knowledge, target: str) -> Decision:
    """A name that fits several certificates (评估师): ask which one, offering the candidates'
    labels (knowledge/aliases.yaml ``ambiguous:``); never guess. Kind ``ambiguous``."""
    entry = kb.ambiguous.get(target.split(":", 1)[1])
    return Decision(ask="credential", kind="ambiguous", options=entry.labels if entry else ())


def _verdict(kb: Knowledge, credential: Credential, purpose: str, facts: Mapping[str, Any],
             slot_order: tuple[str, ...]) -> Decision:
    spec = kb.purposes[purpose]
    rows = (credential.id,) if credential.row else ()
    points = points_for(kb, credential, purpose)
    if credential.grade not in spec.accepts and not lower_tier(kb, credential, purpose):
        if purpose == "talent":
            return Decision(result=Result("info", purpose, credential.id, (),
                                          (*rows, *spec.background)),
                            credential=credential, kind="talent_info")
        return Decision(result=Result("not_eligible", purpose, credential.id,
                                      ("level_not_accepted",), (*rows, spec.level_rule),
                                      points=points),
                        credential=credential, kind="level")
    rules = applicable_rules(kb, credential, purpose)
    outcomes = [o for o in (check(rule, facts) for rule in rules) if o is not None]
    # 人才引进 rests on note 5 (senior titles and 高级技师 obtained anywhere) besides its checks
    basis = (spec.level_rule,) if purpose == "talent" or lower_tier(kb, credential,
                                                                    purpose) else ()
    cites = tuple(dict.fromkeys((*rows, *(rule.note for rule in rules), *basis)))
    failed = [o for o in outcomes if o.status == FAIL]
    if failed:
        reasons = tuple(dict.fromkeys(o.rule.reason for o in failed))
        return Decision(result=Result("not_eligible", purpose, credential.id, reasons, cites,
                                      points=points),
                        credential=credential, outcomes=tuple(outcomes), kind="verdict")
    known = {o.rule.slot for o in outcomes}
    missing = [rule for rule in rules if rule.slot not in known]
    if missing:
        first = min(missing, key=lambda r: slot_order.index(r.slot))
        return Decision(ask=first.slot, ask_rule=first, credential=credential,
                        outcomes=tuple(outcomes))
    unknown = tuple(dict.fromkeys(o.rule.slot for o in outcomes if o.status == OPEN))
    verdict = "conditional" if unknown else "eligible"
    background = (*spec.background, *extra_background(kb, credential, purpose))
    return Decision(result=Result(verdict, purpose, credential.id, (),
                                  tuple(dict.fromkeys((*cites, *background))), unknown,
                                  points=points),
                    credential=credential, outcomes=tuple(outcomes), kind="verdict")


def points_for(kb: Knowledge, credential: Credential, purpose: str) -> int | None:
    """The 积分 score the credential earns (140/100/60/30/15/0) for ``points``, else None.

    The score of the credential's tier, whether or not the person's facts meet its notes (the
    verdict says that); None when the grade is not known.
    """
    if purpose != "points" or credential.grade is None:
        return None
    return kb.points_by_grade.get(credential.grade, 0)


def lower_tier(kb: Knowledge, credential: Credential, purpose: str) -> bool:
    """A 三级/四级/五级 certificate for ``points``: the seed's note 3 names 一/二级 only, the
    lower tiers of the 积分 scale (60/30/15) are background (DOMAIN.md section 3)."""
    return (purpose == "points" and credential.kind == "skilled"
            and credential.grade not in kb.purposes[purpose].accepts
            and kb.points_by_grade.get(credential.grade or "", 0) > 0)


def extra_background(kb: Knowledge, credential: Credential, purpose: str) -> tuple[str, ...]:
    """Background facts an eligible or conditional answer rests on beyond the purpose's own:
    the lower 积分 tiers, the 居转户 incentive for senior titles and 高级技师."""
    if lower_tier(kb, credential, purpose):
        return (LOWER_TIERS_FACT,)
    if purpose == "settle" and credential.grade in ("senior", "skill1"):
        return (INCENTIVE_FACT,)
    return ()
