"""Side questions answered without touching the question under way: catalogue lookups, a row's
requirements, the notes, background facts and whole catalogues. Each returns the reply text and
its ``Result`` (verdict ``info`` or, for a near miss, ``not_listed``)."""

from __future__ import annotations

from typing import Any

from bot.dialog import Dialog
from bot.knowledge import Knowledge
from bot.matching import Match
from bot.protocol import Result
from bot.replies import Writer
from bot.rules import applicable_rules, decide, resolve_credential

Aside = tuple[str, Result, bool]  # text, result, whether the disclaimer follows


class Asides:
    """Answers to side questions, from knowledge/ and the reply wording."""

    def __init__(self, kb: Knowledge, dialog: Dialog, writer: Writer,
                 twins: dict[str, str]) -> None:
        self.kb, self.dialog, self.writer, self.twins = kb, dialog, writer, twins
        self.t = dialog.replies

    def twin_of(self, row_id: str) -> tuple[str, ...]:
        """The other catalogue's row of the same trade (飞机外场调试与维护工 is on two lists)."""
        twin = self.twins.get(row_id)
        return (twin,) if twin else ()

    def info(self, row: Any) -> Aside:
        cites = (row.id, *self.twin_of(row.id))
        return self.writer.row_info(row), Result("info", None, row.id, (), cites), True

    def lookup(self, match: Match) -> Aside:
        """「焊工在目录里吗」: the row, or the correction for a near miss."""
        target = match.target
        if target.startswith(("near:", "conflict:", "ambiguous:")):
            facts = {"credential": target, "surface": match.surface, "level": match.level}
            decision = decide(self.kb, facts, self.dialog.slot_order)
            if decision.result is not None:
                text = self.writer.answer(decision, facts, []).text
                return text, decision.result, False
        row = self.kb.rows.get(target.split(":", 1)[-1])
        if row is None:  # a generic title
            title = self.kb.titles.get(target)
            name = title.name if title else match.surface
            text = self.t["title_info"].format(surface=match.surface, title=name)
            return text, Result("info", None, target if title else None, (), ()), True
        return self.info(row)

    def requirements(self, match: Match, purpose: str | None) -> Aside:
        """「监理工程师积分需要什么条件」: the row and the notes that apply to it."""
        target = match.target
        if target.startswith(("near:", "conflict:", "unleveled:", "lingang#", "ambiguous:")):
            return self.lookup(match)
        credential = resolve_credential(self.kb, target, match.level, match.surface)
        purposes = [purpose] if purpose else ["points", "settle"]
        notes = list(dict.fromkeys(rule.note for p in purposes
                                   for rule in applicable_rules(self.kb, credential, p)))
        lines = [self.writer.row_line(credential.row)] if credential.row else []
        lines.append(self.writer.note_info(notes))
        cites = tuple(dict.fromkeys(((credential.id,) if credential.row else ()) + tuple(notes)))
        return "\n".join(lines), Result("info", purpose, credential.id, (), cites), True

    def notes(self, note_ids: tuple[str, ...], purpose: str | None) -> Aside:
        notes = list(note_ids) or list(self.kb.notes)
        return self.writer.note_info(notes), Result("info", purpose, None, (), tuple(notes)), True

    def background(self, fact_ids: tuple[str, ...], purpose: str | None) -> Aside:
        text = "\n".join(self.writer.background(list(fact_ids)))
        return text, Result("info", purpose, None, (), tuple(fact_ids)), True

    def catalogue(self, key: str) -> Aside:
        """「临港紧缺目录有哪些工种」: every row of the catalogue."""
        catalogue = self.kb.catalogues[key]
        result = Result("info", None, None, (), tuple(row.id for row in catalogue.rows))
        return self.writer.catalogue_list(catalogue), result, True
