"""A social-insurance value (bot/insurance.py) judged against note 3's rule, and corrected.

Values are JSON-able mappings of the shape documented in bot/insurance.py; a malformed one
(a damaged stored state) is judged as no fact, never raised on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def merge_social_insurance(old: Any, new: Any) -> Any:
    """A corrected rate keeps the duration said before: 「交了5年,1倍」 then 「其实是1.5倍」."""
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        return new
    old_segments, new_segments = _segments(old), _segments(new)
    if len(old_segments) == 1 and len(new_segments) == 1 and new_segments[0][0] is None:
        kept = {k: old[k] for k in ("gap", "total", "recent", "since") if k in old}
        return {**kept, **new, "segments": [[old_segments[0][0], new_segments[0][1]]],
                "window": new.get("window") or old.get("window")}
    return new


def evaluate_social_insurance(
    value: Mapping[str, Any], window: int, months: int, multiple: float
) -> tuple[bool | None, int | None]:
    """Whether a social-insurance fact meets a rule: at least ``months`` of the last ``window``
    months at ``multiple``× the city average or more.

    Returns (True / False / None when it cannot be told, the months found in the window, at
    most ``window``). The latest months (``recent``) count fully in a shorter window; months
    said for a longer span count in it only as far as they must (40 of the last 48 months
    guarantee 4 of the last 12). A ``total`` statement, or an answer to this very question,
    leaves nothing open.
    """
    asked = _asked(value.get("asked"))
    segments = _segments(value)
    if value.get("answer") is not None and not segments:
        if asked is not None and asked != [window, months, multiple]:
            return None, None  # 「满足」 to another purpose's requirement says nothing of this one
        return bool(value["answer"]), None
    qualifying = [i for i, s in enumerate(segments) if s[1] + 1e-9 >= multiple]
    if not qualifying:
        return False, 0
    stated = _count(value.get("window"))
    source = stated or (asked[0] if asked else None) or window  # the span the person spoke of
    flags = value.get("recent")
    latest = set(range(len(segments))) if flags is True else {
        i for i in (flags if isinstance(flags, list) else ()) if isinstance(i, int)}
    found, open_months = _found(value, segments, qualifying, latest, window, source)
    if found >= months:
        return True, found
    below = [m for i, (m, _) in enumerate(segments)
             if i in latest and i not in qualifying and m is not None and m >= 0]
    if window - sum(min(m, window) for m in below) < months:
        return False, found  # the latest months are below the multiple: no room left
    if open_months:
        return None, found
    if source < window:  # the months before the span said are unknown, unless it is all
        answered_here = asked is not None and asked[0] == window
        return (False if value.get("total") or answered_here else None), found
    exact = all(i in latest or segments[i][0] == ALL_MONTHS for i in qualifying)
    if source == window or (exact and not _count(value.get("gap"))):
        return False, found
    return None, found  # months placed anywhere in a longer span: only a lower bound


def _found(value: Mapping[str, Any], segments: list[tuple[int | None, float]],
           qualifying: list[int], latest: set[int], window: int,
           source: int) -> tuple[int, bool]:
    """(months of the window at the multiple, at least; whether some months are not said)."""
    stated = _count(value.get("window"))
    numbered = [m for m, _ in segments if m is not None and m >= 0]
    found, open_months = 0, False
    for i in qualifying:
        seg_months = segments[i][0]
        if seg_months is None:
            open_months = True
        elif seg_months == ALL_MONTHS:
            # 一直 within the window said, else any window; 之前… : what the others leave
            span = min(stated, window) if stated and len(segments) == 1 else window
            taken = sum(min(n, window) for n in numbered) + (_count(value.get("gap")) or 0)
            found += max(0, span - taken)
        elif i in latest:
            found += min(seg_months, window)
        else:
            found += max(0, seg_months - max(0, source - window))
    return min(found, window), open_months


def _segments(value: Mapping[str, Any]) -> list[tuple[int | None, float]]:
    """The well-formed (months, multiple) pairs of a value; anything else is dropped."""
    raw = value.get("segments")
    out: list[tuple[int | None, float]] = []
    for segment in raw if isinstance(raw, list | tuple) else ():
        if isinstance(segment, list | tuple) and len(segment) == 2:
            months, multiple = segment
            if (months is None or _count(months) is not None or months == ALL_MONTHS) and \
                    isinstance(multiple, int | float) and not isinstance(multiple, bool):
                out.append((months, float(multiple)))
    return out


def _count(value: Any) -> int | None:
    """A non-negative whole number of months, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def _asked(value: Any) -> list[Any] | None:
    if isinstance(value, list | tuple) and len(value) == 3 and _count(value[0]):
        return list(value)
    return None
