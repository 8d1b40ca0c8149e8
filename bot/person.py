"""Facts about the person read from their words: yes/no answers, degree, where a certificate was
obtained, the post, the firm. Social insurance has its own reader (bot/insurance.py).

Every phrase matches whole words (``bot.text.Words``): 「会计分录」 holds no 计分, 「非常」 no 非.
Values: True / False / ``UNKNOWN`` / None (the message says nothing of it); where_obtained is one
of ``WHERE_VALUES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.knowledge import normalise_name
from bot.text import Said, WordIndex, Words

UNKNOWN = "unknown"
WHERE_VALUES = ("shanghai", "elsewhere_before", "other_province_while_shanghai", "elsewhere")


class PersonReader:
    """Readers for job_match, stem_degree, where_obtained and at_firm, from lexicon.yaml."""

    def __init__(self, lexicon: Mapping[str, Any], index: WordIndex | None = None) -> None:
        """``index``: shared with the message's other phrase sets (one pass per message)."""
        def words(items: Any) -> Words:  # compared as messages are: lower case, no spaces
            return Words((normalise_name(w) for w in items), index)

        answers = lexicon["answers"]
        self.unknown, self.no, self.yes = (words(answers[k]) for k in ("unknown", "no", "yes"))
        degree = lexicon["degree"]
        self.degree_phrases = [(False, words(degree["no_phrases"])),
                               (True, words(degree["yes_phrases"]))]
        # subject names are read inside the words of a clause about the degree (会计学 → 会计)
        self.degree_fields = [(True, tuple(degree["yes_fields"])),
                              (False, tuple(degree["no_fields"]))]
        # inside words only phrases of two characters or more (文凭 holds no 文科)
        self.degree_words = [(False, tuple(w for w in degree["no_phrases"] if len(w) > 1)),
                             (True, tuple(w for w in degree["yes_phrases"] if len(w) > 1))]
        self.degree_topic = words([*degree["topic"], *degree["no_phrases"],
                                   *degree["yes_phrases"]])
        self.long_topics = tuple(w for w in degree["topic"] if len(w) > 1)
        self.where = {key: words(items) for key, items in lexicon["where_obtained"].items()}
        self.job_change = words(lexicon["job_change"])
        self.job_topic = words(lexicon["job_topic"])
        self.firm_yes, self.firm_no = words(lexicon["firm"]["yes"]), words(
            lexicon["firm"]["no_phrases"])
        self.firm_endings = tuple(lexicon["firm"]["no_endings"])
        self.firm_answer_yes = frozenset(lexicon["firm"]["answer_yes"])
        self.breaks = frozenset(lexicon["clause_breaks"])
        self.places = tuple(w for w in lexicon["where_obtained"]["other_place"] if len(w) > 1)
        self.others = frozenset(lexicon["others"])
        self.selves = frozenset(lexicon["selves"])
        self.proxies = frozenset(lexicon["proxies"])
        self.post_words = frozenset(lexicon["post_words"])
        self.post_verbs = tuple(w for w in lexicon["post_words"] if len(w) == 1 and w != "在")
        self.posts = tuple(lexicon["posts"])
        # clauses about a past post or about obtaining the certificate (「在上海考的」) describe
        # no present post
        self.past = words((*lexicon["past_markers"], *lexicon["where_obtained"]["verbs"]))
        self.past_time = words(lexicon["past_markers"])
        self.negations = frozenset(lexicon["negations"])
        self.correction = words(lexicon["intents"]["correction"])

    def own(self, said: Said) -> Said:
        """The clauses about the person themself: 「同事做行政的」 says nothing of their post. A
        clause about someone else carries on to the next ones of its sentence until the person
        speaks of themself again (「我老婆学的英语,在外企做行政。我是…」)."""
        if not any(t in self.others for t in said.tokens):
            return said
        if any(t in self.proxies for t in said.tokens[:4]):
            return said  # 「帮我老公问一下,他是…」: asked for someone, their facts are the facts
        first = said.clauses(self.breaks)[0].tokens if said.clauses(self.breaks) else ()
        if any(t in self.others for t in first) and not any(t in self.selves for t in said.tokens):
            return said  # 「她刚说是一级的,本科学的消防」: all of it is about the one asked for
        kept: list[str] = []
        other, at = False, 0
        for clause in said.clauses(self.breaks):
            while said.tokens[at] != clause.tokens[0]:  # where this clause starts
                at += 1
            if any(t in self.others for t in clause.tokens):
                other = True
            elif any(t in self.selves for t in clause.tokens):
                other = False
            if not other:
                kept += [*clause.tokens, ","]
            at += len(clause.tokens)
            if at < len(said.tokens) and any(m in said.tokens[at] for m in "。!?;"):
                other = False  # a new sentence
        return Said(tuple(kept))

    # --- generic ---------------------------------------------------------------------------

    def says_unknown(self, said: Said) -> bool:
        return self.unknown.found_in(said)

    def yes_no(self, said: Said) -> bool | str | None:
        """True, False, UNKNOWN or None for a loose yes/no answer (对口 / 不对口 / 不清楚). A
        one-character answer word (是, 对, 不, 没 …) counts only as the first word: 「是的」,
        「不,做销售」 — not the 在 of 「在市政府上班」 or the 好 of 「天气很好」."""
        if self.says_unknown(said):
            return UNKNOWN
        # 「对口…哦不对,现在调岗了,不对口」: what follows the last correction counts
        corrections = self.correction.matches(said)
        if corrections and corrections[-1][1] < len(said.tokens):
            said = Said(said.tokens[corrections[-1][1]:])
        nos = self.no.matches(said)
        starts = {a for a, _ in nos}
        if any(b in starts and said.tokens[b - 1] in self.negations for _, b in nos):
            return True  # 「不是不对口」, 「没有不对口」: a no denied
        for value, words in ((False, self.no), (True, self.yes)):
            if any(b - a > 1 or len(said.tokens[a]) > 1 or a == 0
                   for a, b in (nos if not value else words.matches(said))):
                return value
        return None

    # --- slots -----------------------------------------------------------------------------

    def stem_degree(self, said: Said, answering: bool) -> bool | str | None:
        """Whether the degree is 理工类, only from words about a degree (学历, 专业, 学的 …);
        as an answer to the question, from the whole reply."""
        if answering and self.says_unknown(said):
            return UNKNOWN
        clauses = said.clauses(self.breaks)
        if not answering:
            clauses = [c for c in clauses if self._about_degree(c)]
        for clause in clauses:
            for value, phrases in self.degree_phrases:
                if phrases.found_in(clause):
                    return value
        # inside the words of a degree clause: 文科生, 理工科, 会计学 (a subject's name);
        # a negated one says the opposite (「不是理工科」)
        for value, fields in (*self.degree_words, *self.degree_fields):
            for clause in clauses:
                for i, token in enumerate(clause.tokens):
                    if any(field in token for field in fields):
                        negated = i > 0 and clause.tokens[i - 1] in self.negations
                        return not value if negated else value
        return self.yes_no(said) if answering else None

    def _about_degree(self, clause: Said) -> bool:
        """A clause about a degree: a topic word, whole (学, 读的) or inside a word jieba made
        of two (专业本科)."""
        return self.degree_topic.found_in(clause) or any(
            word in token for token in clause.tokens for word in self.long_topics)

    def where_obtained(self, said: Said, answering: bool) -> str | None:
        """Where, and while working where, the certificate was obtained (see WHERE_VALUES); a
        place stated wins over a 不清楚 said beside it (「不太清楚,好像是回老家考的」)."""
        if not answering and not self.where["topic"].found_in(said):
            return None
        value = self._where(self._undenied(said), answering)
        if answering and value in (None, UNKNOWN) and self.says_unknown(said):
            return UNKNOWN
        return value

    def _undenied(self, said: Said) -> Said:
        """Without the places denied (「不是外地考的,是在上海考的」 names no other place)."""
        denied = {a for a, _ in self.where["other_place"].matches(said)
                  if a and said.tokens[a - 1] in self.negations}
        return Said(tuple(" " if i in denied else t for i, t in enumerate(said.tokens)))

    def _where(self, said: Said, answering: bool) -> str | None:
        w = self.where
        text = said.text
        verbs = w["verbs"].spans(said)
        verb = max((end for _, end in verbs), default=len(text))
        others = w["other_place"].spans(said) + _starting(said, self.places)
        if (verbs and others and all(a >= verb for a, _ in others)
                and any(b <= verb for _, b in w["shanghai"].spans(said))
                and not w["before"].found_in(said) and not w["return_to"].found_in(said)):
            return "shanghai"  # 「证是在上海考的,我人是安徽的」: the other place is not where
        if others or (w["return_to"].found_in(said) and verbs):
            # Both 「在老家工作时评的」 and 「来上海后」 may be said: the one nearer the verb of
            # obtaining (考, 评, 取得 …) says when it was obtained. 「来沪后」 said only after that
            # verb (「老家评的,来沪后想落户」) tells of a later move, not of the obtaining.
            in_shanghai = w["shanghai_work"].spans(said)
            near_sh = _distance(in_shanghai, verb, limit=verb)
            # 「在上海工作的时候」 holds 工作的时候: a time in Shanghai, not before it
            before = [s for s in w["before"].spans(said)
                      if not any(a <= s[0] and s[1] <= b for a, b in in_shanghai)]
            near_before = _distance(before, verb)
            later = [s for s in w["shanghai_work"].spans(said) if s[0] >= verb]
            at_that_time = [s for s in w["at_that_time"].spans(said) if s[0] >= verb]
            if later and at_that_time:  # 「那时候已经在上海上班了」
                return "other_province_while_shanghai"
            if near_sh is not None and (near_before is None or near_sh < near_before):
                return "other_province_while_shanghai"
            first_verb = min((start for start, _ in verbs), default=verb)
            for _, end in others:  # 「在安徽修车时考的」: working there at the time
                between = [t for t, at in zip(said.tokens, said.edges[:-1], strict=True)
                           if end <= at < first_verb]
                if self.past_time.found_in(Said(tuple(between))):
                    return "elsewhere_before"
            if near_before is not None or later:
                return "elsewhere_before"
            return "elsewhere"
        if w["shanghai"].found_in(said) or w["shanghai_work"].found_in(said):
            return "shanghai"
        if w["national"].found_in(said):  # 「全国通用的」 says nothing of where it was issued
            return UNKNOWN if answering else None
        return None

    def at_firm(self, said: Said, answering: bool) -> bool | str | None:
        """Whether the person works at a 会计师事务所 / 律师事务所."""
        if answering and self.says_unknown(said):
            return UNKNOWN
        # the last one said counts: 「从德勤跳到一家上市公司」 is no longer at a firm
        no = max((end for _, end in self.firm_no.matches(said)), default=None)
        firms = {end for _, end in self.firm_yes.matches(said)}
        yes = max(firms, default=None)
        for i, token in enumerate(said.tokens):  # 「在招商银行总行」: an employer by its kind
            if token.endswith(self.firm_endings) and i not in firms:  # not 「事务所有限公司」
                no = max(no or 0, i + 1)
        if yes is not None and no is not None:
            return yes > no  # 「不在事务所」 ends where its 事务所 does: it is a no
        if yes is not None or no is not None:
            return yes is not None
        if answering and said.tokens and said.tokens[0] in self.firm_answer_yes:
            return True  # 「在的」
        return self.yes_no(said) if answering else None

    def job_match(self, said: Said, answering: bool, fields: tuple[str, ...] = (),
                  names: frozenset[str] = frozenset()) -> bool | str | None:
        """Whether the post matches the certificate (对口): from words about it (对口, 不相符),
        a job plainly outside any field (「现在在4S店卖车」), or a post described with a word of
        the certificate's field (``fields``: 「在医院护理部」 for 主管护师)."""
        if answering and self.says_unknown(said):
            return UNKNOWN
        if self.job_change.found_in(said) and not (
                fields and self._post_in(said, fields, True, names)):
            return False  # 「转行做销售了」; but 「后来转行做配电设计」 is in the field again
        value: bool | str | None = None
        if answering:
            value = self.yes_no(said)
        else:
            for clause in said.clauses(self.breaks):
                if self.job_topic.found_in(clause):
                    return self.yes_no(clause)
        if value is None and fields and self._other_post(said, fields, answering):
            return False  # 「在物业公司做保安队长」: the post is 保安, whatever the workplace
        if value is not False and fields and self._post_in(said, fields, answering, names):
            return True
        return value

    def _other_post(self, said: Said, fields: tuple[str, ...], answering: bool) -> bool:
        """A post named by a job title that no word of the certificate's field names
        (柜员 for 一建; 司机 is no other post for 轨道列车司机)."""
        named = [p for c in self._posts(said, answering) for p in self.posts if p in c.text]
        return bool(named) and not any(p in f or f in p for p in named for f in fields)

    def _posts(self, said: Said, answering: bool) -> list[Said]:
        """The clauses that describe the person's present post: in an answer all but the past
        ones (「在南通船厂工作时考的」); outside one, those about work (做, 当, 从事, 上班 …)."""
        clauses = [c for c in said.clauses(self.breaks) if not self.past.found_in(c)]
        if answering:
            return clauses
        return [c for c in clauses if any(  # a work word, or a word a work verb starts (开车)
            t in self.post_words or t.startswith(self.post_verbs) for t in c.tokens)]

    def _post_in(self, said: Said, fields: tuple[str, ...], answering: bool,
                 names: frozenset[str]) -> bool:
        """A post described with a field word (「在医院护理部」 for 主管护师); ``names``: the
        certificate names said, no post by themselves."""
        return any(word in self._described(c, names) for c in self._posts(said, answering)
                   for word in fields)

    def _described(self, clause: Said, names: frozenset[str]) -> str:
        """What a clause says of a post: with a work verb (做, 当, 从事 …) all of it; with a bare
        在 not the certificate's own name (「热处理工在不在目录」 describes no post)."""
        if any((t in self.post_words and t != "在") or t.startswith(self.post_verbs)
               for t in clause.tokens):
            return clause.text
        return "".join(t for t in clause.tokens if t not in names)


def _starting(said: Said, words: tuple[str, ...]) -> list[tuple[int, int]]:
    """Character spans of the tokens that start with one of ``words`` (安徽省立医院: 安徽)."""
    edges = said.edges
    return [(edges[i], edges[i + 1]) for i, token in enumerate(said.tokens)
            if token not in words and token.startswith(words)]


def _distance(spans: list[tuple[int, int]], position: int, limit: int | None = None) -> int | None:
    """How far the nearest span (ending by ``limit``) is from ``position`` (None: no span)."""
    gaps = [min(abs(a - position), abs(b - position)) for a, b in spans
            if limit is None or b <= limit]
    return min(gaps) if gaps else None
