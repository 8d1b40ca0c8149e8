"""Where a reply is worded: decisions and lookups become short Chinese text.

All wording comes from dialogs/replies.yaml and dialogs/eligibility.yaml (prompts); this module
only chooses and fills it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.answer_parts import Answer, Parts, make_brief, number
from bot.dialog import Dialog, State
from bot.knowledge import Knowledge, Row
from bot.rules import Credential, Decision


class Writer:
    """Fills the reply templates from knowledge."""

    def __init__(self, kb: Knowledge, dialog: Dialog) -> None:
        self.kb, self.dialog = kb, dialog
        self.t: Mapping[str, Any] = dialog.replies
        self.parts = Parts(kb, self.t)
        self.cert_words = sorted(kb.lexicon["certificate_words"], key=len, reverse=True)
        levels = kb.lexicon["levels"]["professional"]
        self.level_words = sorted({w for words in levels.values() for w in words}, key=len,
                                  reverse=True)

    # --- pieces ------------------------------------------------------------------------------

    def row_line(self, row: Row) -> str:
        return self.parts.row_line(row)

    def note_no(self, note_id: str) -> str:
        return self.parts.note_no(note_id)

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

    def background(self, fact_ids: tuple[str, ...] | list[str]) -> list[str]:
        out = []
        for fact_id in fact_ids:
            fact = self.kb.facts[fact_id]
            out.append(self.t["background"].format(source=fact.source, text=fact.text))
        return out

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
                months=int(rule.params["months"]), multiple=number(rule.params["multiple"]),
            )
        options = tuple(state.options)
        if state.slot == "level":
            options = tuple(self.level_options(facts, credential))
            values["levels"] = "、".join(options)
            if credential is None:
                values["name"] = f"「{facts.get('surface', '')}」"
        text = self.dialog.prompts[key].format(**values)
        if decision.options:  # a name that fits several rows (评估师): which one is asked
            options = decision.options
            text = self.t["which_credential"].format(name=f"{facts.get('surface', '')}",
                                                     options="、".join(options))
        way_out = tuple(o for o in self.dialog.way_out if o not in options) if options else ()
        return text, (*options, *way_out)

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

    def answer(self, decision: Decision, facts: Mapping[str, Any], notes: list[str],
               asks: Mapping[str, int | None] | None = None) -> Answer:
        """The answer to a result: the whole text and its brief (see ``Answer``).

        The one place that decides which parts an answer has: the sub-questions asked
        (``asks``: kind → the number the person said or None; kinds in
        ``answer_parts.SUB_QUESTIONS``) first, then ``notes`` (lines about the message), the
        verdict line with what it covers, the row, the notes checked with the gap, what is still
        open and where to check it, the way on, the purpose's other conditions, the next step
        and the disclaimer.
        """
        result = decision.result
        assert result is not None
        p = self.parts
        first = p.sub_answers(decision, asks or {})
        kind = decision.kind
        if kind in ("verdict", "level", "talent_info"):
            body, brief = self._verdict_parts(decision, facts)
        else:
            body = self._other_parts(decision, facts)
            brief = body[:2]
        lines = [*first, *notes, *body, self.t["disclaimer"]]
        text = "\n".join(line for line in lines if line)
        return Answer(text, make_brief(text, [*first[:1], *brief]))

    def _verdict_parts(self, decision: Decision, facts: Mapping[str, Any]) -> tuple[
            list[str], list[str]]:
        """The body of a verdict on a resolved credential, and the lines of its brief."""
        p, t, result, credential = self.parts, self.t, decision.result, decision.credential
        assert result is not None and credential is not None
        basis = p.basis(credential, self.plain_name(credential.surface))
        if decision.kind == "talent_info":
            fact = self.kb.facts[self.kb.purposes["talent"].background[0]]
            talent = t["talent_info"].format(level=self.display_name(credential, {}),
                                             source=fact.source)
            instead = self._talent_instead(credential)
            return [talent, *basis, instead], [talent, instead]
        scope = p.scope(decision)
        if decision.kind == "level":
            way = p.level_way(decision)
            return [scope, *basis, *way], [scope, p.basis_brief(credential), way[-1]]
        checked = p.checked(decision, facts)
        still_open = p.still_open(decision)
        way = [*p.way_on(decision, facts), *self._economist(credential, facts)]
        tier = p.tier_scope(decision)
        checklist = p.checklist(decision)
        step = p.next_step(decision)
        extra = [t["talent_note5"]] if (result.purpose == "talent" and
                                       result.verdict != "not_eligible") else []
        body = [scope, *basis, *checked, *still_open, *way, *tier, *extra, *checklist, step]
        gaps = [x for x in checked if x.startswith(t["gap_prefix"])]
        pending = [step] if result.verdict == "conditional" else []
        third = gaps[:1] or way[:1] or pending or [p.checklist_brief(decision) or step]
        return body, [scope, p.basis_brief(credential), *third]

    def _talent_instead(self, credential: Credential) -> str:
        """What a credential below 人才引进 can do instead (never 居转户 for 三级 and below)."""
        words = self.t["talent_instead"]
        tier = self.parts.tier(credential.grade)
        if tier is None or tier[1] == 0:
            return str(words["nothing"])
        key = "settle" if credential.grade in self.kb.purposes["settle"].accepts else "points"
        return str(words[key].format(points=tier[1]))

    def _economist(self, credential: Credential, facts: Mapping[str, Any]) -> list[str]:
        engineering = set(self.kb.titles["title#intermediate"].engineering)
        if (credential.row is None or facts.get("stem_degree") is not False
                or not engineering & set(credential.row.titles)):
            return []
        others = "、".join(x for x in credential.row.titles if x not in engineering)
        return [self.t["economist_note"].format(others=others)] if others else []

    def _other_parts(self, decision: Decision, facts: Mapping[str, Any]) -> list[str]:
        """Near misses, level conflicts, open levels or purposes, the 临港 list."""
        t, result, credential = self.t, decision.result, decision.credential
        assert result is not None
        lines = [t["verdict"][result.verdict]]
        kind = decision.kind
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
        return lines

    def brief_for(self, text: str) -> str:
        """The brief of a side answer (a lookup, a note, a list): its first lines, or empty
        when the text is short already."""
        return make_brief(text, text.splitlines()[:1])

    def _row_ref(self, row: Row) -> str:
        return self.t["row_ref"].format(name=row.name, n=row.n,
                                        catalogue=self.kb.catalogues[row.catalogue].short)

    # --- lookups -----------------------------------------------------------------------------

    def row_info(self, row: Row) -> str:
        t = self.t
        catalogue = self.kb.catalogues[row.catalogue]
        if row.catalogue == "lingang":
            return "\n".join([t["lingang"].format(name=row.name, catalogue=catalogue.name,
                                                  n=row.n, code=row.code)])
        if row.catalogue == "skilled":
            lines = [t["skilled_info"].format(name=row.name, catalogue=catalogue.name, n=row.n)]
            return "\n".join(lines + self.parts.lingang_twin(row))
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

