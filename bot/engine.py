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

from collections.abc import Mapping
from typing import Any

from bot import moves
from bot.asides import Asides
from bot.clock import Clock
from bot.dialog import Dialog
from bot.knowledge import Knowledge
from bot.memory import PERSON_FACTS, Memory
from bot.moves import Move
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
            Move("reset", moves.intent("reset"),
                 lambda c, u, a: (new_state(self.dialog), Reply(self.t["reset"]))),
            Move("forget", moves.intent("forget"),
                 lambda c, u, a: (None, Reply(self.t["forgotten"], forget=True))),
            Move("cancel", moves.intent("cancel"), lambda c, u, a: self.cancel(c)),
            Move("details", moves.intent("details"), self._details),
            Move("help", moves.intent("help"), lambda c, u, a: self.turns.help(c, a)),
            Move("clarify", moves.clarifies, self.turns.clarify),
            Move("clarify again", lambda c, u, a: u.intent == "clarify" and a is not None,
                 self._not_known),
            Move("thanks", lambda c, u, a: u.intent == "thanks" and moves.says_nothing(u),
                 lambda c, u, a: self.turns.help(c, a) if a else (c, Reply(self.t["thanks"]))),
            Move("occupation code", lambda c, u, a: u.code_row is not None,
                 lambda c, u, a: self._aside(c, self.asides.info(self.kb.rows[str(u.code_row)]))),
            Move("note question", moves.asks_requirements, self._note_question),
            Move("lookup", moves.looks_up, self._lookup),
            Move("catalogue", lambda c, u, a: u.intent == "lookup" and u.match is None
                 and bool(u.catalogue),
                 lambda c, u, a: self._aside(c, self.asides.catalogue(str(u.catalogue)))),
            Move("notes", moves.asks_notes,
                 lambda c, u, a: self._aside(c, self.asides.notes(u.notes_about, u.purpose))),
            Move("background", moves.asks_background, lambda c, u, a: self._aside(
                c, self.asides.background(u.background_about, u.purpose))),
            Move("greeting", lambda c, u, a: u.intent == "greeting" and moves.says_nothing(u),
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
        """What reading the message depends on, from the state (a damaged value is left out)."""
        facts = conv["facts"]
        surface = facts.get("surface")
        return Context(
            asking=asking,
            asked_multiple=_multiple_of(conv.get("ask_params")),  # [window, months, multiple]
            options=tuple(str(o) for o in conv.get("options") or ()),
            last_multiple=_said_multiple(facts.get("social_insurance")),
            row=str(facts.get("credential", "")).split(":", 1)[-1] or None,
            surface=surface if isinstance(surface, str) else None)

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
            if u.intent == "lookup":  # 「X在目录里吗」: the full name, once given, is looked up
                conv["lookup"] = True
        return self._advance(conv, u, [])

    def _answer(self, conv: State, u: Understanding, asking: str | None) -> Step:
        """A message while a question is pending: its answer, a correction or a new question."""
        assert asking is not None
        facts, notes = conv["facts"], list[str]()
        if asking == "credential":
            if u.match is not None and conv.pop("lookup", False) and not u.purpose:
                conv["state"] = self.dialog.move(conv["state"], "answered")
                conv["asked"] = []
                return self._lookup(conv, u, None)  # the name asked for, for a lookup
            if u.match is not None:
                self.memory.new_credential(conv, u)
            elif facts.get("credential"):
                pass  # 「哪个系列的职称?」 not answered: the generic title stays
            elif u.unknown or "credential" in conv.get("reasked", []):
                return self.turns.no_credential(conv)  # asked twice, or not known: no verdict
            else:
                conv.setdefault("reasked", []).append("credential")
                conv["not_found"] = u.residue if u.cert_hint else ""
        elif u.match is not None and (u.correction or (moves.changes(u, facts) and not (
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
        elif u.purpose and u.purpose != facts.get("purpose") and not moves.states_fact(u, asking):
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

def _multiple_of(asked: Any) -> float | None:
    """The multiple of a 社保 requirement kept as [window, months, multiple] (None if damaged)."""
    try:
        return float(asked[2]) if isinstance(asked, list) and len(asked) == 3 else None
    except (TypeError, ValueError):
        return None


def _said_multiple(value: Any) -> float | None:
    """The multiple of the social insurance said before (「其实是七个月」 keeps it)."""
    if not isinstance(value, Mapping):
        return None
    asked = _multiple_of(value.get("asked"))
    segments = value.get("segments")
    if asked is not None or not isinstance(segments, list) or not segments:
        return asked
    try:
        return float(segments[-1][1])
    except (TypeError, ValueError, IndexError, KeyError):
        return None


def _valid(state: State | None, dialog: Dialog) -> State | None:
    """A stored state that has the expected shape, else None (start over, never crash)."""
    if not isinstance(state, dict):
        return None
    if not isinstance(state.get("facts"), dict) or not isinstance(state.get("asked"), list):
        return None
    name, turn = state.get("state"), state.get("turn", 0)
    if not isinstance(name, str) or name not in dialog.states:
        return None
    if not isinstance(turn, int) or isinstance(turn, bool):
        return None
    return state
