"""Numbers as people type them in an answer: Chinese numerals, percentages, 一倍三, English units.

``arabic_numerals`` rewrites them as Arabic digits before a unit (三十六个月 → 36个月, 一倍三 →
1.3倍, 百分之一百三十 → 1.3倍, 三年半 → 42个月), so readers see one notation. It is bounded and
total: any text, of any length, returns without raising in linear time. A Chinese numeral longer
than ``MAX_NUMERAL_CHARS`` or a value beyond sense is left as written, so no reader takes it for
a number. The ``sane_*`` functions are the limits every reader applies to what it reads.

cn2an does the conversion; it is imported on the first Chinese numeral (~300 ms, once).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

MAX_MONTHS = 1200  # a duration beyond 100 years is not a fact
MAX_MULTIPLE = 20.0  # a base beyond 20× the city average is not a fact
MIN_YEAR, MAX_YEAR = 1950, 2100  # a year outside these is not a date
MAX_NUMERAL_CHARS = 8  # 一千二百三十四 is the longest numeral worth reading in an answer
MAX_CONVERSIONS = 32  # numerals converted in one text; the rest are left as written

_CN = "零〇一二两三四五六七八九十百千"
_CN_DIGIT = "一二两三四五六七八九"
_CN_VALUE = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2, "〇": 0}
# a whole run of numerals (never a piece of a longer one) and the unit after it
_CN_RUN = re.compile(rf"(?<![{_CN}点])([{_CN}][{_CN}点]*+)(来|多|几)?(?=个?月|年|倍|个)")
# 一倍三 = 1.3倍, 一倍半 = 1.5倍: one digit after 倍, not followed by more numerals or a unit
_TENTHS = re.compile(rf"(?<![{_CN}\d.])([{_CN_DIGIT}]|\d)倍([{_CN_DIGIT}]|半|\d)"
                     rf"(?![{_CN}\d.点]|个|年|月|倍)")
_PERCENT_WORDS = re.compile(rf"百分之\s*([{_CN}点]{{1,{MAX_NUMERAL_CHARS}}}"
                            rf"|(?<![\d.])\d{{1,4}}(?:\.\d{{1,2}})?)(?![{_CN}\d.])")
_PERCENT_SIGN = re.compile(r"(?<![\d.])(\d{1,4}(?:\.\d{1,2})?)\s*%")
_ENGLISH_UNITS = re.compile(r"(?<=\d)\s*(months?|mos|years?|yrs|x|times)\b")
_UNIT_WORDS = {"m": "个月", "y": "年", "x": "倍", "t": "倍"}
_LATIN = re.compile("[mxyt]")
_ANY_CN = re.compile(f"[{_CN}]")
_YEARS_AND_HALF = re.compile(r"(?<![\d.])(\d{1,2})年半")
_HALF_YEAR = re.compile(r"(?<![上下\d])半年")


@functools.cache
def _cn2an() -> Callable[[str, str], float]:
    import cn2an

    return cn2an.cn2an  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=512)
def chinese_number(numeral: str) -> float | None:
    """A Chinese numeral's value (三十六 → 36, 一点五 → 1.5, 两 → 2), or None.

    None for anything longer than ``MAX_NUMERAL_CHARS`` or that cn2an does not read. Two
    neighbouring digits are a range and read as the lower (三四 → 3: 「三四年」 is 3–4 years).
    """
    if not numeral or len(numeral) > MAX_NUMERAL_CHARS:
        return None
    if (len(numeral) == 2 and all(c in _CN_VALUE for c in numeral)
            and _CN_VALUE[numeral[1]] == _CN_VALUE[numeral[0]] + 1):
        return float(_CN_VALUE[numeral[0]])
    try:
        return float(_cn2an()(numeral, "smart"))
    except (ValueError, KeyError, IndexError, TypeError, OverflowError):
        return None


def sane_months(months: float) -> int | None:
    """Months as a whole number within 0..MAX_MONTHS, else None."""
    return int(months) if 0 <= months <= MAX_MONTHS else None


def sane_multiple(multiple: float) -> float | None:
    """A base multiple within 0..MAX_MULTIPLE, else None."""
    return multiple if 0 <= multiple <= MAX_MULTIPLE else None


def sane_year(year: int) -> int | None:
    """A calendar year within MIN_YEAR..MAX_YEAR, else None."""
    return year if MIN_YEAR <= year <= MAX_YEAR else None


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"




def _tenths(match: re.Match[str]) -> str:
    def digit(char: str) -> int:
        return 5 if char == "半" else int(char) if char.isdigit() else _CN_VALUE[char]

    return f"{digit(match[1])}.{digit(match[2])}倍"


def _percent(match: re.Match[str]) -> str:
    said = match[1]
    value = float(said) if said[0].isdigit() else chinese_number(said)
    multiple = None if value is None else sane_multiple(value / 100)
    return match[0] if multiple is None else f"{_format(round(multiple, 4))}倍"


def arabic_numerals(text: str) -> str:
    """Numbers before a unit (年, 月, 倍, 个) in Arabic digits; percentages as multiples.

    三十六个月 → 36个月, 十来个月 → 10个月, 两倍 → 2倍, 一倍三 → 1.3倍, 一倍半 → 1.5倍,
    百分之一百三十 / 130% → 1.3倍, 三年半 → 42个月, 半年 → 6个月, 48 months → 48个月, 1.5x → 1.5倍.
    Never raises; linear in the length of ``text``.
    """
    if _LATIN.search(text):
        text = _ENGLISH_UNITS.sub(lambda m: _UNIT_WORDS[m[1][0]], text)
    if "倍" in text:
        text = _TENTHS.sub(_tenths, text)
    if "百分之" in text:
        text = _PERCENT_WORDS.sub(_percent, text)
    if "%" in text:
        text = _PERCENT_SIGN.sub(_percent, text)
    if _ANY_CN.search(text):
        budget = [MAX_CONVERSIONS]

        def numeral(match: re.Match[str]) -> str:
            budget[0] -= 1
            value = chinese_number(match[1]) if budget[0] >= 0 else None
            return match[0] if value is None else _format(value)

        text = _CN_RUN.sub(numeral, text)
    if "年半" in text:
        text = _YEARS_AND_HALF.sub(lambda m: f"{int(m[1]) * 12 + 6}个月", text)
    return _HALF_YEAR.sub("6个月", text) if "半年" in text else text
