"""Telegram channel: long polling (or a webhook) over python-telegram-bot's public API.

Modules: ``settings`` (environment), ``addressing`` (which messages are meant for the bot),
``buttons`` (inline keyboards), ``sending`` (plain text out, the retry policy), ``inbox``
(updates stored before they are acknowledged), ``concurrency`` (one person's updates in order),
``handlers`` (updates in, core replies out), ``app`` (composition root and ``main``).
"""

from .addressing import Request, read_request
from .app import (
    ALLOWED_UPDATES,
    build_application,
    main,
    polling,
    polling_options,
    run,
    serve,
    webhook,
)
from .buttons import ButtonPress, keyboard, keyboard_rows, without_details
from .concurrency import PerPersonUpdates, person_of
from .sending import Outcome, Outgoing, classify, split_text
from .settings import Settings, SettingsError, Webhook
from .wording import COMMANDS, DETAILS, HELP, NOT_YOURS, ONLY_TEXT, SORRY, STALE

__all__ = [
    "ALLOWED_UPDATES",
    "COMMANDS",
    "DETAILS",
    "HELP",
    "NOT_YOURS",
    "ONLY_TEXT",
    "SORRY",
    "STALE",
    "ButtonPress",
    "Outcome",
    "Outgoing",
    "PerPersonUpdates",
    "Request",
    "Settings",
    "SettingsError",
    "Webhook",
    "build_application",
    "classify",
    "keyboard",
    "keyboard_rows",
    "main",
    "person_of",
    "polling",
    "polling_options",
    "read_request",
    "run",
    "serve",
    "split_text",
    "webhook",
    "without_details",
]
