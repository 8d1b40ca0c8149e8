"""The assistant over a store: one reply per message, whatever the stored state holds."""

from __future__ import annotations

from bot.assistant import build_assistant
from bot.store import MemoryStore


def test_a_state_the_engine_cannot_use_starts_the_conversation_over() -> None:
    store = MemoryStore()
    assistant = build_assistant(store)
    assistant.handle("c", "u", "中级会计能落户吗")
    key = assistant.key("c", "u")
    store.update(key, lambda state: ({**(state or {}), "ask_params": [48, 36, "x"]}, None))
    reply = assistant.handle("c", "u", "焊工技师能积分吗")
    assert reply.asking is not None or reply.result is not None
    assert "抱歉" not in reply.text
    assert store.load(key)["facts"]["credential"] == "skilled#30"
