"""THE MISTAKE: time.sleep in an async consumer holds the event loop, and every socket waits."""

import time

from .frames import GuardedConsumer

MAX_SECONDS = 2.0


class BlockingConsumer(GuardedConsumer):
    """THE MISTAKE: {"seconds": s} sleeps with time.sleep on the event loop, then answers."""

    async def receive_json(self, data):
        seconds = data.get("seconds")
        if not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_SECONDS:
            seconds = 0.0
        started = time.time()
        time.sleep(seconds)  # THE MISTAKE: await asyncio.sleep(seconds) lets the others run
        await self.push({"type": "slept", "seconds": seconds, "started": started,
                         "ended": time.time()})  # fmt: skip
