"""Understanding one message: it is normalised and segmented once, and read once into an
``Understanding`` (what it asks, names, states and corrects). The engine never reads the text
again.

Every lexicon phrase matches whole words (``bot.text.Words``); inside one message the last value
stated wins after a correction (「三级吧……不对,是二级」), and a negated purpose (「不落户了」) is
not a purpose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.insurance import InsuranceReader
from bot.knowledge import Knowledge, normalise_name
from bot.matching import Match, Matcher
from bot.naming import NameReader
from bot.person import UNKNOWN, PersonReader
from bot.text import Said, WordIndex, Words, normalise
from bot.vocabulary import dictionary_words, field_words, lexicon_phrases

_LATIN_WORDS = re.compile(r"[a-z]{2,} +[a-z0-9]|\dx\b")
_CODE = re.compile(r"\d-\d{2}-\d{2}-\d{2}|(?<!\d)\d{7}(?!\d)")  # 6-25-02-04 or 6250204
_WORD = re.compile(r"^\w+$")
_DIGIT_ANSWER = re.compile(r"^(?:选|选择|第)?\s*([1-9])\s*(?:个|项|号)?\s*[.。!!]?$")
_POINTS_SAID = re.compile(r"(\d{2,3})\s*分")
PURPOSE_ORDER = ("talent", "settle", "points")  # when several are named without a correction


@dataclass(frozen=True)
class Context:
    """What the reading of a message depends on: the question pending.

    Attributes:
        asking: the slot the bot waits for (answers are read leniently), or None.
        asked_multiple: the base multiple of a pending social-insurance question.
        options: the options offered with the pending question (a digit picks one).
        last_multiple: the multiple of the social insurance said before (「其实是七个月」).
        row: the catalogue row asked about (a post is judged against its field).
        surface: the name it was asked about as (副主任护师: the field of a title).
    """

    asking: str | None = None
    asked_multiple: float | None = None
    options: tuple[str, ...] = ()
    last_multiple: float | None = None
    row: str | None = None
    surface: str | None = None


@dataclass(frozen=True)
class Understanding:
    """What one message says.

    Attributes:
        text: the normalised message (the picked option's text for a digit answer).
        intent: reset, cancel, forget, details, help, clarify, greeting, thanks, lookup,
            note_question or None.
        match: the certificate it names (see ``Match``), or None.
        purpose: points, settle, talent or None.
        vague_purpose: it asks whether something is useful without saying for what.
        settle_assumed: it says 落户 loosely, not 居转户 by name (the reply says how it is read).
        both_purposes: it asks about 积分 and 居转户 at once (积分 is answered first).
        facts: slot → value for every fact it states (values as in bot.person / bot.insurance).
        months_said: a bare duration read as months of the social insurance said before.
        code_row: a 临港 row named by its occupation code.
        correction: it corrects something said before (「说错了」).
        unknown: it says the person does not know.
        cert_hint: it looks like it names a certificate, matched or not.
        level_words: the level words that count (after the last correction, if any).
        level_professional / level_skill: the level those words state, the last one winning.
        residue: what is left once every known word is taken out (an unknown name?).
        catalogue: a catalogue the message names (professional, skilled, lingang), if any.
        question: it asks something (吗, ?, 能不能 …).
        asks_eligibility: it asks whether a certificate can be used (能…吗, 满足吗): a verdict is
            wanted even when it also asks for the rules (「能加多少分,要什么条件」).
        also: other certificates it names by a full name, besides ``match``.
        notes_about / background_about: notes and background facts whose topics it names.
        asks: sub-questions asked (kind → the number said, e.g. {"points": 140}).
        generic_title: it names a title without its series (中级职称): which one is asked.
    """

    text: str
    intent: str | None = None
    match: Match | None = None
    purpose: str | None = None
    vague_purpose: bool = False
    settle_assumed: bool = False
    both_purposes: bool = False
    facts: Mapping[str, Any] = field(default_factory=dict)
    months_said: Mapping[str, Any] | None = None
    code_row: str | None = None
    correction: bool = False
    unknown: bool = False
    cert_hint: bool = False
    level_words: tuple[str, ...] = ()
    level_professional: str | None = None
    level_skill: str | None = None
    residue: str = ""
    catalogue: str | None = None
    question: bool = False
    asks_eligibility: bool = False
    also: tuple[str, ...] = ()
    notes_about: tuple[str, ...] = ()
    background_about: tuple[str, ...] = ()
    asks: Mapping[str, int | None] = field(default_factory=dict)
    generic_title: bool = False


class Understander:
    """Turns raw messages into ``Understanding``s, from knowledge/ data only."""

    def __init__(self, kb: Knowledge, clock: Clock | None = None) -> None:
        self.kb = kb
        lex = kb.lexicon
        index = WordIndex()  # every phrase set below is found in one pass over a message
        phrases = lexicon_phrases(lex)
        self.matcher = Matcher(kb, phrases, dictionary_words(lex, phrases))
        self.names = NameReader(self.matcher, lex, phrases)

        def words(items: Any) -> Words:
            return Words((normalise_name(w) for w in items), index)

        self.intents = {name: words(items) for name, items in lex["intents"].items()}
        self.purposes = {key: words(lex["purposes"][key]) for key in PURPOSE_ORDER}
        self.loose = words(lex["purpose_loose"])
        self.purpose_both = words(lex["purpose_both"])
        self.settle_assumed = words(lex["settle_assumed"])
        self.negations = frozenset(lex["negations"])
        self.level_not_stated = frozenset((*lex["level_asked_before"], *lex["negations"]))
        self.catalogue_words = [(key, words(items))
                                for key, items in lex["catalogue_words"].items()]
        self.sub_questions = {kind: words(items)
                              for kind, items in lex.get("sub_questions", {}).items()}
        self.person = PersonReader(lex, index)
        windows = [int(rule.params["window_months"]) for rule in kb.rules()
                   if rule.check == "social_insurance"]
        # dates count up to the clock's today; no count exceeds the longest window a rule reads
        self.insurance = InsuranceReader(lex, clock, max(windows, default=None))
        self.note_topics = [(n.id, words(n.topics)) for n in kb.notes.values() if n.topics]
        self.fact_topics = [(f.id, words(f.topics)) for f in kb.facts.values() if f.topics]
        self.codes = {row.code: row.id for row in kb.catalogues["lingang"].rows if row.code}
        self.fields = field_words(kb)
        self.title_rows = sorted(((key[6:], rows[0]) for key, rows in kb.fields.items()
                                  if key.startswith("title:")), key=lambda e: -len(e[0]))

    def understand(self, raw: str, context: Context | None = None) -> Understanding:
        """Read ``raw`` once, in the ``context`` of the question pending."""
        ctx = context or Context()
        text = normalise(raw)
        digit = _DIGIT_ANSWER.match(text) if ctx.asking else None
        if digit and 1 <= int(digit[1]) <= len(ctx.options):
            text = normalise(ctx.options[int(digit[1]) - 1])  # 「2」: the option it picks
            digit = None
        if not text:
            return Understanding(text="")
        tokens = self.names.split_certificate_words(self.matcher.tokens(text))
        said = Said(tuple(tokens))
        correction = self.intents["correction"].found_in(said)
        level_words = self._level_words(said, correction)
        code = _CODE.search(text)
        code_row = self._code_row(code[0]) if code else None  # a number that is no code: none
        after = self.intents["correction"].last(said) if correction else None
        residue = self.names.unknown_name(tokens)
        # 「我老婆走人才引进,她有ACCA;我自己是中级审计师」: the person's own clauses name
        # their certificate and purpose; other people's only when theirs name none
        own = self.person.own(said) if ctx.asking is None else said
        match, unknown_title = None, ""
        if own is not said:
            match, unknown_title = self.names.match(own.text, list(own.tokens), level_words,
                                               ctx.asking, bool(code_row or digit), None, "")
        if match is None:
            match, unknown_title = self.names.match(text, tokens, level_words, ctx.asking,
                                               bool(code_row or digit), after, residue)
        residue = unknown_title or residue
        purpose, vague = self._purpose(own, correction)
        if purpose is None and own is not said:
            purpose, vague = self._purpose(said, correction)
        if purpose is None and _POINTS_SAID.search(text):  # 「是不是加140分」 speaks of 积分
            purpose, vague = "points", False
        both = purpose is None and self.purpose_both.found_in(said)
        if both:  # 「两个都想知道」: 积分 first, 居转户 on request
            purpose, vague = "points", False
        facts = self._facts(said, match, ctx, text)
        return Understanding(
            text=text, intent=self._intent(said), match=match, purpose=purpose,
            vague_purpose=vague, facts=facts, correction=correction,
            settle_assumed=purpose == "settle" and self._settle_assumed(said),
            both_purposes=both,
            months_said=self._months_said(text, facts, ctx),
            code_row=code_row,
            unknown=self.person.says_unknown(said),
            cert_hint=self.names.cert_hint(tokens, residue),
            level_words=level_words,
            level_professional=_last(level_words, self.matcher.prof_levels),
            level_skill=_last(level_words, self.matcher.skill_levels),
            residue=residue, question=self.intents["question"].found_in(said),
            asks_eligibility=self.intents["eligibility"].found_in(said),
            also=self.names.also(tokens, match),
            catalogue=next((k for k, w in self.catalogue_words if w.found_in(said)), None),
            notes_about=tuple(i for i, w in self.note_topics if w.found_in(said)),
            background_about=tuple(i for i, w in self.fact_topics if w.found_in(said)),
            asks=self._asks(said, text),
            generic_title=match is not None and match.surface in self.names.generic_titles,
        )

    # --- parts -------------------------------------------------------------------------------

    def _code_row(self, code: str) -> str | None:
        """The 临港 row of an occupation code, written with dashes or without (6250204)."""
        if "-" not in code:
            code = f"{code[0]}-{code[1:3]}-{code[3:5]}-{code[5:]}"
        return self.codes.get(code)

    def _intent(self, said: Said) -> str | None:
        length = len(said.text)
        for name in ("reset", "cancel", "forget", "details", "help"):
            # a command word at the start of a short message (「重新开始吧」, not a long sentence)
            start = self.intents[name].at_start(said)
            if start is not None and length <= len("".join(said.tokens[:start])) + 4:
                return name
        short = {"clarify", "thanks", "greeting"}
        for name in ("clarify", "note_question", "lookup", "thanks", "greeting"):
            if self.intents[name].found_in(said) and (name not in short or length <= 12):
                return name
        return None

    def _purpose(self, said: Said, correction: bool) -> tuple[str | None, bool]:
        """The purpose named (not negated: 「不落户了」), and whether it is only the loose
        「积分落户」 or a vague 「有用吗」."""
        tokens = said.tokens
        loose = self.loose.matches(said)
        taken = {i for a, b in loose for i in range(a, b)}
        named: list[tuple[int, str]] = []
        for key, words in self.purposes.items():
            for a, _ in words.matches(said):
                negated = any(t in self.negations for t in tokens[max(0, a - 2):a])
                if a not in taken and not negated:
                    named.append((a, key))
        if named:
            if correction:
                return max(named)[1], False
            return min(named, key=lambda n: PURPOSE_ORDER.index(n[1]))[1], False
        return None, bool(loose) or self.intents["vague_purpose"].found_in(said)

    def _settle_assumed(self, said: Said) -> bool:
        named = [w for w in self.purposes["settle"].words
                 if w not in self.settle_assumed.words]
        return self.settle_assumed.found_in(said) and not any(
            t in named for t in said.tokens)

    def _level_words(self, said: Said, correction: bool) -> tuple[str, ...]:
        levels = self.matcher.prof_levels.keys() | self.matcher.skill_levels.keys()
        stated = [i for i, t in enumerate(said.tokens) if t in levels
                  and not (i and said.tokens[i - 1] in self.level_not_stated)]
        # 「算中级吗」 asks about a level, 「不是四级」 denies one: neither states it
        start = self.intents["correction"].last(said) if correction else None
        after = [i for i in stated if i >= (start or 0)]
        return tuple(said.tokens[i] for i in (after or stated))

    def _facts(self, said: Said, match: Match | None, ctx: Context,
               english: str = "") -> dict[str, Any]:
        """Every fact the message states; ``english``: the text with its spaces, read for
        social insurance when it has latin words (「1.5x for 5 years」)."""
        asking, person = ctx.asking, self.person
        if asking is None:
            said = person.own(said)
        posts = said  # 「在一家环评公司做报告」: the certificate's own word names the post too
        # Other facts are read without the certificate's own name: 监理工程师 holds 理工.
        if match is not None and asking in (None, "credential"):
            said = Said(tuple(" " if t == match.surface else t for t in said.tokens))
        found: dict[str, Any] = {
            "social_insurance": self.insurance.read(
                english if _LATIN_WORDS.search(english) else said.text,
                asking == "social_insurance", ctx.asked_multiple),
            "job_match": person.job_match(posts, asking == "job_match",
                                          self.fields.get(self._row(match, ctx), ()),
                                          frozenset((match.surface,)) if match else frozenset()),
            "stem_degree": person.stem_degree(said, asking == "stem_degree"),
            "where_obtained": person.where_obtained(said, asking == "where_obtained"),
            "at_firm": person.at_firm(said, asking == "at_firm"),
        }
        # Outside an answer, "don't know" is not a fact about any slot.
        return {slot: value for slot, value in found.items()
                if value is not None and (value != UNKNOWN or slot == asking)}

    def _months_said(self, text: str, facts: Mapping[str, Any],
                     ctx: Context) -> Mapping[str, Any] | None:
        """「其实是七个月」 after a social-insurance answer: the months, at the rate said then."""
        if ctx.asking is not None or ctx.last_multiple is None or facts:
            return None
        value = self.insurance.read(text, True, ctx.last_multiple)
        return value if isinstance(value, Mapping) and value.get("segments") else None

    def _row(self, match: Match | None, ctx: Context) -> str:
        """The row whose field a post is judged against: the one named, the one asked about, or
        for a title (副主任护师) the row its name ends like (knowledge/fields.yaml titles)."""
        if match is not None and match.row_id:
            return match.row_id
        surface = match.surface if match is not None else ctx.surface or ""
        if (match is not None and match.target.startswith("title#")) or ctx.row in (
                "title#intermediate", "title#senior"):
            return next((row for ending, row in self.title_rows if surface.endswith(ending)), "")
        return ctx.row or ""

    def _asks(self, said: Said, text: str) -> dict[str, int | None]:
        asks: dict[str, int | None] = {}
        for kind, words in self.sub_questions.items():
            if words.found_in(said):
                number = _POINTS_SAID.search(text) if kind == "points" else None
                asks[kind] = int(number[1]) if number else None
        return asks


def _last(words: tuple[str, ...], table: Mapping[str, str]) -> str | None:
    values = [table[w] for w in words if w in table]
    return values[-1] if values else None
