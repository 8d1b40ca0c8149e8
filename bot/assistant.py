"""The channel-free entry point: one message in, one reply out, state per (chat, user)."""

from __future__ import annotations

import logging

from bot.dialog import load_dialog
from bot.engine import Engine, State
from bot.knowledge import load_knowledge
from bot.protocol import Reply
from bot.store import MemoryStore, Store

log = logging.getLogger(__name__)
SORRY = "抱歉,我这边出了点问题,这条消息没能处理。请再发一次,或说「重新开始」。"


class Assistant:
    """The core as channels see it: the engine over a store."""

    def __init__(self, engine: Engine, store: Store | None = None) -> None:
        self.engine = engine
        self.store = store or MemoryStore()

    @staticmethod
    def key(chat: str, user: str) -> str:
        return f"conv:{chat}\x1f{user}"

    def handle(self, chat: str, user: str, text: str) -> Reply:
        """Understand ``text`` from ``user`` in ``chat`` and return the one reply to it.

        The state change and the reply are atomic; on an internal error the state is left as it
        was and the person gets an apology, never a traceback.
        """

        def step(state: State | None) -> tuple[State | None, Reply]:
            try:
                return self.engine.step(state, text)
            except Exception:
                if state is None:
                    raise
                # A stored state this version cannot use must not jam the conversation:
                # the message is handled as the start of a new one.
                log.exception("conversation state unusable; starting over (chat %r)", chat)
                return self.engine.step(None, text)

        try:
            return self.store.update(self.key(chat, user), step)
        except Exception:
            log.exception("failed to handle a message (chat %r)", chat)
            return Reply(SORRY)

    def reset(self, chat: str, user: str) -> Reply:
        """Forget this person's conversation and say so."""
        text = self.engine.t["reset"]
        return self.store.update(self.key(chat, user), lambda _state: (None, Reply(text)))

    def cancel(self, chat: str, user: str) -> Reply:
        """Drop the question under way (facts about the person are kept) and say so."""
        return self.store.update(self.key(chat, user), self.engine.cancel)

    def pending(self, chat: str, user: str) -> tuple[str | None, int]:
        """The slot this person's conversation waits for and the turn number of that question."""
        state = self.store.load(self.key(chat, user))
        if not state:
            return None, 0
        dialog_state = self.engine.dialog.states.get(str(state.get("state")))
        return (dialog_state.slot if dialog_state else None), int(state.get("turn", 0))


def build_engine() -> Engine:
    """Load and check knowledge/ and dialogs/ (raises KnowledgeError listing every problem)."""
    kb = load_knowledge()
    return Engine(kb, load_dialog(kb))


def build_assistant(store: Store | None = None, engine: Engine | None = None) -> Assistant:
    """A ready assistant (the composition root of the core)."""
    return Assistant(engine or build_engine(), store)
