"""Bot API objects as Telegram's clients make them: users, chats, messages (for the fake)."""

from __future__ import annotations

import json
import time
from typing import Any

_RAW = ("text",)  # form fields that must stay strings even when they look like JSON

TOKEN = "123456:TEST-token_for-the-fake-api"
BOT: dict[str, Any] = {
    "id": 777000111,
    "is_bot": True,
    "first_name": "落户助手",
    "username": "luohu_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


def message_dict(
    message_id: int,
    chat: dict[str, Any],
    user: dict[str, Any],
    text: str | None,
    *,
    reply_to: dict[str, Any] | None = None,
    command: bool = False,
    mention: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Bot API message object as a user's client would produce it (entities in UTF-16)."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat,
        "from": user,
    }
    if text is not None:
        message["text"] = text
    entities = []
    if command and text:
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16(text.split()[0])})
    if mention and text:
        start = text.index(mention)
        entities.append(
            {"type": "mention", "offset": _utf16(text[:start]), "length": _utf16(mention)}
        )
    if entities:
        message["entities"] = entities
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    message.update(extra or {})
    return message


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def private_chat(user: dict[str, Any]) -> dict[str, Any]:
    """The private chat of ``user``."""
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


def group_chat(chat_id: int = -100200300, title: str = "上海落户交流群") -> dict[str, Any]:
    """A supergroup."""
    return {"id": chat_id, "type": "supergroup", "title": title}


def person(user_id: int, name: str) -> dict[str, Any]:
    """A human user."""
    return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "zh-hans"}


def param_value(key: str, value: Any) -> Any:
    """A request parameter as Telegram reads it: JSON-looking strings decoded, except text."""
    if key in _RAW or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
