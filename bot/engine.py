"""Where a question is chosen: one conversation step, from a message to a reply and new state.

The conversation state is a JSON-able dict (it lives in the store):
``state`` (a dialog state id), ``turn`` (number of the last question), ``facts`` (slot → value,
plus ``credential``, ``surface``, ``level``, ``purpose``), ``asked`` (slots asked for the current
question: never asked twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.dialog import Dialog
from bot.facts import UNKNOWN, merge_social_insurance
from bot.knowledge import Knowledge
from bot.protocol import Reply, Result
from bot.replies import Writer
from bot.rules import OPEN, Decision, applicable_rules, decide, resolve_credential
from bot.understand import Understander, Understanding

State = dict[str, Any]
# Facts about the person (kept when they ask about another certificate) vs. about one
# certificate (dropped with it).
PERSON_FACTS = ("purpose", "social_insurance", "stem_degree", "at_firm")
# facts about one certificate, remembered per certificate while the person asks about others
CERTIFICATE_FACTS = ("job_match", "where_obtained", "level")
MEMORY_SIZE = 8


def new_state(dialog: Dialog) -> State:
    return {"state": dialog.start, "turn": 0, "facts": {}, "asked": []}


class Engine:
    """The dialog engine: ``step(state, text) -> (state, reply)``, pure apart from its data."""

    def __init__(self, kb: Knowledge, dialog: Dialog) -> None:
        self.kb, self.dialog = kb, dialog
        self.nlu = Understander(kb)
        self.writer = Writer(kb, dialog)
        self.t = dialog.replies

    # --- the step ----------------------------------------------------------------------------

    def step(self, state: State | None, text: str) -> tuple[State, Reply]:
        """Handle one message. Never raises on any input text."""
        conv = _valid(state, self.dialog) or new_state(self.dialog)
        asking = self.dialog.states[conv["state"]].slot
        asked = conv.get("ask_params")  # [window, months, multiple] of a 社保 question
        multiple = float(asked[2]) if isinstance(asked, list) and len(asked) == 3 else None
        u = self.nlu.understand(text, asking, multiple)
        if asking and u.choice is not None:
            options = conv.get("options") or []
            if 1 <= u.choice <= len(options):
                u = self.nlu.understand(options[u.choice - 1], asking, multiple)
        if u.intent == "reset":
            return new_state(self.dialog), Reply(self.t["reset"])
        if u.intent == "cancel":
            return self.cancel(conv)
        special = self._special(conv, u, asking)
        if special is not None:
            return special
        notes: list[str] = []
        if asking:
            self._take_answer(conv, u, asking, notes)
        else:
            if not self._take_opening(conv, u):
                return conv, self._help(conv, asking, not_understood=not u.intent)
        return self._advance(conv, u, notes)

    def cancel(self, state: State | None) -> tuple[State, Reply]:
        """Drop the question under way; what the person said about themselves is kept."""
        conv = _valid(state, self.dialog) or new_state(self.dialog)
        fresh = new_state(self.dialog)
        fresh["facts"] = {k: v for k, v in conv["facts"].items()
                          if k in PERSON_FACTS and k != "purpose"}
        return fresh, Reply(self.t["cancel"])

    def _special(self, conv: State, u: Understanding, asking: str | None) -> tuple[
            State, Reply] | None:
        """Help, lookups and note questions: answered without touching the pending question."""
        if not u.text:
            return conv, self._help(conv, asking, not_understood=True)
        if u.intent == "help":
            return conv, self._help(conv, asking)
        if u.intent == "clarify" and asking and asking not in conv.setdefault("clarified", []):
            conv["clarified"].append(asking)  # explained once; asked again it counts as 不清楚
            return conv, self._clarify(conv, asking)
        if u.intent == "thanks" and u.match is None and not u.purpose and not u.facts:
            return conv, (self._help(conv, asking) if asking else Reply(self.t["thanks"]))
        if u.code_row:
            return self._info(conv, u, self.kb.rows[u.code_row])
        if u.intent == "note_question" and (asking is None or not u.facts.get(asking)):
            return self._requirements(conv, u) if u.match else self._note_answer(conv, u)
        if u.intent == "lookup" and u.match is not None and not u.purpose:
            return self._lookup(conv, u)  # with a purpose (「对应什么职称?能落户吗」) it is asked
        if u.match is None and u.catalogue and u.intent == "lookup":
            return self._catalogue_list(conv, u.catalogue)
        if (u.match is None and asking is None and u.question and self._notes_about(u.text)
                and set(u.facts) <= {"where_obtained"}):  # 「外地的证书能用吗」
            return self._note_answer(conv, u)
        background = self._background_about(u.text) if u.question and u.match is None else []
        if background and asking is None:  # 「在临港工作,居转户年限能缩短吗」
            result = Result("info", u.purpose, None, (), tuple(background))
            return self._answer_aside(conv, "\n".join(self.writer.background(background)), result)
        if u.intent == "greeting" and u.match is None and not u.purpose and not u.facts:
            return conv, self._help(conv, asking)
        return None

    # --- taking facts ------------------------------------------------------------------------

    def _take_opening(self, conv: State, u: Understanding) -> bool:
        """A message with no question pending. False when it says nothing the bot can use."""
        facts = conv["facts"]
        if u.match is not None:
            self._new_credential(conv, u)
        elif u.level_words and facts.get("credential") and self._relevel(conv, u.level_words):
            pass  # 「说错了,是二级的」
        elif facts.get("credential") and not u.purpose and self._corrects_months(conv, u):
            pass  # 「其实是七个月」 after an answer about 社保
        elif u.purpose and facts.get("credential"):
            if u.purpose != facts.get("purpose"):
                conv["asked"] = []
        elif not (u.purpose or (u.facts and facts.get("credential")) or u.cert_hint
                  or u.vague_purpose or u.level_words):
            return False
        facts = conv["facts"]
        if u.purpose:
            facts["purpose"] = u.purpose
        self._update_facts(facts, u.facts)
        if u.match is None and u.level_words:
            facts["level_words"] = list(u.level_words)
        if u.match is None and u.cert_hint and not facts.get("credential") and (
                u.purpose or u.vague_purpose or u.intent == "lookup"):
            conv["not_found"] = u.residue
        return True

    def _take_answer(self, conv: State, u: Understanding, asking: str, notes: list[str]) -> None:
        facts = conv["facts"]
        if asking == "credential":
            if u.match is not None:
                self._new_credential(conv, u)
            else:
                conv["not_found"] = u.residue if u.cert_hint and not u.unknown else ""
        elif u.match is not None and (u.correction or (_changes(u, facts) and not (
                asking == "level" and self._level_of(conv, u)))):
            self._new_credential(conv, u)
        elif (u.correction and u.match is None and u.level_words and asking != "level"
              and self._relevel(conv, u.level_words)):
            pass  # 「说错了,是二级的」 while another fact is asked
        elif asking == "level":
            level = self._level_of(conv, u)
            if level is None:
                if not u.unknown:
                    notes.append(self.t["answer_unclear"].format(answer=u.text[:20]))
                conv["level_unknown"] = True
            else:
                self._set_level(conv, level)
        elif u.purpose and u.purpose != facts.get("purpose") and not _states_fact(u, asking):
            facts["purpose"] = u.purpose  # 「那积分呢」 mid-question: the question changes
            conv["asked"] = []
        elif asking == "purpose":
            if u.purpose:
                facts["purpose"] = u.purpose
            else:
                conv["purpose_unknown"] = True
        else:
            value = u.facts.get(asking)
            if value is None and asking == "job_match" and self._names_same_field(u, facts):
                value = True  # 「岗位是会计主管」 for 中级会计: a post in the certificate's field
            if value is None:
                value = UNKNOWN
                if not u.unknown:
                    notes.append(self.t["answer_unclear"].format(answer=u.text[:20]))
            if asking == "social_insurance" and isinstance(value, dict):
                value["asked"] = conv.get("ask_params")  # the requirement it answers
            facts[asking] = value
        facts = conv["facts"]
        if u.purpose and asking != "purpose":
            facts["purpose"] = u.purpose
        self._update_facts(facts, {k: v for k, v in u.facts.items() if k != asking})

    @staticmethod
    def _update_facts(facts: dict[str, Any], new: Mapping[str, Any]) -> None:
        """Later statements win; 「其实是1.5倍」 keeps the months said before."""
        for slot, value in new.items():
            if slot == "social_insurance":
                value = merge_social_insurance(facts.get(slot), value)
            facts[slot] = value

    def _new_credential(self, conv: State, u: Understanding) -> None:
        """Start a question about another certificate; facts about the person carry over."""
        assert u.match is not None
        match = u.match
        if match.target == conv["facts"].get("credential"):
            # the same certificate again (a repeated question, 「我是车工技师」): facts stay
            if match.level is not None:
                conv["facts"]["level"] = match.level
            conv["asked"] = []
            return
        said = conv["facts"].get("level_words")
        if said and not u.level_words:  # 「我是高级技师」 … 「焊工」: the level came first
            match = self.nlu.matcher.resolve(match.target, match.surface, list(said))
        old = conv["facts"]
        memory = conv.setdefault("memory", {})
        if old.get("credential"):  # 「焊工在目录里吗」 in between, then back to 「我的工程师」
            memory.pop(str(old["credential"]), None)
            memory[str(old["credential"])] = {k: old[k] for k in CERTIFICATE_FACTS if k in old}
            for stale in list(memory)[:-MEMORY_SIZE]:  # the oldest go: the state stays small
                del memory[stale]
        conv["facts"] = {k: v for k, v in old.items() if k in PERSON_FACTS}
        conv["facts"].update(memory.get(match.target, {}))
        conv["facts"].update(credential=match.target, surface=match.surface)
        if match.level is not None:
            conv["facts"]["level"] = match.level
        conv["asked"] = []
        conv.pop("not_found", None)

    def _corrects_months(self, conv: State, u: Understanding) -> bool:
        """A bare duration after a 社保 answer corrects its months (「其实是七个月」)."""
        old = conv["facts"].get("social_insurance")
        if not isinstance(old, Mapping) or not old.get("segments") or u.facts:
            return False
        asked = old.get("asked") or [None, None, old["segments"][-1][1]]
        value = self.nlu.facts.social_insurance(u.text, True, float(asked[2]))
        if not isinstance(value, Mapping) or not value.get("segments"):
            return False
        conv["facts"]["social_insurance"] = {**value, "asked": old.get("asked")}
        conv["asked"] = []
        return True

    @staticmethod
    def _names_same_field(u: Understanding, facts: dict[str, Any]) -> bool:
        if u.match is None or u.match.row_id is None:
            return False
        return u.match.row_id == str(facts.get("credential", "")).split(":", 1)[-1]

    def _relevel(self, conv: State, level_words: tuple[str, ...]) -> bool:
        """The certificate under discussion at another level; False if that says nothing."""
        facts = conv["facts"]
        target = str(facts.get("credential", ""))
        row_id = target.split(":", 1)[-1]
        if target.startswith("near:"):
            near = self.kb.near_misses[int(target[5:])]
            row_id = near.nearest[0] if near.kind == "level" and len(near.nearest) == 1 else ""
        if row_id not in self.kb.rows:
            return False
        match = self.nlu.matcher.resolve(row_id, self.kb.rows[row_id].name, list(level_words))
        if match.level is None:
            return False
        facts.update(credential=match.target, surface=facts.get("surface") or match.surface,
                     level=match.level)
        conv["asked"] = []
        return True

    def _level_of(self, conv: State, u: Understanding) -> str | None:
        target = str(conv["facts"].get("credential", ""))
        skilled = target.startswith("skilled#")
        return self.nlu.level_answer(u.text, skilled)

    def _set_level(self, conv: State, level: str) -> None:
        facts = conv["facts"]
        target = str(facts.get("credential", ""))
        if target.startswith("unleveled:"):
            row = self.kb.rows[target.split(":", 1)[1]]
            match = self.nlu.matcher.with_level(row, facts.get("surface", ""), level)
            facts["credential"] = match.target
        facts["level"] = level

    # --- deciding ----------------------------------------------------------------------------

    def _advance(self, conv: State, u: Understanding, notes: list[str]) -> tuple[State, Reply]:
        facts = conv["facts"]
        unknown_name = conv.pop("not_found", None)
        if unknown_name is not None and not facts.get("credential"):
            return self._not_found(conv, unknown_name)
        if facts.get("purpose") == "settle" and self.nlu.assumes_settle(u.text):
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
                return self._finish(conv, self._open_level(decision, facts), notes)
            if slot == "purpose" and conv.pop("purpose_unknown", False):
                return self._finish(conv, self._open_purpose(decision), notes)
            if slot in conv["asked"]:
                facts[slot] = UNKNOWN  # never ask twice: what was not understood stays open
                continue
            return self._ask(conv, decision, notes)
        if decision.result is None:  # every fact is open; answer with what is known
            decision = decide(self.kb, facts, order)
        return self._finish(conv, decision, notes)

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

    def _ask(self, conv: State, decision: Decision, notes: list[str]) -> tuple[State, Reply]:
        slot = decision.ask
        assert slot is not None
        target = self.dialog.state_for(slot)
        conv["state"] = self.dialog.move(conv["state"], target.id)
        conv["turn"] = int(conv.get("turn", 0)) + 1
        conv["asked"] = [*conv["asked"], slot]
        text, options = self.writer.question(target, decision, conv["facts"])
        conv["options"] = list(options)
        rule = decision.ask_rule
        conv["ask_params"] = ([int(rule.params["window_months"]), int(rule.params["months"]),
                               float(rule.params["multiple"])]
                              if rule is not None and rule.check == "social_insurance" else None)
        return conv, Reply("\n".join([*notes, text]), slot, options, None, conv["turn"])

    def _finish(self, conv: State, decision: Decision, notes: list[str]) -> tuple[State, Reply]:
        conv["state"] = self.dialog.move(conv["state"], "answered")
        conv["asked"], conv["options"], conv["ask_params"] = [], [], None
        conv.pop("clarified", None)
        text = self.writer.answer(decision, conv["facts"], notes)
        result = decision.result
        if result is not None and result.credential:
            twins = self._twins(result.credential)  # 飞机外场调试与维护工 is on both lists
            if twins:
                result = replace(result, citations=tuple(dict.fromkeys(
                    (*result.citations, *twins))))
        return conv, Reply(text, None, (), result, conv.get("turn", 0))

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

    def _help(self, conv: State, asking: str | None, not_understood: bool = False) -> Reply:
        text = self.t["not_understood"] if not_understood else self.t["help"]
        if asking:
            state = self.dialog.states[conv["state"]]
            decision = decide(self.kb, conv["facts"], self.dialog.slot_order)
            prompt, options = self.writer.question(state, decision, conv["facts"])
            return Reply(text + "\n" + self.t["still_waiting"].format(prompt=prompt), asking,
                         options, None, int(conv.get("turn", 0)))
        return Reply(text, None, (), None, int(conv.get("turn", 0)))

    def _clarify(self, conv: State, asking: str) -> Reply:
        """「什么意思?」 to a question: the note behind it, and the question again."""
        state = self.dialog.states[conv["state"]]
        decision = decide(self.kb, conv["facts"], self.dialog.slot_order)
        prompt, options = self.writer.question(state, decision, conv["facts"])
        lines = []
        if state.rule:
            note = self.kb.notes[state.rule]
            lines.append(self.t["clarify"].format(note=self.writer.note_no(note.id),
                                                  text=note.text))
        return Reply("\n".join([*lines, prompt]), asking, options, None,
                     int(conv.get("turn", 0)))

    def _not_found(self, conv: State, name: str) -> tuple[State, Reply]:
        result = Result("not_listed", conv["facts"].get("purpose"), None, ("not_listed",), ())
        text = (self.t["not_found"].format(name=name[:30]) if name
                else self.t["not_found_generic"])
        conv["state"] = self.dialog.move(conv["state"], "answered")
        conv["asked"], conv["options"] = [], []
        return conv, Reply(f"{self.t['verdict']['not_listed']}\n{text}\n{self.t['disclaimer']}",
                           None, (), result, int(conv.get("turn", 0)))

    def _info(self, conv: State, u: Understanding, row: Any) -> tuple[State, Reply]:
        cites = (row.id, *self._twins(row.id))
        result = Result("info", None, row.id, (), cites)
        return self._answer_aside(conv, self.writer.row_info(row), result)

    def _twins(self, row_id: str) -> tuple[str, ...]:
        twin = self.nlu.matcher.lingang_also.get(row_id)
        return (twin,) if twin else ()

    def _lookup(self, conv: State, u: Understanding) -> tuple[State, Reply]:
        assert u.match is not None
        target = u.match.target
        if self.dialog.states[conv["state"]].slot is None:
            self._new_credential(conv, u)  # 「那我能积分吗」 next is about this certificate
        if target.startswith(("near:", "conflict:")):
            facts = {"credential": target, "surface": u.match.surface, "level": u.match.level}
            decision = decide(self.kb, facts, self.dialog.slot_order)
            text = self.writer.answer(decision, facts, [])
            assert decision.result is not None
            return self._answer_aside(conv, text, decision.result, with_disclaimer=False)
        row = self.kb.rows.get(target.split(":", 1)[-1])
        if row is None:  # a generic title
            title = self.kb.titles[target]
            text = self.t["title_info"].format(surface=u.match.surface, title=title.name)
            return self._answer_aside(conv, text, Result("info", None, target, (), ()))
        return self._info(conv, u, row)

    def _requirements(self, conv: State, u: Understanding) -> tuple[State, Reply]:
        """「监理工程师积分需要什么条件」: the row and the notes that apply to it."""
        assert u.match is not None
        target = u.match.target
        facts = {"credential": target, "surface": u.match.surface, "level": u.match.level}
        if target.startswith(("near:", "conflict:", "unleveled:")) or target.startswith(
                "lingang#"):
            return self._lookup(conv, u)
        credential = resolve_credential(self.kb, target, facts["level"], u.match.surface)
        purposes = [u.purpose] if u.purpose else ["points", "settle"]
        notes = list(dict.fromkeys(rule.note for p in purposes
                                   for rule in applicable_rules(self.kb, credential, p)))
        lines = [self.writer.row_line(credential.row)] if credential.row else []
        lines.append(self.writer.note_info(notes))
        cites = tuple(dict.fromkeys(((credential.id,) if credential.row else ()) + tuple(notes)))
        result = Result("info", u.purpose, credential.id, (), cites)
        return self._answer_aside(conv, "\n".join(lines), result)

    def _background_about(self, text: str) -> list[str]:
        return [f.id for f in self.kb.facts.values() if any(t in text for t in f.topics)]

    def _notes_about(self, text: str) -> list[str]:
        return [n.id for n in self.kb.notes.values() if any(t in text for t in n.topics)]

    def _catalogue_list(self, conv: State, key: str) -> tuple[State, Reply]:
        """「临港紧缺目录有哪些工种」: every row of the catalogue."""
        catalogue = self.kb.catalogues[key]
        result = Result("info", None, None, (), tuple(row.id for row in catalogue.rows))
        return self._answer_aside(conv, self.writer.catalogue_list(catalogue), result)

    def _note_answer(self, conv: State, u: Understanding) -> tuple[State, Reply]:
        notes = self._notes_about(u.text) or list(self.kb.notes)
        result = Result("info", u.purpose, None, (), tuple(notes))
        return self._answer_aside(conv, self.writer.note_info(notes), result)

    def _answer_aside(self, conv: State, text: str, result: Result,
                      with_disclaimer: bool = True) -> tuple[State, Reply]:
        """An answer to a side question; a pending question stays pending."""
        asking = self.dialog.states[conv["state"]].slot
        if with_disclaimer:
            text = f"{text}\n{self.t['disclaimer']}"
        if asking is None:
            conv["state"] = self.dialog.move(conv["state"], "answered")
        return conv, Reply(text, None, (), result, int(conv.get("turn", 0)))


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
