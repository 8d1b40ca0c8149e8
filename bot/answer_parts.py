"""The parts a verdict answer is made of, each worded from dialogs/replies.yaml.

``Writer.answer`` (bot/replies.py) decides which parts an answer has and in what order; the
functions here only word one part each, from a decision and the person's facts. Every part is a
list of lines (empty when it has nothing to say).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.insurance import ALL_MONTHS, BELOW_AVERAGE, MINIMUM, split_multiple
from bot.knowledge import Knowledge, Row, Rule
from bot.person import UNKNOWN
from bot.rules import (
    FAIL,
    LOWER_TIERS_FACT,
    OPEN,
    PASS,
    Credential,
    Decision,
    Outcome,
    lower_tier,
)

MARK = {PASS: "✓", FAIL: "✗", OPEN: "?"}
BRIEF_LINES, BRIEF_CHARS = 3, 120


@dataclass(frozen=True)
class Answer:
    """A worded answer: ``text`` the whole of it (private chats, the terminal, 「详细」) and
    ``brief`` its short form for group chats (at most 3 lines and 120 characters; empty when
    ``text`` is already that short)."""

    text: str
    brief: str = ""


def fits_brief(text: str) -> bool:
    """Whether ``text`` is short enough to be its own brief (≤ 3 lines, ≤ 120 characters)."""
    return len(text) <= BRIEF_CHARS and len(text.splitlines()) <= BRIEF_LINES


def make_brief(text: str, lines: list[str]) -> str:
    """The brief of ``text`` from candidate ``lines`` (most important first): empty when the text
    is short already; else as many lines as fit in 3 lines and 120 characters (the first one
    clipped with 「…」 if it alone is too long)."""
    if fits_brief(text):
        return ""
    kept: list[str] = []
    for line in (x for x in lines if x):
        if len(kept) == BRIEF_LINES or len("\n".join([*kept, line])) > BRIEF_CHARS:
            continue
        kept.append(line)
    if not kept:
        first = next((x for x in lines if x), text.splitlines()[0] if text else "")
        kept = [first[: BRIEF_CHARS - 1] + "…" if len(first) > BRIEF_CHARS else first]
    return "\n".join(kept)


def number(value: float) -> str:
    """1.0 → 「1」, 1.3 → 「1.3」."""
    return str(int(value)) if float(value).is_integer() else str(value)


class Parts:
    """Words the parts of an answer (see the module docstring)."""

    def __init__(self, kb: Knowledge, t: Mapping[str, Any]) -> None:
        self.kb, self.t = kb, t

    # --- small pieces ------------------------------------------------------------------------

    def note_no(self, note_id: str) -> str:
        return note_id.split("#")[1]

    def summary(self, rule: Rule) -> str:
        return rule.summary or self.kb.notes[rule.note].summary

    def level_name(self, credential: Credential) -> str:
        """「三级(高级工)」 for a skill level, 「高级职称」 for a title, the row name otherwise."""
        grade = credential.grade or ""
        if credential.kind == "skilled":
            return str(self.t["level_names"].get(grade[-1:], ""))
        if credential.kind == "title":
            return self.kb.titles[credential.id].name
        return str(self.t["tier_names"].get(grade, ""))

    def tier(self, grade: str | None) -> tuple[str, int] | None:
        """(「中级」, 100) for a grade; None when the grade is not known."""
        if grade is None or grade not in self.kb.points_by_grade:
            return None
        return str(self.t["tier_names"][grade]), self.kb.points_by_grade[grade]

    def window(self, months: int) -> str:
        words = self.t["describe"]
        return (words["window_years"].format(years=months // 12) if months % 12 == 0
                else words["window_months"].format(months=months))

    def sources(self, fact_ids: list[str]) -> str:
        names = dict.fromkeys(self.kb.facts[f].source for f in fact_ids)
        return self.t["sources"].format(sources="、".join(names))

    # --- the scope line and the basis --------------------------------------------------------

    def scope(self, decision: Decision) -> str:
        """The verdict line, saying what it covers (and the score for 积分)."""
        result, credential = decision.result, decision.credential
        assert result is not None and credential is not None
        purpose = result.purpose or ""
        lines = self.t["scope"][result.verdict]
        line = lines.get(purpose) or self.t["verdict"][result.verdict]
        tier = self.tier(credential.grade) or ("", 0)
        return str(line).format(tier=tier[0], points=tier[1],
                                purpose=self.t["purpose_names"].get(purpose, ""))

    def row_line(self, row: Row) -> str:
        catalogue = self.kb.catalogues[row.catalogue]
        titles = ""
        if row.catalogue == "professional":
            titles = (self.t["row_titles"].format(titles="、".join(row.titles)) if row.titles
                      else self.t["row_no_title"])
        return self.t["row_line"].format(catalogue=catalogue.name, n=row.n, name=row.name,
                                         titles=titles)

    def basis(self, credential: Credential, plain_surface: str) -> list[str]:
        """The row (or generic title) the answer rests on, with the skill level."""
        t = self.t
        if credential.row is None:
            title = self.kb.titles[credential.id]
            return [t["title_line"].format(surface=plain_surface, title=title.name)]
        line = self.row_line(credential.row)
        if credential.kind == "skilled" and credential.grade:
            line += t["level_line"].format(level=self.level_name(credential))
        return [line, *self.lingang_twin(credential.row)]

    def basis_brief(self, credential: Credential) -> str:
        """The basis in a few words, for the brief."""
        t = self.t
        if credential.row is None:
            return str(t["brief_title"].format(title=self.kb.titles[credential.id].name))
        row = credential.row
        extra = t["brief_titles"].format(titles="、".join(row.titles)) if row.titles else ""
        if credential.kind == "skilled" and credential.grade:
            extra = t["brief_level"].format(level=self.level_name(credential))
        return str(t["brief_row"].format(catalogue=self.kb.catalogues[row.catalogue].short,
                                         n=row.n, extra=extra))

    def lingang_twin(self, row: Row) -> list[str]:
        cat = self.kb.catalogues["lingang"]
        return [self.t["lingang_also"].format(catalogue=cat.name, n=r.n, code=r.code)
                for r in cat.rows if set(r.names) & set(row.names)]

    # --- the notes checked -------------------------------------------------------------------

    def checked(self, decision: Decision, facts: Mapping[str, Any]) -> list[str]:
        """One line for the notes met; one line (and the gap) for each note failed."""
        t = self.t
        passed = [o for o in decision.outcomes if o.status == PASS]
        lines = []
        if passed:
            items = "、".join(t["checked_item"].format(
                note=self.note_no(o.rule.note), mark=MARK[PASS],
                detail=t["check_prefix"].get(o.rule.slot, "")
                + self.describe(o.rule.slot, facts.get(o.rule.slot), o)) for o in passed)
            lines.append(t["checked"].format(items=items))
        for outcome in decision.outcomes:
            if outcome.status == FAIL:
                rule = outcome.rule
                lines.append(t["failed_line"].format(
                    note=self.note_no(rule.note), summary=self.summary(rule),
                    detail=self.describe(rule.slot, facts.get(rule.slot), outcome),
                    mark=MARK[FAIL]))
                lines += self.gap(outcome)
        return lines

    def gap(self, outcome: Outcome) -> list[str]:
        """How far a failed social-insurance fact is from the rule (「还差8个月」)."""
        rule = outcome.rule
        if rule.check != "social_insurance" or outcome.detail is None:
            return []
        need, found = int(rule.params["months"]), int(outcome.detail)
        values = {"window": self.window(int(rule.params["window_months"])), "found": found,
                  "months": need, "gap": need - found,
                  "multiple": number(float(rule.params["multiple"]))}
        return [self.t["gap" if found else "gap_none"].format(**values)]

    def still_open(self, decision: Decision) -> list[str]:
        """What the person did not know: each note, with what to check and where."""
        t = self.t
        open_ = [o for o in decision.outcomes if o.status == OPEN]
        if not open_:
            return []
        lines, told = [t["todo_header"]], set()
        for o in open_:  # where to check a fact is said once, at its first note
            where = "" if o.rule.slot in told else t["check_where"].get(o.rule.slot, "")
            told.add(o.rule.slot)
            lines.append(t["todo_line"].format(note=self.note_no(o.rule.note),
                                               summary=self.summary(o.rule), where=where))
        return lines

    def describe(self, slot: str, value: Any, outcome: Outcome) -> str:
        """A short reading of a fact as the person gave it."""
        words = self.t["describe"]
        if value == UNKNOWN:
            return str(words["unknown"])
        if slot == "where_obtained":
            return str(words["where_obtained"].get(str(value), value))
        if slot == "social_insurance" and isinstance(value, Mapping):
            if value.get("segments"):
                return self._describe_si(value, outcome)
            value = value.get("answer")
        yes, no = words["yes_no"].get(slot, ("", ""))
        return str(yes if value else no)

    def _describe_si(self, value: Mapping[str, Any], outcome: Outcome) -> str:
        words = self.t["describe"]
        segments = value["segments"]
        parts = []
        for months, multiple in segments:
            always = words["si_always"] if len(segments) == 1 else words["si_rest"]
            span = (always if months == ALL_MONTHS else "" if months is None
                    else words["si_months"].format(months=months))
            worded = {MINIMUM: "si_minimum", BELOW_AVERAGE: "si_below_average"}.get(multiple)
            if worded:  # said in words (最低基数, 低于社平): read back in words, not a number
                parts.append(span + words[worded])
                continue
            said, below = split_multiple(multiple)
            segment = words["si_segment_below" if below else "si_segment"]
            parts.append(segment.format(span=span, multiple=number(said)))
        return ",".join(parts)

    # --- the way on --------------------------------------------------------------------------

    def way_on(self, decision: Decision, facts: Mapping[str, Any]) -> list[str]:
        """After a failed fact: what else the person can use, or what would change it."""
        t, result, credential = self.t, decision.result, decision.credential
        assert result is not None and credential is not None
        purpose = result.purpose or ""
        ways = t["way_on"]
        tier = self.tier(credential.grade) or ("", 0)
        values: dict[str, Any] = {"tier": tier[0], "points": tier[1],
                                  "level": self.level_name(credential)}
        values.update(self.si_terms("points"))
        lines = []
        for reason in result.reasons:
            way = ways.get(f"{reason}@{purpose}") or ways.get(reason)
            if way:
                lines.append(str(way).format(**values))
        return lines

    def si_terms(self, purpose: str) -> dict[str, Any]:
        """Note 3's social-insurance terms for a purpose, to word a way on: ``si_window``
        (「1年」), ``si_months``, ``si_multiple``; empty when no rule has them."""
        for rule in self.kb.rules():
            if purpose in rule.purposes and rule.check == "social_insurance":
                return {"si_window": self.window(int(rule.params["window_months"])),
                        "si_months": int(rule.params["months"]),
                        "si_multiple": number(float(rule.params["multiple"]))}
        return {}

    def level_way(self, decision: Decision) -> list[str]:
        """A level the purpose does not take: the note, what it earns now, what the next level
        would bring."""
        t, result, credential = self.t, decision.result, decision.credential
        assert result is not None and credential is not None
        purpose = result.purpose or ""
        spec = self.kb.purposes[purpose]
        level = self.level_name(credential) or credential.surface
        lines = [t["level_not_accepted"].format(note=self.note_no(spec.level_rule),
                                                purpose=spec.name, level=level,
                                                need=t["accept_names"][purpose])]
        if credential.kind == "skilled":
            lines.append(self.level_up(credential))
        return lines

    def level_up(self, credential: Credential, key: str = "level_up") -> str:
        """What a 三级/四级/五级 certificate earns now and what 二级 would bring."""
        now = self.tier(credential.grade) or ("", 0)
        up = self.tier("skill2") or ("", 0)
        return str(self.t[key].format(level=self.level_name(credential), points=now[1],
                                      up_tier=up[0], up=up[1]))

    def tier_scope(self, decision: Decision) -> list[str]:
        """A 三级/四级/五级 certificate for 积分: what note 3 says and what is background."""
        credential, result = decision.credential, decision.result
        assert credential is not None and result is not None
        if result.verdict == "not_eligible" or not lower_tier(self.kb, credential,
                                                               result.purpose or ""):
            return []
        now = self.tier(credential.grade) or ("", 0)
        fact = self.kb.facts[LOWER_TIERS_FACT]
        return [self.t["lower_tier"].format(level=self.level_name(credential), points=now[1],
                                            source=fact.source),
                self.level_up(credential, "lower_tier_up")]

    # --- what else a purpose needs -----------------------------------------------------------

    def checklist(self, decision: Decision) -> list[str]:
        """居转户: the other conditions, as a short checklist marked background."""
        t, result, credential = self.t, decision.result, decision.credential
        assert result is not None and credential is not None
        lists = t["checklist"].get(result.purpose or "")
        if not lists or result.verdict not in ("eligible", "conditional"):
            return []
        items = list(lists.get(credential.grade or "") or lists["default"])
        return [t["checklist_header"],
                *(t["checklist_item"].format(text=self.kb.facts[f].text) for f in items),
                self.sources(items)]

    def checklist_brief(self, decision: Decision) -> str:
        """The checklist in one line, for the brief (empty when the answer has none)."""
        if not self.checklist(decision):
            return ""
        result, credential = decision.result, decision.credential
        assert result is not None and credential is not None
        lists = self.t["checklist"][result.purpose or ""]
        items = lists.get(credential.grade or "") or lists["default"]
        names = self.t["brief_checklist_items"]
        return str(self.t["brief_checklist"].format(items="、".join(names[f] for f in items)))

    def next_step(self, decision: Decision) -> str:
        """The one next step of an eligible or conditional answer."""
        result = decision.result
        assert result is not None
        steps = self.t["next_step"]
        if result.verdict == "conditional":
            names = "、".join(self.t["slot_names"][s] for s in result.unknown)
            return str(steps["conditional"].format(what=names))
        if result.verdict == "eligible":
            return str(steps["eligible"].get(result.purpose or "", ""))
        return ""

    # --- the sub-questions asked -------------------------------------------------------------

    def sub_answers(self, decision: Decision, asks: Mapping[str, int | None]) -> list[str]:
        """Direct answers to the sub-questions asked, in the order of ``SUB_QUESTIONS``:
        ``points`` (with the number the person said, or None), ``title``, ``seven_years``,
        ``registration``. Unknown kinds are ignored."""
        out = []
        for kind in SUB_QUESTIONS:
            if kind in asks:
                line = getattr(self, f"_ask_{kind}")(decision, asks[kind])
                if line:
                    out.append(line)
        return out

    def _ask_points(self, decision: Decision, said: int | None) -> str:
        words = self.t["asks"]["points"]
        credential = decision.credential
        if credential is None:
            return str(words["nothing"])
        tier = self.tier(credential.grade)
        if tier is None:
            return str(words["open"]) if credential.kind != "lingang" else ""
        if tier[1] == 0:
            return str(words["nothing"])
        key = "plain" if said is None else "same" if said == tier[1] else "other"
        return str(words[key].format(tier=tier[0], points=tier[1], said=said))

    def _ask_title(self, decision: Decision, _said: int | None) -> str:
        words = self.t["asks"]["title"]
        credential = decision.credential
        if credential is None or credential.kind == "lingang":
            return ""
        if credential.row is None:
            return str(words["generic"].format(surface=credential.surface,
                                               title=self.kb.titles[credential.id].name))
        if credential.kind == "skilled":
            return str(words["skill"])
        titles = credential.row.titles
        return str(words["row"].format(titles="、".join(titles)) if titles
                   else words["no_title"])

    def _ask_seven_years(self, decision: Decision, _said: int | None) -> str:
        words = self.t["asks"]["seven_years"]
        purpose = decision.result.purpose if decision.result else None
        credential = decision.credential
        if purpose != "settle":
            return str(words["other"])
        if credential is not None and credential.grade in ("senior", "skill1"):
            return str(words["incentive"].format(level=self.level_name(credential)))
        return str(words["settle"])

    def _ask_registration(self, decision: Decision, _said: int | None) -> str:
        words = self.t["asks"]["registration"]
        purpose = decision.result.purpose if decision.result else None
        return str(words["points"] if purpose == "points" else words["other"])


SUB_QUESTIONS = ("points", "title", "seven_years", "registration")
