"""Where a reply is worded: decisions and lookups become short Chinese text.

All wording comes from dialogs/replies.yaml and dialogs/eligibility.yaml (prompts); this module
only chooses and fills it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.dialog import Dialog, State
from bot.facts import ALL_MONTHS, BELOW_AVERAGE, MINIMUM, UNKNOWN, split_multiple
from bot.knowledge import Knowledge, Row, Rule
from bot.rules import FAIL, OPEN, PASS, Credential, Decision, Outcome

MARK = {PASS: "✓", FAIL: "✗", OPEN: "?"}


class Writer:
    """Fills the reply templates from knowledge."""

    def __init__(self, kb: Knowledge, dialog: Dialog) -> None:
        self.kb, self.dialog = kb, dialog
        self.t: Mapping[str, Any] = dialog.replies
        self.cert_words = sorted(kb.lexicon["certificate_words"], key=len, reverse=True)
        levels = kb.lexicon["levels"]["professional"]
        self.level_words = sorted({w for words in levels.values() for w in words}, key=len,
                                  reverse=True)

    # --- pieces ------------------------------------------------------------------------------

    def row_line(self, row: Row) -> str:
        catalogue = self.kb.catalogues[row.catalogue]
        titles = ""
        if row.catalogue == "professional":
            titles = (self.t["row_titles"].format(titles="、".join(row.titles)) if row.titles
                      else self.t["row_no_title"])
        return self.t["row_line"].format(catalogue=catalogue.name, n=row.n, name=row.name,
                                         titles=titles)

    def display_name(self, credential: Credential | None, facts: Mapping[str, Any]) -> str:
        if credential is not None and credential.row is not None:
            return f"「{credential.row.name}」"
        if credential is not None:
            return f"「{credential.surface or self.kb.titles[credential.id].name}」"
        return f"「{facts.get('surface', '')}」"

    def plain_name(self, surface: str) -> str:
        """A title as a person names it, without 证/证书 (高级工程师证书 → 高级工程师)."""
        for word in self.cert_words:
            if surface.endswith(word) and len(surface) > len(word):
                return surface[: -len(word)]
        return surface

    def strip_level(self, surface: str) -> str:
        """A name without the level words in it (二级建造师 → 建造师)."""
        for word in self.level_words:
            surface = surface.replace(word, "")
        return surface

    def summary(self, rule: Rule) -> str:
        return rule.summary or self.kb.notes[rule.note].summary

    def note_no(self, note_id: str) -> str:
        return note_id.split("#")[1]

    def background(self, fact_ids: tuple[str, ...] | list[str]) -> list[str]:
        out = []
        for fact_id in fact_ids:
            fact = self.kb.facts[fact_id]
            out.append(self.t["background"].format(source=fact.source, text=fact.text))
        return out

    def lingang_twin(self, row: Row) -> list[str]:
        cat = self.kb.catalogues["lingang"]
        from_twin = [r for r in cat.rows if set(r.names) & set(row.names)]
        return [self.t["lingang_also"].format(catalogue=cat.name, n=r.n, code=r.code)
                for r in from_twin]

    # --- questions ---------------------------------------------------------------------------

    def question(self, state: State, decision: Decision, facts: Mapping[str, Any]) -> tuple[
            str, tuple[str, ...]]:
        """The prompt and the options for the state that asks the next fact."""
        credential = decision.credential
        key = state.prompt or ""
        for variant in (credential.id if credential else None, facts.get("purpose")):
            if variant and f"{key}@{variant}" in self.dialog.prompts:
                key = f"{key}@{variant}"
                break
        values: dict[str, Any] = {"name": self.display_name(credential, facts)}
        rule = decision.ask_rule
        if rule is not None and rule.check == "social_insurance":
            window = int(rule.params["window_months"])
            values.update(
                purpose=self.t["purpose_names"][facts.get("purpose")],
                window=(self.t["describe"]["window_years"].format(years=window // 12)
                        if window % 12 == 0
                        else self.t["describe"]["window_months"].format(months=window)),
                months=int(rule.params["months"]), multiple=_number(rule.params["multiple"]),
            )
        options = tuple(state.options)
        if state.slot == "level":
            options = tuple(self.level_options(facts, credential))
            values["levels"] = "、".join(options)
            if credential is None:
                values["name"] = f"「{facts.get('surface', '')}」"
        way_out = tuple(o for o in self.dialog.way_out if o not in options) if options else ()
        return self.dialog.prompts[key].format(**values), (*options, *way_out)

    def level_options(self, facts: Mapping[str, Any], credential: Credential | None) -> list[str]:
        table = self.kb.lexicon["level_options"]
        if credential is not None and credential.kind == "skilled":
            return list(table["skill"])
        target = str(facts.get("credential", ""))
        row = self.kb.rows.get(target.split(":", 1)[-1])
        if row is not None and row.levels and row.levels[0] in table:
            return list(table[row.levels[0]])
        return list(table["中级"])

    # --- answers -----------------------------------------------------------------------------

    def answer(self, decision: Decision, facts: Mapping[str, Any], notes: list[str]) -> str:
        """The text of a result: verdict first, then the row, the notes, what is left, caveats."""
        result = decision.result
        assert result is not None
        t = self.t
        lines = [*notes]
        header = t["verdict"][result.verdict]
        purpose = result.purpose
        if header:
            lines.append(header + (f"({t['purpose_names'][purpose]})" if purpose and
                                   result.verdict != "not_listed" else ""))
        kind = decision.kind
        credential = decision.credential
        if kind == "near_miss":
            near = self.kb.near_misses[int(str(facts["credential"])[5:])]
            named = [r for r in near.nearest if self.kb.rows[r].name in near.says]
            unnamed = [r for r in near.nearest if r not in named]
            lines.append(near.says + (t["near_named"].format(refs="、".join(
                t["row_number"].format(catalogue=self.kb.catalogues[self.kb.rows[r].catalogue]
                                       .short, n=self.kb.rows[r].n) for r in named))
                if named else ""))
            if unnamed:
                lines.append(t["near_nearest"].format(rows="、".join(
                    self._row_ref(self.kb.rows[r]) for r in unnamed)))
        elif kind == "conflict":
            row = self.kb.rows[str(facts["credential"]).split(":", 1)[1]]
            lines.append(t["conflict"].format(level=facts.get("level", ""),
                                              name=self.strip_level(facts.get("surface", "")),
                                              row=row.name, n=row.n))
            lines.append(self.row_line(row))
        elif kind in ("level_open", "purpose_open"):
            if credential is not None and credential.row is not None:
                lines.append(self.row_line(credential.row))
            lines.append(t[kind].format(points=t["accept_names"]["points"],
                                        settle=t["accept_names"]["settle"]))
        elif kind == "lingang" and credential is not None and credential.row is not None:
            row = credential.row
            lines.append(t["lingang"].format(name=row.name, catalogue=self.kb.catalogues[
                "lingang"].name, n=row.n, code=row.code))
            lines.append(t["lingang_not_skilled"])
        else:
            lines += self._verdict_body(decision, facts)
        lines.append(t["disclaimer"])
        return "\n".join(line for line in lines if line)

    def _verdict_body(self, decision: Decision, facts: Mapping[str, Any]) -> list[str]:
        t, result, credential = self.t, decision.result, decision.credential
        assert result is not None and credential is not None
        lines = []
        if credential.row is not None:
            lines.append(self.row_line(credential.row))
            lines += self.lingang_twin(credential.row)
        else:
            title = self.kb.titles[credential.id]
            lines.append(t["title_line"].format(surface=self.plain_name(credential.surface),
                                                title=title.name))
        if credential.kind == "skilled" and credential.grade:
            lines.append(t["level_line"].format(level=t["level_names"][credential.grade[-1]]))
        purpose = result.purpose or ""
        if decision.kind == "level":
            spec = self.kb.purposes[purpose]
            grade = credential.grade or ""
            level = (t["level_names"].get(grade[-1:], "") if credential.kind == "skilled"
                     else credential.surface)
            lines.append(t["level_not_accepted"].format(
                note=self.note_no(spec.level_rule), purpose=spec.name,
                need=t["accept_names"][purpose], level=level))
            if credential.kind == "skilled" and purpose == "points":
                fact = self.kb.facts["bg#points-scores"]
                lines.append(t["level_points_bg"].format(source=fact.source))
            return lines
        if decision.kind == "talent_info":
            lines.append(t["talent_info"].format(level=self.display_name(credential, facts)))
            lines += self.background(self.kb.purposes["talent"].background)
            return lines
        checked = [o for o in decision.outcomes if o.status != OPEN]
        if checked:
            lines.append(t["checked_header"])
            lines += [self._check_line(o, facts) for o in checked]
        if result.unknown:
            lines.append(t["todo_header"])
            lines += [t["todo_line"].format(note=self.note_no(o.rule.note),
                                            summary=self.summary(o.rule))
                      for o in decision.outcomes if o.status == OPEN]
            lines.append(t["unknown_facts"])
        engineering = set(self.kb.titles["title#intermediate"].engineering)
        if (credential.row is not None and facts.get("stem_degree") is False
                and engineering & set(credential.row.titles)):
            others = "、".join(x for x in credential.row.titles if x not in engineering)
            if others:
                lines.append(t["economist_note"].format(others=others))
        if purpose == "talent" and result.verdict in ("eligible", "conditional"):
            lines.append(t["talent_note5"])
        if result.verdict in ("eligible", "conditional"):
            lines += self.background(self.kb.purposes[purpose].background)
        return lines

    def _check_line(self, outcome: Outcome, facts: Mapping[str, Any]) -> str:
        rule = outcome.rule
        detail = self.describe(rule.slot, facts.get(rule.slot), outcome)
        return self.t["check_line"].format(
            note=self.note_no(rule.note), summary=self.summary(rule),
            detail=self.t["check_detail"].format(detail=detail, mark=MARK[outcome.status]))

    def _row_ref(self, row: Row) -> str:
        return self.t["row_ref"].format(name=row.name, n=row.n,
                                        catalogue=self.kb.catalogues[row.catalogue].short)

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
            parts.append(segment.format(span=span, multiple=_number(said)))
        stated = sum(m for m, _ in segments if isinstance(m, int) and m > 0)
        found = (words["si_found"].format(found=outcome.detail)
                 if outcome.detail is not None and outcome.detail != stated else "")
        return ",".join(parts) + found

    # --- lookups -----------------------------------------------------------------------------

    def row_info(self, row: Row) -> str:
        t = self.t
        catalogue = self.kb.catalogues[row.catalogue]
        if row.catalogue == "lingang":
            return "\n".join([t["lingang"].format(name=row.name, catalogue=catalogue.name,
                                                  n=row.n, code=row.code)])
        if row.catalogue == "skilled":
            lines = [t["skilled_info"].format(name=row.name, catalogue=catalogue.name, n=row.n)]
            return "\n".join(lines + self.lingang_twin(row))
        titles = (t["row_titles"].format(titles="、".join(row.titles)) if row.titles
                  else t["row_no_title"])
        return t["professional_info"].format(name=row.name, catalogue=catalogue.name, n=row.n,
                                             titles=titles)

    def catalogue_list(self, catalogue: Any) -> str:
        items = "、".join(self.t["catalogue_item_code" if row.code else "catalogue_item"].format(
            name=row.name, n=row.n, code=row.code) for row in catalogue.rows)
        return self.t["catalogue_list"].format(catalogue=catalogue.name,
                                               count=len(catalogue.rows), items=items)

    def note_info(self, note_ids: list[str]) -> str:
        return "\n".join(self.t["note_info"].format(note=self.note_no(n),
                                                    text=self.kb.notes[n].text)
                         for n in note_ids)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)

