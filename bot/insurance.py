"""Social insurance read from loose answers (note 3), and judged against a rule's window.

``InsuranceReader(lexicon, clock).read(text, answering, asked_multiple)`` returns None (the text
says nothing of it), ``UNKNOWN`` (the person does not know), or a JSON-able value::

    {"segments": [[months, multiple], ...],  # months: int 0..1200, ALL_MONTHS or None
     "window": int | None,    # the span the person spoke of (「最近4年」, 「4年里」 → 48), months
     "answer": bool | None,   # a bare 「满足」 / 「不满足」 (then segments is empty)
     "gap": int,              # optional: months not paid at all (「有12个月没交」)
     "total": True,           # optional: the segments are all there is (never open)
     "recent": [index, ...],  # optional: segments whose months are the latest ones
                              # (一直, since a start date, 「最近18个月」); True: all of them
     "since": "YYYY-MM",      # optional: the start month said (「2025年1月开始」)
     "asked": [window, months, multiple]}  # added by the engine: the question it answers

Judging a value against a rule, merging a correction: bot/insurance_check.py (re-exported).
``ALL_MONTHS`` is every month of the window (「一直」), or the months the other segments leave
(「之前都是最低基数」); None is a multiple said without months. Multiples said in words are
``MINIMUM`` and ``BELOW_AVERAGE``; 「不到1.3倍」 is 1.3 - ``BELOW``. Months said within a window
(「近两年24个月」) are at most that window. Months from a start date count the start month and
the current one (``bot.clock.months_since``): 「2025年1月开始」 on 2026-11-29 is 23.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.clock import Clock, StartDates, clock_from_env
from bot.insurance_check import (
    ALL_MONTHS,
    BELOW,
    BELOW_AVERAGE,
    MINIMUM,
    evaluate_social_insurance,
    merge_social_insurance,
    split_multiple,
)
from bot.numbers import MAX_MONTHS, arabic_numerals, sane_months, sane_multiple
from bot.person import UNKNOWN

__all__ = ["ALL_MONTHS", "BELOW", "BELOW_AVERAGE", "MINIMUM", "UNKNOWN", "InsuranceReader",
           "evaluate_social_insurance", "merge_social_insurance", "split_multiple"]

MAX_CHARS = 2000  # what is read of one answer
MAX_MARKS = 64  # start dates and windows read in one answer

# private-use characters stand for the start dates and windows taken out of the text
_DATE_MARK, _WINDOW_MARK = 0xE000, 0xE100
_PRIVATE = re.compile("[\ue000-\uf8ff]")
_DATES = re.compile(f"[{chr(_DATE_MARK)}-{chr(_DATE_MARK + MAX_MARKS - 1)}]")
_WINDOWS = re.compile(f"[{chr(_WINDOW_MARK)}-{chr(_WINDOW_MARK + MAX_MARKS - 1)}]")
_PUNCTUATION = r"[,,。;;!!??、\n]+"
_MULTIPLE = re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d{1,3})?)\s*倍")
# 「社平的1.3」: a number right after the city average is a multiple of it
_OF_AVERAGE = re.compile(r"(社平(?:工资)?的?)\s*(\d(?:\.\d{1,3})?)(?![\d.]|\s*(?:个|年|月|倍|%))")
_YEARS_MONTHS = re.compile(r"(?<![\d.])(\d{1,3})\s*年\s*(?:零|又)?\s*(\d{1,2})\s*个?月")
_MONTHS = re.compile(r"(?<![\d.])(\d{1,4})\s*个?月")
_YEARS = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,2})?)\s*年")
# 「差两个月满三年」: N months short of M years
_SHORT_OF = re.compile(r"差\s*(\d{1,2})\s*个?月\s*(?:就|才)?\s*满?\s*(\d{1,3})\s*年")
# 「最近4年」 (the latest months), or 「4年里」 (a span)
_WINDOW = re.compile(r"(?P<latest>最近|(?<![将接])近|过去)\s*"
                     r"(?P<n>\d{1,3})(?![\d.])\s*(?P<unit>年|个月)"
                     r"|(?<![\d.])(?P<span>\d{1,3})\s*(?P<span_unit>年|个月)\s*(?=里|内|之内|当中)")


class _Phrases:
    """Phrases searched for at once (one alternation, longest first)."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(sorted({str(w) for w in words if w}, key=len, reverse=True))
        self.pattern = "|".join(map(re.escape, self.words)) or "(?!)"
        self._regex = re.compile(self.pattern)

    def found_in(self, text: str) -> bool:
        return bool(self._regex.search(text))

    def last_end(self, text: str) -> int | None:
        ends = [m.end() for m in self._regex.finditer(text)]
        return ends[-1] if ends else None


@dataclass
class _Said:
    """One answer while it is read: its text with start dates and windows taken out."""

    text: str
    starts: list[tuple[tuple[int, int] | None, int | None]] = field(default_factory=list)
    windows: list[tuple[int | None, bool]] = field(default_factory=list)  # (months, latest)
    answering: bool = False
    used_start: tuple[int, int] | None = None
    total: bool = False

    @property
    def window(self) -> int | None:
        return self.windows[0][0] if self.windows else None

    def date_marks(self, part: str) -> list[int]:
        """Indices into ``starts`` of the start dates in ``part``."""
        return [ord(m[0]) - _DATE_MARK for m in _DATES.finditer(part)] if self.starts else []

    def window_marks(self, part: str) -> list[tuple[int | None, bool]]:
        """The windows said in ``part``."""
        return ([self.windows[ord(m[0]) - _WINDOW_MARK] for m in _WINDOWS.finditer(part)]
                if self.windows else [])


class InsuranceReader:
    """Reads social-insurance answers; configured from lexicon.yaml, dates against a clock.

    Args:
        lexicon: the lexicon (its ``social_insurance`` and ``answers`` sections).
        clock: today's date; default ``clock_from_env()`` (BOT_TODAY, else the system date),
            which raises ``bot.clock.ClockError`` here, at construction, for a bad BOT_TODAY.
        longest_window: the longest window a rule looks at (months, note 3: 48); months from a
            start date are capped at it (「2010年开始」 → 48, not 203). None: capped at 1200.
    """

    def __init__(self, lexicon: Mapping[str, Any], clock: Clock | None = None,
                 longest_window: int | None = None) -> None:
        self.clock = clock if clock is not None else clock_from_env()
        self.cap = min(longest_window or MAX_MONTHS, MAX_MONTHS)
        si, answers = lexicon["social_insurance"], lexicon["answers"]
        self.words = {key: _Phrases(si[key]) for key in (
            "always", "whole_year", "nearly", "rest", "city_average", "minimum",
            "below_average", "below", "gap", "only", "correction", "topic", "loose_topic",
            "denied", "since_then")}
        self.unknown = _Phrases([*answers["unknown"], *si["unknown"]])
        # a yes or no word counts anywhere; a single character only at the start (没, 不 …)
        self.answer_words = [
            (_Phrases(w for w in answers[key] if len(w) > 1),
             tuple(w for w in answers[key] if len(w) == 1), value)
            for key, value in (("no", False), ("yes", True))]
        self.dates = StartDates(si)
        self.breaks = tuple(si["clause_breaks"])
        self._clause = re.compile(f"{_PUNCTUATION}|(?=(?:{_Phrases(self.breaks).pattern}))")
        self._punctuation = re.compile(_PUNCTUATION)

    # --- reading -----------------------------------------------------------------------------

    def read(self, text: str, answering: bool,
             asked_multiple: float | None = None) -> dict[str, Any] | str | None:
        """The social insurance ``text`` states (see the module docstring for the shape).

        ``answering``: the text answers the social-insurance question (read leniently: a bare
        duration 「差不多3年多」 is taken at ``asked_multiple``, a bare 「满足」 is an answer).
        After a correction inside the text (「…不对,去年才调到1.3倍」) what follows it is read.
        Never raises; linear in the length of the text.
        """
        text = _PRIVATE.sub(" ", text[:MAX_CHARS])
        if not answering and not self.words["topic"].found_in(text):
            return None
        # 「具体不清楚,HR说一直1.5倍」: what is stated is read; 不清楚 only when nothing is
        text = _OF_AVERAGE.sub(r"\1\2倍", arabic_numerals(text))
        today = self.clock()
        corrected = self.words["correction"].last_end(text)
        if corrected is not None:
            value = self._statement(text[corrected:], today, answering, asked_multiple)
            if isinstance(value, dict) and value["segments"]:
                return value
        value = self._statement(text, today, answering, asked_multiple)
        if value is None and answering:
            answer = self._yes_no(text)
            return {"segments": [], "window": None, "answer": answer} if isinstance(
                answer, bool) else answer
        return value

    def _statement(self, text: str, today: date, answering: bool,
                   asked_multiple: float | None) -> dict[str, Any] | None:
        said = self._take_out(text, today)
        said.answering = answering
        segments, recent, gap = self._segments(said)
        said_multiple = "倍" in said.text and _MULTIPLE.search(said.text)  # 30倍: not a fact
        if not segments and answering and asked_multiple is not None and not said_multiple:
            months, latest = self._duration(said.text, said, whole=True)
            gap = self.words["gap"].found_in(said.text)  # 「断过一次,大概两个月」: months unpaid
            if months is not None and not gap and self._yes_no(said.text) is not False:
                segments, recent = [[months, float(asked_multiple)]], [0] if latest else []
        if not segments:
            return None
        if said.window is not None:  # 「近两年24个月」: never more than the window said
            for segment in segments:
                if isinstance(segment[0], int) and segment[0] > said.window:
                    segment[0] = said.window
        value: dict[str, Any] = {"segments": segments, "window": said.window, "answer": None}
        if gap:
            value["gap"] = gap
        if said.total or said.used_start or self.words["only"].found_in(said.text):
            value["total"] = True  # 「去年才来上海」, 「就这24个月」: the months said are all
        if recent:
            value["recent"] = recent
        if said.used_start:
            value["since"] = f"{said.used_start[0]:04d}-{said.used_start[1]:02d}"
        return value

    def _take_out(self, text: str, today: date) -> _Said:
        """Start dates and windows (「最近4年」) become marks, their values kept aside."""
        said = _Said(text)

        def date_mark(start: tuple[int, int] | None, months: int | None) -> str:
            if len(said.starts) >= MAX_MARKS:
                return " "
            said.starts.append((start, None if months is None else min(months, self.cap)))
            return chr(_DATE_MARK + len(said.starts) - 1)

        def window_mark(match: re.Match[str]) -> str:
            if len(said.windows) >= MAX_MARKS:
                return " "
            number, unit = match["n"] or match["span"], match["unit"] or match["span_unit"]
            months = sane_months(int(number) * (12 if unit == "年" else 1))
            said.windows.append((months, bool(match["latest"])))
            return chr(_WINDOW_MARK + len(said.windows) - 1)

        if "年" in text:
            text = self.dates.replace(text, today, date_mark)
        said.text = _WINDOW.sub(window_mark, text) if "年" in text or "月" in text else text
        return said

    def _segments(self, said: _Said) -> tuple[list[list[Any]], list[int], int]:
        """Segments of (months, multiple), the indices of the latest ones, the months unpaid."""
        text = said.text
        split = (self._clause if any(w in text for w in self.breaks) else self._punctuation).split
        clauses = [c for c in split(text) if c.strip()]
        parted = [(clause, self._split_at_multiples(clause)) for clause in clauses]
        # 「一直」 said once covers the one clause that states a multiple, not several of them
        one_rate = sum(1 for _, parts in parted if parts) == 1
        always_anywhere = one_rate and self.words["always"].found_in(said.text)
        segments: list[list[Any]] = []
        recent: list[int] = []
        loose: list[tuple[int, bool]] = []  # durations said apart from any multiple (交了两年)
        gap = 0  # months not paid at all (「有12个月没交」): 一直 covers the rest
        for clause, parts in parted:
            if not parts:
                if not (said.answering or self.words["loose_topic"].found_in(clause)):
                    continue  # 「拿证3年了」 outside an answer: not the social insurance
                months, latest = self._duration(clause, said)
                if months is not None and months != ALL_MONTHS:
                    if self.words["gap"].found_in(clause):
                        gap += months
                    else:
                        loose.append((months, latest))
                continue
            for part in parts:
                segment, latest = self._segment(part, said, always_anywhere and len(parts) == 1)
                if segment is not None and segments and segment[0] == ALL_MONTHS \
                        and self.words["since_then"].found_in(part):
                    continue  # 「2024年3月开始才到1.3倍,之后一直是1.3倍」: the same months
                if segment is not None:
                    recent += [len(segments)] if latest else []
                    segments.append(segment)
        if loose and len(segments) == 1 and segments[0][0] in (None, ALL_MONTHS):
            # 「有40个月,基数1.5倍」, 「刚来两年,一直1.5倍」: the duration said apart is the span
            segments[0][0], latest = max(loose)
            if latest and not recent:
                recent.append(0)
        return segments, recent, gap

    def _segment(self, part: str, said: _Said, always: bool) -> tuple[list[Any] | None, bool]:
        """[months, multiple] a part states (None: no multiple), and whether they are the latest.
        ``always``: 「一直」 said elsewhere in the answer covers this part."""
        multiple = self._multiple(part)
        if multiple is None:
            return None, False
        months, latest = self._duration(part, said, whole=True)
        if months in (None, ALL_MONTHS) and self.words["rest"].found_in(part):
            said.total = True  # 「之前都是最低基数」: what the other parts leave
            return [ALL_MONTHS, multiple], False
        if months is None and always:
            months = ALL_MONTHS
        return [months, multiple], latest or self.words["always"].found_in(part)

    def _split_at_multiples(self, clause: str) -> list[str]:
        """A clause cut after each multiple it states: 前两年1倍后两年1.5倍 → two parts."""
        ends = [m.end() for m in _multiples(clause)]
        if len(ends) <= 1:
            worded = any(self.words[k].found_in(clause)
                         for k in ("below_average", "minimum", "city_average"))
            return [clause] if ends or worded else []
        starts = [0, *ends[:-1]]
        parts = [clause[s:e] for s, e in zip(starts, ends, strict=True)]
        parts[-1] += clause[ends[-1]:]
        return parts

    def _duration(self, part: str, said: _Said, whole: bool = False) -> tuple[int | None, bool]:
        """(months a part states, whether they are the latest ones).

        From a start date (latest); N年N个月, N个月 (the smallest), N年; a whole year in words;
        the window said (``whole``: a part with a multiple; latest for 「最近…」); ALL_MONTHS
        for 一直. 「将近三年」 is one month short of it. None: no duration, or one beyond sense.
        """
        dates = said.date_marks(part)
        if dates:
            start, months = said.starts[dates[0]]
            if len(dates) > 1 or start is None:
                return None, False  # a range, or a date beyond sense: not read
            said.used_start = said.used_start or start
            return months, True
        windows = said.window_marks(part)
        found: list[tuple[int, int]] = []
        short = _SHORT_OF.search(part) if "差" in part else None
        if short:
            return sane_months(max(0, int(short[2]) * 12 - int(short[1]))), False
        if "月" in part:
            found = [(int(m[1]) * 12 + int(m[2]), m.start())
                     for m in _YEARS_MONTHS.finditer(part) if int(m[2]) < 12]
            found = found or [(int(m[1]), m.start()) for m in _MONTHS.finditer(part)]
        if not found and "年" in part:
            found = [(round(float(m[1]) * 12), m.start()) for m in _YEARS.finditer(part)][-1:]
        if found:
            months, start_at = min(found)
            nearly = self.words["nearly"].found_in(part[max(0, start_at - 4):start_at])
            months = sane_months(months - 1 if nearly and months > 0 else months)
            return months, any(w == (months, True) for w in windows)  # 「近两年24个月」
        if self.words["whole_year"].found_in(part):
            return 12, False
        if whole and windows and windows[0][0] is not None:
            return windows[0]  # 「最近18个月1.5倍」: the window is the span
        return (ALL_MONTHS if self.words["always"].found_in(part) else None), False

    def _multiple(self, part: str) -> float | None:
        found = _multiples(part)
        if found:
            value = float(found[-1][1])
            before = part[:found[-1].start()]
            if self.words["denied"].found_in(before[-4:]):
                return None  # 「一直是1.2倍,不是1.5倍」: the multiple denied is none
            # 「不到1.3倍」: below the number said
            return value - BELOW if self.words["below"].found_in(before[-4:]) else value
        if self.words["below_average"].found_in(part):
            return BELOW_AVERAGE
        if self.words["minimum"].found_in(part):
            return MINIMUM
        if self.words["city_average"].found_in(part):
            return 1.0
        return None

    def _yes_no(self, text: str) -> bool | str | None:
        """A bare 满足 / 不满足 / 没有 (single characters count only at the start)."""
        if self.unknown.found_in(text):
            return UNKNOWN
        compact = text.replace(" ", "")
        for words, first, value in self.answer_words:
            if words.found_in(compact) or compact.startswith(first):
                return value
        return None


def _multiples(text: str) -> list[re.Match[str]]:
    if "倍" not in text:
        return []
    return [m for m in _MULTIPLE.finditer(text) if sane_multiple(float(m[1])) is not None]
