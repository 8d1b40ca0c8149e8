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
        self.generic_titles = frozenset(normalise_name(w) for w in lex["generic_titles"])
        self.cert_hints = tuple(lex["certificate_hints"])
        self.post_words = frozenset(normalise_name(w) for w in lex["post_words"])
        self.cert_words = frozenset(normalise_name(w) for w in lex["certificate_words"])
        self.cert_suffixes = sorted(self.cert_words, key=len, reverse=True)
        self.plain_words = frozenset(normalise_name(p) for p in phrases)
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
        tokens = self._split_certificate_words(self.matcher.tokens(text))
        said = Said(tuple(tokens))
        correction = self.intents["correction"].found_in(said)
        level_words = self._level_words(said, correction)
        code = _CODE.search(text)
        code_row = self._code_row(code[0]) if code else None  # a number that is no code: none
        after = self.intents["correction"].last(said) if correction else None
        residue = self._unknown_name(tokens)
        # 「我老婆走人才引进,她有ACCA;我自己是中级审计师」: the person's own clauses name
        # their certificate and purpose; other people's only when theirs name none
        own = self.person.own(said) if ctx.asking is None else said
        match, unknown_title = None, ""
        if own is not said:
            match, unknown_title = self._match(own.text, list(own.tokens), level_words,
                                               ctx.asking, bool(code_row or digit), None, "")
        if match is None:
            match, unknown_title = self._match(text, tokens, level_words, ctx.asking,
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
            unknown=self.person.says_unknown(said), cert_hint=self._cert_hint(tokens, residue),
            level_words=level_words,
            level_professional=_last(level_words, self.matcher.prof_levels),
            level_skill=_last(level_words, self.matcher.skill_levels),
            residue=residue, question=self.intents["question"].found_in(said),
            asks_eligibility=self.intents["eligibility"].found_in(said),
            also=self._also(tokens, match),
            catalogue=next((k for k, w in self.catalogue_words if w.found_in(said)), None),
            notes_about=tuple(i for i, w in self.note_topics if w.found_in(said)),
            background_about=tuple(i for i, w in self.fact_topics if w.found_in(said)),
            asks=self._asks(said, text),
            generic_title=match is not None and match.surface in self.generic_titles,
        )

    # --- parts -------------------------------------------------------------------------------

    def _code_row(self, code: str) -> str | None:
        """The 临港 row of an occupation code, written with dashes or without (6250204)."""
        if "-" not in code:
            code = f"{code[0]}-{code[1:3]}-{code[3:5]}-{code[5:]}"
        return self.codes.get(code)

    def _split_certificate_words(self, tokens: list[str]) -> list[str]:
        """「电工证」 is 电工 + 证 when 电工 is a known name and 电工证 is not."""
        index, out = self.matcher.index, []
        for token in tokens:
            stem = next((token[:-len(w)] for w in self.cert_suffixes
                         if token.endswith(w) and token[:-len(w)] in index), None)
            out += [stem, token[len(stem):]] if stem and token not in index else [token]
        return out

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

    def _match(self, text: str, tokens: list[str], level_words: tuple[str, ...],
               asking: str | None, coded: bool, after: int | None,
               residue: str) -> tuple[Match | None, str]:
        """The certificate named, and an unknown name that holds a title word (「元宇宙应用
        工程师」 is no 工程师: it is returned as the name not recognised)."""
        if coded:
            return None, ""
        index = self.matcher.index  # 「我是护师,还不是主管护师」: a name denied is not held
        tokens = [" " if i and t in index and tokens[i - 1] in self.negations else t
                  for i, t in enumerate(tokens)]
        if after:  # 「二建……不对,我是一建」: the name said after the correction counts
            later = self.matcher.find("".join(tokens[after:]), tokens[after:], None,
                                      list(level_words))
            if later is not None:
                return later, ""
        if asking not in (None, "credential"):  # an answer: only a name said in full counts
            return self.matcher.find(text, tokens, None, list(level_words)), ""
        fuzzy_ok = len(residue) >= 2 and (self._cert_hint(tokens, residue) or bool(level_words)
                                          or asking == "credential")
        fuzzy_text = "".join(t for t in tokens if t not in self.plain_words and _WORD.match(t))
        match = self.matcher.find(text, tokens, fuzzy_text=fuzzy_text if fuzzy_ok else "",
                                  level_words=list(level_words))
        # 「注册会计帅」 holds 会计; 「监里工程师」 is no 监理: typed for 师, 理
        if match is None or match.fuzzy or ":" in match.target or match.target.startswith(
                "title#"):
            canonical = text.translate(self.matcher.confusables)
            again = self.matcher.find(canonical, None, None, list(level_words)) \
                if canonical != text else None
            if again is not None and not again.target.startswith(("unleveled:", "title#")) \
                    and len(again.surface) > len(match.surface if match else ""):
                return Match(again.target, again.surface, again.level, fuzzy=True), ""
        if match is not None and match.target.startswith("title#") and not match.fuzzy:
            at = tokens.index(match.surface) if match.surface in tokens else 0
            before = tokens[at - 1] if at else ""
            if len(before) > 1 and before not in self.matcher.vocabulary and _WORD.match(before) \
                    and not before.isascii():  # 「Mechanical 工程师」 is an engineer
                # 「元宇宙应用工程师」: a title word inside a name the bot does not know
                start = at
                while start and tokens[start - 1] not in self.matcher.vocabulary \
                        and _WORD.match(tokens[start - 1]):
                    start -= 1
                return None, "".join(tokens[start:at + 1])
        if match is not None and match.surface in self.generic_titles:
            # 「中级职称(工程师)」: the series said beside the generic title is the title
            named = [t for t in tokens if t != match.surface and t not in self.generic_titles
                     and self.matcher.index.get(t, "").startswith("title#")]
            if named:
                match = self.matcher.resolve(self.matcher.index[named[0]], named[0],
                                             list(level_words))
        if match is not None and match.level is not None and (after or len(set(level_words)) > 1):
            # several levels said: the last one counts (「三级吧……不对,是二级」)
            match = self.matcher.resolve(match.target, match.surface, list(level_words[-1:]))
        return match, ""

    def _unknown_name(self, tokens: list[str]) -> str:
        """The words no vocabulary knows, as the person wrote them (an unknown name?): the run
        that looks like a certificate (房评师, 潜水教练), else the longest; a single known
        character between unknown words stays in (评 in 房/评/师)."""
        known = self.matcher.vocabulary
        runs: list[list[str]] = [[]]
        for i, token in enumerate(tokens):
            unknown = token not in known and bool(_WORD.match(token))
            inner = (len(token) == 1 and bool(runs[-1]) and i + 1 < len(tokens)
                     and tokens[i + 1] not in known and bool(_WORD.match(tokens[i + 1])))
            if unknown or inner:
                runs[-1].append(token)
            elif runs[-1]:
                runs.append([])
        names = ["".join(run) for run in runs if run]
        hinted = [n for n in names if any(h in n for h in self.cert_hints)]
        return max(hinted or names, key=len, default="")

    def _cert_hint(self, tokens: list[str], residue: str) -> bool:
        if any(hint in residue for hint in self.cert_hints):
            return True
        vocabulary = self.matcher.vocabulary
        return len(residue) >= 2 and any(  # an unknown word right before 证/证书/资格
            t in self.cert_words and tokens[i - 1] not in vocabulary and tokens[i - 1].isalnum()
            for i, t in enumerate(tokens) if i)

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

    def _also(self, tokens: list[str], match: Match | None) -> tuple[str, ...]:
        """Other certificates named in full (「一建和中级会计」): said back, not lost silently."""
        if match is None:
            return ()
        index = self.matcher.index
        named = [t for t in tokens if t in index and t != match.surface
                 and index[t] != match.target
                 and not index[t].startswith(("unleveled:", "title#"))]
        return tuple(dict.fromkeys(named))

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
