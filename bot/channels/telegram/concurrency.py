"""Updates of different people at once; one person's strictly one after another."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


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
