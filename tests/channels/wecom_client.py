"""A stand-in for WeCom's servers: signs, encrypts and posts 智能机器人 callbacks as WeCom does.

Requests are encrypted and replies decrypted and signature-checked with wechatpy's enterprise
``WeChatCrypto`` (ReceiveId ""), a different path through wechatpy than the server's own, so a
mistake in the server's envelope fails here. The server runs with ``wechat_client.serve``.
"""

from __future__ import annotations

import http.client
import itertools
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

BOT_ID = "aibot_0123456789"
BOT_NAME = "落户助手"


@dataclass(frozen=True)
class Answer:
    """The server's HTTP answer; ``reply`` is the decrypted passive reply, if any."""

    status: int
    body: str
    reply: dict[str, Any] | None = None

    @property
    def stream(self) -> dict[str, Any]:
        """The ``stream`` object of a stream reply."""
        assert self.reply is not None, f"no passive reply: {self.status} {self.body!r}"
        assert self.reply["msgtype"] == "stream", self.reply
        return dict(self.reply["stream"])

    @property
    def content(self) -> str:
        """The content of a finished stream reply."""
        stream = self.stream
        assert stream["finish"] is True
        return str(stream["content"])


@dataclass
class FakeWeCom:
    """Builds and sends callbacks as WeCom's servers do.

    Attributes:
        address: the server's (host, port).
        crypto: wechatpy's enterprise crypto with the shared Token and EncodingAESKey.
        path: the callback path.
        clock: the Unix time WeCom stamps requests with.
    """

    address: tuple[str, int]
    crypto: WeChatCrypto
    path: str = "/wecom"
    clock: Callable[[], float] = time.time
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    last_post: tuple[dict[str, str], bytes] = ({}, b"")

    # --- callbacks as WeCom writes them ---

    def text(
        self,
        user: str,
        content: str,
        *,
        group: str | None = None,
        msgid: str | None = None,
        quote: dict[str, Any] | None = None,
    ) -> Answer:
        """A text message; in a group (``group`` = chatid) it starts with the @mention."""
        said = f"@{BOT_NAME} {content}" if group else content
        extra: dict[str, Any] = {"text": {"content": said}}
        if quote is not None:
            extra["quote"] = quote
        return self.message(user, "text", extra, group=group, msgid=msgid)

    def message(
        self,
        user: str,
        msgtype: str,
        extra: dict[str, Any],
        *,
        group: str | None = None,
        msgid: str | None = None,
    ) -> Answer:
        """Any message from ``user`` (``extra`` holds its type's fields)."""
        return self.post(callback(user, msgtype, extra, group=group, msgid=msgid or self.new_id()))

    def new_id(self) -> str:
        """A msgid (or nonce) not used before."""
        return f"{next(self._ids):08d}{time.time_ns() % 10**6:06d}"

    # --- requests ---

    def post(
        self,
        payload: dict[str, Any] | str,
        *,
        timestamp: str | None = None,
        nonce: str | None = None,
        signature: str | None = None,
    ) -> Answer:
        """POST ``payload`` encrypted and signed (``signature`` replaces the right one)."""
        plain = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        timestamp = timestamp or str(int(self.clock()))
        nonce = nonce or self.new_id()
        encrypted, computed = self.encrypt(plain, timestamp, nonce)
        query = {"msg_signature": signature or computed, "timestamp": timestamp, "nonce": nonce}
        self.last_post = (query, json.dumps({"encrypt": encrypted}).encode())
        return self.repeat()

    def repeat(self) -> Answer:
        """Send the last POST again, byte for byte (as WeCom retries a callback)."""
        status, text = self.request("POST", *self.last_post)
        return Answer(status, text, self._reply(status, text))

    def verify(
        self,
        echostr: str,
        *,
        signature: str | None = None,
        timestamp: str | None = None,
        nonce: str | None = None,
    ) -> tuple[int, str]:
        """GET the URL check WeCom sends when the callback URL is saved."""
        timestamp = timestamp or str(int(self.clock()))
        nonce = nonce or self.new_id()
        encrypted, computed = self.encrypt(echostr, timestamp, nonce)
        query = {
            "msg_signature": signature or computed,
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": encrypted,
        }
        return self.request("GET", query, None)

    def signed_query(self, encrypted: str, nonce: str | None = None) -> dict[str, str]:
        """A correct query string for a body whose ``encrypt`` field is ``encrypted``."""
        timestamp, nonce = str(int(self.clock())), nonce or self.new_id()
        return {
            "msg_signature": _sign(self.crypto.token, timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    def encrypt(self, plain: str, timestamp: str, nonce: str) -> tuple[str, str]:
        """``plain`` encrypted as WeCom does, and its msg_signature."""
        packed = xmltodict.parse(self.crypto.encrypt_message(plain, nonce, timestamp))["xml"]
        return str(packed["Encrypt"]), str(packed["MsgSignature"])

    def request(
        self, method: str, query: dict[str, str], body: bytes | Iterator[bytes] | None
    ) -> tuple[int, str]:
        """Send one HTTP request; an iterator body goes chunked, without a Content-Length."""
        connection = http.client.HTTPConnection(*self.address, timeout=10)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            url = f"{self.path}?{urllib.parse.urlencode(query)}"
            chunked = body is not None and not isinstance(body, bytes)
            connection.request(method, url, body=body, headers=headers, encode_chunked=chunked)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8")
        finally:
            connection.close()

    def _reply(self, status: int, text: str) -> dict[str, Any] | None:
        if status != 200 or not text:
            return None
        envelope = json.loads(text)
        assert set(envelope) == {"encrypt", "msgsignature", "timestamp", "nonce"}
        plain = self.crypto.decrypt_message(  # checks msgsignature too
            {"Encrypt": envelope["encrypt"]},
            envelope["msgsignature"],
            str(envelope["timestamp"]),
            envelope["nonce"],
        )
        reply = json.loads(plain)
        assert isinstance(reply, dict)
        return reply


def callback(
    user: str,
    msgtype: str,
    extra: dict[str, Any],
    *,
    group: str | None = None,
    msgid: str = "m1",
) -> dict[str, Any]:
    """A decrypted callback as WeCom writes it."""
    payload: dict[str, Any] = {"msgid": msgid, "aibotid": BOT_ID}
    payload |= {"chattype": "group", "chatid": group} if group else {"chattype": "single"}
    payload |= {"from": {"userid": user}, "msgtype": msgtype, **extra}
    return payload


def _sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)
