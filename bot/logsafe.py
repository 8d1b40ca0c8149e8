"""Logging a failure without what the person wrote: an exception's message may quote the text
or the facts (a KeyError on a word, a ValueError on a number), so only its type and the stack
are logged (issue 14: logs never hold message text or personal facts)."""

from __future__ import annotations

import logging
import traceback


def log_failure(log: logging.Logger, what: str, exc: BaseException) -> None:
    """Log ``what`` (no message text in it) with ``exc``'s type and stack, never its message."""
    stack = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    log.error("%s: %s\n%s", what, type(exc).__name__, stack)
