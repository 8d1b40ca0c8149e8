"""What a conversation keeps: facts about the person (kept across certificates), facts about
one certificate (remembered per certificate while the person asks about others), and how an
understood message changes them (a new certificate, another level, a corrected duration).

The facts live in the conversation state (``conv["facts"]``, JSON-able; see bot/engine.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.insurance import merge_social_insurance
from bot.knowledge import Knowledge
from bot.matching import Matcher
from bot.understand import Understanding

State = dict[str, Any]
# Facts about the person (kept when they ask about another certificate) vs. about one
# certificate (remembered per certificate while the person asks about others).
PERSON_FACTS = ("purpose", "social_insurance", "stem_degree", "at_firm")
CERTIFICATE_FACTS = ("job_match", "where_obtained", "level")
MEMORY_SIZE = 8


class Memory:
    """Merges what a message says into a conversation's facts."""

    def __init__(self, kb: Knowledge, matcher: Matcher) -> None:
        self.kb, self.matcher = kb, matcher

    @staticmethod
    def update_facts(facts: dict[str, Any], new: Mapping[str, Any]) -> None:
        """Later statements win; 「其实是1.5倍」 keeps the months said before."""
        for slot, value in new.items():
            if slot == "social_insurance":
                value = merge_social_insurance(facts.get(slot), value)
            facts[slot] = value

    def new_credential(self, conv: State, u: Understanding) -> None:
        """Start a question about another certificate; facts about the person carry over."""
        assert u.match is not None
        match, facts = u.match, conv["facts"]
        if match.target == facts.get("credential"):
            # the same certificate again (a repeated question, 「我是车工技师」): facts stay
            if match.level is not None:
                facts["level"] = match.level
            if not u.generic_title:  # 「中级职称」 → 「工程师」: the series is now known
                facts["surface"] = match.surface
                facts.pop("generic", None)
            conv["asked"] = []
            return
        said = facts.get("level_words")
        if said and not u.level_words and match.level is None:
            # 「我是高级技师」 … 「焊工」: the level came first
            match = self.matcher.resolve(match.target, match.surface, list(said))
        memory = conv.setdefault("memory", {})
        if facts.get("credential"):  # 「焊工在目录里吗」 in between, then back to 「我的工程师」
            memory.pop(str(facts["credential"]), None)
            memory[str(facts["credential"])] = {k: facts[k] for k in CERTIFICATE_FACTS
                                                if k in facts}
            for stale in list(memory)[:-MEMORY_SIZE]:  # the oldest go: the state stays small
                del memory[stale]
        conv["facts"] = {k: v for k, v in facts.items() if k in PERSON_FACTS}
        conv["facts"].update(memory.get(match.target, {}))
        conv["facts"].update(credential=match.target, surface=match.surface)
        if u.generic_title:
            conv["facts"]["generic"] = True
        if match.level is not None:
            conv["facts"]["level"] = match.level
        conv["asked"] = []
        conv.pop("not_found", None)

    @staticmethod
    def names_same_field(u: Understanding, facts: dict[str, Any]) -> bool:
        if u.match is None or u.match.row_id is None:
            return False
        return u.match.row_id == str(facts.get("credential", "")).split(":", 1)[-1]

    def relevel(self, conv: State, u: Understanding) -> bool:
        """The certificate under discussion at another level; False if that says nothing."""
        facts = conv["facts"]
        target = str(facts.get("credential", ""))
        row_id = target.split(":", 1)[-1]
        if target.startswith("near:"):
            near = self.kb.near_misses[int(target[5:])]
            row_id = near.nearest[0] if near.kind == "level" and len(near.nearest) == 1 else ""
        if row_id not in self.kb.rows:
            return False
        match = self.matcher.resolve(row_id, self.kb.rows[row_id].name,
                                         list(u.level_words[-1:]))
        if match.level is None:
            return False
        facts.update(credential=match.target, surface=facts.get("surface") or match.surface,
                     level=match.level)
        conv["asked"] = []
        return True

    @staticmethod
    def level_of(conv: State, u: Understanding) -> str | None:
        skilled = str(conv["facts"].get("credential", "")).startswith("skilled#")
        return u.level_skill if skilled else u.level_professional

    def set_level(self, conv: State, level: str) -> None:
        facts = conv["facts"]
        target = str(facts.get("credential", ""))
        if target.startswith("unleveled:"):
            row = self.kb.rows[target.split(":", 1)[1]]
            match = self.matcher.with_level(row, facts.get("surface", ""), level)
            facts["credential"] = match.target
        facts["level"] = level
