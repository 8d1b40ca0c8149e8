"""Where a question is chosen: one conversation step, from a message to a reply and new state.

A message is read once (``Understander.understand``); the engine picks ONE dialog move for it
from ``Engine.moves`` (the first whose condition holds: commands, side questions, an answer to
the pending question, an opening) and the move merges what was understood into the state.

The conversation state is a JSON-able dict (it lives in the store): ``state`` (a dialog state
id), ``turn`` (number of the last question), ``facts`` (slot → value, plus ``credential``,
``surface``, ``level``, ``purpose``), ``asked`` (slots asked for the current question: never
asked twice), ``options`` and ``ask_params`` of the pending question, ``memory`` (facts per
certificate asked about before) and ``last_answer`` (the full text of the last answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from bot.asides import Asides
from bot.clock import Clock
from bot.dialog import Dialog
from bot.knowledge import Knowledge
from bot.memory import PERSON_FACTS, Memory
from bot.person import UNKNOWN
from bot.protocol import Reply
from bot.replies import Writer
from bot.rules import OPEN, Decision, decide
from bot.turns import Step, Turns
from bot.understand import Context, Understander, Understanding

State = dict[str, Any]


def new_state(dialog: Dialog) -> State:
    return {"state": dialog.start, "turn": 0, "facts": {}, "asked": []}


class Engine:
    """The dialog engine: ``step(state, text) -> (state, reply)``, pure apart from its data."""

    def __init__(self, kb: Knowledge, dialog: Dialog, retention_days: float = 30,
                 clock: Clock | None = None) -> None:
        """``retention_days``: how long an idle conversation is kept (said in the help text);
        ``clock``: today's date for dates people give (default: BOT_TODAY, else the system's).

        Raises:
            ClockError: BOT_TODAY is set to something that is not a date.
        """
        self.kb, self.dialog = kb, dialog
        self.retention = f"{retention_days:g}"
        self.nlu = Understander(kb, clock)
        self.writer = Writer(kb, dialog)
        self.memory = Memory(kb, self.nlu.matcher)
        self.asides = Asides(kb, dialog, self.writer, dict(self.nlu.matcher.lingang_also))
        self.turns = Turns(kb, dialog, self.writer, self.asides, self.retention)
        self.t = dialog.replies
        # the table of dialog moves: the first whose condition holds handles the message
        self.moves: tuple[Move, ...] = (
            Move("empty", lambda c, u, a: not u.text,
                 lambda c, u, a: self.turns.help(c, a, not_understood=True)),
            Move("reset", _intent("reset"),
                 lambda c, u, a: (new_state(self.dialog), Reply(self.t["reset"]))),
            Move("forget", _intent("forget"),
                 lambda c, u, a: (None, Reply(self.t["forgotten"], forget=True))),
            Move("cancel", _intent("cancel"), lambda c, u, a: self.cancel(c)),
            Move("details", _intent("details"), self._details),
            Move("help", _intent("help"), lambda c, u, a: self.turns.help(c, a)),
            Move("clarify", _clarifies, self.turns.clarify),
            Move("clarify again", lambda c, u, a: u.intent == "clarify" and a is not None,
                 self._not_known),
            Move("thanks", lambda c, u, a: u.intent == "thanks" and _says_nothing(u),
                 lambda c, u, a: self.turns.help(c, a) if a else (c, Reply(self.t["thanks"]))),
            Move("occupation code", lambda c, u, a: u.code_row is not None,
                 lambda c, u, a: self._aside(c, self.asides.info(self.kb.rows[str(u.code_row)]))),
            Move("note question", _asks_requirements, self._note_question),
            Move("lookup", _looks_up, self._lookup),
            Move("catalogue", lambda c, u, a: u.intent == "lookup" and u.match is None
                 and bool(u.catalogue),
                 lambda c, u, a: self._aside(c, self.asides.catalogue(str(u.catalogue)))),
            Move("notes", _asks_notes,
                 lambda c, u, a: self._aside(c, self.asides.notes(u.notes_about, u.purpose))),
            Move("background", _asks_background, lambda c, u, a: self._aside(
                c, self.asides.background(u.background_about, u.purpose))),
            Move("greeting", lambda c, u, a: u.intent == "greeting" and _says_nothing(u),
                 lambda c, u, a: self.turns.help(c, a)),
            Move("answer", lambda c, u, a: a is not None, self._answer),
            Move("opening", lambda c, u, a: True, self._opening),
        )
        self._aside = self.turns.aside

    # --- the step ----------------------------------------------------------------------------

    def step(self, state: State | None, text: str) -> Step:
        """Handle one message. Never raises on any input text."""
        conv = _valid(state, self.dialog) or new_state(self.dialog)
        asking = self.dialog.states[conv["state"]].slot
        u = self.nlu.understand(text, self._context(conv, asking))
        for move in self.moves:
            if move.when(conv, u, asking):
                return move.do(conv, u, asking)
        raise AssertionError("the last move always applies")

    def _context(self, conv: State, asking: str | None) -> Context:
        asked = conv.get("ask_params")  # [window, months, multiple] of a 社保 question
        old = conv["facts"].get("social_insurance")
        segments = old.get("segments") if isinstance(old, Mapping) else None
        said = (old.get("asked") or [None, None, segments[-1][1]]) if segments else None
        return Context(
            asking=asking,
            asked_multiple=float(asked[2]) if isinstance(asked, list) and len(asked) == 3
            else None,
            options=tuple(conv.get("options") or ()),
            last_multiple=float(said[2]) if said and said[2] is not None else None,
            row=str(conv["facts"].get("credential", "")).split(":", 1)[-1] or None,
            surface=conv["facts"].get("surface"))

    def cancel(self, state: State | None) -> tuple[State, Reply]:
        """Drop the question under way; what the person said about themselves is kept."""
        conv = _valid(state, self.dialog) or new_state(self.dialog)
        fresh = new_state(self.dialog)
        fresh["facts"] = {k: v for k, v in conv["facts"].items()
                          if k in PERSON_FACTS and k != "purpose"}
        return fresh, Reply(self.t["cancel"])

    # --- moves -------------------------------------------------------------------------------

    def _opening(self, conv: State, u: Understanding, asking: str | None) -> Step:
        """A message with no question pending: a new question, or more about the last one."""
        facts = conv["facts"]
        if (u.level_words and facts.get("credential") and (u.match is None or u.match.fuzzy)
                and self.memory.relevel(conv, u)):
            pass  # 「说错了,是二级的」: a level said alone is about the certificate asked about
        elif u.match is not None:
            self.memory.new_credential(conv, u)
        elif facts.get("credential") and not u.purpose and u.months_said is not None:
            old = facts.get("social_insurance") or {}
            facts["social_insurance"] = {**u.months_said, "asked": old.get("asked")}
            conv["asked"] = []  # 「其实是七个月」 after an answer about 社保
        elif u.purpose and facts.get("credential"):
            if u.purpose != facts.get("purpose"):
                conv["asked"] = []  # 「那积分呢」: the same certificate, another purpose
        elif not (u.purpose or (u.facts and facts.get("credential")) or u.cert_hint
                  or u.vague_purpose or u.level_words):
            return conv, self.turns.help_reply(conv, None, not_understood=not u.intent)
        facts = conv["facts"]
        if u.purpose:
            facts["purpose"] = u.purpose
        self.memory.update_facts(facts, u.facts)
        if u.match is None and u.level_words:
            facts["level_words"] = list(u.level_words)
        if u.match is None and u.cert_hint and not facts.get("credential") and (
                u.purpose or u.vague_purpose or u.intent == "lookup"):
            conv["not_found"] = u.residue
        return self._advance(conv, u, [])

    def _answer(self, conv: State, u: Understanding, asking: str | None) -> Step:
        """A message while a question is pending: its answer, a correction or a new question."""
        assert asking is not None
        facts, notes = conv["facts"], list[str]()
        if asking == "credential":
            if u.match is not None:
                self.memory.new_credential(conv, u)
            elif facts.get("credential"):
                pass  # 「哪个系列的职称?」 not answered: the generic title stays
            elif u.unknown or "credential" in conv.get("reasked", []):
                return self.turns.no_credential(conv)  # asked twice, or not known: no verdict
            else:
                conv.setdefault("reasked", []).append("credential")
                conv["not_found"] = u.residue if u.cert_hint else ""
        elif u.match is not None and (u.correction or (_changes(u, facts) and not (
                asking == "level" and self.memory.level_of(conv, u)))):
            self.memory.new_credential(conv, u)
        elif u.correction and u.match is None and u.level_words and asking != "level" \
                and self.memory.relevel(conv, u):
            pass  # 「说错了,是二级的」 while another fact is asked
        elif asking == "level":
            level = self.memory.level_of(conv, u)
            if level is not None:
                self.memory.set_level(conv, level)
            elif self._reask(conv, u, asking, notes):
                return self._advance(conv, u, notes)
            else:
                conv["level_unknown"] = True
        elif u.purpose and u.purpose != facts.get("purpose") and not _states_fact(u, asking):
            facts["purpose"] = u.purpose  # 「那积分呢」 mid-question: the question changes
            conv["asked"] = []
        elif asking == "purpose":
            if u.purpose:
                facts["purpose"] = u.purpose
            elif not self._reask(conv, u, asking, notes):
                conv["purpose_unknown"] = True
        else:
            value = u.facts.get(asking)
            if value is None and asking == "job_match" and self.memory.names_same_field(u, facts):
                value = True  # 「岗位是会计主管」 for 中级会计: a post in the certificate's field
            if value is None and self._reask(conv, u, asking, notes):
                return self._advance(conv, u, notes)
            if value is None:
                value = UNKNOWN
            if asking == "social_insurance" and isinstance(value, dict):
                value["asked"] = conv.get("ask_params")  # the requirement it answers
            facts[asking] = value
        facts = conv["facts"]
        if u.purpose and asking != "purpose":
            facts["purpose"] = u.purpose
        self.memory.update_facts(facts, {k: v for k, v in u.facts.items() if k != asking})
        return self._advance(conv, u, notes)

    def _not_known(self, conv: State, u: Understanding, asking: str | None) -> Step:
        """A question back a second time (「社平是多少?」 again): the fact is not known."""
        assert asking is not None
        if asking in ("level", "purpose"):
            conv[f"{asking}_unknown"] = True
        elif asking == "credential":
            return self.turns.no_credential(conv)
        else:
            conv["facts"][asking] = UNKNOWN
        return self._advance(conv, u, [])

    def _reask(self, conv: State, u: Understanding, slot: str, notes: list[str]) -> bool:
        """An answer that cannot be read is said so and asked once more; then it is 不清楚."""
        if u.unknown:
            return False
        reasked = conv.setdefault("reasked", [])
        first = slot not in reasked
        key = "answer_reask" if first and "answer_reask" in self.t else "answer_unclear"
        if not (first and u.facts):  # it said something else: that is taken, the question stays
            notes.append(self.t[key].format(answer=u.text[:20]))
        if first and key == "answer_reask":
            reasked.append(slot)
            conv["asked"] = [s for s in conv["asked"] if s != slot]
            return True
        return False

    def _details(self, conv: State, u: Understanding, asking: str | None) -> Step:
        """「详细」: the whole of the last answer (group chats send its short form first)."""
        text = conv.get("last_answer")
        if not text:
            return self.turns.help(conv, asking)
        return conv, Reply(str(text), None, (), None, int(conv.get("turn", 0)))

    def _note_question(self, conv: State, u: Understanding, asking: str | None) -> Step:
        if u.match is not None:
            return self.turns.aside(conv, self.asides.requirements(u.match, u.purpose))
        return self.turns.aside(conv, self.asides.notes(u.notes_about, u.purpose))

    def _lookup(self, conv: State, u: Understanding, asking: str | None) -> Step:
        assert u.match is not None
        if asking is None:
            self.memory.new_credential(conv, u)  # 「那我能积分吗」 next is about this certificate
        return self.turns.aside(conv, self.asides.lookup(u.match))

    # --- deciding ----------------------------------------------------------------------------

    def _advance(self, conv: State, u: Understanding, notes: list[str]) -> Step:
        facts = conv["facts"]
        if u.asks:  # sub-questions (「能加多少分」) are answered with the verdict, turns later
            conv["asks"] = {**conv.get("asks", {}), **u.asks}
        unknown_name = conv.pop("not_found", None)
        if unknown_name is not None and not facts.get("credential"):
            return self.turns.not_found(conv, unknown_name, notes)
        if facts.get("purpose") == "settle" and u.settle_assumed:
            notes.append(self.t["purpose_assumed"])
        if u.both_purposes:
            notes.append(self.t["both_purposes"])
        if u.also and u.match is not None:
            notes.append(self.t["also_mentioned"].format(
                names="、".join(f"「{n}」" for n in u.also), first=f"「{u.match.surface}」"))
        order = self.dialog.slot_order
        for _ in range(2 * len(order) + 2):
            decision = decide(self.kb, facts, order)
            if self._reask_for_new_window(conv, decision):
                continue
            if decision.ask is None:
                break
            slot = decision.ask
            if slot == "level" and conv.pop("level_unknown", False):
                return self.turns.finish(conv, self.turns.open_level(decision, facts), notes, u)
            if slot == "purpose" and conv.pop("purpose_unknown", False):
                return self.turns.finish(conv, self.turns.open_purpose(decision), notes, u)
            if slot == "credential" and slot in conv["asked"]:
                return self.turns.no_credential(conv)  # 「评估师」 asked which, and not answered
            if slot in conv["asked"]:
                facts[slot] = UNKNOWN  # never ask twice: what was not understood stays open
                continue
            return self.turns.ask(conv, decision, notes)
        if decision.result is None:  # every fact is open; answer with what is known
            decision = decide(self.kb, facts, order)
        series = self._series_question(conv, decision)
        if series is not None:
            question = Decision(ask=series, credential=decision.credential)
            return self.turns.ask(conv, question, notes,
                                  prompt="title_series" if series == "credential" else None)
        return self.turns.finish(conv, decision, notes, u)

    @staticmethod
    def _series_question(conv: State, decision: Decision) -> str | None:
        """A title named without its series (「中级职称」): note 2 holds for a 理工 degree, so the
        degree is asked first, and the series only when the degree is not 理工 (or not known)."""
        facts, asked = conv["facts"], conv["asked"]
        result = decision.result
        if not facts.get("generic") or result is None or result.verdict not in (
                "eligible", "conditional"):
            return None  # a failed fact has decided already
        if "stem_degree" not in facts and "stem_degree" not in asked:
            return "stem_degree"
        if facts.get("stem_degree") is not True and "credential" not in asked:
            return "credential"
        return None

    def _reask_for_new_window(self, conv: State, decision: Decision) -> bool:
        """A social-insurance fact that is open for this rule (given for another purpose's window,
        or without months) is asked again, once per question."""
        for outcome in decision.outcomes:
            if (outcome.rule.slot == "social_insurance" and outcome.status == OPEN
                    and conv["facts"].get("social_insurance") != UNKNOWN
                    and "social_insurance" not in conv["asked"]):
                del conv["facts"]["social_insurance"]
                return True
        return False

class Move(NamedTuple):
    """A dialog move: when it applies (state, understanding, slot asked) and what it does."""

    name: str
    when: Callable[[State, Understanding, str | None], bool]
    do: Callable[[State, Understanding, str | None], Step]


def _intent(name: str) -> Callable[[State, Understanding, str | None], bool]:
    return lambda c, u, a: u.intent == name


def _clarifies(conv: State, u: Understanding, asking: str | None) -> bool:
    """「什么意思?」 to a question, explained once (asked again it is 不清楚)."""
    return u.intent == "clarify" and asking is not None and asking not in conv.get(
        "clarified", [])


def _ambiguous(u: Understanding) -> bool:
    return u.match is not None and u.match.target.startswith("ambiguous:")


def _asks_requirements(conv: State, u: Understanding, asking: str | None) -> bool:
    """「监理工程师积分需要什么条件」, unless it answers the pending question or also asks
    whether the certificate can be used (「能加多少分,还是要满足什么条件」: a verdict)."""
    return u.intent == "note_question" and (asking is None or asking not in u.facts) \
        and not _ambiguous(u) and not (u.match and u.purpose and u.asks_eligibility)


def _looks_up(conv: State, u: Understanding, asking: str | None) -> bool:
    """「焊工在目录里吗」: with a purpose (「对应什么职称?能落户吗」) it is asked instead."""
    return u.intent == "lookup" and u.match is not None and not u.purpose and not _ambiguous(u)


def _asks_notes(conv: State, u: Understanding, asking: str | None) -> bool:
    """「外地的证书能用吗」, 「评工程师一定要理工科吗」: a question about the notes, no
    certificate of the person's named (a title in general at most)."""
    general = u.match is None or (u.match.target.startswith("title#") and not u.purpose)
    return asking is None and general and u.question and bool(u.notes_about) \
        and set(u.facts) <= {"where_obtained", "stem_degree"} and not _follows_up(conv, u)


def _asks_background(conv: State, u: Understanding, asking: str | None) -> bool:
    """「在临港工作,居转户年限能缩短吗」, 「高级职称落户可以不用满七年吗」: a question a
    background fact answers, about no certificate of the person's."""
    general = u.match is None or u.generic_title
    return asking is None and general and u.question and bool(u.background_about) \
        and not u.facts and not _follows_up(conv, u)


def _follows_up(conv: State, u: Understanding) -> bool:
    """After an answer, more about the same certificate: another purpose (「那落户呢?是不是还要
    满七年」: the sub-question is answered with the verdict) or a fact corrected (「其实是回老家
    考的,有影响吗」)."""
    if not conv["facts"].get("credential"):
        return False
    return bool(u.facts) or (bool(u.purpose) and u.purpose != conv["facts"].get("purpose"))


def _says_nothing(u: Understanding) -> bool:
    return u.match is None and not u.purpose and not u.facts


def _states_fact(u: Understanding, slot: str) -> bool:
    """The message gives the slot a value of substance, not a bare yes/no (「不对,我问落户」)."""
    value = u.facts.get(slot)
    if isinstance(value, dict):
        return bool(value.get("segments"))
    return value is not None and slot not in ("job_match", "at_firm")


def _changes(u: Understanding, facts: dict[str, Any]) -> bool:
    """An answer names another certificate by a full name (「那一建呢」), not in passing:
    「大专会计」 or 「岗位是会计主管」 answer the question and leave the certificate alone."""
    return (u.match is not None and u.match.target != facts.get("credential") and not u.facts
            and not u.match.target.startswith(("unleveled:", "title#")))


def _valid(state: State | None, dialog: Dialog) -> State | None:
    """A stored state that has the expected shape, else None (start over, never crash)."""
    if not isinstance(state, dict):
        return None
    if not isinstance(state.get("facts"), dict) or not isinstance(state.get("asked"), list):
        return None
    if state.get("state") not in dialog.states:
        return None
    return state
