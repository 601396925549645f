"""A custom signal with one sync and two async receivers, to show what Signal.asend does with each."""

import asyncio
import threading
import time

from django.dispatch import Signal, receiver

pinged = Signal()


def _report(name, started):
    return {
        "receiver": name,
        "thread": threading.current_thread().name,
        "started": started,
        "ended": time.time(),
    }


@receiver(pinged)
def sync_receiver(sender, delay, **kwargs):
    """asend runs sync receivers through sync_to_async: in a thread."""
    started = time.time()
    time.sleep(delay)
    return _report("sync_receiver", started)


@receiver(pinged)
async def first_async_receiver(sender, delay, **kwargs):
    """asend awaits async receivers on the event loop, all at once."""
    started = time.time()
    await asyncio.sleep(delay)
    return _report("first_async_receiver", started)


@receiver(pinged)
async def second_async_receiver(sender, delay, **kwargs):
    started = time.time()
    await asyncio.sleep(delay)
    return _report("second_async_receiver", started)
