"""Text handling below understanding: normalisation, segmentation. (Numbers: bot/numbers.py.)

Start-up cost matters (a chat process must answer its first message fast), so the heavy parts
load only when needed: OpenCC only for text with characters outside GB2312 (traditional ones).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

MAX_CHARS = 1000  # understanding reads this much of a message (a chat question is far shorter);
# the rest cannot change the answer, and every message then costs a few ms at most

MAX_DIGITS = 32  # a longer run of digits is no number anyone means: the rest is not read
_LONG_NUMBER = re.compile(r"[0-9０-９]{33,}")  # more than MAX_DIGITS
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
# spaces next to Chinese, before a digit, or between latin words (zhongji kuaiji, catti 2级)
# spaces next to Chinese or before a digit go (CATTI 2级 → catti2级); two latin words are one
# name typed apart (zhongji kuaiji); a longer latin run is a sentence (Can CPA be used …)
_GLUE_SPACE = re.compile(r"(?<=[^\x00-\x7f]) +| +(?=[^\x00-\x7f]|\d)")
# a space between Chinese words is how chat separates clauses (「在化工厂当主管 我学的是营销」)
_LATIN = re.compile(r"^[a-z]+$")
_CLAUSE_SPACE = re.compile(r"(?<=[\u4e00-\u9fff]) +(?=[\u4e00-\u9fff])")
_LATIN_PAIR = re.compile(r"(?<![a-z] )(?<![a-z])([a-z]+) +([a-z]+)(?![a-z])(?! +[a-z])")


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
    text = _LONG_NUMBER.sub(lambda m: m[0][:MAX_DIGITS], text[:MAX_CHARS])
    text = _URL.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub(" ", text)
    text = to_simplified(text).lower().translate(_MARKUP)
    return _SPACES.sub(" ", text).strip()


# A domain word weighs at least this much in the segmenter: certificate names and lexicon
# phrases come out whole (中级会计, 不对口), while a longer general word that holds one keeps
# winning (会计分录 is one word: 计分 is not read inside it).
DOMAIN_WORD_FREQ = 1000
# clause punctuation (not the - of full-time or the . of 1.5)
_PUNCT_TOKEN = re.compile(r"^[,,。;;!!??、…~～:\n]+$")


class Segmenter:
    """jieba's general dictionary plus the bot's domain words, through jieba's public API."""

    def __init__(self, words: Iterable[str]) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        known = sorted({w for w in words if w and " " not in w})
        for word in known:
            freq = max(self._tokenizer.suggest_freq(word), DOMAIN_WORD_FREQ)
            self._tokenizer.add_word(word, freq)
        self._latin = frozenset(w for w in known if w.isascii())

    def cut(self, text: str) -> list[str]:
        """Tokens of ``text``. Parentheses are dropped (建造师(一级) reads as 建造师一级); a space
        between Chinese words separates clauses (a ``,`` token); spaces before digits or Chinese
        go (CATTI 2级 reads as catti2级); two latin words are one only when they spell a known
        name (zhongji kuaiji); a latin word stays whole (social holds no cia)."""
        text = _CLAUSE_SPACE.sub(",", text.replace("(", "").replace(")", ""))
        text = _GLUE_SPACE.sub("", text)
        text = _LATIN_PAIR.sub(
            lambda m: m[1] + m[2] if m[1] + m[2] in self._latin else m[0], text)
        out: list[str] = []
        end = -1
        for word, start, stop in self._tokenizer.tokenize(text, HMM=False):
            if word.isspace():
                continue
            if out and start == end and _LATIN.match(word) and _LATIN.match(out[-1]) \
                    and out[-1] + word not in self._latin and (out[-1] not in self._latin
                                                              or word not in self._latin):
                out[-1] += word  # jieba cut a latin word at a known name inside it
            else:
                out.append(word)
            end = stop
        return out


@dataclass(frozen=True)
class Said:
    """A piece of a message as words: its tokens, and the text they spell."""

    tokens: tuple[str, ...]

    @functools.cached_property
    def text(self) -> str:
        return "".join(self.tokens)

    def __bool__(self) -> bool:
        return bool(self.tokens)

    @functools.cached_property
    def edges(self) -> tuple[int, ...]:
        """Character offset of each token in ``text``, and the end of the text."""
        out, at = [], 0
        for token in self.tokens:
            out.append(at)
            at += len(token)
        return (*out, at)

    def clauses(self, breaks: frozenset[str] = frozenset()) -> list[Said]:
        """The piece cut at punctuation tokens and at the connectives in ``breaks`` (the same
        list each time: what is found in a clause is found once)."""
        cache = self.__dict__.setdefault("_clauses", {})
        if breaks not in cache:
            cache[breaks] = self._cut(breaks)
        return cache[breaks]  # type: ignore[no-any-return]

    def _cut(self, breaks: frozenset[str]) -> list[Said]:
        parts: list[list[str]] = [[]]
        for token in self.tokens:
            if _PUNCT_TOKEN.match(token) or token in breaks:
                parts.append([])
            else:
                parts[-1].append(token)
        return [Said(tuple(p)) for p in parts if p]


class WordIndex:
    """The phrases of several ``Words`` sets, found in one pass over a message's words: every
    set's occurrences come out of that pass (a long message costs one pass, not one per set)."""

    def __init__(self) -> None:
        self._owners: dict[str, list[int]] = {}  # phrase → the sets that hold it
        self._prefixes: set[str] = set()
        self._sets = 0

    def register(self, phrases: Iterable[str]) -> int:
        """Add a set of phrases; returns its key for ``matches``."""
        key, self._sets = self._sets, self._sets + 1
        for phrase in phrases:
            self._owners.setdefault(phrase, []).append(key)
            self._prefixes.update(phrase[:k] for k in range(1, len(phrase) + 1))
        return key

    def matches(self, said: Said, key: int) -> list[tuple[int, int]]:
        """The occurrences of set ``key`` in ``said`` (see ``Words.matches``)."""
        cache = said.__dict__.setdefault("_matches", {})
        if id(self) not in cache:
            cache[id(self)] = self._all(said)
        return cache[id(self)].get(key, [])  # type: ignore[no-any-return]

    def _all(self, said: Said) -> dict[int, list[tuple[int, int]]]:
        text, edges, n = said.text, said.edges, len(said.tokens)
        longest: dict[int, dict[int, int]] = {}  # set → first token → longest end token
        for i in range(n):
            for j in range(i + 1, n + 1):
                piece = text[edges[i]:edges[j]]
                if piece not in self._prefixes:  # no phrase goes on like this
                    break
                for key in self._owners.get(piece, ()):
                    ends = longest.setdefault(key, {})
                    ends[i] = max(ends.get(i, j), j)
        out: dict[int, list[tuple[int, int]]] = {}
        for key, ends in longest.items():
            found, taken = [], 0
            for i in sorted(ends):
                if i >= taken:
                    found.append((i, ends[i]))
                    taken = ends[i]
            out[key] = found
        return out


class Words:
    """Phrases matched on whole words: a phrase counts only where it starts and ends at word
    boundaries of the message (计分 is not found in 会计分录; 非 is not found in 非常 or 非理工).
    At each word, the longest phrase wins; occurrences do not overlap. Sets that share a
    ``WordIndex`` share the one pass over a message."""

    def __init__(self, phrases: Iterable[str], index: WordIndex | None = None) -> None:
        self.words = tuple(sorted({p for p in phrases if p}, key=len, reverse=True))
        self._index = index or WordIndex()
        self._key = self._index.register(self.words)

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def matches(self, said: Said) -> list[tuple[int, int]]:
        """(first token, end token) of each occurrence."""
        return self._index.matches(said, self._key)

    def found_in(self, said: Said) -> bool:
        return bool(self.matches(said))

    def spans(self, said: Said) -> list[tuple[int, int]]:
        """Character spans of the occurrences in ``said.text``."""
        edges = said.edges
        return [(edges[a], edges[b]) for a, b in self.matches(said)]

    def last(self, said: Said) -> int | None:
        """Token index where the last occurrence starts (None: not found)."""
        found = self.matches(said)
        return found[-1][0] if found else None

    def at_start(self, said: Said) -> int | None:
        """The number of tokens of the phrase the piece starts with, or None."""
        found = self.matches(Said(said.tokens[:8]))
        return found[0][1] if found and found[0][0] == 0 else None
