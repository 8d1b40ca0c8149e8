"""The channel-free entry point: one message in, one reply out, state per (chat, user)."""

from __future__ import annotations

from bot.protocol import Reply
from bot.store import MemoryStore, Store


class Assistant:
    """The core as channels see it. Placeholder until the engine lands."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or MemoryStore()

    def handle(self, chat: str, user: str, text: str) -> Reply:
        """Understand ``text`` from ``user`` in ``chat`` and return the one reply to it."""
        return Reply(text="你好!请告诉我你的证书和用途,例如「中级会计能落户吗」。")

    def reset(self, chat: str, user: str) -> Reply:
        """Forget this person's conversation and say so."""
        return Reply(text="好的,已清空我们的对话。请告诉我你的证书和用途。")

    def pending(self, chat: str, user: str) -> tuple[str | None, int]:
        """The slot this person's conversation waits for and the turn number of that question."""
        return None, 0


def build_assistant(store: Store | None = None) -> Assistant:
    """Load knowledge/ and dialogs/ and return a ready assistant (the composition root)."""
    return Assistant(store)
