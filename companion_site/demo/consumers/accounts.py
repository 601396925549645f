"""Who is on the other end: scope["user"], filled from the session cookie by AuthMiddlewareStack."""

import logging

from .codes import Close
from .frames import GuardedConsumer


class WhoAmIConsumer(GuardedConsumer):
    """Logged-in users get their name; anonymous ones are closed with 4401 (NOT_LOGGED_IN)."""

    async def connect(self):
        user = self.scope["user"]  # AuthMiddleware already loaded it, off the event loop
        if not user.is_authenticated:
            # accept() first: a close before it refuses the handshake (HTTP 403), with no code.
            await self.reject(Close.NOT_LOGGED_IN, "anonymous", level=logging.INFO)
        await self.accept()
        await self.push({"type": "hello", "username": user.get_username()})
