"""Telegram channel: long polling (or a webhook) over python-telegram-bot; it translates only.

Private chats: every text goes to the core. Groups: the bot answers only when addressed (``/ask``,
an @mention, or a reply to one of its messages); each person keeps their own conversation
(chat id, user id) and every reply quotes the message it answers. Options become inline buttons
whose callback_data carries the owner and the turn, so a stranger's press or a stale button
changes nothing. Each message is answered exactly once: the reply is kept in the store atomically
with the state change (``Store.seen``) and marked once delivered, so a redelivered update after a
crash is neither answered twice nor lost.

The composition root is :func:`build_application`; :func:`main` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import secrets
import sys
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, RequestData

from bot.assistant import Assistant, build_assistant
from bot.knowledge import KnowledgeError
from bot.protocol import Reply
from bot.store import Store, StoreError, open_store

logger = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_STORE = "luohu.db"
DEFAULT_LISTEN = "0.0.0.0:8443"
SEND_ATTEMPTS = 5  # network errors on sending; 429s are retried by the rate limiter
CONCURRENT_UPDATES = 16  # updates of different people handled at once (one person's in order)
RATE_LIMIT_RETRIES = 5

HELP = (
    "我是落户助手,只回答一个问题:你的证书能不能用于上海《居住证》积分,或者居转户(落户)。\n"
    "我依据 2023 年的三份目录和六条说明,只问规则需要的事实,并告诉你答案依据的目录条目和说明。\n"
    "\n"
    "直接发问就行,例如:\n"
    "· 中级会计能积分吗\n"
    "· 焊工技师能落户吗\n"
    "\n"
    "在群里请用「/ask 你的问题」、@我,或回复我的消息;每个人的对话互不影响。\n"
    "/reset 清空我们的对话,/cancel 放弃当前问题。"
)
ONLY_TEXT = "我只看得懂文字消息。请用文字告诉我你的证书和用途,例如「中级会计能积分吗」。"
NOT_YOURS = "这个问题不是问你的。想问自己的情况,请发送 /ask 加上你的问题。"
STALE = "这个按钮已过期,请回答最新的问题。"
SORRY = "抱歉,我这边出了点问题,请稍后再试。"
EMPTY = "(没有内容)"
COMMANDS = (
    BotCommand("start", "介绍与示例"),
    BotCommand("help", "使用说明与示例"),
    BotCommand("ask", "提问,例如 /ask 中级会计能积分吗"),
    BotCommand("reset", "清空我的对话"),
    BotCommand("cancel", "放弃当前问题"),
)
_COMMAND_NAMES = frozenset(command.command for command in COMMANDS)
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BUTTON = re.compile(r"a:(\d{1,20}):(\d{1,9}):(\d{1,3})")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_JSON = {"Content-Type": "application/json"}


# --- settings ----------------------------------------------------------------------------------


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates in webhook mode.

    Attributes:
        url: the public HTTPS URL registered with Telegram (its path is the local path too).
        listen: the local address to bind.
        port: the local port to bind.
        secret_token: checked on every request (header ``X-Telegram-Bot-Api-Secret-Token``).
    """

    url: str
    listen: str
    port: int
    secret_token: str = field(repr=False)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path.lstrip("/")


@dataclass(frozen=True)
class Settings:
    """Everything the channel needs, read once from the environment.

    Attributes:
        token: the bot token (never logged).
        base_url: the Bot API base the token is appended to.
        store_path: the SQLite state file shared by the core and de-duplication.
        poll_timeout: seconds a getUpdates long poll may wait.
        webhook: webhook mode when set, long polling otherwise.
    """

    token: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    store_path: str = DEFAULT_STORE
    poll_timeout: int = 25
    webhook: Webhook | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], store: str | None = None) -> Settings:
        """Read ``TELEGRAM_*`` and ``BOT_STORE`` from ``env``.

        Raises:
            SettingsError: a required setting is missing or a value is malformed.
        """
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise SettingsError("缺少 TELEGRAM_BOT_TOKEN:请设置为 @BotFather 给出的机器人令牌")
        if not _TOKEN.fullmatch(token):
            raise SettingsError("TELEGRAM_BOT_TOKEN 格式不对:应形如 123456789:AAE…")
        return cls(
            token=token,
            base_url=env.get("TELEGRAM_BASE_URL", "").strip() or DEFAULT_BASE_URL,
            store_path=store or env.get("BOT_STORE", "").strip() or DEFAULT_STORE,
            poll_timeout=_int(env, "TELEGRAM_POLL_TIMEOUT", 25),
            webhook=_webhook(env),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise SettingsError(f"{name} 应为非负整数,而不是 {raw!r}")
    return int(raw)


def _webhook(env: Mapping[str, str]) -> Webhook | None:
    url = env.get("TELEGRAM_WEBHOOK_URL", "").strip()
    if not url:
        return None
    if not url.startswith("https://"):
        raise SettingsError(f"TELEGRAM_WEBHOOK_URL 必须是 https:// 开头的公网地址,而不是 {url!r}")
    host, _, port = (env.get("TELEGRAM_WEBHOOK_LISTEN", "").strip() or DEFAULT_LISTEN).rpartition(
        ":"
    )
    if not host or not port.isdigit():
        raise SettingsError("TELEGRAM_WEBHOOK_LISTEN 应形如 0.0.0.0:8443")
    secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or secrets.token_urlsafe(32)
    if not _SECRET.fullmatch(secret):
        raise SettingsError("TELEGRAM_WEBHOOK_SECRET 只能含字母、数字、_ 和 -,最长 256 个字符")
    return Webhook(url=url, listen=host, port=int(port), secret_token=secret)


# --- Telegram specifics, as pure functions ------------------------------------------------------


@dataclass(frozen=True)
class ButtonPress:
    """What an option button carries: whose question, which turn, which option."""

    owner: int
    turn: int
    index: int

    def encode(self) -> str:
        """The callback_data string (at most 64 bytes: ids and an index, never the label)."""
        return f"a:{self.owner}:{self.turn}:{self.index}"

    @classmethod
    def decode(cls, data: object) -> ButtonPress | None:
        """The press encoded in ``data``, or None for anything this bot did not make."""
        match = _BUTTON.fullmatch(data) if isinstance(data, str) else None
        if match is None:
            return None
        owner, turn, index = (int(group) for group in match.groups())
        return cls(owner, turn, index)


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
        if name in _COMMAND_NAMES:
            return Request(name, rest.strip())
        return Request("help", "") if private or target else None
    if private or _replies_to(message, me) or _mentions(message, me):
        return Request("ask", _strip_mention(text, me).strip())
    return None


def _command(message: Message) -> tuple[str, str, str] | None:
    """``(name, @target, rest)`` of a message starting with a bot command."""
    text = message.text or ""
    for entity in message.entities:
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            word = message.parse_entity(entity)
            name, _, target = word[1:].partition("@")
            return name.lower(), target, text[len(word) :]
    return None


def _replies_to(message: Message, me: User) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == me.id)


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


@dataclass(frozen=True)
class Outgoing:
    """A reply as this channel sends it and keeps it for redeliveries."""

    text: str
    options: tuple[str, ...] = ()
    turn: int = 0
    waiting: bool = False  # the reply expects an answer (a question or a greeting)

    @classmethod
    def of(cls, reply: Reply) -> Outgoing:
        return cls(reply.text, tuple(reply.options), reply.turn, reply.result is None)

    def to_json(self) -> str:
        return json.dumps(
            {"text": self.text, "options": self.options, "turn": self.turn, "wait": self.waiting},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str) -> Outgoing:
        data = json.loads(raw)
        return cls(
            str(data["text"]), tuple(data["options"]), int(data["turn"]), bool(data["wait"])
        )


def keyboard(options: tuple[str, ...], owner: int, turn: int) -> InlineKeyboardMarkup:
    """One button per option; short labels share a row."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in keyboard_rows(options, owner, turn)
        ]
    )


def keyboard_rows(options: tuple[str, ...], owner: int, turn: int) -> list[list[dict[str, str]]]:
    """:func:`keyboard` as the Bot API's JSON (``inline_keyboard``), without PTB objects."""
    buttons = [
        {"text": label, "callback_data": ButtonPress(owner, turn, index).encode()}
        for index, label in enumerate(options)
    ]
    width = 3 if all(len(label) <= 6 for label in options) else 1
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


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


# --- the channel --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a reply goes: the chat, the person it is for, and the message it quotes."""

    chat_id: int
    owner: int
    group: bool
    quote: int | None = None
    thread: int | None = None


@dataclass(frozen=True)
class TelegramChannel:
    """The handlers: Telegram updates in, core replies out."""

    assistant: Assistant
    store: Store

    def register(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add every handler of this channel to ``app``."""
        new = filters.UpdateType.MESSAGE
        app.add_handler(MessageHandler(new & filters.TEXT, self.on_text))
        app.add_handler(
            MessageHandler(new & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.on_other)
        )
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_error_handler(on_error)
        # Edited messages are ignored: the original was answered, and answering twice is worse.

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message: a command, a question or an answer, when addressed to the bot."""
        message = update.message
        if message is None or message.from_user is None:
            return
        request = read_request(message, context.bot.bot)
        if request is None:
            return
        compute = partial(self._respond, request, str(message.chat.id), str(message.from_user.id))
        await self._answer(context, _message_key(message), compute, _target(message))

    def _respond(self, request: Request, chat: str, user: str) -> Outgoing:
        if request.command in ("start", "help"):
            return Outgoing(HELP)
        if request.command == "reset":
            return Outgoing.of(self.assistant.reset(chat, user))
        if request.command == "cancel":
            return Outgoing.of(self.assistant.cancel(chat, user))
        return Outgoing.of(self.assistant.handle(chat, user, request.text))

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo, sticker, voice…: say that only text is understood (groups: when addressed)."""
        message = update.message
        if message is None or message.from_user is None:
            return
        private = message.chat.type == ChatType.PRIVATE
        if private or _replies_to(message, context.bot.bot):
            note = partial(Outgoing, ONLY_TEXT)
            await self._answer(context, _message_key(message), note, _target(message))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An option button: only its owner may press it, and only while its question is open."""
        query = update.callback_query
        if query is None:
            return
        press = ButtonPress.decode(query.data)
        message = query.message if isinstance(query.message, Message) else None
        if press is None or message is None:
            await _quietly(query.answer(STALE, show_alert=True))
            return
        if query.from_user.id != press.owner:
            await _quietly(query.answer(NOT_YOURS, show_alert=True))
            return
        chat, user = str(message.chat.id), str(press.owner)
        label = _label(message, query.data)
        slot, turn = self.assistant.pending(chat, user)
        if slot is None or turn != press.turn or label is None:
            await _quietly(query.answer(STALE, show_alert=True))
            return
        await _quietly(query.answer())
        await _quietly(message.edit_reply_markup(reply_markup=None))
        asked = message.reply_to_message
        target = Target(
            chat_id=message.chat.id,
            owner=press.owner,
            group=message.chat.type != ChatType.PRIVATE,
            quote=asked.message_id if asked else message.message_id,
            thread=message.message_thread_id if message.is_topic_message else None,
        )
        compute = partial(self._respond, Request("ask", label), chat, user)
        await self._answer(context, f"telegram:button:{query.id}", compute, target)

    async def post_init(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Register the command menu (Chinese descriptions); a failure only costs the menu."""
        try:
            await app.bot.set_my_commands(COMMANDS)
        except TelegramError as exc:
            logger.warning("setMyCommands 失败,命令菜单未更新: %s", exc)

    async def post_shutdown(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.store.close()

    async def _answer(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        key: str,
        compute: Callable[[], Outgoing],
        target: Target,
    ) -> None:
        """Reply to one message exactly once, even when Telegram delivers it again."""
        made: list[Outgoing] = []

        def make() -> str:
            made.append(compute())
            return made[-1].to_json()

        try:
            raw, fresh = self.store.seen(key, make)
        except Exception:  # the core or the store failed: apologise, keep running
            logger.exception("处理消息 %s 失败", key)
            await _send(context, Outgoing(SORRY), target)
            return
        if not fresh and self.store.peek(f"{key}:sent") is not None:
            logger.info("重复投递的消息 %s 已回复过,忽略", key)
            return
        # fresh: the reply just computed and committed, no need to decode what was stored
        await _send(context, made[-1] if fresh and made else Outgoing.from_json(raw), target)
        self.store.seen(f"{key}:sent", lambda: "1")



def _message_key(message: Message) -> str:
    return f"telegram:{message.chat.id}:{message.message_id}"


def _target(message: Message) -> Target:
    group = message.chat.type != ChatType.PRIVATE
    return Target(
        chat_id=message.chat.id,
        owner=message.from_user.id if message.from_user else 0,
        group=group,
        quote=message.message_id if group else None,
        thread=message.message_thread_id if message.is_topic_message else None,
    )


def _label(message: Message, data: object) -> str | None:
    """The text of the button that carries ``data`` on ``message``."""
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


async def _send(context: ContextTypes.DEFAULT_TYPE, out: Outgoing, target: Target) -> None:
    """Send ``out`` as plain text (no parse_mode: nothing typed can become markup)."""
    pieces = split_text(out.text)
    for number, piece in enumerate(pieces, start=1):
        data: dict[str, Any] = {"chat_id": target.chat_id, "text": piece}
        last = number == len(pieces)
        if last and out.options:
            data["reply_markup"] = {
                "inline_keyboard": keyboard_rows(out.options, target.owner, out.turn)
            }
        elif last and target.group and out.waiting:
            # Under privacy mode a group member's answer reaches the bot only as a reply.
            data["reply_markup"] = {
                "force_reply": True,
                "selective": True,
                "input_field_placeholder": "在这里回答",
            }
        if target.quote and number == 1:
            data["reply_parameters"] = {
                "message_id": target.quote,
                "allow_sending_without_reply": True,
            }
        if target.thread is not None:
            data["message_thread_id"] = target.thread
        await _retrying(partial(send_message, context.bot, data))


async def send_message(bot: Bot, data: dict[str, Any]) -> Any:
    """``sendMessage`` with ``data`` (Bot API JSON), the sent message as a plain dict.

    ``Bot.send_message`` minus building PTB objects: ``Bot._post`` is the path every PTB method
    takes (ExtBot's rate limiter, PTB's error handling: RetryAfter, BadRequest, NetworkError …),
    but its result is not parsed into a ``Message`` (~40% of the channel's CPU per update, and
    this channel never reads it). ``Defaults`` and arbitrary callback data are not used here.
    """
    return await bot._post("sendMessage", dict(data))  # a copy: PTB edits it in place


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, retried on network errors (429s are the rate limiter's to retry)."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await call()
        except BadRequest:
            raise
        except NetworkError as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            logger.warning("发送失败(第 %d 次),稍后重试: %s", attempt, exc)
            await asyncio.sleep(min(0.5 * 2**attempt, 8))
    raise AssertionError("unreachable")


async def _quietly(call: Awaitable[Any]) -> None:
    """Await a cosmetic call (answer a button, drop a keyboard) whose failure changes nothing."""
    try:
        await call
    except TelegramError as exc:
        logger.info("次要请求失败: %s", exc)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log every error; network trouble is expected and retried, so it gets no traceback."""
    if isinstance(context.error, NetworkError) and not isinstance(context.error, BadRequest):
        logger.warning("网络错误,将重试: %s", context.error)
    else:
        logger.error("处理更新时出错", exc_info=context.error)


# --- concurrency ---------------------------------------------------------------------------------


def person_of(update: object) -> Hashable:
    """Whose conversation ``update`` touches: (chat id, user id); the same for a button press.

    A press's user is the presser: the owner's press joins the owner's queue, and a stranger's
    is refused without touching anyone's state.
    """
    if isinstance(update, Update):
        chat, user = update.effective_chat, update.effective_user
        return (chat.id if chat else None, user.id if user else None)
    return None


class PerPersonUpdates(BaseUpdateProcessor):
    """Updates of different people concurrently; one person's strictly one after another.

    Each person's updates wait for that person's previous one to finish, in the order the
    Application hands them over (the order Telegram sent them). Waiting starts before any
    ``await``: PTB's own semaphore is made too wide ever to block (a wait there could let a later
    update of the same person overtake an earlier one), and the limit of ``limit`` updates at
    once is applied after the per-person queue instead.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(max_concurrent_updates=2**30)
        self.limit = limit
        self._slots: asyncio.BoundedSemaphore | None = None
        self._last: dict[Hashable, asyncio.Future[None]] = {}

    async def initialize(self) -> None:
        self._slots = asyncio.BoundedSemaphore(self.limit)

    async def shutdown(self) -> None:
        """Nothing to free: PTB awaits every update in progress before shutting down."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = person_of(update)
        previous = self._last.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[key] = done
        started = False
        try:
            if previous is not None:
                await asyncio.wait((previous,))  # never cancels `previous`
            if self._slots is None:  # used without initialize()
                self._slots = asyncio.BoundedSemaphore(self.limit)
            async with self._slots:
                started = True
                await coroutine
        finally:
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()  # cancelled while queued: it never ran
            if previous is None or previous.done():
                self._finish(key, done)
            else:  # cancelled while queued: the next one must still wait for `previous`
                previous.add_done_callback(lambda _: self._finish(key, done))

    def _finish(self, key: Hashable, done: asyncio.Future[None]) -> None:
        done.set_result(None)
        if self._last.get(key) is done:
            del self._last[key]


class AiohttpRequest(BaseRequest):
    """PTB's HTTP transport over aiohttp instead of httpx.

    Same requests, same errors for PTB (TimedOut, NetworkError; statuses and bodies are PTB's to
    judge), about half the cost per request: PTB's default HTTPXRequest goes through httpx,
    httpcore and anyio, ~1.5 ms more CPU per call on the bench machine than this.
    aiohttp has no write timeout; the others keep HTTPXRequest's defaults and meaning.
    """

    def __init__(
        self,
        connections: int = 256,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self.connections = connections
        self._read, self._connect, self._pool = read_timeout, connect_timeout, pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.connections)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        # PTB passes BaseRequest.DEFAULT_NONE for "use this transport's default"
        default = BaseRequest.DEFAULT_NONE
        read = self._read if read_timeout is default else read_timeout
        connect = self._connect if connect_timeout is default else connect_timeout
        pool = self._pool if pool_timeout is default else pool_timeout
        timeout = aiohttp.ClientTimeout(
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] | None = None
        if request_data is not None and request_data.contains_files:
            form = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, *kind) in request_data.multipart_data.items():
                form.add_field(
                    name, content, filename=filename, content_type=kind[0] if kind else None
                )
            data = form
        elif request_data is not None:
            # The Bot API takes application/json as well as forms; the same string values as
            # PTB's form fields, but encoded by the json module in C, not percent-encoded byte
            # by byte in Python (~0.1 ms per Chinese reply).
            parameters = request_data.json_parameters
            data = json.dumps(parameters, ensure_ascii=False).encode()
            headers = _JSON
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as res:
                return res.status, await res.read()
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


# --- composition root ---------------------------------------------------------------------------


def build_application(settings: Settings) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Telegram application: store, core, handlers, rate limiter, command menu.

    Raises:
        StoreError: the state file cannot be used.
        KnowledgeError: knowledge/ or dialogs/ has problems.
    """
    store = open_store(settings.store_path)
    channel = TelegramChannel(build_assistant(store), store)
    app = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.base_url)
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .request(AiohttpRequest(connections=CONCURRENT_UPDATES * 2))
        .get_updates_request(AiohttpRequest(connections=1))
        .concurrent_updates(PerPersonUpdates(CONCURRENT_UPDATES))
        .post_init(channel.post_init)
        .post_shutdown(channel.post_shutdown)
        .build()
    )
    channel.register(app)
    return app


ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]  # edits are ignored


def polling_options(settings: Settings) -> dict[str, Any]:
    """Arguments shared by ``Application.run_polling`` and ``Updater.start_polling``."""
    return {
        "timeout": settings.poll_timeout,
        "allowed_updates": ALLOWED_UPDATES,
        "drop_pending_updates": False,  # messages sent while the bot was down are answered
        "bootstrap_retries": 3,
    }


def webhook_options(hook: Webhook) -> dict[str, Any]:
    """Arguments shared by ``Application.run_webhook`` and ``Updater.start_webhook``.

    PTB answers 403 to any request whose ``X-Telegram-Bot-Api-Secret-Token`` header is not
    ``hook.secret_token``, and registers that token with Telegram through setWebhook.
    """
    return {
        "listen": hook.listen,
        "port": hook.port,
        "url_path": hook.path,
        "webhook_url": hook.url,
        "secret_token": hook.secret_token,
        "allowed_updates": ALLOWED_UPDATES,
        "drop_pending_updates": False,
        "bootstrap_retries": 3,
    }


@asynccontextmanager
async def polling(
    app: Application[Any, Any, Any, Any, Any, Any], settings: Settings
) -> AsyncIterator[None]:
    """Run ``app`` by long polling inside a running event loop, as ``run_polling`` would."""
    async with app:
        if app.post_init:
            await app.post_init(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(**polling_options(settings))
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()
    if app.post_shutdown:
        await app.post_shutdown(app)


def run(settings: Settings) -> None:
    """Build the application and serve until interrupted (polling, or a webhook when set)."""
    app = build_application(settings)
    hook = settings.webhook
    if hook is None:
        logger.info("以长轮询方式运行")
        app.run_polling(**polling_options(settings))
    else:
        logger.info("以 webhook 方式运行: %s,监听 %s:%d", hook.url, hook.listen, hook.port)
        app.run_webhook(**webhook_options(hook))


def main(argv: list[str]) -> int:
    """``python -m bot telegram [--store PATH]``; settings from the environment."""
    parser = argparse.ArgumentParser(
        prog="python -m bot telegram",
        description="运行 Telegram 机器人。环境变量: TELEGRAM_BOT_TOKEN(必需)、TELEGRAM_BASE_URL、"
        "BOT_STORE、TELEGRAM_WEBHOOK_URL / TELEGRAM_WEBHOOK_LISTEN / TELEGRAM_WEBHOOK_SECRET",
    )
    parser.add_argument("--store", help="状态文件路径(默认 $BOT_STORE 或 luohu.db)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines carry the token
    try:
        run(Settings.from_env(os.environ, store=args.store))
    except (SettingsError, StoreError) as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return 2
    except KnowledgeError as exc:
        print(
            f"错误: knowledge/ 或 dialogs/ 数据有 {len(exc.problems)} 处问题,"
            "运行 python -m bot check 查看全部",
            file=sys.stderr,
        )
        return 2
    except InvalidToken:
        print("错误: Telegram 拒绝了 TELEGRAM_BOT_TOKEN,请向 @BotFather 核对令牌", file=sys.stderr)
        return 1
    except NetworkError as exc:
        print(
            f"错误: 无法连接 Telegram Bot API({exc}),请检查网络或 TELEGRAM_BASE_URL",
            file=sys.stderr,
        )
        return 1
    return 0
