"""The channel-free entry point: one message in, one reply out, state per (chat, user).

Guarantees (README, "Guarantees and personal data"):

- a message with a ``message_id`` is stepped at most once: its reply is kept in the same
  transaction as the state change, and a repeat gets that reply again;
- an error of the engine never costs the person their conversation: the state before the
  message is kept and the reply says so (the log names the message by id or a keyed hash, never
  by its text);
- 「删除我的数据」 (``Reply.forget``) and ``forget`` delete every row of the person at once.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from typing import Any

from bot.clock import Clock
from bot.dialog import load_dialog
from bot.engine import Engine, State
from bot.knowledge import load_knowledge
from bot.logsafe import log_failure
from bot.protocol import Reply, Result
from bot.store import MemoryStore, Store, message_key, person_key, retention_days

log = logging.getLogger(__name__)
SORRY = "抱歉,我这边出了点问题,这条消息没能处理。请再发一次,或说「重新开始」。"
FAILURES = "failures"  # consecutive engine errors on a kept state (stripped before the engine)
MAX_FAILURES = 3  # a state the engine fails on this often in a row is unusable: start over
_LOG_KEY = os.urandom(16)  # hashes in logs correlate within a process, never reveal a text


class Assistant:
    """The core as channels see it: the engine over a store."""

    def __init__(self, engine: Engine, store: Store | None = None) -> None:
        self.engine = engine
        self.store = store or MemoryStore()

    @staticmethod
    def key(chat: str, user: str) -> str:
        """The store key of the conversation of ``user`` in ``chat`` (unambiguous)."""
        return person_key(chat, user)

    def handle(self, chat: str, user: str, text: str, message_id: str | None = None,
               inbox: str | None = None) -> Reply:
        """Understand ``text`` from ``user`` in ``chat`` and return the one reply to it.

        Args:
            message_id: the channel's id of the message, unique for this person. Given, a message
                already handled gets its kept reply again (the full ``Reply``) without a second
                step; otherwise the step and the kept reply commit in one transaction.
            inbox: the channel whose inbox holds ``message_id`` (``Store.inbox_add``): the entry
                is marked handled in that same transaction. Needs ``message_id``.

        Never raises: a failure of the store gives an apology and changes nothing.
        """
        person = self.key(chat, user)
        ref = message_id or _hash(text)
        try:
            with self.store.transaction():
                if message_id is not None:
                    kept = self.store.peek(message_key(person, message_id))
                    if kept is not None:
                        self._inbox_done(inbox, message_id)
                        return reply_from_json(json.loads(kept))
                reply = self.store.update(person, lambda state: self._step(state, text, ref))
                if reply.forget:
                    self.store.forget(person)  # the inbox entry and kept replies go too
                elif message_id is not None:
                    self.store.keep_reply(message_key(person, message_id),
                                          json.dumps(reply_to_json(reply)), person=person)
                self._inbox_done(inbox, message_id)
                return reply
        except Exception as exc:
            _log_error("failed to handle message %s", ref, exc)
            return Reply(SORRY)

    def _step(self, state: State | None, text: str, ref: str) -> tuple[State | None, Reply]:
        """One engine step; on an engine error the state stays as it was, and the reply says so."""
        failures = int(state.pop(FAILURES, 0) or 0) if state else 0
        try:
            return self.engine.step(copy.deepcopy(state), text)
        except Exception as exc:
            _log_error("the engine failed on message %s", ref, exc)
            if state is None:
                raise
            if failures + 1 < MAX_FAILURES:
                return {**state, FAILURES: failures + 1}, Reply(self.engine.t["engine_error"])
            log.warning("message %s: the kept state failed %d times; starting over", ref,
                        MAX_FAILURES)
            new, reply = self.engine.step(None, text)
            return new, Reply(f"{self.engine.t['engine_restart']}\n{reply.text}", reply.asking,
                              reply.options, reply.result, reply.turn, reply.brief, reply.forget)

    def _inbox_done(self, inbox: str | None, message_id: str | None) -> None:
        if inbox is not None and message_id is not None:
            self.store.inbox_done(inbox, message_id)

    def forget(self, chat: str, user: str) -> Reply:
        """Delete every record of this person at once (conversation, kept replies, inbox) and
        say so. Never raises: a failure of the store gives an apology."""
        try:
            self.store.forget(self.key(chat, user))
        except Exception as exc:
            _log_error("failed to forget a person (%s)", _hash(self.key(chat, user)), exc)
            return Reply(SORRY)
        return Reply(self.engine.t["forgotten"], forget=True)

    def reset(self, chat: str, user: str) -> Reply:
        """Forget this person's conversation and say so. Never raises (see ``forget``)."""
        text = self.engine.t["reset"]
        try:
            return self.store.update(self.key(chat, user), lambda _state: (None, Reply(text)))
        except Exception as exc:
            _log_error("failed to reset a conversation (%s)", _hash(self.key(chat, user)), exc)
            return Reply(SORRY)

    def cancel(self, chat: str, user: str) -> Reply:
        """Drop the question under way (facts about the person are kept) and say so. Never
        raises (see ``forget``)."""
        try:
            return self.store.update(self.key(chat, user), self.engine.cancel)
        except Exception as exc:
            _log_error("failed to cancel a question (%s)", _hash(self.key(chat, user)), exc)
            return Reply(SORRY)

    def pending(self, chat: str, user: str) -> tuple[str | None, int]:
        """The slot this person's conversation waits for and the turn number of that question."""
        state = self.store.load(self.key(chat, user))
        if not state:
            return None, 0
        dialog_state = self.engine.dialog.states.get(str(state.get("state")))
        return (dialog_state.slot if dialog_state else None), int(state.get("turn", 0))


def reply_to_json(reply: Reply) -> dict[str, Any]:
    """Every field of ``reply`` as JSON (what is kept for a message id)."""
    result = reply.result
    return {"text": reply.text, "asking": reply.asking, "options": list(reply.options),
            "result": None if result is None else {
                "verdict": result.verdict, "purpose": result.purpose,
                "credential": result.credential, "reasons": list(result.reasons),
                "citations": list(result.citations), "unknown": list(result.unknown),
                "points": result.points},
            "turn": reply.turn, "brief": reply.brief, "forget": reply.forget}


def reply_from_json(data: dict[str, Any]) -> Reply:
    """The ``Reply`` that ``reply_to_json`` wrote."""
    raw = data.get("result")
    result = None if raw is None else Result(
        raw["verdict"], raw["purpose"], raw["credential"], tuple(raw["reasons"]),
        tuple(raw["citations"]), tuple(raw["unknown"]), raw.get("points"))
    return Reply(data["text"], data["asking"], tuple(data["options"]), result, data["turn"],
                 data["brief"], data["forget"])


def _hash(text: str) -> str:
    """A keyed hash naming a message in the logs (equal texts, equal hashes, in one process)."""
    return "h:" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), key=_LOG_KEY,
                                  digest_size=6).hexdigest()


def _log_error(message: str, ref: str, exc: BaseException) -> None:
    """Log an exception by type and stack only: its message may quote the text or the facts."""
    log_failure(log, message % ref, exc)


def build_engine(clock: Clock | None = None) -> Engine:
    """Load and check knowledge/ and dialogs/.

    Raises:
        KnowledgeError: listing every problem of the data.
        ClockError: BOT_TODAY is not a date (``clock`` None: read from the environment).
    """
    kb = load_knowledge()
    return Engine(kb, load_dialog(kb), retention_days(), clock)


def build_assistant(store: Store | None = None, engine: Engine | None = None) -> Assistant:
    """A ready assistant (the composition root of the core)."""
    return Assistant(engine or build_engine(), store)
