"""Which messages are meant for the bot, and what they ask of it (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Message, MessageEntity, User
from telegram.constants import ChatType

from .wording import COMMAND_NAMES


@dataclass(frozen=True)
class Request:
    """A message meant for the bot: a command (``ask`` for plain questions) and its text."""

    command: str
    text: str


def read_request(message: Message, me: User) -> Request | None:
    """What ``message`` asks of the bot ``me``, or None when it is not addressed to it.

    Private chats: everything is addressed. Groups: a command (``/ask``, ``/ask@me``, never
    ``/ask@otherbot``), an @mention of the bot, or a reply to one of its messages.
    """
    text = message.text or ""
    private = message.chat.type == ChatType.PRIVATE
    command = _command(message)
    if command is not None:
        name, target, rest = command
        if target and target.lower() != (me.username or "").lower():
            return None
        if name in COMMAND_NAMES:
            return Request(name, rest.strip())
        return Request("help", "") if private or target else None
    if private or replies_to(message, me) or _mentions(message, me):
        return Request("ask", _strip_mention(text, me).strip())
    return None


def replies_to(message: Message, me: User) -> bool:
    """Whether ``message`` is a reply to one of the bot's own messages."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == me.id)


def _command(message: Message) -> tuple[str, str, str] | None:
    """``(name, @target, rest)`` of a message starting with a bot command."""
    text = message.text or ""
    for entity in message.entities:
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            word = message.parse_entity(entity)
            name, _, target = word[1:].partition("@")
            return name.lower(), target, text[len(word) :]
    return None


def _mentions(message: Message, me: User) -> bool:
    handle = f"@{me.username}".lower() if me.username else None
    for entity, value in message.parse_entities().items():
        if entity.type == MessageEntity.MENTION and value.lower() == handle:
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == me.id:
            return True
    return False


def _strip_mention(text: str, me: User) -> str:
    if not me.username:
        return text
    return re.sub(rf"@{re.escape(me.username)}\b", "", text, flags=re.IGNORECASE)
