"""How a turn ends: a question asked, an answer given, an aside, help. Each returns the new
conversation state and the reply, and moves the dialog state machine (dialogs/eligibility.yaml)
only along the moves it allows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.asides import Aside, Asides
from bot.dialog import Dialog
from bot.knowledge import Knowledge
from bot.protocol import Reply, Result
from bot.replies import Writer
from bot.rules import Decision, decide
from bot.understand import Understanding

State = dict[str, Any]
Step = tuple[State | None, Reply]


class Turns:
    """The ends of turns, worded by the Writer and dialogs/replies.yaml."""

    def __init__(self, kb: Knowledge, dialog: Dialog, writer: Writer, asides: Asides,
                 retention: str) -> None:
        self.kb, self.dialog, self.writer, self.asides = kb, dialog, writer, asides
        self.t, self.retention = dialog.replies, retention

    def ask(self, conv: State, decision: Decision, notes: list[str],
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

    def finish(self, conv: State, decision: Decision, notes: list[str],
                u: Understanding) -> Step:
        conv["state"] = self.dialog.move(conv["state"], "answered")
        conv["asked"], conv["options"], conv["ask_params"] = [], [], None
        for done in ("clarified", "reasked"):
            conv.pop(done, None)
        answer = self.writer.answer(decision, conv["facts"], notes,
                                    {**conv.pop("asks", {}), **u.asks})
        text, brief = answer.text, answer.brief
        result = decision.result
        if result is not None and result.credential:
            twins = self.asides.twin_of(result.credential)  # on both lists: cite both
            if twins:
                result = replace(result, citations=tuple(dict.fromkeys(
                    (*result.citations, *twins))))
        conv["last_answer"] = text
        return conv, Reply(text, None, (), result, conv.get("turn", 0), brief)

    def open_level(self, decision: Decision, facts: dict[str, Any]) -> Decision:
        row_id = str(facts.get("credential", "")).split(":", 1)[-1]
        credential = decision.credential.id if decision.credential else (
            row_id if row_id in self.kb.rows else None)
        result = Result("conditional", facts.get("purpose"), credential, (),
                        (credential,) if credential else (), ("level",))
        return Decision(result=result, credential=decision.credential, kind="level_open")

    def open_purpose(self, decision: Decision) -> Decision:
        result = Result("info", None, decision.credential.id if decision.credential else None,
                        (), (decision.credential.id,) if decision.credential and
                        decision.credential.row else ())
        return Decision(result=result, credential=decision.credential, kind="purpose_open")


    def help(self, conv: State, asking: str | None, not_understood: bool = False) -> Step:
        return conv, self.help_reply(conv, asking, not_understood)

    def help_reply(self, conv: State, asking: str | None, not_understood: bool) -> Reply:
        text = (self.t["not_understood"] if not_understood
                else self.t["help"].format(retention_days=self.retention))
        if asking:
            state = self.dialog.states[conv["state"]]
            decision = decide(self.kb, conv["facts"], self.dialog.slot_order)
            prompt, options = self.writer.question(state, decision, conv["facts"])
            return Reply(text + "\n" + self.t["still_waiting"].format(prompt=prompt), asking,
                         options, None, int(conv.get("turn", 0)))
        return Reply(text, None, (), None, int(conv.get("turn", 0)))

    def clarify(self, conv: State, u: Understanding, asking: str | None) -> Step:
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

    def not_found(self, conv: State, name: str, notes: list[str]) -> Step:
        """A name not recognised: said so, and the full name asked (never 「不在目录」)."""
        text = (self.t["not_found"].format(name=name[:30]) if name
                else self.t["not_found_generic"])
        target = self.dialog.state_for("credential")
        conv["state"] = self.dialog.move(conv["state"], target.id)
        conv["turn"] = int(conv.get("turn", 0)) + 1
        conv["asked"], conv["options"], conv["ask_params"] = ["credential"], [], None
        return conv, Reply("\n".join([*notes, text]), "credential", (), None, conv["turn"])

    def no_credential(self, conv: State) -> Step:
        """No certificate could be named: no verdict, and what to send next time."""
        conv["state"] = self.dialog.move(conv["state"], "answered")
        conv["asked"], conv["options"], conv["ask_params"] = [], [], None
        conv.pop("reasked", None)
        result = Result("info", conv["facts"].get("purpose"), None, (), ())
        return conv, Reply(self.t["no_credential"], None, (), result, int(conv.get("turn", 0)))

    def aside(self, conv: State, aside: Aside) -> Step:
        """An answer to a side question; a pending question stays pending."""
        text, result, with_disclaimer = aside
        asking = self.dialog.states[conv["state"]].slot
        if with_disclaimer:
            text = f"{text}\n{self.t['disclaimer']}"
        if asking is None:
            conv["state"] = self.dialog.move(conv["state"], "answered")
        return conv, Reply(text, None, (), result, int(conv.get("turn", 0)),
                           self.writer.brief_for(text))
