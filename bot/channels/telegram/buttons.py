"""Inline buttons: what a press carries (owner, turn, option) and how options are laid out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from .wording import DETAILS

_BUTTON = re.compile(r"([ad]):(\d{1,20}):(\d{1,9}):(\d{1,3})")


@dataclass(frozen=True)
class ButtonPress:
    """What a button carries: whose question, which turn, which option (or 「详细」).

    Attributes:
        owner: the Telegram user id of the person asked; nobody else may press it.
        turn: the core's turn number when the button was sent (a later turn makes it stale).
        index: the option's position in ``Reply.options`` (0 for the details button).
        details: the 「详细」 button of a brief group answer, not an option.
    """

    owner: int
    turn: int
    index: int
    details: bool = False

    def encode(self) -> str:
        """The callback_data string (at most 64 bytes: ids and an index, never the label)."""
        return f"{'d' if self.details else 'a'}:{self.owner}:{self.turn}:{self.index}"

    @classmethod
    def decode(cls, data: object) -> ButtonPress | None:
        """The press encoded in ``data``, or None for anything this bot did not make."""
        match = _BUTTON.fullmatch(data) if isinstance(data, str) else None
        if match is None:
            return None
        kind, owner, turn, index = match.groups()
        return cls(int(owner), int(turn), int(index), details=kind == "d")


def keyboard(
    options: tuple[str, ...], owner: int, turn: int, details: bool = False
) -> InlineKeyboardMarkup:
    """One button per option (short labels share a row), then 「详细」 when ``details``."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in keyboard_rows(options, owner, turn, details)
        ]
    )


def keyboard_rows(
    options: tuple[str, ...], owner: int, turn: int, details: bool = False
) -> list[list[dict[str, str]]]:
    """:func:`keyboard` as the Bot API's JSON (``inline_keyboard``)."""
    buttons = [
        {"text": label, "callback_data": ButtonPress(owner, turn, index).encode()}
        for index, label in enumerate(options)
    ]
    width = 3 if all(len(label) <= 6 for label in options) else 1
    rows = [buttons[i : i + width] for i in range(0, len(buttons), width)]
    if details:
        press = ButtonPress(owner, turn, 0, details=True)
        rows.append([{"text": DETAILS, "callback_data": press.encode()}])
    return rows


def label_of(markup: InlineKeyboardMarkup | None, data: object) -> str | None:
    """The text of the button in ``markup`` that carries ``data``."""
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def without_details(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """``markup`` without its 「详细」 button (None when nothing is left): pressed once, it goes,
    and the options of the same message stay."""
    rows = [
        [b for b in row if not _is_details(b.callback_data)]
        for row in (markup.inline_keyboard if markup else ())
    ]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None



def _is_details(data: object) -> bool:
    press = ButtonPress.decode(data)
    return press is not None and press.details
