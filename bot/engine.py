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
from dataclasses import replace
from typing import Any

from bot.asides import Aside, Asides
from bot.clock import Clock
from bot.dialog import Dialog
from bot.knowledge import Knowledge
from bot.memory import PERSON_FACTS, Memory
from bot.person import UNKNOWN
from bot.protocol import Reply, Result
from bot.replies import Writer
from bot.rules import OPEN, Decision, decide
from bot.understand import Context, Understander, Understanding

State = dict[str, Any]
Step = tuple[State | None, Reply]


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
        self.t = dialog.replies
        Move = Callable[[State, Understanding, "str | None"], Any]
        # (condition, move): the first whose condition holds handles the message
        self.moves: list[tuple[Move, Move]] = [
            (lambda c, u, a: not u.text, lambda c, u, a: self._help(c, a, not_understood=True)),
            (lambda c, u, a: u.intent == "reset",
             lambda c, u, a: (new_state(self.dialog), Reply(self.t["reset"]))),
            (lambda c, u, a: u.intent == "forget",
             lambda c, u, a: (None, Reply(self.t["forgotten"], forget=True))),
            (lambda c, u, a: u.intent == "cancel", lambda c, u, a: self.cancel(c)),
            (lambda c, u, a: u.intent == "details", self._details),
            (lambda c, u, a: u.intent == "help", lambda c, u, a: self._help(c, a)),
            (lambda c, u, a: u.intent == "clarify" and a is not None
             and a not in c.get("clarified", []), self._clarify),
            (lambda c, u, a: u.intent == "thanks" and _says_nothing(u),
             lambda c, u, a: self._help(c, a) if a else (c, Reply(self.t["thanks"]))),
            (lambda c, u, a: u.code_row is not None,
             lambda c, u, a: self._aside(c, self.asides.info(self.kb.rows[str(u.code_row)]))),
            (lambda c, u, a: u.intent == "note_question" and (a is None or a not in u.facts)
             and not (u.match and u.match.target.startswith("ambiguous:")), self._note_question),
            (lambda c, u, a: u.intent == "lookup" and u.match is not None and not u.purpose
             and not u.match.target.startswith("ambiguous:"), self._lookup),
            (lambda c, u, a: u.intent == "lookup" and u.match is None and bool(u.catalogue),
             lambda c, u, a: self._aside(c, self.asides.catalogue(str(u.catalogue)))),
            (lambda c, u, a: a is None and u.match is None and u.question
             and bool(u.notes_about) and set(u.facts) <= {"where_obtained"},
             lambda c, u, a: self._aside(c, self.asides.notes(u.notes_about, u.purpose))),
            (lambda c, u, a: a is None and u.match is None and u.question
             and bool(u.background_about),
             lambda c, u, a: self._aside(c, self.asides.background(u.background_about,
                                                                   u.purpose))),
            (lambda c, u, a: u.intent == "greeting" and _says_nothing(u),
             lambda c, u, a: self._help(c, a)),
            (lambda c, u, a: a is not None, self._answer),
            (lambda c, u, a: True, self._opening),
        ]

    # --- the step ----------------------------------------------------------------------------

    def step(self, state: State | None, text: str) -> Step:
        """Handle one message. Never raises on any input text."""
        conv = _valid(state, self.dialog) or new_state(self.dialog)
        asking = self.dialog.states[conv["state"]].slot
        u = self.nlu.understand(text, self._context(conv, asking))
        for condition, move in self.moves:
            if condition(conv, u, asking):
                return move(conv, u, asking)  # type: ignore[no-any-return]
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
            row=str(conv["facts"].get("credential", "")).split(":", 1)[-1] or None)

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
            return conv, self._help_reply(conv, None, not_understood=not u.intent)
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
                return self._no_credential(conv)  # asked twice, or not known: no verdict
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
            return self._help(conv, asking)
        return conv, Reply(str(text), None, (), None, int(conv.get("turn", 0)))

    def _note_question(self, conv: State, u: Understanding, asking: str | None) -> Step:
        if u.match is not None:
            return self._aside(conv, self.asides.requirements(u.match, u.purpose))
        return self._aside(conv, self.asides.notes(u.notes_about, u.purpose))

    def _lookup(self, conv: State, u: Understanding, asking: str | None) -> Step:
        assert u.match is not None
        if asking is None:
            self.memory.new_credential(conv, u)  # 「那我能积分吗」 next is about this certificate
        return self._aside(conv, self.asides.lookup(u.match))

    # --- deciding ----------------------------------------------------------------------------

    def _advance(self, conv: State, u: Understanding, notes: list[str]) -> Step:
        facts = conv["facts"]
        if u.asks:  # sub-questions (「能加多少分」) are answered with the verdict, turns later
            conv["asks"] = {**conv.get("asks", {}), **u.asks}
        unknown_name = conv.pop("not_found", None)
        if unknown_name is not None and not facts.get("credential"):
            return self._not_found(conv, unknown_name, notes)
        if facts.get("purpose") == "settle" and u.settle_assumed:
            notes.append(self.t["purpose_assumed"])
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
                return self._finish(conv, self._open_level(decision, facts), notes, u)
            if slot == "purpose" and conv.pop("purpose_unknown", False):
                return self._finish(conv, self._open_purpose(decision), notes, u)
            if slot == "credential" and slot in conv["asked"]:
                return self._no_credential(conv)  # 「评估师」 asked which, and not answered
            if slot in conv["asked"]:
                facts[slot] = UNKNOWN  # never ask twice: what was not understood stays open
                continue
            return self._ask(conv, decision, notes)
        if decision.result is None:  # every fact is open; answer with what is known
            decision = decide(self.kb, facts, order)
        series = self._series_question(conv, decision)
        if series is not None:
            return self._ask(conv, Decision(ask=series, credential=decision.credential), notes,
                             prompt="title_series" if series == "credential" else None)
        return self._finish(conv, decision, notes, u)

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

    def _ask(self, conv: State, decision: Decision, notes: list[str],
             prompt: str | None = None) -> Step:
        slot = decision.ask
        assert slot is not None
        target = self.dialog.state_for(slot)
        conv["state"] = self.dialog.move(conv["state"], target.id)
        conv["turn"] = int(conv.get("turn", 0)) + 1
        conv["asked"] = [*conv["asked"], slot]
        options: tuple[str, ...] = ()
        if prompt is not None:
            text = self.dialog.prompts[prompt]
        else:
            text, options = self.writer.question(target, decision, conv["facts"])
        conv["options"] = list(options)
        rule = decision.ask_rule
        conv["ask_params"] = ([int(rule.params["window_months"]), int(rule.params["months"]),
                               float(rule.params["multiple"])]
                              if rule is not None and rule.check == "social_insurance" else None)
        return conv, Reply("\n".join([*notes, text]), slot, tuple(options), None, conv["turn"])

    def _finish(self, conv: State, decision: Decision, notes: list[str],
                u: Understanding) -> Step:
        conv["state"] = self.dialog.move(conv["state"], "answered")
        conv["asked"], conv["options"], conv["ask_params"] = [], [], None
        for done in ("clarified", "reasked"):
            conv.pop(done, None)
        answer = self.writer.answer(decision, conv["facts"], notes,
                                    {**conv.pop("asks", {}), **u.asks})
        text, brief = (answer, "") if isinstance(answer, str) else (answer.text, answer.brief)
        result = decision.result
        if result is not None and result.credential:
            twins = self.asides.twin_of(result.credential)  # on both lists: cite both
            if twins:
                result = replace(result, citations=tuple(dict.fromkeys(
                    (*result.citations, *twins))))
        conv["last_answer"] = text
        return conv, Reply(text, None, (), result, conv.get("turn", 0), brief)

    def _open_level(self, decision: Decision, facts: dict[str, Any]) -> Decision:
        row_id = str(facts.get("credential", "")).split(":", 1)[-1]
        credential = decision.credential.id if decision.credential else (
            row_id if row_id in self.kb.rows else None)
        result = Result("conditional", facts.get("purpose"), credential, (),
                        (credential,) if credential else (), ("level",))
        return Decision(result=result, credential=decision.credential, kind="level_open")

    def _open_purpose(self, decision: Decision) -> Decision:
        result = Result("info", None, decision.credential.id if decision.credential else None,
                        (), (decision.credential.id,) if decision.credential and
                        decision.credential.row else ())
        return Decision(result=result, credential=decision.credential, kind="purpose_open")

    # --- other answers -----------------------------------------------------------------------

    def _help(self, conv: State, asking: str | None, not_understood: bool = False) -> Step:
        return conv, self._help_reply(conv, asking, not_understood)

    def _help_reply(self, conv: State, asking: str | None, not_understood: bool) -> Reply:
        text = (self.t["not_understood"] if not_understood
                else self.t["help"].format(retention_days=self.retention))
        if asking:
            state = self.dialog.states[conv["state"]]
            decision = decide(self.kb, conv["facts"], self.dialog.slot_order)
            prompt, options = self.writer.question(state, decision, conv["facts"])
            return Reply(text + "\n" + self.t["still_waiting"].format(prompt=prompt), asking,
                         options, None, int(conv.get("turn", 0)))
        return Reply(text, None, (), None, int(conv.get("turn", 0)))

    def _clarify(self, conv: State, u: Understanding, asking: str | None) -> Step:
        """「什么意思?」 to a question: the note behind it, and the question again."""
        assert asking is not None
        conv.setdefault("clarified", []).append(asking)  # explained once; then it is 不清楚
        state = self.dialog.states[conv["state"]]
        decision = decide(self.kb, conv["facts"], self.dialog.slot_order)
        prompt, options = self.writer.question(state, decision, conv["facts"])
        lines = []
        if state.rule:
            note = self.kb.notes[state.rule]
            lines.append(self.t["clarify"].format(note=self.writer.note_no(note.id),
                                                  text=note.text))
        return conv, Reply("\n".join([*lines, prompt]), asking, options, None,
                           int(conv.get("turn", 0)))

    def _not_found(self, conv: State, name: str, notes: list[str]) -> Step:
        """A name not recognised: said so, and the full name asked (never 「不在目录」)."""
        text = (self.t["not_found"].format(name=name[:30]) if name
                else self.t["not_found_generic"])
        target = self.dialog.state_for("credential")
        conv["state"] = self.dialog.move(conv["state"], target.id)
        conv["turn"] = int(conv.get("turn", 0)) + 1
        conv["asked"], conv["options"], conv["ask_params"] = ["credential"], [], None
        return conv, Reply("\n".join([*notes, text]), "credential", (), None, conv["turn"])

    def _no_credential(self, conv: State) -> Step:
        """No certificate could be named: no verdict, and what to send next time."""
        conv["state"] = self.dialog.move(conv["state"], "answered")
        conv["asked"], conv["options"], conv["ask_params"] = [], [], None
        conv.pop("reasked", None)
        result = Result("info", conv["facts"].get("purpose"), None, (), ())
        return conv, Reply(self.t["no_credential"], None, (), result, int(conv.get("turn", 0)))

    def _aside(self, conv: State, aside: Aside) -> Step:
        """An answer to a side question; a pending question stays pending."""
        text, result, with_disclaimer = aside
        asking = self.dialog.states[conv["state"]].slot
        if with_disclaimer:
            text = f"{text}\n{self.t['disclaimer']}"
        if asking is None:
            conv["state"] = self.dialog.move(conv["state"], "answered")
        return conv, Reply(text, None, (), result, int(conv.get("turn", 0)),
                           self.writer.brief_for(text))


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
