"""Talk to the companion site's WebSocket endpoints from a notebook (lesson 14).

    ws = await connect(site, "/ws/echo/")       # the websockets client, Origin set for you
    await ws.send("hi"); await ws.recv()
    await recv_json(ws)                         # the next message, parsed, with a timeout
    await close_code(ws)                        # read until the server closes; its code
    await nothing_arrives(ws, within=0.3)       # True if no message comes in that time
    many = await open_many(site, "/ws/room/a/", 50); await close_all(many)

Close codes: `Close` (the site's own list, companion_site/demo/consumers/codes.py).
"""

import asyncio
import contextlib
import json
import socket
import sys
from pathlib import Path

import websockets

SITE_DIR = Path(__file__).resolve().parent.parent / "companion_site"
if str(SITE_DIR) not in sys.path:
    sys.path.insert(0, str(SITE_DIR))

from demo.consumers.codes import MAX_TEXT_BYTES, OUTBOX_SIZE, Close  # noqa: E402

__all__ = ["MAX_TEXT_BYTES", "OUTBOX_SIZE", "Close", "NeverReads", "close_all", "close_code", "connect",
           "nothing_arrives", "open_many", "recv_json", "ws_url"]  # fmt: skip


def ws_url(site, path):
    """ws://127.0.0.1:PORT/path for a site started with start_site()."""
    return site.url.replace("http://", "ws://", 1) + path


def connect(site, path, *, origin=True, **options):
    """Open a WebSocket to `path`; awaitable, and an `async with` context manager too.

    origin: True sends the site's own address as Origin, as a browser on its page would;
    a string sends that one; False sends none (a script, a non-browser client).
    options: passed to websockets.connect (e.g. additional_headers, max_queue, max_size).
    """
    if origin is True:
        origin = site.url
    return websockets.connect(ws_url(site, path), origin=origin or None, open_timeout=10, **options)


async def recv_json(ws, timeout=5.0):
    """The next message from the server, parsed as JSON."""
    async with asyncio.timeout(timeout):
        return json.loads(await ws.recv())


async def close_code(ws, timeout=5.0):
    """Read (and drop) messages until the server closes the connection; return its close code."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    return ws.close_code


async def nothing_arrives(ws, within=0.3):
    """True if no message arrives in `within` seconds."""
    try:
        async with asyncio.timeout(within):
            await ws.recv()
    except TimeoutError:
        return True
    return False


async def open_many(site, path, n, *, at_once=50, **options):
    """Open `n` WebSockets to `path`, at most `at_once` handshakes at a time."""
    gate = asyncio.Semaphore(at_once)

    async def one():
        async with gate:
            return await connect(site, path, **options)

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def close_all(connections):
    """Close every connection (a normal close, code 1000), all at once."""
    await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)


class NeverReads:
    """A WebSocket client that shakes hands, then reads nothing until read_to_close().

    Built from websockets' sans-I/O protocol over a plain socket with a small receive buffer,
    so nothing reads on its behalf: it stands for a phone on a bad network or a frozen tab.

        slow = await NeverReads.open(site, "/ws/room/a/")
        ...                                   # the server sends; the client reads nothing
        messages, code = await slow.read_to_close()
    """

    def __init__(self, sock, protocol):
        self.sock, self.protocol, self.messages = sock, protocol, 0

    @classmethod
    async def open(cls, site, path, *, receive_buffer=4096):
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        host, port = site.url.removeprefix("http://").split(":")
        await loop.sock_connect(sock, (host, int(port)))
        protocol = ClientProtocol(parse_uri(ws_url(site, path)), origin=site.url)
        protocol.send_request(protocol.connect())
        client = cls(sock, protocol)
        await client._send_pending()
        while protocol.handshake_exc is None and protocol.state.name == "CONNECTING":
            await client._read_some()
        if protocol.handshake_exc is not None:
            sock.close()
            raise protocol.handshake_exc
        return client

    async def _send_pending(self):
        for data in self.protocol.data_to_send():
            if data:
                await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def _read_some(self):
        data = await asyncio.get_running_loop().sock_recv(self.sock, 65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if getattr(event, "opcode", None) is not None and event.opcode.name == "TEXT":
                self.messages += 1
        await self._send_pending()  # the answer to a close frame, or to a ping
        return bool(data)

    async def read_to_close(self, timeout=10.0):
        """Read everything the server sent; return (text messages read, the close code)."""
        async with asyncio.timeout(timeout):
            while self.protocol.close_rcvd is None and await self._read_some():
                pass
        self.sock.close()
        code = self.protocol.close_rcvd.code if self.protocol.close_rcvd else None
        return self.messages, code

    def close(self):
        self.sock.close()
