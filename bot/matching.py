"""Where a certificate name is matched: message → catalogue row, title, near miss or nothing.

Exact names first (jieba tokens looked up in the name index, longest words winning), then a
fuzzy fallback with rapidfuzz for typos. Levels are part of identity: a level the message states
is checked against the row's level, and no fuzzy score can override a contradicting level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.knowledge import Knowledge, Row, normalise_name
from bot.text import Segmenter

# A level word inside a name, for the fuzzy level guard (二级建照师 must not become 一级建造师).
_LEVEL_IN_TEXT = re.compile(r"[一二三四五]级|[初中高]级|[abc]级")
# Senior forms of a 中级-only series (高级会计 → a senior title, not the 中级 row).
SENIOR = "高级"


@dataclass(frozen=True)
class Match:
    """What a message says the person holds.

    Attributes:
        target: a row id, ``title#intermediate``/``title#senior``, ``near:<i>`` (a listed near
            miss), ``unleveled:<row id>`` (the level is still open), ``conflict:<row id>``
            (a level the row does not list) or ``ambiguous:<key>`` (a name that fits several
            certificates: ``candidates``, to be asked).
        surface: the words that matched.
        level: the level the message states: a professional level word (一级, 中级, A级 …) or a
            skill level ``"1"`` … ``"5"``; None when it states none.
        fuzzy: True when found by similarity rather than by name.
        candidates: for an ambiguous name, the ``(label, target)`` pairs to offer (a target is
            a row id or ``near``); () otherwise.
    """

    target: str
    surface: str
    level: str | None = None
    fuzzy: bool = False
    candidates: tuple[tuple[str, str], ...] = ()

    @property
    def kind(self) -> str:
        return self.target.split("#")[0].split(":")[0]

    @property
    def row_id(self) -> str | None:
        """The catalogue row this match is about, if any (also for unleveled and conflicts)."""
        tail = self.target.split(":", 1)[-1]
        return tail if "#" in tail and not tail.startswith("title#") else None


class Matcher:
    """Finds certificate names in normalised text."""

    def __init__(self, kb: Knowledge, extra_words: list[str],
                 dictionary_words: list[str] | None = None) -> None:
        """``extra_words``: known words that are not names (vocabulary: never an unknown name);
        ``dictionary_words``: which of them the segmenter must keep whole (default: all)."""
        self.kb = kb
        self.index: Mapping[str, str] = kb.names
        lex = kb.lexicon["levels"]
        self.prof_levels = {normalise_name(w): level
                            for level, words in lex["professional"].items() for w in words}
        self.skill_levels = {normalise_name(w): str(level)
                             for level, words in lex["skill"].items() for w in words}
        self.vocabulary = frozenset([*self.index, *self.prof_levels, *self.skill_levels,
                                     *extra_words])
        # job words (责任编辑, 数据库工程师) are cut whole, so that no title is read inside them;
        # they stay out of the vocabulary: an unknown name around them is still noticed
        self.jobs = frozenset(normalise_name(w) for w in kb.job_words)
        kept_whole = extra_words if dictionary_words is None else dictionary_words
        names = {*self.index, *self.prof_levels, *self.skill_levels}
        self.segmenter = Segmenter(names | set(kept_whole) | self.jobs)
        # Fuzzy candidates: names of three characters or more (shorter ones only match exactly).
        self.fuzzy_names = [name for name in self.index if len(name) >= 3]
        self.lingang_also = _lingang_twins(kb)
        self.confusables = str.maketrans(dict(kb.lexicon["confusables"]))
        self.post_verbs = frozenset(w for w in kb.lexicon["post_words"] if len(w) == 1)
        self.licences = frozenset(f"near:{i}" for i, near in enumerate(kb.near_misses)
                                  if near.kind == "licence")

    def tokens(self, text: str) -> list[str]:
        return self.segmenter.cut(text)

    def find(self, text: str, tokens: list[str] | None = None,
             fuzzy_text: str | None = None,
             level_words: list[str] | None = None) -> Match | None:
        """The certificate the normalised ``text`` names, or None.

        ``fuzzy_text``: the part of the text to match by similarity when no name matches
        exactly (None: no fuzzy matching). ``level_words``: the levels the text states (default:
        every level word in it; the reader leaves out asked or denied ones: 「算中级吗」).
        """
        tokens = self.tokens(text) if tokens is None else tokens
        if level_words is None:
            level_words = [t for t in tokens if t in self.prof_levels or t in self.skill_levels]
        hits = [i for i, token in enumerate(tokens) if token in self.index]
        rows = [i for i in hits if not self.index[tokens[i]].startswith(
            ("near:", "unleveled:", "title#", "ambiguous:"))]
        for i, token in enumerate(tokens):  # 「焊工特种作业操作证」: the licence is held
            # a bare short licence word right after a listed name belongs to that name:
            # 「法律职业资格A证」 is not 安全员A证
            named = self.index.get(tokens[i - 1], "near:") if i else "near:"
            suffix = len(token) <= 2 and not named.startswith(("near:", "unleveled:", "title#"))
            # a listed certificate named on its own besides the licence is the one asked about
            # (「卫生中级…另外我还有执业医师资格」)
            apart = any(abs(j - i) > 1 and not (j and tokens[j - 1] in self.post_verbs)
                        for j in rows)  # 「当电工」 names a post, not a certificate
            if self.index.get(token, "") in self.licences and not suffix and not apart:
                return Match(self.index[token], token)
        # a full name beats a vague one said in passing: 「在事务所做审计,注会能落户吗」 is 注会;
        # a listed one beats one known to be outside the catalogues (「二建、注安、PMP」: 注安)
        full = rows or [i for i in hits
                        if not self.index[tokens[i]].startswith(("unleveled:", "title#"))]
        for i in (full or hits)[:1]:
            token = tokens[i]
            # A known name glued to unknown characters (消仿工程师) may be a longer name
            # mistyped: the whole run is tried by similarity first.
            span = self._unknown_run(tokens, i)
            if fuzzy_text is not None and span != token:
                longer = self._fuzzy(span, level_words, whole=True)
                if longer is not None and len(longer.surface) > len(token):
                    return longer
            return self.resolve(self.index[token], token, level_words)
        if fuzzy_text is not None:  # typos of sound-alike characters: 焊公技师, 审记师
            canonical = text.translate(self.confusables)
            if canonical != text:
                again = self.find(canonical, None, None)
                if again is not None:
                    return Match(again.target, again.surface, again.level, fuzzy=True)
        if fuzzy_text and self.jobs:  # a job word is never a certificate, not even by likeness
            fuzzy_text = "".join(t for t in self.tokens(fuzzy_text) if t not in self.jobs)
        return self._fuzzy(fuzzy_text, level_words) if fuzzy_text else None

    def _unknown_run(self, tokens: list[str], i: int) -> str:
        """Token i with the unknown characters (and level words) right before and after it."""

        def glued(token: str, before: bool) -> bool:
            # after the name: unknown words only; before it also single characters (a typo may
            # turn 监理 into 监里, and 里 is a word of its own) and level words
            loose = token not in self.vocabulary or (
                before and (len(token) == 1 or token in self.prof_levels))
            return loose and token.isalnum()

        start, end = i, i + 1
        while start > max(0, i - 5) and glued(tokens[start - 1], True):
            start -= 1
        while end < min(len(tokens), i + 3) and glued(tokens[end], False):
            end += 1
        around = "".join(tokens[start:i] + tokens[i + 1:end])
        if len(around) < 2 or all(t in self.vocabulary for t in tokens[start:end]):
            return tokens[i]  # nothing (or one stray character) around it: no typo to suspect
        return "".join(tokens[start:end])

    def resolve(self, target: str, surface: str, level_words: list[str]) -> Match:
        """Combine a name with the level words of its message."""
        stated = [self.prof_levels[w] for w in level_words if w in self.prof_levels]
        level = stated[0] if stated else None
        if target.startswith("ambiguous:"):
            return Match(target, surface, candidates=self.kb.ambiguous[target[10:]].candidates)
        if target.startswith("near:"):
            return self._leveled_near(target, surface, level) or Match(target, surface)
        if target.startswith("title#"):
            return Match(target, surface)
        row = self.kb.rows[target.split(":", 1)[-1]]
        if row.catalogue == "skilled":  # the level is the person's: a loose name is the row
            levels = [self.skill_levels[w] for w in level_words if w in self.skill_levels]
            return Match(row.id, surface, levels[0] if levels else None)
        if row.catalogue == "lingang":
            return Match(target, surface)
        if target.startswith("unleveled:"):
            return self.with_level(row, surface, level) if level else Match(target, surface)
        if level and row.levels and level not in row.levels:
            return Match(f"conflict:{row.id}", surface, level)
        return Match(target, surface, level or (row.levels[0] if row.levels else None))

    def with_level(self, row: Row, surface: str, level: str) -> Match:
        """The match once the level of an unleveled name is known."""
        if level in row.levels:
            return Match(row.id, surface, level)
        senior = row.senior or ((SENIOR,) if "中级" in row.levels else ())
        if level in senior:
            return Match("title#senior", surface, level)
        return Match(f"conflict:{row.id}", surface, level)

    def _leveled_near(self, target: str, surface: str, level: str | None) -> Match | None:
        """A junior near miss said with a level its nearest row lists: 中级护士, 护师中级 are
        卫生中级 (row 31), and 高级护师 a senior title. None when the level does not help."""
        near = self.kb.near_misses[int(target[5:])]
        if level is None or near.kind != "junior":
            return None
        for row_id in near.nearest:
            match = self.with_level(self.kb.rows[row_id], surface, level)
            if not match.target.startswith("conflict:"):
                return match
        return None

    def _fuzzy(self, text: str, level_words: list[str], whole: bool = False) -> Match | None:
        """The name most like a part of ``text`` (``whole``: like all of it), within typos."""
        # only typos need rapidfuzz: kept off the start-up path
        from rapidfuzz import fuzz, process
        from rapidfuzz.distance import Levenshtein

        compact = text.replace(" ", "")
        stated = set(_LEVEL_IN_TEXT.findall(compact))
        candidates = process.extract(
            compact, self.fuzzy_names, scorer=fuzz.partial_ratio, limit=60, score_cutoff=66
        )
        best: tuple[float, int, str] | None = None
        for name, _, _ in candidates:
            if len(name) > len(compact):
                continue
            own = set(_LEVEL_IN_TEXT.findall(name))
            if own and stated and not own & stated:
                continue  # a level the message contradicts: never a fuzzy match
            # partial_ratio only finds candidates; they are judged by edits (substitutions count
            # once) against the part of the text they align with: 中级会记 is one edit from
            # 中级会计 but two from 中级记者; 注册安全工成师 one from 注册安全工程师.
            where = fuzz.partial_ratio_alignment(name, compact)
            window = compact[where.dest_start:where.dest_end] if where and not whole else compact
            edits = Levenshtein.distance(name, window)
            # a run around a known name is a suspected typo of one character at most
            if edits > (min(1, _allowed_edits(len(name))) if whole else _allowed_edits(len(name))):
                continue
            key = (-edits / len(name), len(name), name)
            if best is None or key > best:
                best = key
        if best is None:
            return None
        match = self.resolve(self.index[best[2]], best[2], level_words)
        return Match(match.target, match.surface, match.level, fuzzy=True)


def _allowed_edits(length: int) -> int:
    """Typos a name of this length may carry: one from four characters, two from seven."""
    return 0 if length < 4 else 1 if length < 7 else 2


def _lingang_twins(kb: Knowledge) -> Mapping[str, str]:
    """Skilled rows whose trade is also on the 临港 list (say both)."""
    lingang = {normalise_name(n): row.id for row in kb.catalogues["lingang"].rows
               for n in row.names}
    return {row.id: lingang[normalise_name(n)] for row in kb.catalogues["skilled"].rows
            for n in row.names if normalise_name(n) in lingang}
