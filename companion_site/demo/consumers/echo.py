"""The handshake, the scope, and what a sync consumer costs (lesson 14)."""

import contextlib
import json
import threading
import time

from channels.generic.websocket import WebsocketConsumer

from .frames import GuardedConsumer

MAX_SLEEP = 2.0


class EchoConsumer(GuardedConsumer):
    """Sends every text frame back as it came: the smallest consumer there is."""

    speaks = "text"

    async def receive_text(self, text):
        await self.push_text(text)


class SyncEchoConsumer(WebsocketConsumer):
    """A sync consumer: each handler runs in a thread. "sleep 0.3" sleeps there, then answers.

    The answer names the thread, so a lesson can see which one: Channels runs the handlers of
    every sync consumer of the process through one shared thread.
    """

    def receive(self, text_data=None, bytes_data=None):
        text = text_data or ""
        if text.startswith("sleep "):
            with contextlib.suppress(ValueError):
                time.sleep(min(max(float(text.split()[1]), 0.0), MAX_SLEEP))
        answer = {"echo": text, "thread": threading.current_thread().name, "at": time.time()}
        self.send(text_data=json.dumps(answer))


class ScopeConsumer(GuardedConsumer):
    """On connect, sends back what Channels knows about this connection: its scope."""

    async def connect(self):
        await self.accept()
        scope = self.scope
        headers = {
            name.decode("latin1"): value.decode("latin1") for name, value in scope["headers"]
        }
        await self.push(
            {
                "type": scope["type"],
                "path": scope["path"],
                "query_string": scope["query_string"].decode("latin1"),
                "headers": {k: v for k, v in headers.items() if k != "cookie"},
                "cookies": sorted(scope.get("cookies", {})),
                "client": list(scope.get("client") or []),
                "server": list(scope.get("server") or []),
                "subprotocols": scope.get("subprotocols", []),
                "user": scope["user"].get_username() or None,
                "session_key": bool(scope["session"].session_key),
                "keys": sorted(scope),
                "thread": threading.current_thread().name,
            }
        )
