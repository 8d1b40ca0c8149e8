"""Text handling below understanding: normalisation, segmentation, Chinese numerals.

Start-up cost matters (a chat process must answer its first message fast), so the heavy parts
load only when needed: OpenCC only for text with characters outside GB2312 (traditional ones),
cn2an only for text with a Chinese numeral next to a unit.
"""

from __future__ import annotations

import functools
import io
import re
import sys
import types
import unicodedata
from collections.abc import Callable, Iterable, Iterator

MAX_CHARS = 2000  # understanding reads this much of a message; the rest cannot change the answer

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,80}>")
_MENTION = re.compile(r"@\S{1,32}?(?=[\s\u2005\u00a0])|@[A-Za-z0-9_]{2,32}")
_MARKUP = str.maketrans({c: " " for c in "*_`~#>|[]{}\\^"})
_SPACES = re.compile(r"\s+")
# control, format, surrogate, private-use and line/paragraph separator characters
_INVISIBLE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff\ue000-\uf8ff]"
)
_CN_NUMBER = re.compile(r"([零〇一二两三四五六七八九十百][零〇一二两三四五六七八九十百点]*)"
                        r"(?:来|多|几)?(?=个?月|年|倍|个)")
# spaces next to Chinese, before a digit, or between latin words (zhongji kuaiji, catti 2级)
_GLUE_SPACE = re.compile(r"(?<=[^\x00-\x7f]) +| +(?=[^\x00-\x7f]|\d)|(?<=[a-z]) +(?=[a-z])")
_HALF_YEAR = re.compile(r"(\d+)年半")


class Phrases:
    """A set of phrases searched for at once: one compiled alternation, longest first."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(sorted({w for w in words if w}, key=len, reverse=True))
        self._pattern = re.compile("|".join(map(re.escape, self.words))) if self.words else None

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def found_in(self, text: str) -> bool:
        return bool(self._pattern and self._pattern.search(text))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the phrases occur: (start, end) of each non-overlapping occurrence."""
        return [m.span() for m in self._pattern.finditer(text)] if self._pattern else []

    def distance(self, text: str, position: int) -> int | None:
        """How far the nearest phrase occurrence is from ``position`` (None: no phrase)."""
        if not self._pattern:
            return None
        gaps = [min(abs(m.start() - position), abs(m.end() - position))
                for m in self._pattern.finditer(text)]
        return min(gaps) if gaps else None

    def at_start(self, text: str) -> int | None:
        """The length of the longest phrase the text starts with, or None."""
        match = self._pattern.match(text) if self._pattern else None
        return match.end() if match else None


@functools.cache
def _t2s() -> Callable[[str], str]:
    import opencc

    return opencc.OpenCC("t2s").convert  # type: ignore[no-any-return]


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC), skipped for text that is plain GB2312."""
    try:
        text.encode("gb2312")
        return text
    except UnicodeEncodeError:
        return _t2s()(text)


def normalise(text: str) -> str:
    """The form every message is understood in.

    Drops URLs, markup, @mentions, control and invisible characters; folds full-width forms
    (NFKC), traditional characters and case. Punctuation stays: it separates clauses.
    """
    text = text[:MAX_CHARS]
    text = _URL.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub(" ", text)
    text = to_simplified(text).lower().translate(_MARKUP)
    return _SPACES.sub(" ", text).strip()


@functools.cache
def _cn2an() -> Callable[[str, str], float]:
    import cn2an

    return cn2an.cn2an  # type: ignore[no-any-return]


def arabic_numerals(text: str) -> str:
    """Chinese numerals before a unit (年, 月, 倍, 个) become Arabic: 三十六个月 → 36个月."""

    def convert(match: re.Match[str]) -> str:
        try:
            value = _cn2an()(match[1], "smart")
        except (ValueError, KeyError):
            return match[0]
        return str(int(value)) if float(value).is_integer() else str(value)

    if _CN_NUMBER.search(text):
        text = _CN_NUMBER.sub(convert, text)
    text = text.replace("半年", "6个月")
    return _HALF_YEAR.sub(lambda m: f"{int(m[1]) * 12 + 6}个月", text)


def _import_jieba_lightly() -> object:
    """Import jieba without the parts this bot never uses.

    jieba imports pkg_resources only to locate its default 5 MB dictionary, and its HMM model
    (finalseg) for unknown words; the bot segments with its own domain dictionary and HMM=False.
    Keeping both out saves ~300 ms and ~20 MiB at start-up. Only this import is affected: the
    placeholders are removed again (a later ``import pkg_resources`` works as usual).
    """
    if "jieba" in sys.modules:
        return sys.modules["jieba"]
    placeholders = {"pkg_resources": None, "jieba.finalseg": types.ModuleType("jieba.finalseg")}
    added = [name for name in placeholders if name not in sys.modules]
    for name in added:
        sys.modules[name] = placeholders[name]  # type: ignore[assignment]
    try:
        import jieba
    finally:
        for name in added:
            if name == "pkg_resources":
                del sys.modules[name]
    jieba.setLogLevel(40)
    return jieba


class Segmenter:
    """jieba with only the bot's domain vocabulary (no 5 MB default dictionary, no HMM)."""

    def __init__(self, words: Iterable[str]) -> None:
        jieba = _import_jieba_lightly()
        self._tokenizer = jieba.Tokenizer()  # type: ignore[attr-defined]
        # Every domain word weighs the same: the segmenter then prefers the fewest, longest words.
        lines = "\n".join(f"{w} 1000" for w in sorted(set(words)) if w and " " not in w)
        freq, total = jieba.Tokenizer.gen_pfdict(  # type: ignore[attr-defined]
            io.BytesIO(lines.encode("utf-8"))
        )
        self._tokenizer.FREQ, self._tokenizer.total = freq, total
        self._tokenizer.initialized = True

    def cut(self, text: str) -> list[str]:
        """Tokens of ``text``. Parentheses are dropped (建造师(一级) reads as 建造师一级), and so
        are spaces (CATTI 2级 reads as catti2级, zhongji kuaiji as zhongjikuaiji)."""
        text = _GLUE_SPACE.sub("", text.replace("(", "").replace(")", ""))
        return list(self._tokenizer.cut(text, HMM=False))
