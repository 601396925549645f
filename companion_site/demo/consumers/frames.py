"""The base of the site's consumers: bad input and slow clients end in a close code, not a traceback.

A consumer that lets an exception escape makes the server log "Exception in ASGI application"
with a traceback and drop the connection with 1011. Here every way a client can misbehave is
answered with its code from codes.py and one warning line, and the server goes on serving the
others. Messages to the client go through a bounded outbox, so a client that stops reading costs
at most OUTBOX_SIZE messages of memory before it is let go.
"""

import asyncio
import json
import logging

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from .codes import MAX_TEXT_BYTES, OUTBOX_SIZE, Close

log = logging.getLogger("demo.ws")
# How long a client that stopped reading gets to take its close frame before we drop it.
CLOSE_GRACE = 5.0


class GuardedConsumer(AsyncWebsocketConsumer):
    """Text frames only, each at most MAX_TEXT_BYTES; JSON objects unless `speaks = "text"`.

    Subclasses write connect(), receive_json(data) (or receive_text(text)), disconnect(code),
    and send with `await self.push(data)`; `await self.reject(code, why)` ends a connection.
    """

    speaks = "json"

    async def websocket_connect(self, message):
        self.accepted = False
        self.outbox = asyncio.Queue(OUTBOX_SIZE)
        self.writer = None
        await super().websocket_connect(message)

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            await self.reject(Close.BINARY_NOT_ACCEPTED, "a binary frame")
        if len(text_data.encode()) > MAX_TEXT_BYTES:
            await self.reject(Close.TOO_BIG, f"a frame over {MAX_TEXT_BYTES} bytes")
        if self.speaks == "text":
            return await self.receive_text(text_data)
        try:
            data = json.loads(text_data)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            await self.reject(Close.INVALID_JSON, "a frame that is not a JSON object")
        await self.receive_json(data)

    async def receive_text(self, text):
        pass

    async def receive_json(self, data):
        pass

    async def text_field(self, data, name):
        """data[name] as a non-empty string, or the connection is closed with INVALID_JSON."""
        value = data.get(name)
        if not isinstance(value, str) or not value:
            await self.reject(Close.INVALID_JSON, f'a JSON object without a "{name}" string')
        return value

    async def push(self, data):
        """Queue `data` (JSON-able) for the client; a client that stopped reading is closed."""
        await self.push_text(json.dumps(data))

    async def push_text(self, text):
        """Queue a text frame for the client; a client that stopped reading is closed."""
        if self.outbox is None:  # already closing
            return
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            await self.reject(Close.TOO_SLOW, f"{OUTBOX_SIZE} messages waiting, none read")

    async def _write(self):
        try:
            while True:
                await self.send(text_data=await self.outbox.get())
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the client left while a message was on its way
            log.debug("gave up sending to %s: %r", self.scope["path"], error)

    async def reject(self, code, why, *, level=logging.WARNING):
        """Close with `code` (accepting first, so the client can read it), clean up, stop."""
        log.log(level, "closing %s with %d %s: %s", self.scope["path"], code, code.name, why)
        self.outbox = None
        if self.writer is not None:
            self.writer.cancel()
        try:
            async with asyncio.timeout(CLOSE_GRACE):
                if not self.accepted:
                    await self.accept()
                # int(): daphne's autobahn refuses an IntEnum ("must be an integer").
                await self.close(code=int(code))
        except TimeoutError:
            log.warning("%s did not take its close frame in %g s", self.scope["path"], CLOSE_GRACE)
        await self.disconnect(code)
        raise StopConsumer

    async def websocket_disconnect(self, message):
        if self.writer is not None:
            self.writer.cancel()
        await super().websocket_disconnect(message)
