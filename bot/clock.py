"""Today's date, for every date the bot counts from (「从去年3月起」 → months up to today).

A clock is a ``Callable[[], date]``. ``clock_from_env()`` is the production one: it reads
``BOT_TODAY=YYYY-MM-DD`` (PROTOCOL.md: fixes "today" for tests and replays) once, when it is
built, so a bad value stops the process at start-up with one clear line instead of failing on
every message; without the variable it is ``date.today``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from bot.numbers import sane_year

Clock = Callable[[], date]
ENV = "BOT_TODAY"
NOT_A_DATE = (0, 0)
_RANGE = re.compile(r"\s*(?:到|至|-|~|—|~)\s*")


class ClockError(ValueError):
    """``BOT_TODAY`` is set but is not a real date written YYYY-MM-DD."""


def fixed(today: date) -> Clock:
    """A clock that always says ``today``."""
    return lambda: today


def parse_today(value: str) -> date:
    """``YYYY-MM-DD`` → date.

    Raises:
        ClockError: with a message naming the variable and the expected form.
    """
    text = value.strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ClockError(
            f"{ENV}={value!r} is not a date; expected YYYY-MM-DD, e.g. {ENV}=2026-03-15"
        ) from None


def clock_from_env(environ: Mapping[str, str] | None = None) -> Clock:
    """The clock for this process: ``BOT_TODAY`` if set (checked now), else ``date.today``.

    Raises:
        ClockError: ``BOT_TODAY`` is set to something that is not a YYYY-MM-DD date.
    """
    value = (os.environ if environ is None else environ).get(ENV, "")
    if not value.strip():
        return date.today
    return fixed(parse_today(value))


def months_since(year: int, month: int, today: date) -> int | None:
    """Months from ``year``-``month`` to today, both months counted.

    A month's contribution is paid within the month, so the current month counts: from 2025-01
    on 2026-11-29 → 23, from this month → 1. None for a start after today's month (nothing was
    paid yet: not a fact).
    """
    months = (today.year - year) * 12 + today.month - month + 1
    return months if months >= 1 else None


class StartDates:
    """Start dates said in words: 「2025年1月开始」, 「从去年3月起」, 「前年年底才开始」,
    「23年5月起」; words from lexicon.yaml's ``social_insurance`` section.

    A date is a year (4 digits, or 2 digits with a month or a start word; or 今年/去年/前年…)
    with an optional month or part of the year (年初, 年底 …); a year alone starts in January.
    It is a start only with 从 / 开始 / 起 … next to it. A relative year alone (「去年整年」) or
    a two-digit year alone (「10年」) is not even a date: it is a span.
    """

    def __init__(self, words: Mapping[str, Any]) -> None:
        self.years_ago = {str(k): int(v) for k, v in words["years_ago"].items()}
        self.year_parts = {str(k): int(v) for k, v in words["year_parts"].items()}

        def alternation(items: Iterable[str]) -> str:
            return "|".join(map(re.escape, sorted(items, key=len, reverse=True)))

        parts = alternation(self.year_parts)
        self._pattern = re.compile(
            rf"(?P<before>{alternation(words['since_before'])})?\s*"
            rf"(?:(?<![\d.])(?P<year>\d{{4}}|\d{{2}})\s*年"
            rf"|(?<![之以此])(?P<rel>{alternation(self.years_ago)}))"
            rf"(?:\s*(?P<month>\d{{1,2}})\s*月份?(?:{parts})?|(?P<part>{parts}))?"
            rf"(?P<after>\s*(?:{alternation(words['since_filler'])})?\s*"
            rf"(?:{alternation(words['since_after'])}))?")

    def replace(self, text: str, today: date,
                mark: Callable[[tuple[int, int] | None, int | None], str]) -> str:
        """``text`` with every start date replaced by ``mark((year, month), months)``: the
        months since then, or up to the end of a range (「2022年1月到2024年12月」: 36). A date
        beyond sense (2025年13月, 1900年, one after today) is marked with (None, None). A date
        without a start word (「2023年5月拿的证」) is no start: it becomes a space, so that no
        part of it is read as a duration. Linear in the length of the text."""

        def one(match: re.Match[str]) -> str:
            start = self._start(match, today.year)
            if start == NOT_A_DATE:
                return match[0]
            end = self._range_end(text, match.end(), today.year)
            if not (match["before"] or match["after"] or end):
                return " "
            months = months_since(start[0], start[1], today) if start else None
            if end and start and months is not None:  # a range: up to its end, if it is over
                months = min(months, (end[0] - start[0]) * 12 + end[1] - start[1] + 1)
                months = months if months >= 1 else None
            return mark(start if months is not None else None, months)

        return self._pattern.sub(one, text)

    def _range_end(self, text: str, at: int, this_year: int) -> tuple[int, int] | None:
        """The end of a range that starts before ``at`` (「…到2024年12月」), else None."""
        connector = _RANGE.match(text, at)
        end = self._pattern.match(text, connector.end()) if connector else None
        if end is None or end["before"]:
            return None
        found = self._start(end, this_year)
        if not found or found == NOT_A_DATE:
            return None
        return found if end["month"] or end["part"] else (found[0], 12)  # a year: to December

    def _start(self, match: re.Match[str], this_year: int) -> tuple[int, int] | None:
        """(year, month) of a start date; ``NOT_A_DATE``; None: a date beyond sense."""
        marked = bool(match["before"] or match["after"])
        month = int(match["month"]) if match["month"] else self.year_parts.get(
            match["part"] or "", 1)
        year: int | None
        if match["rel"]:
            if not (marked or match["month"] or match["part"]):
                return NOT_A_DATE  # 「去年整年」, 「去年都是」: a span, not a start
            year = this_year - self.years_ago[match["rel"]]
        else:
            digits = match["year"]
            if len(digits) == 2 and not (marked or match["month"]):
                return NOT_A_DATE  # 「10年」 is ten years
            year = int(digits)
            if len(digits) == 2:
                year += 2000 if 2000 + year <= this_year else 1900
            year = sane_year(year)
        return (year, month) if year is not None and 1 <= month <= 12 else None
