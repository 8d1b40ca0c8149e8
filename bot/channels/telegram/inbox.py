"""The inbox: every update is written to the store before Telegram is told it arrived.

Long polling acknowledges an update by asking for the next offset, so :class:`InboxBot` stores
what ``getUpdates`` returned before returning it (PTB's Updater asks for the next offset only
after that). Webhook mode answers 200 only after :func:`webhook_app` stored the update. An entry
is marked done once its reply is sent (or known unsendable); on start, entries not done are
handled first, in arrival order (one person's updates keep their order; see ``concurrency``).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ExtBot

from bot.logsafe import log_failure
from bot.store import Store
from bot.store_schema import person_key

from .settings import Webhook

logger = logging.getLogger(__name__)
CHANNEL = "telegram"
REPLAY_LIMIT = 100_000  # entries replayed on start (an inbox larger than that is logged)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def entry_id(update: Update) -> str:
    """The inbox id of ``update``, which is also the message id the core keeps its reply under.

    A message is named by chat and message id (a redelivery in a new update is the same entry),
    a button press by its callback query id, anything else by its update id.
    """
    if update.message is not None:
        return f"{CHANNEL}:{update.message.chat.id}:{update.message.message_id}"
    if update.callback_query is not None:
        return f"{CHANNEL}:button:{update.callback_query.id}"
    return f"{CHANNEL}:update:{update.update_id}"


def person_of_update(update: Update) -> str:
    """The store's person key of whoever sent ``update`` (for ``/forget`` and retention)."""
    chat, user = update.effective_chat, update.effective_user
    return person_key(str(chat.id if chat else ""), str(user.id if user else ""))


class Inbox:
    """The Telegram inbox over the store (``inbox_add`` / ``inbox_pending`` / ``inbox_done``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, updates: Sequence[Update]) -> None:
        """Store ``updates`` (ids already present or done are ignored); raises on store errors."""
        items = [
            (entry_id(u), person_of_update(u), json.dumps(u.to_dict(), ensure_ascii=False))
            for u in updates
        ]
        self.store.inbox_add(CHANNEL, items)

    def pending(self, bot: ExtBot[Any]) -> list[Update]:
        """The updates not done yet, oldest first, as PTB objects bound to ``bot``."""
        rows = self.store.inbox_pending(CHANNEL, REPLAY_LIMIT)
        if len(rows) == REPLAY_LIMIT:
            logger.warning("收件箱积压超过 %d 条,其余的下次启动时处理", REPLAY_LIMIT)
        updates = []
        for _message_id, _person, payload in rows:
            update = Update.de_json(json.loads(payload), bot)
            if update is not None:
                updates.append(update)
        return updates

    def done(self, update: Update) -> None:
        """Mark ``update`` handled: it is not replayed on the next start."""
        self.store.inbox_done(CHANNEL, entry_id(update))


class InboxBot(ExtBot[None]):
    """An ExtBot whose ``get_updates`` stores what it fetched before returning it."""

    def __init__(self, *args: Any, inbox: Inbox, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox = inbox  # PTB objects are frozen; "_" attributes may still be set

    @property
    def inbox(self) -> Inbox:
        """Where fetched updates are stored."""
        return self._inbox

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        """``Bot.get_updates``; the updates are in the inbox when this returns.

        Raises:
            TelegramError: as ``Bot.get_updates``, and when the updates could not be stored
                (they are then not acknowledged; PTB's polling loop retries with a back-off).
        """
        updates = await super().get_updates(*args, **kwargs)
        if updates:
            try:
                self.inbox.add(updates)
            except Exception as exc:
                log_failure(logger, f"收到的 {len(updates)} 条更新未能存入收件箱,稍后重取", exc)
                raise TelegramError("updates not stored") from exc
        return updates


def webhook_app(
    app: Application[Any, Any, Any, Any, Any, Any], hook: Webhook, inbox: Inbox
) -> web.Application:
    """The webhook server (POST on the hook's path).

    Answers 403 without the right secret token, 400 for a body that is not an update, 500 when
    the update could not be stored (Telegram sends it again later); else 200, once it is stored.
    """

    async def receive(request: web.Request) -> web.Response:
        secret = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(secret.encode(), hook.secret_token.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            update = Update.de_json(await request.json(), app.bot)
        except Exception:  # not JSON, or not an update: nothing of it is logged
            update = None
        if update is None:
            return web.Response(status=400, text="not an update")
        try:
            inbox.add([update])
        except Exception as exc:
            log_failure(logger, f"更新 {update.update_id} 未能存入收件箱", exc)
            return web.Response(status=500, text="not stored")
        await app.update_queue.put(update)
        return web.Response(text="ok")

    server = web.Application(client_max_size=1 << 20)
    server.router.add_post("/" + hook.path, receive)
    return server
