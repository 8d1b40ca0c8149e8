"""Reading the certificate a message names: the words the person typed around a name (电工证,
「还不是主管护师」), the name matched (the last one after a correction; a title word inside an
unknown name is no title), and an unknown name said back as the person wrote it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.knowledge import normalise_name
from bot.matching import Match, Matcher

_WORD = re.compile(r"^\w+$")


class NameReader:
    """The certificate part of reading a message (bot/understand.py holds the rest)."""

    def __init__(self, matcher: Matcher, lex: Mapping[str, Any], phrases: list[str]) -> None:
        self.matcher = matcher
        self.generic_titles = frozenset(normalise_name(w) for w in lex["generic_titles"])
        self.cert_hints = tuple(lex["certificate_hints"])
        self.cert_words = frozenset(normalise_name(w) for w in lex["certificate_words"])
        self.cert_suffixes = sorted(self.cert_words, key=len, reverse=True)
        self.plain_words = frozenset(phrases)
        self.negations = frozenset(lex["negations"])

    def split_certificate_words(self, tokens: list[str]) -> list[str]:
        """「电工证」 is 电工 + 证 when 电工 is a known name and 电工证 is not."""
        index, out = self.matcher.index, []
        for token in tokens:
            stem = next((token[:-len(w)] for w in self.cert_suffixes
                         if token.endswith(w) and token[:-len(w)] in index), None)
            out += [stem, token[len(stem):]] if stem and token not in index else [token]
        return out

    def match(self, text: str, tokens: list[str], level_words: tuple[str, ...],
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
        fuzzy_ok = len(residue) >= 2 and (self.cert_hint(tokens, residue) or bool(level_words)
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

    def unknown_name(self, tokens: list[str]) -> str:
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

    def cert_hint(self, tokens: list[str], residue: str) -> bool:
        if any(hint in residue for hint in self.cert_hints):
            return True
        vocabulary = self.matcher.vocabulary
        return len(residue) >= 2 and any(  # an unknown word right before 证/证书/资格
            t in self.cert_words and tokens[i - 1] not in vocabulary and tokens[i - 1].isalnum()
            for i, t in enumerate(tokens) if i)

    def also(self, tokens: list[str], match: Match | None) -> tuple[str, ...]:
        """Other certificates named in full (「一建和中级会计」): said back, not lost silently."""
        if match is None:
            return ()
        index = self.matcher.index
        named = [t for t in tokens if t in index and t != match.surface
                 and index[t] != match.target
                 and not index[t].startswith(("unleveled:", "title#"))]
        return tuple(dict.fromkeys(named))
