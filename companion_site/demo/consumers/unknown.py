"""Any path without a consumer: closed with 4404 instead of URLRouter's ValueError traceback."""

from .codes import Close
from .frames import GuardedConsumer


class UnknownPathConsumer(GuardedConsumer):
    """No WebSocket endpoint here: accept, close with 4404 (UNKNOWN_PATH)."""

    async def connect(self):
        await self.reject(Close.UNKNOWN_PATH, "no consumer for this path")
