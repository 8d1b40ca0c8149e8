"""Understanding one message: intent, certificate, purpose and every fact it states."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.facts import UNKNOWN, FactParser
from bot.knowledge import Knowledge, normalise_name
from bot.matching import Match, Matcher
from bot.text import Phrases, normalise

_CODE = re.compile(r"\d-\d{2}-\d{2}-\d{2}")
_WORD = re.compile(r"^\w+$")
_DIGIT_ANSWER = re.compile(r"^(?:选|选择|第)?\s*([1-9])\s*(?:个|项|号)?\s*[.。!!]?$")
# Words that show a message is about a certificate even when no name matched (for the fuzzy
# fallback and for "I did not find it" answers).


@dataclass(frozen=True)
class Understanding:
    """What one message says.

    Attributes:
        text: the normalised message.
        intent: reset, cancel, help, greeting, lookup, note_question or None.
        match: the certificate it names (see ``Match``), or None.
        purpose: points, settle, talent or None.
        vague_purpose: it asks whether something is useful without saying for what.
        facts: slot → value for every fact it states (values as in bot.facts).
        code_row: a 临港 row named by its occupation code.
        correction: it corrects something said before (「说错了」).
        unknown: it says the person does not know.
        choice: a digit answer (1-based) to numbered options.
        cert_hint: it looks like it names a certificate, matched or not.
        level_words: the level words it uses (技师, 中级 …), with or without a certificate.
        residue: what is left once every known word is taken out (an unknown name?).
        catalogue: a catalogue the message names (professional, skilled, lingang), if any.
        question: it asks something (吗, ?, 能不能 …).
        also: other certificates it names by a full name, besides ``match``.
    """

    text: str
    intent: str | None = None
    match: Match | None = None
    purpose: str | None = None
    vague_purpose: bool = False
    facts: Mapping[str, Any] = field(default_factory=dict)
    code_row: str | None = None
    correction: bool = False
    unknown: bool = False
    choice: int | None = None
    cert_hint: bool = False
    level_words: tuple[str, ...] = ()
    residue: str = ""
    catalogue: str | None = None
    question: bool = False
    also: tuple[str, ...] = ()


class Understander:
    """Turns raw messages into ``Understanding``s, from knowledge/ data only."""

    def __init__(self, kb: Knowledge) -> None:
        self.kb = kb
        lex = kb.lexicon
        self.intents = {name: _phrases(words) for name, words in lex["intents"].items()}
        self.purposes = [(key, _phrases(lex["purposes"][key])) for key in
                         ("talent", "settle", "points")]
        self.loose = _phrases(lex["purpose_loose"])
        self.settle_assumed = _phrases(lex["settle_assumed"])
        self.settle_words = dict(self.purposes)["settle"]
        words = [w for group in self.intents.values() for w in group]
        words += [w for _, group in self.purposes for w in group] + list(self.loose)
        words += [normalise_name(w) for w in (*lex["function_words"], *lex["certificate_words"],
                                              *lex["post_words"])]
        words += [normalise_name(w) for section in ("firm",) for ws in lex[section].values()
                  for w in ws]
        self.matcher = Matcher(kb, words)
        self.plain_words = frozenset(words)  # words that never belong to a certificate name
        self.facts = FactParser(lex)
        self.catalogue_words = [(key, _phrases(words))
                                for key, words in lex["catalogue_words"].items()]
        self.cert_hints = _phrases(lex["certificate_hints"])
        self.post_words = frozenset(normalise_name(w) for w in lex["post_words"])
        self.cert_words = frozenset(normalise_name(w) for w in lex["certificate_words"])
        self.codes = {row.code: row.id for row in kb.catalogues["lingang"].rows if row.code}

    def understand(self, raw: str, asking: str | None = None,
                   asked_multiple: float | None = None) -> Understanding:
        """Read ``raw``; ``asking`` is the slot the bot waits for (answers are read leniently)."""
        text = normalise(raw)
        if not text:
            return Understanding(text="")
        tokens = self.matcher.tokens(text)
        intent = self._intent(text, tokens)
        purpose, vague = self._purpose(text)
        code = _CODE.search(text)
        digit = _DIGIT_ANSWER.match(text)
        # What is left once every known word is taken out: a certificate name we do not know,
        # or one mistyped? Only then is the (slower) fuzzy match worth running, on that part.
        residue = "".join(t for t in tokens if t not in self.matcher.vocabulary and _WORD.match(t))
        vocabulary = self.matcher.vocabulary
        cert_hint = _has(residue, self.cert_hints) or (len(residue) >= 2 and any(
            t in self.cert_words and tokens[i - 1] not in vocabulary and tokens[i - 1].isalnum()
            for i, t in enumerate(tokens) if i))  # an unknown word right before 证/证书/资格
        leveled = any(t in self.matcher.prof_levels or t in self.matcher.skill_levels
                      for t in tokens)
        fuzzy_ok = (asking in (None, "credential") and not code and not digit
                    and len(residue) >= 2 and (cert_hint or leveled or asking == "credential"))
        fuzzy_text = "".join(t for t in tokens if t not in self.plain_words and _WORD.match(t))
        may_fuzz = asking in (None, "credential") and not code and not digit
        match = self.matcher.find(text, tokens, fuzzy_text=(fuzzy_text if fuzzy_ok else "")
                                  if may_fuzz else None)
        # Facts are read with the certificate's name blanked out: 监理工程师 holds 理工.
        fact_text = ("".join(" " if t == match.surface else t for t in tokens)
                     if match and asking in (None, "credential") else text)
        facts = self._facts(fact_text, asking, asked_multiple)
        if match is not None and "job_match" not in facts and self._post_in_field(tokens, match):
            facts["job_match"] = True
        return Understanding(
            text=text, intent=intent, match=match, purpose=purpose, vague_purpose=vague,
            facts=facts, code_row=self.codes.get(code[0]) if code else None,
            correction=_has(text, self.intents["correction"]),
            unknown=self.facts.says_unknown(text),
            choice=int(digit[1]) if digit else None,
            cert_hint=cert_hint, residue=residue, question=_has(text, self.intents["question"]),
            also=self._also(tokens, match),
            catalogue=next((key for key, words in self.catalogue_words if _has(text, words)),
                           None),
            level_words=tuple(t for t in tokens if t in self.matcher.prof_levels
                              or t in self.matcher.skill_levels),
        )

    def _post_in_field(self, tokens: list[str], match: Match) -> bool:
        """「中级统计师,现在就在统计岗」: a post named with a word of the certificate's own row."""
        if match.row_id is None or not any(t in self.post_words for t in tokens):
            return False
        index = self.matcher.index
        return any(t != match.surface and t in index
                   and index[t].split(":", 1)[-1] == match.row_id for t in tokens)

    def _also(self, tokens: list[str], match: Match | None) -> tuple[str, ...]:
        """Other certificates named in full (「一建和中级会计」): said back, not lost silently."""
        if match is None:
            return ()
        index = self.matcher.index
        named = [t for t in tokens if t in index and t != match.surface
                 and index[t] != match.target
                 and not index[t].startswith(("unleveled:", "title#"))]
        return tuple(dict.fromkeys(named))

    def _intent(self, text: str, tokens: list[str]) -> str | None:
        compact = text.replace(" ", "")
        for name in ("reset", "cancel", "help"):
            # a command word at the start of a short message (「重新开始吧」, not a long sentence)
            start = self.intents[name].at_start(compact)
            if start is not None and len(compact) <= start + 4:
                return name
        if _has(text, self.intents["clarify"]) and len(compact) <= 12:
            return "clarify"
        if _has(text, self.intents["note_question"]):
            return "note_question"
        if _has(text, self.intents["lookup"]):
            return "lookup"
        if _has(text, self.intents["thanks"]) and len(compact) <= 12:
            return "thanks"
        if _has(text, self.intents["greeting"]) and len(compact) <= 12:
            return "greeting"
        return None

    def _purpose(self, text: str) -> tuple[str | None, bool]:
        stripped = text
        for loose in self.loose:
            stripped = stripped.replace(loose, " ")
        for key, words in self.purposes:
            if _has(stripped, words):
                return key, False
        return None, _has(text, self.intents["vague_purpose"]) or stripped != text

    def _facts(self, text: str, asking: str | None,
               asked_multiple: float | None) -> dict[str, Any]:
        parse = self.facts
        found: dict[str, Any] = {
            "social_insurance": parse.social_insurance(
                text, asking == "social_insurance", asked_multiple),
            "job_match": parse.job_match(text, asking == "job_match"),
            "stem_degree": parse.stem_degree(text, asking == "stem_degree"),
            "where_obtained": parse.where_obtained(text, asking == "where_obtained"),
            "at_firm": parse.at_firm(text, asking == "at_firm"),
        }
        # Outside an answer, "don't know" is not a fact about any slot.
        return {slot: value for slot, value in found.items()
                if value is not None and (value != UNKNOWN or slot == asking)}

    def assumes_settle(self, text: str) -> bool:
        """The text says 落户 loosely (not 居转户 by name): the bot says it reads it as 居转户."""
        named = [w for w in self.settle_words if w not in self.settle_assumed]
        return _has(text, self.settle_assumed) and not any(w in text for w in named)

    def level_answer(self, text: str, skilled: bool) -> str | None:
        """A level named in an answer to the level question (skill: "1"…"5")."""
        table = self.matcher.skill_levels if skilled else self.matcher.prof_levels
        tokens = self.matcher.tokens(normalise(text))
        for token in tokens:
            if token in table:
                return table[token]
        compact = normalise(text).replace(" ", "")
        for word in sorted(table, key=len, reverse=True):
            if word in compact:
                return table[word]
        return None


def _phrases(words: Any) -> Phrases:
    return Phrases(normalise_name(w) for w in words)


def _has(text: str, words: Phrases) -> bool:
    return words.found_in(text)
