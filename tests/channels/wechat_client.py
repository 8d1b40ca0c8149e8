"""A stand-in for WeChat's servers: signs, encrypts and posts callbacks as WeChat does.

It talks real HTTP to a server on loopback, and a ``serve`` context runs the production app
factory's application there on a free port in a background thread.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

ACCOUNT = "gh_0123456789ab"


@contextmanager
def serve(app: web.Application) -> Iterator[tuple[str, int]]:
    """Run ``app`` on 127.0.0.1 and a free port in a thread; yield ``(host, port)``."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield host, port
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 over the sorted, concatenated parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


@dataclass(frozen=True)
class Answer:
    """The server's HTTP answer; ``reply`` holds the (decrypted) passive reply's fields."""

    status: int
    body: str
    reply: dict[str, Any] | None = None

    @property
    def content(self) -> str:
        """The text of a passive text reply."""
        assert self.reply is not None, f"no passive reply: {self.status} {self.body!r}"
        assert self.reply["MsgType"] == "text"
        return str(self.reply["Content"])


@dataclass
class FakeWeChat:
    """Builds and sends callbacks as WeChat's servers do.

    Attributes:
        address: the server's (host, port).
        token: the shared 令牌.
        path: the callback path.
        crypto: set for 安全模式 (requests encrypted, replies decrypted and checked).
        clock: the Unix time WeChat stamps requests with.
    """

    address: tuple[str, int]
    token: str
    path: str = "/wechat"
    crypto: WeChatCrypto | None = None
    clock: Callable[[], float] = time.time
    next_id: int = field(default=10_000_000_000_000_000)
    nonces: int = field(default=1_000_000)

    # --- messages as WeChat writes them ---

    def text(self, openid: str, content: str, msg_id: int | None = None) -> Answer:
        """Post a text message (a fresh MsgId unless one is given, e.g. for a retry)."""
        return self.post_message(
            openid, "text", {"Content": content, "MsgId": msg_id or self.new_id()}
        )

    def event(self, openid: str, event: str) -> Answer:
        """Post an event (``subscribe``, ``unsubscribe``, …)."""
        return self.post_message(openid, "event", {"Event": event, "EventKey": ""})

    def post_message(self, openid: str, msg_type: str, fields: dict[str, Any]) -> Answer:
        """Post a message of ``msg_type`` with ``fields`` from ``openid``."""
        return self.post(message_xml(openid, msg_type, fields, int(self.clock())))

    def new_id(self) -> int:
        """A MsgId not used before."""
        self.next_id += 1
        return self.next_id

    def new_nonce(self) -> str:
        """A nonce not used before (WeChat draws a random one per request)."""
        self.nonces += 1
        return str(self.nonces)

    # --- requests ---

    def post(
        self,
        xml: str | bytes,
        *,
        timestamp: str | None = None,
        signature: str | None = None,
        msg_signature: str | None = None,
        nonce: str | None = None,
        plain: bool = False,
    ) -> Answer:
        """POST ``xml`` signed (and, in safe mode, encrypted) as WeChat does.

        ``signature`` and ``msg_signature`` replace the computed ones (to forge them); ``nonce``
        replaces the fresh one WeChat draws for each request (to replay one); ``plain`` sends
        ``xml`` unencrypted even in safe mode (a downgrade attempt).
        """
        timestamp = timestamp or str(int(self.clock()))
        nonce = nonce or self.new_nonce()
        query = {
            "signature": signature or sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": "o_signed",
        }
        body = xml.encode("utf-8") if isinstance(xml, str) else xml
        if self.crypto is not None and not plain:
            body, computed = self._encrypt(body, timestamp, nonce)
            query |= {"encrypt_type": "aes", "msg_signature": msg_signature or computed}
        status, text = self.request("POST", query, body)
        return Answer(status, text, None if plain else self._reply(status, text))

    def verify(
        self, echostr: str, *, signature: str | None = None, timestamp: str | None = None
    ) -> Answer:
        """GET the URL check WeChat sends when the server URL is saved."""
        timestamp = timestamp or str(int(self.clock()))
        nonce = "987654321"
        query = {
            "signature": signature or sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        status, text = self.request("GET", query, None)
        return Answer(status, text)

    def request(
        self, method: str, query: dict[str, str], body: bytes | Iterator[bytes] | None
    ) -> tuple[int, str]:
        """Send one HTTP request to the server; return its status and body.

        An iterator body is sent chunked, without a Content-Length.
        """
        connection = http.client.HTTPConnection(*self.address, timeout=10)
        try:
            headers = {"Content-Type": "text/xml"} if body is not None else {}
            url = f"{self.path}?{urllib.parse.urlencode(query)}"
            chunked = body is not None and not isinstance(body, bytes)
            connection.request(method, url, body=body, headers=headers, encode_chunked=chunked)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8")
        finally:
            connection.close()

    def _encrypt(self, body: bytes, timestamp: str, nonce: str) -> tuple[bytes, str]:
        assert self.crypto is not None
        packed = xmltodict.parse(self.crypto.encrypt_message(body, nonce, timestamp))["xml"]
        wire = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        wire += f"<Encrypt><![CDATA[{packed['Encrypt']}]]></Encrypt></xml>"
        return wire.encode("utf-8"), str(packed["MsgSignature"])

    def _reply(self, status: int, text: str) -> dict[str, Any] | None:
        if status != 200 or not text.startswith("<xml>"):
            return None
        if self.crypto is not None:
            packed = xmltodict.parse(text)["xml"]
            text = self.crypto.decrypt_message(
                text, packed["MsgSignature"], packed["TimeStamp"], packed["Nonce"]
            )
        return dict(xmltodict.parse(text)["xml"])


def message_xml(openid: str, msg_type: str, fields: dict[str, Any], created: int) -> str:
    """A callback message as WeChat writes it."""
    items = {"ToUserName": ACCOUNT, "FromUserName": openid, "CreateTime": created}
    items |= {"MsgType": msg_type, **fields}
    nodes = "".join(
        f"<{name}>{value}</{name}>"
        if isinstance(value, int)
        else f"<{name}><![CDATA[{value}]]></{name}>"
        for name, value in items.items()
    )
    return f"<xml>{nodes}</xml>"
