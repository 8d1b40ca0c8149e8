"""Where facts are read from loose Chinese answers: yes/no, degree, place, firm, social insurance.

Each parser returns the slot's value, ``UNKNOWN`` when the person says they don't know, or None
when the text says nothing about the slot. Values are JSON-able (they live in the store).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.text import Phrases, arabic_numerals

UNKNOWN = "unknown"
ALL_MONTHS = -1  # "一直" / "都是": the whole window the rule looks at

# Bases said in words, not numbers: under 1× whatever the number (read back in words).
MINIMUM = 0.5
BELOW_AVERAGE = 0.9
BELOW = 0.001  # 「不到1.3倍」 is kept as 1.299: under the number, and still shown as 不到1.3倍


def split_multiple(multiple: float) -> tuple[float, bool]:
    """A stored multiple as (the number said, whether it was 「不到」 that number)."""
    said = round(multiple + BELOW, 2)
    below = abs(multiple - (said - BELOW)) < 1e-9 and round(multiple, 2) != multiple
    return (said, True) if below else (multiple, False)


WHERE_VALUES = ("shanghai", "elsewhere_before", "other_province_while_shanghai", "elsewhere")

_MULTIPLE = re.compile(r"(\d+(?:\.\d+)?)\s*倍")
_ENGLISH_UNITS = re.compile(r"(?<=\d)(\s*)(months?|mos|years?|yrs|x|times)\b")
_UNIT_WORDS = {"m": "个月", "y": "年", "x": "倍", "t": "倍"}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%|百分之\s*(\d+(?:\.\d+)?)")
_YEARS_MONTHS = re.compile(r"(\d+)\s*年\s*(?:零|又)?\s*(\d+)\s*个?月")
_MONTHS = re.compile(r"(\d+)\s*个?月")
_YEARS = re.compile(r"(\d+(?:\.\d+)?)\s*年")
_WINDOW = re.compile(r"(?:最近|(?<![将接])近|过去)\s*(\d+)\s*(年|个月)")
_PUNCTUATION = r"[,,。;;!!??、\n]+"


def _sorted(words: Iterable[str]) -> Phrases:
    return Phrases(words)


class FactParser:
    """Parsers for every slot but credential and purpose, configured from lexicon.yaml."""

    def __init__(self, lexicon: Mapping[str, Any]) -> None:
        answers = lexicon["answers"]
        self.unknown = _sorted(answers["unknown"])
        self.no = _sorted(answers["no"])
        self.yes = _sorted(answers["yes"])
        degree = lexicon["degree"]
        self.degree_topic = _sorted(degree["topic"])
        self.degree = [
            (False, _sorted(degree["no_phrases"])), (True, _sorted(degree["yes_phrases"])),
            (True, _sorted(degree["yes_fields"])), (False, _sorted(degree["no_fields"])),
        ]
        where = lexicon["where_obtained"]
        self.where = {key: _sorted(words) for key, words in where.items()}
        self.job_change = _sorted(lexicon["job_change"])
        firm = lexicon["firm"]
        self.firm_yes, self.firm_no = _sorted(firm["yes"]), _sorted(firm["no_phrases"])
        breaks = "|".join(re.escape(w) for w in lexicon["clause_breaks"])
        self._clause = re.compile(f"{_PUNCTUATION}|{breaks}" if breaks else _PUNCTUATION)
        si = lexicon["social_insurance"]
        self.si = {key: _sorted(words) for key, words in si.items() if key != "since"}
        self.since = [(int(months), _sorted(words)) for months, words in si["since"].items()]

    # --- generic ---------------------------------------------------------------------------

    def clauses(self, text: str) -> list[str]:
        """The text cut at punctuation and at the connectives of lexicon.yaml (但是, 其他 …)."""
        return self._clause.split(text)

    def says_unknown(self, text: str) -> bool:
        return _has(text, self.unknown)

    def yes_no(self, text: str) -> bool | str | None:
        """True, False, UNKNOWN or None for a loose yes/no answer (对口 / 不对口 / 不清楚)."""
        if self.says_unknown(text):
            return UNKNOWN
        compact = text.replace(" ", "")
        for word in self.no:
            if (len(word) > 1 and word in compact) or compact.startswith(word):
                return False
        for word in self.yes:
            if (len(word) > 1 and word in compact) or compact.startswith(word):
                return True
        return None

    # --- slots -----------------------------------------------------------------------------

    def stem_degree(self, text: str, answering: bool) -> bool | str | None:
        """Whether the degree is 理工类; outside an answer only when the text talks of a degree."""
        if not answering:
            # only the clauses about a degree: 「在设计院做电气设计」 is about the post
            text = ",".join(c for c in self.clauses(text) if _has(c, self.degree_topic))
            if not text:
                return None
        if answering and self.says_unknown(text):
            return UNKNOWN
        for value, words in self.degree:
            if _has(text, words):
                return value
        return self.yes_no(text) if answering else None

    def where_obtained(self, text: str, answering: bool) -> str | None:
        """Where, and while working where, the certificate was obtained (see WHERE_VALUES)."""
        if not answering and not _has(text, self.where["topic"]):
            return None
        if answering and self.says_unknown(text):
            return UNKNOWN
        w = self.where
        other = _has(text, w["other_place"]) or (_has(text, w["return_to"]) and "考" in text)
        if other:
            # Both 「在老家工作时评的」 and 「来上海后」 may be said: the one nearer the verb of
            # obtaining (考, 评, 取得 …) says when it was obtained. 「来沪后」 said only after
            # that verb (「老家评的,来沪后想落户」) tells of a later move, not of the obtaining.
            verb = max((end for _, end in w["verbs"].spans(text)), default=len(text))
            near = {"shanghai_work": w["shanghai_work"].distance(text[:verb], verb),
                    "before": w["before"].distance(text, verb)}
            later = text[verb:]
            in_shanghai_later = w["shanghai_work"].distance(later, 0) is not None
            if in_shanghai_later and _has(later, w["at_that_time"]):  # 「那时候已经在上海上班了」
                return "other_province_while_shanghai"
            moved_later = in_shanghai_later
            if near["shanghai_work"] is not None and (
                    near["before"] is None or near["shanghai_work"] < near["before"]):
                return "other_province_while_shanghai"
            if near["before"] is not None or moved_later:
                return "elsewhere_before"
            return "elsewhere"
        if _has(text, w["shanghai"]):
            return "shanghai"
        if _has(text, w["national"]):  # 「全国通用的」 says nothing of where it was issued
            return UNKNOWN if answering else None
        return None

    def at_firm(self, text: str, answering: bool) -> bool | str | None:
        """Whether the person works at a 会计师事务所 / 律师事务所."""
        if answering and self.says_unknown(text):
            return UNKNOWN
        if _has(text, self.firm_no):
            return False
        if _has(text, self.firm_yes):
            return True
        return self.yes_no(text) if answering else None

    def job_match(self, text: str, answering: bool) -> bool | str | None:
        """Whether the post matches the certificate (对口)."""
        if answering:
            return self.yes_no(text)
        if _has(text, self.job_change):  # 「转行做电商了」: told without being asked
            return False
        if "对口" in text or "相符" in text:
            return self.yes_no(text[max(0, text.find("对口") - 2):] if "对口" in text else text)
        return None

    def social_insurance(
        self, text: str, answering: bool, asked_multiple: float | None = None
    ) -> dict[str, Any] | str | None:
        """Social insurance as segments of (months, multiple), or a bare yes/no.

        ``{"segments": [[months, multiple], ...], "window": months or None, "answer": bool}``;
        months is ALL_MONTHS for 「一直」 and None when not stated. An answer to the question
        that states months but no multiple (「差不多3年多」) is taken at the multiple asked for.
        """
        if not answering and not _has(text, self.si["topic"]):
            return None
        if answering and self.says_unknown(text):
            return UNKNOWN
        text = _PERCENT.sub(_percent_as_multiple, arabic_numerals(text))  # 130% → 1.3倍
        text = _ENGLISH_UNITS.sub(lambda m: _UNIT_WORDS[m[2][0]], text)  # 48 months, 1.5x
        segments, gap = self._segments(text)
        window = _WINDOW.search(text)
        window_months = None
        if window:
            window_months = int(window[1]) * (12 if window[2] == "年" else 1)
        if not segments and answering and asked_multiple is not None:
            months = self._duration(text)
            if months is not None and self.yes_no(text) is not False:
                segments = [[months, asked_multiple]]
        if segments:
            # 「去年才来上海」: the months said are all there are, whatever the window
            value: dict[str, Any] = {"segments": segments, "window": window_months,
                                     "answer": None}
            if gap:
                value["gap"] = gap
            if any(_has(text, words) for _, words in self.since):
                value["total"] = True
            return value
        if answering:
            answer = self.yes_no(text)
            if isinstance(answer, bool):
                return {"segments": [], "window": window_months, "answer": answer}
            return answer
        return None

    def _segments(self, text: str) -> tuple[list[list[Any]], int]:
        """Segments of (months, multiple), and the months not paid at all."""
        clauses = [c for c in self.clauses(text) if c]
        parted = [(clause, self._split_at_multiples(clause)) for clause in clauses]
        # 「一直」 said once covers the one clause that states a multiple, not several of them
        one_rate = sum(1 for _, parts in parted if parts) == 1
        always_anywhere = one_rate and _has(text, self.si["always"])
        segments: list[list[Any]] = []
        loose: list[int] = []  # durations stated apart from any multiple (「交了两年」)
        gap = 0  # months not paid at all (「有12个月没交」): 一直 covers the rest
        for clause, parts in parted:
            if not parts:
                months = self._duration(clause)
                if months is not None and months != ALL_MONTHS:
                    if _has(clause, self.si["gap"]):
                        gap += months
                    else:
                        loose.append(months)
                continue
            for part in parts:
                multiple = self._multiple(part)
                if multiple is None:
                    continue
                months = self._duration(part)
                if months is None and always_anywhere and len(parts) == 1:
                    months = ALL_MONTHS
                segments.append([months, multiple])
        if loose and len(segments) == 1 and segments[0][0] in (None, ALL_MONTHS):
            # 「有40个月,基数1.5倍」, 「刚来两年,一直1.5倍」: the duration said apart is the span
            segments[0][0] = max(loose)
        return segments, gap

    def _split_at_multiples(self, clause: str) -> list[str]:
        """A clause cut after each multiple it states: 前两年1倍后两年1.5倍 → two parts."""
        ends = [m.end() for m in _MULTIPLE.finditer(clause)]
        if len(ends) <= 1:
            worded = any(_has(clause, self.si[k])
                         for k in ("below_average", "minimum", "city_average"))
            return [clause] if ends or worded else []
        starts = [0, *ends[:-1]]
        parts = [clause[s:e] for s, e in zip(starts, ends, strict=True)]
        parts[-1] += clause[ends[-1]:]
        return parts

    def _duration(self, part: str) -> int | None:
        """Months a part states: N个月 (the smallest), N年, a start point (前年开始), or the
        whole window for 一直. 「将近三年」 is one month short of it."""
        found = [(int(m[1]) * 12 + int(m[2]), m.start()) for m in _YEARS_MONTHS.finditer(part)]
        if not found:
            found = [(int(m[1]), m.start()) for m in _MONTHS.finditer(part)]
        if not found:
            found = [(round(float(m[1]) * 12), m.start()) for m in _YEARS.finditer(part)][-1:]
        if found:
            months, start = min(found)
            nearly = _has(part[max(0, start - 4):start], self.si["nearly"])
            return months - 1 if nearly else months
        for months, words in self.since:
            if _has(part, words):
                return months
        return ALL_MONTHS if _has(part, self.si["always"]) else None

    def _multiple(self, part: str) -> float | None:
        found = list(_MULTIPLE.finditer(part))
        if found:
            value = float(found[-1][1])
            before = part[:found[-1].start()]
            # 「不到1.3倍」: below the number said
            return value - BELOW if _has(before[-4:], self.si["below"]) else value
        if _has(part, self.si["below_average"]):
            return BELOW_AVERAGE
        if _has(part, self.si["minimum"]):
            return MINIMUM
        if _has(part, self.si["city_average"]):
            return 1.0
        return None


def _percent_as_multiple(match: re.Match[str]) -> str:
    value = float(match[1] or match[2]) / 100
    return f"{value:g}倍"


def merge_social_insurance(old: Any, new: Any) -> Any:
    """A corrected rate keeps the duration said before: 「交了5年,1倍」 then 「其实是1.5倍」."""
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        return new
    old_segments, new_segments = old.get("segments") or [], new.get("segments") or []
    if len(old_segments) == 1 and len(new_segments) == 1 and new_segments[0][0] is None:
        return {**new, "segments": [[old_segments[0][0], new_segments[0][1]]],
                "window": new.get("window") or old.get("window")}
    return new


def evaluate_social_insurance(
    value: Mapping[str, Any], window: int, months: int, multiple: float
) -> tuple[bool | None, int | None]:
    """Whether a social-insurance fact meets a rule: (True/False/None for unknown, months found).

    Months stated for a longer window than the rule's count only as far as they must fall in
    the rule's window (40 of the last 48 months guarantee 4 of the last 12).
    """
    asked = value.get("asked")
    if value.get("answer") is not None and not value.get("segments"):
        if asked is not None and list(asked) != [window, months, multiple]:
            return None, None  # 「满足」 to another purpose's requirement says nothing of this one
        return bool(value["answer"]), None
    source = value.get("window") or (asked[0] if asked else None) or window
    qualifying = [s for s in value.get("segments", []) if s[1] + 1e-9 >= multiple]
    if not qualifying:
        return False, 0
    found, open_months = 0, False
    for seg_months, _ in qualifying:
        if seg_months == ALL_MONTHS:
            found += max(0, window - int(value.get("gap", 0)))
        elif seg_months is None:
            open_months = True
        else:
            found += max(0, seg_months - max(0, source - window))
    found = min(found, window)
    if found >= months:
        return True, found
    if value.get("total") and not open_months:
        return False, found
    if open_months or source != window:
        return None, found  # months not stated, or stated for another window
    return False, found


def _has(text: str, words: Phrases) -> bool:
    return words.found_in(text)
