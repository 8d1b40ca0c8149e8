"""The WeCom (企业微信) 智能机器人 wire format: crypto, callbacks parsed at the edge, replies.

WeCom signs and encrypts every callback with the standard WeCom scheme (AES-256-CBC with the
EncodingAESKey, ReceiveId "" for 智能机器人) and expects replies in the same envelope. The
message layer speaks JSON, so this module uses wechatpy's lower-level pieces (``PrpCrypto`` for
the AES frame, ``WeChatSigner`` for the SHA-1 signature) rather than its XML message helpers.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.utils import WeChatSigner

RECEIVE_ID = ""  # 智能机器人 callbacks carry an empty ReceiveId (CorpID for other apps)
MAX_STREAM_BYTES = 20_480  # the documented limit of stream.content

# A leading @mention: "@落户助手 问题" (WeCom puts a space or U+2005 after the name).
_MENTION = re.compile(r"^\s*@[^\s\u2005\u00a0]*[\s\u2005\u00a0]*")


class CryptoError(Exception):
    """A ciphertext that does not decrypt to a WeCom frame for this bot."""


class BadMessage(Exception):
    """A decrypted callback that is not a message this channel knows (never holds the body)."""


def aes_key_bytes(aes_key: str) -> bytes | None:
    """The 32-byte AES key an EncodingAESKey (43 base64 characters) stands for, or None."""
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(aes_key) == 43 and len(key) == 32 else None


class WecomCrypto:
    """Signing, encryption and decryption of WeCom callbacks.

    Args:
        token: the Token of the robot's API settings.
        aes_key: the EncodingAESKey (43 characters).

    Raises:
        ValueError: when ``aes_key`` is not a valid EncodingAESKey.
    """

    def __init__(self, token: str, aes_key: str) -> None:
        key = aes_key_bytes(aes_key)
        if key is None:
            raise ValueError("EncodingAESKey must be 43 base64 characters")
        self._token = token
        self._key = key

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """WeCom's msg_signature: SHA-1 hex over the sorted token, timestamp, nonce, ciphertext."""
        signer = WeChatSigner()
        signer.add_data(self._token, timestamp, nonce, encrypted)
        return str(signer.signature)

    def verify(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> bool:
        """Whether ``signature`` signs ``encrypted`` (constant-time comparison)."""
        expected = self.signature(timestamp, nonce, encrypted)
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

    def decrypt(self, encrypted: str) -> str:
        """The plaintext of a base64 ciphertext.

        Raises:
            CryptoError: bad base64, bad padding, not UTF-8, or another ReceiveId.
        """
        try:
            return str(PrpCrypto(self._key).decrypt(encrypted, RECEIVE_ID))
        # base64, block size, padding, UTF-8 and ReceiveId errors all surface differently.
        except Exception as exc:
            raise CryptoError(type(exc).__name__) from None

    def envelope(self, payload: Mapping[str, Any], timestamp: int, nonce: str) -> dict[str, Any]:
        """The encrypted reply envelope ``{encrypt, msgsignature, timestamp, nonce}``."""
        plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        encrypted = PrpCrypto(self._key).encrypt(plain, RECEIVE_ID)
        text = encrypted.decode("ascii") if isinstance(encrypted, bytes) else str(encrypted)
        return {
            "encrypt": text,
            "msgsignature": self.signature(str(timestamp), nonce, text),
            "timestamp": timestamp,
            "nonce": nonce,
        }


# --- callbacks parsed at the edge ------------------------------------------------------------


class Kind(enum.Enum):
    """What to do with a callback."""

    TEXT = "text"  # text, voice (transcribed) or mixed with text: goes to the core
    WELCOME = "welcome"  # enter_chat: the welcome
    SILENT = "silent"  # other events: no reply
    OTHER = "other"  # image, file, …: say that only text is understood
    REFRESH = "refresh"  # a stream refresh: the finished content again


@dataclass(frozen=True)
class Incoming:
    """A decrypted callback, checked once.

    Attributes:
        kind: how the channel answers it.
        msgid: WeCom's message id (the same on a redelivery).
        chat: the conversation key's chat: ``wecom:<chatid>`` in a group,
            ``wecom:single:<userid>`` in a 1:1 chat.
        user: the sender's userid.
        group: whether it came from a group chat.
        text: the text for the core, @mention stripped (empty unless ``kind`` is TEXT).
        stream_id: the stream a REFRESH asks for.
    """

    kind: Kind
    msgid: str
    chat: str
    user: str
    group: bool
    text: str = ""
    stream_id: str = ""


def parse_callback(plain: str) -> Incoming:
    """Parse a decrypted callback body.

    Raises:
        BadMessage: when ``plain`` is not a WeCom 智能机器人 callback (the reason names the
            missing field, never the content).
    """
    try:
        data = json.loads(plain)
    except ValueError:
        raise BadMessage("not JSON") from None
    if not isinstance(data, dict):
        raise BadMessage("not a JSON object")
    msgtype = _string(data, "msgtype")
    if msgtype == "event":  # answered without state: ids are not needed
        event = _object(data, "event")
        kind = Kind.WELCOME if event.get("eventtype") == "enter_chat" else Kind.SILENT
        return Incoming(kind, str(data.get("msgid", "")), "", "", group=False)
    msgid = _string(data, "msgid")
    user = _string(_object(data, "from"), "userid")
    group = _group(data)
    chat = f"wecom:{_string(data, 'chatid')}" if group else f"wecom:single:{user}"
    if msgtype == "stream":
        stream_id = _string(_object(data, "stream"), "id")
        return Incoming(Kind.REFRESH, msgid, chat, user, group, stream_id=stream_id)
    text = _text_of(data, msgtype)
    if text is None:
        return Incoming(Kind.OTHER, msgid, chat, user, group)
    if group:
        text = _MENTION.sub("", text, count=1)
    return Incoming(Kind.TEXT, msgid, chat, user, group, text=text.strip())


def _text_of(data: Mapping[str, Any], msgtype: str) -> str | None:
    """The text a message says, or None for messages without text (images, files, …).

    A quote is never read: only what this person wrote reaches the core.
    """
    if msgtype == "text":
        return _string(_object(data, "text"), "content", allow_empty=True)
    if msgtype == "voice":
        return _string(_object(data, "voice"), "content", allow_empty=True)
    if msgtype == "mixed":
        items = _object(data, "mixed").get("msg_item")
        if not isinstance(items, list):
            raise BadMessage("mixed without msg_item")
        texts = [
            _string(_object(item, "text"), "content", allow_empty=True)
            for item in items
            if isinstance(item, dict) and item.get("msgtype") == "text"
        ]
        return "\n".join(texts) if texts else None
    return None


def _group(data: Mapping[str, Any]) -> bool:
    chattype = data.get("chattype", "single")
    if chattype not in ("single", "group"):
        raise BadMessage("chattype is neither single nor group")
    return chattype == "group"


def _object(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise BadMessage(f"no {name} object")
    return value


def _string(data: Mapping[str, Any], name: str, *, allow_empty: bool = False) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not (value or allow_empty):
        raise BadMessage(f"no {name}")
    return value


# --- replies ---------------------------------------------------------------------------------


def stream_reply(stream_id: str, content: str) -> dict[str, Any]:
    """A finished stream message: the whole answer at once (the core answers immediately)."""
    return {"msgtype": "stream", "stream": {"id": stream_id, "finish": True, "content": content}}


def text_reply(content: str) -> dict[str, Any]:
    """A text message: the reply WeCom accepts to an ``enter_chat`` event."""
    return {"msgtype": "text", "text": {"content": content}}
