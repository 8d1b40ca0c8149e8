"""Sending a reply: plain text cut to Telegram's limits, with buttons or a selective ForceReply.

The retry policy (README, Telegram): a send is repeated only when the error proves Telegram did
not take it: the connection could not be made (refused, connect or pool timeout), Telegram
answered 429 (RetryAfter) or another error status (5xx …). A timeout or a broken connection
after the request was sent is *ambiguous*: Telegram may have delivered it, so it is never
repeated; it is logged and recorded as ambiguous. 400/403 (bad request, bot blocked) are final.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import httpx
from telegram import Bot, ForceReply, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import MessageLimit
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.protocol import Reply

from .buttons import keyboard
from .wording import EMPTY, PLACEHOLDER

logger = logging.getLogger(__name__)
SEND_ATTEMPTS = 5  # tries of one message when every failure proves non-delivery
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Outcome(enum.Enum):
    """What became of a reply: delivered, perhaps delivered, refused for good, or not yet."""

    SENT = "sent"
    AMBIGUOUS = "ambiguous"  # timed out or cut off after sending: never repeated
    REFUSED = "refused"  # 400/403: repeating cannot help
    UNDELIVERED = "undelivered"  # every attempt provably failed: try again later


@dataclass(frozen=True)
class Outgoing:
    """A reply as this channel sends it.

    Attributes:
        text: what to send (a group's brief form when ``details``).
        options: labels of the option buttons.
        turn: the core's turn number (buttons carry it to spot stale presses).
        waiting: the reply expects an answer (a question, a greeting; not a verdict): groups
            then get a selective ForceReply.
        details: offer the 「详细」 button (a brief group answer whose full text is longer).
        forget: the reply confirms that the person's data was deleted.
    """

    text: str
    options: tuple[str, ...] = ()
    turn: int = 0
    waiting: bool = False
    details: bool = False
    forget: bool = False

    @classmethod
    def of(cls, reply: Reply, group: bool) -> Outgoing:
        """Groups get ``reply.short`` (and 「详细」 when it leaves out more); chats the text."""
        brief = group and reply.has_details
        waiting = reply.result is None
        text = reply.short if brief else reply.text
        return cls(text, tuple(reply.options), reply.turn, waiting, brief, reply.forget)


@dataclass(frozen=True)
class Target:
    """Where a reply goes: the chat, the person it is for, and the message it quotes."""

    chat_id: int
    owner: int
    group: bool
    quote: int | None = None
    thread: int | None = None


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """``text`` made sendable: control characters dropped, cut into pieces Telegram accepts."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    if not text.strip():
        return [EMPTY]
    if 2 * len(text) <= limit:  # fits even if every character takes two UTF-16 units
        return [text]
    pieces: list[str] = []
    while text:
        cut, units = 0, 0
        for cut, char in enumerate(text):  # noqa: B007 - `cut` is used after the loop
            units += 2 if ord(char) > 0xFFFF else 1  # Telegram counts UTF-16 code units
            if units > limit:
                break
        else:
            cut = len(text)
        newline = text.rfind("\n", 0, cut)
        if cut < len(text) and newline > cut // 2:
            cut = newline + 1
        pieces.append(text[:cut])
        text = text[cut:]
    return [piece for piece in pieces if piece.strip()] or [EMPTY]


async def send(bot: Bot, out: Outgoing, target: Target) -> Outcome:
    """Send ``out`` as plain text (no parse_mode: nothing typed can become markup).

    Returns the worst outcome over its pieces; an undelivered piece stops the rest.
    """
    pieces = split_text(out.text)
    worst = Outcome.SENT
    for number, piece in enumerate(pieces, start=1):
        last = number == len(pieces)
        markup: InlineKeyboardMarkup | ForceReply | None = None
        if last and (out.options or out.details):
            markup = keyboard(out.options, target.owner, out.turn, out.details)
        elif last and target.group and out.waiting:
            # Under privacy mode a group member's answer reaches the bot only as a reply.
            markup = ForceReply(selective=True, input_field_placeholder=PLACEHOLDER)
        quote = None
        if target.quote and number == 1:
            quote = ReplyParameters(target.quote, allow_sending_without_reply=True)
        outcome = await deliver(
            partial(
                bot.send_message,
                target.chat_id,
                piece,
                reply_markup=markup,
                reply_parameters=quote,
                message_thread_id=target.thread,
            )
        )
        if outcome is Outcome.UNDELIVERED:
            return outcome
        if outcome is not Outcome.SENT:
            worst = outcome
    return worst


def classify(error: TelegramError) -> Outcome:
    """How a failed request ended: UNDELIVERED (provably not taken: retry), AMBIGUOUS, REFUSED.

    PTB's HTTPXRequest raises TimedOut/NetworkError *from* the httpx exception; a NetworkError
    without an httpx cause is an error status Telegram answered (5xx, or an unexpected one), and
    so is "Invalid server response" (a body that is not JSON, e.g. a proxy's 502 page; older
    PTB versions raise it before looking at the status).
    """
    cause = error.__cause__
    if isinstance(error, RetryAfter):
        return Outcome.UNDELIVERED
    if type(error) is TelegramError and isinstance(cause, ValueError):
        return Outcome.UNDELIVERED  # answered, but not with the Bot API's JSON (a 5xx page)
    if isinstance(error, BadRequest) or not isinstance(error, NetworkError):
        return Outcome.REFUSED  # 400, 403 (blocked), 401, 409 …
    if isinstance(cause, _NOT_CONNECTED):
        return Outcome.UNDELIVERED  # refused, failed to connect, no free connection
    if isinstance(error, TimedOut) or isinstance(cause, httpx.HTTPError | OSError):
        return Outcome.AMBIGUOUS  # the request may have reached Telegram
    return Outcome.UNDELIVERED  # Telegram answered an error status: it did not take it


async def deliver(call: Callable[[], Awaitable[object]]) -> Outcome:
    """Await ``call()`` (one Bot API request), retried only on proven non-delivery."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            await call()
            return Outcome.SENT
        except TelegramError as exc:
            outcome = classify(exc)
            if outcome is Outcome.AMBIGUOUS:
                logger.warning("发送结果不明(%s),不重发以免重复", type(exc).__name__)
                return outcome
            if outcome is Outcome.REFUSED:
                logger.warning("Telegram 拒绝了发送,不再重试: %s", type(exc).__name__)
                return outcome
            if attempt == SEND_ATTEMPTS:
                logger.error("发送失败 %d 次,稍后再试: %s", attempt, type(exc).__name__)
                return outcome
            wait = exc.retry_after if isinstance(exc, RetryAfter) else 0.5 * 2 ** (attempt - 1)
            logger.warning("发送失败(第 %d 次),%s 秒后重试: %s", attempt, _seconds(wait),
                           type(exc).__name__)
            await asyncio.sleep(_seconds(wait))
    raise AssertionError("unreachable")


def _seconds(wait: float | timedelta) -> float:
    """``RetryAfter.retry_after`` is an int or a timedelta depending on PTB's settings."""
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
