"""The composition root: the application, long polling or a webhook, and ``main``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.assistant import Assistant, build_assistant
from bot.clock import ClockError, clock_from_env
from bot.knowledge import KnowledgeError
from bot.store import StoreError, open_store

from .concurrency import PerPersonUpdates
from .handlers import AnyApp, TelegramChannel
from .inbox import Inbox, InboxBot, webhook_app
from .settings import Settings, SettingsError, Webhook

logger = logging.getLogger(__name__)
CONCURRENT_UPDATES = 16  # updates of different people handled at once (one person's in order)
RATE_LIMIT_RETRIES = 5
OVERALL_RATE = 30  # messages per second Telegram allows a bot overall
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]  # edits are ignored


def build_application(
    settings: Settings, assistant: Assistant | None = None, *, pace: bool = True
) -> AnyApp:
    """The Telegram application: store, inbox, core, handlers, rate limiter, command menu.

    ``assistant`` replaces the core built over the store (it must use the same store).
    ``pace=False`` lifts Telegram's overall 30 messages/s pacing (benchmarks); 429s are still
    retried.

    Raises:
        StoreError: the state file cannot be used.
        KnowledgeError: knowledge/ or dialogs/ has problems.
    """
    store = assistant.store if assistant is not None else open_store(settings.store_path)
    inbox = Inbox(store)
    channel = TelegramChannel(assistant or build_assistant(store), store, inbox)
    bot = InboxBot(
        settings.token,
        base_url=settings.base_url,
        request=HTTPXRequest(
            connection_pool_size=CONCURRENT_UPDATES * 2, read_timeout=settings.send_timeout
        ),
        get_updates_request=HTTPXRequest(
            connection_pool_size=1, read_timeout=settings.poll_timeout + 10.0
        ),
        rate_limiter=AIORateLimiter(
            overall_max_rate=OVERALL_RATE if pace else 0, max_retries=RATE_LIMIT_RETRIES
        ),
        inbox=inbox,
    )
    app = (
        ApplicationBuilder()
        .bot(bot)
        .concurrent_updates(PerPersonUpdates(CONCURRENT_UPDATES))
        .post_init(channel.post_init)
        .post_shutdown(channel.post_shutdown)
        .build()
    )
    channel.register(app)
    return app


def polling_options(settings: Settings) -> dict[str, Any]:
    """Arguments shared by ``Application.run_polling`` and ``Updater.start_polling``."""
    return {
        "timeout": settings.poll_timeout,
        "allowed_updates": ALLOWED_UPDATES,
        "drop_pending_updates": False,  # messages sent while the bot was down are answered
        "bootstrap_retries": 3,
    }


@asynccontextmanager
async def polling(app: AnyApp, settings: Settings) -> AsyncIterator[None]:
    """Run ``app`` by long polling inside a running event loop, as ``run_polling`` would."""
    async with app:
        if app.post_init:
            await app.post_init(app)
        assert app.updater is not None
        await app.updater.start_polling(**polling_options(settings))
        await app.start()
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()
    if app.post_shutdown:
        await app.post_shutdown(app)


@asynccontextmanager
async def webhook(app: AnyApp, hook: Webhook) -> AsyncIterator[None]:
    """Serve ``app`` as a webhook inside a running event loop (our own aiohttp route, so that
    200 is answered only once the update is in the inbox), and register it with Telegram."""
    channel_inbox = app.bot.inbox if isinstance(app.bot, InboxBot) else None
    assert channel_inbox is not None, "build the application with build_application"
    async with app:
        if app.post_init:
            await app.post_init(app)
        await app.start()
        runner = web.AppRunner(webhook_app(app, hook, channel_inbox), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, hook.listen, hook.port).start()
            await app.bot.set_webhook(
                hook.url,
                secret_token=hook.secret_token,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
            yield
        finally:
            await runner.cleanup()
            await app.stop()
    if app.post_shutdown:
        await app.post_shutdown(app)


async def serve(app: AnyApp, settings: Settings) -> None:
    """Serve ``app`` until SIGINT or SIGTERM: a webhook when one is set, else long polling."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):  # not in the main thread / Windows
            loop.add_signal_handler(signum, stop.set)
    hook = settings.webhook
    if hook is None:
        logger.info("以长轮询方式运行")
        mode = polling(app, settings)
    else:
        logger.info("以 webhook 方式运行: %s,监听 %s:%d", hook.url, hook.listen, hook.port)
        mode = webhook(app, hook)
    async with mode:
        await stop.wait()


def run(settings: Settings) -> None:
    """Build the application and serve until interrupted (polling, or a webhook when set)."""
    asyncio.run(serve(build_application(settings), settings))


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
        clock_from_env()  # a bad BOT_TODAY is one line here, not a traceback later
        run(Settings.from_env(os.environ, store=args.store))
    except (SettingsError, StoreError, ClockError) as exc:
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
    except (NetworkError, OSError) as exc:
        print(
            f"错误: 无法连接 Telegram Bot API 或监听端口({exc}),请检查网络、TELEGRAM_BASE_URL "
            "或 TELEGRAM_WEBHOOK_LISTEN",
            file=sys.stderr,
        )
        return 1
    return 0
