"""Which event loop runs an async view, and four mystery endpoints to measure (lesson 05).

The mystery endpoints are named by letter on purpose: the lesson's exercise is to find out, over
HTTP, which of them run concurrent requests side by side and which one stalls the event loop.
Their docstrings stay neutral because the site's root page lists them.
"""

import asyncio
import itertools
import time
import weakref

from django.http import JsonResponse

from .. import params
from ..http import json_api
from .common import where_and_when

# Numbers each event loop this process has run an async view on: 1, 2, 3, ... Weak keys, so a
# one-off loop (WSGI) is forgotten once it is closed and collected.
_loop_numbers = weakref.WeakKeyDictionary()
_next_loop_number = itertools.count(1)


def _loop_number(loop):
    if loop not in _loop_numbers:
        _loop_numbers[loop] = next(_next_loop_number)
    return _loop_numbers[loop]


@json_api("GET")
async def which_loop(request):
    """Async view that reports its event loop: one for all requests under ASGI, a new one per request under WSGI."""
    started = time.time()
    loop = asyncio.get_running_loop()
    return JsonResponse(
        where_and_when(
            "which_loop",
            started,
            loop=_loop_number(loop),
            loop_class=type(loop).__name__,
        )
    )


# One lock per event loop: an asyncio.Lock belongs to the loop it was first awaited on.
_locks = weakref.WeakKeyDictionary()


@json_api("GET")
async def mystery_a(request):
    """Mystery endpoint A (lesson 05 exercise): measure how it handles concurrent requests."""
    delay = params.delay(request)
    lock = _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:  # one request at a time, but the loop stays free while the others wait
        started = time.time()
        await asyncio.sleep(delay)
        return JsonResponse(where_and_when("mystery_a", started, delay=delay))


@json_api("GET")
async def mystery_b(request):
    """Mystery endpoint B (lesson 05 exercise): measure how it handles concurrent requests."""
    started = time.time()
    delay = params.delay(request)
    await asyncio.sleep(delay)
    return JsonResponse(where_and_when("mystery_b", started, delay=delay))


@json_api("GET")
async def mystery_c(request):
    """Mystery endpoint C (lesson 05 exercise): measure how it handles concurrent requests."""
    started = time.time()
    delay = params.delay(request)
    time.sleep(delay)  # blocks the event loop: the bug the exercise asks the learner to find
    return JsonResponse(where_and_when("mystery_c", started, delay=delay))


@json_api("GET")
def mystery_d(request):
    """Mystery endpoint D (lesson 05 exercise): measure how it handles concurrent requests."""
    started = time.time()
    delay = params.delay(request)
    time.sleep(delay)  # a sync view: under ASGI it sleeps in a thread of its own
    return JsonResponse(where_and_when("mystery_d", started, delay=delay))
