"""The handlers: Telegram updates in, core replies out; each update answered exactly once.

Private chats: every text goes to the core. Groups: only what is addressed to the bot (see
``addressing``); each person keeps their own conversation (chat id, user id); every reply
quotes the message it answers, and an answer with more to say is sent brief with a 「详细」
button. Option and details buttons carry their owner and turn, so a stranger's press or a stale
button changes nothing.

Exactly once: the core keeps the reply under the update's message id, atomically with the step
(``Assistant.handle(..., message_id=...)``), so handling an update again gives the same reply
and no second step; a reply is marked sent once delivered (or known unsendable) and the inbox
entry done, so an update seen again after that is not answered again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.assistant import Assistant
from bot.logsafe import log_failure
from bot.store import Store, message_key, person_key

from .addressing import Request, read_request, replies_to
from .buttons import ButtonPress, label_of, without_details
from .inbox import Inbox, entry_id, person_of_update
from .sending import Outcome, Outgoing, Target, send
from .wording import COMMANDS, DETAILS, HELP, NOT_YOURS, ONLY_TEXT, SORRY, STALE

logger = logging.getLogger(__name__)
AnyApp = Application[Any, Any, Any, Any, Any, Any]


@dataclass(frozen=True)
class TelegramChannel:
    """The handlers of this channel, over the core and the store it shares."""

    assistant: Assistant
    store: Store
    inbox: Inbox

    def register(self, app: AnyApp) -> None:
        """Add every handler of this channel to ``app``."""
        new = filters.UpdateType.MESSAGE
        app.add_handler(MessageHandler(new & filters.TEXT, self.on_text))
        app.add_handler(
            MessageHandler(new & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.on_other)
        )
        app.add_handler(CallbackQueryHandler(self.on_button))
        # Anything else (edits, service messages…) is ignored, and done with.
        app.add_handler(TypeHandler(Update, self.on_ignored))
        app.add_error_handler(on_error)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message: a command, a question or an answer, when addressed to the bot."""
        message = update.message
        request = None
        if message is not None and message.from_user is not None:
            request = read_request(message, context.bot.bot)
        if message is None or message.from_user is None or request is None:
            self.inbox.done(update)
            return
        chat, user = str(message.chat.id), str(message.from_user.id)
        group = message.chat.type != ChatType.PRIVATE
        compute = partial(self._respond, request, chat, user, entry_id(update), group)
        await self._answer(context, update, compute, _target(message))

    def _respond(self, request: Request, chat: str, user: str, key: str, group: bool) -> Outgoing:
        if request.command in ("start", "help"):
            return Outgoing(HELP.format(days=self.assistant.engine.retention))
        if request.command == "reset":
            return Outgoing.of(self.assistant.reset(chat, user), group)
        if request.command == "cancel":
            return Outgoing.of(self.assistant.cancel(chat, user), group)
        if request.command == "forget":
            return Outgoing.of(self.assistant.forget(chat, user), group)
        reply = self.assistant.handle(chat, user, request.text, message_id=key)
        return Outgoing.of(reply, group)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo, sticker, voice…: say that only text is understood (groups: when addressed)."""
        message = update.message
        addressed = message is not None and message.from_user is not None and (
            message.chat.type == ChatType.PRIVATE or replies_to(message, context.bot.bot)
        )
        if message is None or not addressed:
            self.inbox.done(update)
            return
        await self._answer(context, update, partial(Outgoing, ONLY_TEXT), _target(message))

    async def on_ignored(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An update this bot does not answer (an edit, a service message…)."""
        self.inbox.done(update)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An option or 「详细」 button: only its owner may press it, only while it is current."""
        query = update.callback_query
        if query is None:
            return
        press = ButtonPress.decode(query.data)
        message = query.message if isinstance(query.message, Message) else None
        refusal = None
        if press is None or message is None:
            refusal = STALE
        elif query.from_user.id != press.owner:
            refusal = NOT_YOURS
        if press is None or message is None or refusal is not None:
            await _quietly(query.answer(refusal, show_alert=True))
            self.inbox.done(update)
            return
        chat, user, key = str(message.chat.id), str(press.owner), entry_id(update)
        label = DETAILS if press.details else label_of(message.reply_markup, query.data)
        slot, turn = self.assistant.pending(chat, user)
        stale = turn != press.turn or label is None or (slot is None and not press.details)
        # A press already stepped (replayed after a crash) moved the turn on itself: not stale.
        if stale and self.store.peek(message_key(person_key(chat, user), key)) is None:
            await _quietly(query.answer(STALE, show_alert=True))
            self.inbox.done(update)
            return
        await _quietly(query.answer())
        rest = without_details(message.reply_markup) if press.details else None
        await _quietly(message.edit_reply_markup(reply_markup=rest))
        asked = message.reply_to_message
        group = message.chat.type != ChatType.PRIVATE
        target = Target(
            chat_id=message.chat.id,
            owner=press.owner,
            group=group,
            quote=asked.message_id if asked else message.message_id,
            thread=message.message_thread_id if message.is_topic_message else None,
        )
        if press.details:  # the whole answer, as a reply to the person who asked
            compute = partial(self._details, chat, user, key)
        else:
            compute = partial(self._respond, Request("ask", label or ""), chat, user, key, group)
        await self._answer(context, update, compute, target)

    def _details(self, chat: str, user: str, key: str) -> Outgoing:
        reply = self.assistant.handle(chat, user, DETAILS, message_id=key)
        return Outgoing(reply.text)

    async def post_init(self, app: AnyApp) -> None:
        """Register the command menu, then queue the inbox's unhandled updates, oldest first."""
        try:
            await app.bot.set_my_commands(COMMANDS)
        except TelegramError as exc:
            logger.warning("setMyCommands 失败,命令菜单未更新: %s", type(exc).__name__)
        pending = self.inbox.pending(app.bot)
        if pending:
            logger.info("先处理收件箱中未处理完的 %d 条更新", len(pending))
        for update in pending:
            await app.update_queue.put(update)

    async def post_shutdown(self, app: AnyApp) -> None:
        self.store.close()

    async def _answer(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        update: Update,
        compute: Callable[[], Outgoing],
        target: Target,
    ) -> None:
        """Reply to ``update`` once: not again when it was sent (or sending was settled)."""
        sent_key = f"{entry_id(update)}:sent"
        if self.store.peek(sent_key) is not None:
            logger.info("更新 %d 已回复过,忽略", update.update_id)
            self.inbox.done(update)
            return
        try:
            out = compute()
        except Exception as exc:  # the core or the store failed: apologise, keep running
            log_failure(logger, f"处理更新 {update.update_id} 失败", exc)
            out = Outgoing(SORRY)
        outcome = await send(context.bot, out, target)
        if outcome is Outcome.UNDELIVERED:
            return  # still pending: sent on a redelivery or the next start
        if not out.forget:  # after a deletion no row of the person may remain
            self.store.seen(sent_key, lambda: outcome.value, person=person_of_update(update))
        self.inbox.done(update)


def _target(message: Message) -> Target:
    group = message.chat.type != ChatType.PRIVATE
    return Target(
        chat_id=message.chat.id,
        owner=message.from_user.id if message.from_user else 0,
        group=group,
        quote=message.message_id if group else None,
        thread=message.message_thread_id if message.is_topic_message else None,
    )


async def _quietly(call: Any) -> None:
    """Await a cosmetic call (answer a button, drop a keyboard) whose failure changes nothing."""
    try:
        await call
    except TelegramError as exc:
        logger.info("次要请求失败: %s", type(exc).__name__)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log every error (the update stays in the inbox and is handled again on the next start)."""
    error = context.error
    if error is not None:  # by type and stack: an exception's message may quote the text
        log_failure(logger, "处理更新时出错", error)
