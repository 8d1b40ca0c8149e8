"""The words the reader knows, built once from knowledge/: lexicon phrases (never part of an
unknown name), the words jieba must keep whole, and each row's field words (note 1).

Lexicon phrases are found by the word boundaries of jieba's general segmentation; only short
negated ones, purposes and firms are added to its dictionary: as one word, a longer phrase would
swallow its neighbours (「加分吗」 would hide 加分).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.knowledge import Knowledge, normalise_name

MAX_DICTIONARY_PHRASE = 3


def lexicon_phrases(lex: Mapping[str, Any]) -> list[str]:
    """Every phrase of lexicon.yaml, normalised: known words, never part of an unknown name."""
    out: list[str] = []
    for section in ("intents", "purposes", "answers", "firm", "where_obtained"):
        out += [w for items in lex[section].values() for w in items]
    for key in ("no_phrases", "yes_phrases", "topic"):
        out += lex["degree"][key]
    for key in ("purpose_loose", "function_words", "certificate_words", "post_words",
                "job_change", "job_topic", "generic_titles", "negations", "level_asked_before",
                "purpose_both"):
        out += lex[key]
    out += [w for items in lex.get("sub_questions", {}).values() for w in items]
    return [normalise_name(w) for w in out]


def dictionary_words(lex: Mapping[str, Any], phrases: list[str]) -> list[str]:
    """The lexicon words jieba keeps whole: short negated phrases (非理工, 不对口: neither 非 nor
    理工 is read inside), purposes (「人才引进行不行」 is not 人才/引/进行) and firms (会计师事务所
    holds no 会计师)."""
    negating = {w for w in lex["answers"]["no"] if len(w) == 1}
    whole = [p for p in phrases if len(p) <= MAX_DICTIONARY_PHRASE and p[0] in negating]
    whole += [normalise_name(w) for items in lex["purposes"].values() for w in items]
    whole += [normalise_name(w) for w in lex["compounds"]]  # 二级医院 holds no level
    return whole + [normalise_name(w) for w in lex["firm"]["yes"]]


def field_words(kb: Knowledge) -> dict[str, tuple[str, ...]]:
    """Row id → words of its field: fields.yaml, and the words of its official names."""
    # words are cut out anywhere; single characters (工, 员, 师) only at the end of a word,
    # so that 工业废水处理工 gives 工业废水处理, not 业废水处理
    stop = sorted(kb.lexicon["field_stopwords"], key=len, reverse=True)
    words = [re.escape(w) for w in stop if len(w) > 1]
    ends = [re.escape(w) + r"(?=\W|$)" for w in stop if len(w) == 1]
    cut = re.compile("|".join([*words, *ends, r"\W+"]))
    out = {}
    for row in kb.rows.values():  # 注册安全工程师 → 安全; 电梯安装维修工 → 电梯
        named = {part for name in row.names for part in cut.split(normalise_name(name))
                 if len(part) > 1}
        given = {normalise_name(w) for w in kb.fields.get(row.id, ())}
        out[row.id] = tuple(sorted(named | given))
    return out
