"""How the WeChat channel words its replies: numbered choices, digit answers, length limits.

WeChat has no buttons in a passive reply, so the core's ``options`` become a numbered line the
person answers with a digit, and a reply must fit the passive-reply size limit. Everything here is
pure text in, text out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# WeChat's passive text reply is commonly documented as at most 2048 bytes of UTF-8 content;
# longer content is silently dropped, so we cut it ourselves and say so.
MAX_REPLY_BYTES = 2048
TRUNCATED = "…(内容较长,已截断)"

WELCOME = (
    "欢迎关注落户助手!\n"
    "我根据上海 2023 年的三张目录和六条说明,回答你的证书能否用于《居住证》积分、"
    "居转户或人才引进,并列出依据。\n\n"
    "直接发一句话就行,例如「中级会计能积分吗」。"
    "我问到的事情有选项时,回复数字即可;发送「重新开始」可清空对话。"
)
ONLY_TEXT = "目前我只看得懂文字消息。请用文字告诉我你的证书和用途,例如「中级会计能积分吗」。"
TROUBLE = "抱歉,我这边出了点问题,请稍后再发一次。"
RESET_WORDS = frozenset({"重新开始", "重来", "重置", "reset", "/reset"})

_CHOICE = re.compile(r"(?:选择?|第)?\s*([0-9]{1,2})\s*(?:个|项|号)?")
_WRAPPING = " \t\r\n「」『』“”‘’\"'()[]【】《》<>.。,!?~"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def choice_index(text: str, count: int) -> int | None:
    """The option a person picked by number, or None when ``text`` is not such an answer.

    Accepts ``1``, full-width ``1``, ``「1」``, ``选1``, ``第1个`` and the like.

    Args:
        text: what the person wrote.
        count: how many options were offered.

    Returns:
        The zero-based index of the chosen option, or None.
    """
    plain = unicodedata.normalize("NFKC", text).strip(_WRAPPING)
    match = _CHOICE.fullmatch(plain)
    if match is None:
        return None
    number = int(match.group(1))
    return number - 1 if 1 <= number <= count else None


def is_reset(text: str) -> bool:
    """Whether ``text`` asks to forget the conversation (WeChat has no commands)."""
    return unicodedata.normalize("NFKC", text).strip(_WRAPPING).lower() in RESET_WORDS


def numbered_choices(options: Sequence[str]) -> str:
    """The line offering ``options`` by number (``回复 1 积分, 2 居转户``); empty if none."""
    if not options:
        return ""
    return "回复 " + ", ".join(f"{number} {label}" for number, label in enumerate(options, 1))


def fit_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, at a line end when one is near.

    A cut text ends with a note that it was cut.
    """
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(TRUNCATED.encode("utf-8"))
    if room <= 0:
        return text.encode("utf-8")[: max(limit, 0)].decode("utf-8", "ignore")
    head = text.encode("utf-8")[:room].decode("utf-8", "ignore")
    line_end = head.rfind("\n")
    if line_end >= len(head) * 2 // 3:
        head = head[:line_end]
    return head.rstrip() + TRUNCATED


def xml_safe(text: str) -> str:
    """``text`` that cannot break the CDATA section wechatpy renders it into."""
    return _NOT_XML.sub("", text).replace("]]>", "]] >")


def render_reply(text: str, options: Sequence[str] = ()) -> str:
    """The passive-reply content for a core reply: its text, the numbered choices, within limits.

    The choices are kept whole; only the text before them is cut when the reply is too long.
    """
    choices = numbered_choices(options)
    suffix = f"\n\n{choices}" if choices else ""
    body = fit_bytes(xml_safe(text), MAX_REPLY_BYTES - len(suffix.encode("utf-8")))
    return fit_bytes(body + xml_safe(suffix), MAX_REPLY_BYTES)
