"""Which event loop runs an async view, and four mystery endpoints to measure (lesson 05).

The mystery endpoints are named by letter on purpose: the lesson's exercise is to find out, over
HTTP, which of them run concurrent requests side by side and which one stalls the event loop.
Which letter does what is drawn afresh each time the site starts (COMPANION_MYSTERY_ORDER fixes
it, for tests and multi-worker servers), so an answer cannot be remembered or read from here:
it has to be measured. Their bodies and docstrings stay neutral for the same reason.

A request may carry `?tag=`: the site then remembers when each request with that tag ran, and
`/mystery/seen/?tag=` tells it — how an exercise check learns what the learner's code sent.
"""

import asyncio
import collections
import inspect
import itertools
import os
import random
import re
import threading
import time
import weakref

from django.http import JsonResponse

from .. import params
from ..http import json_api
from ..params import BadRequest
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


# Each behaviour waits `delay` and returns when its wait began (the span the body reports).


async def _one_at_a_time(delay):
    async with _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock()):
        started = time.time()  # the span starts once the lock is ours
        await asyncio.sleep(delay)  # one request at a time, but the loop stays free meanwhile
        return started


async def _awaits(delay):
    started = time.time()
    await asyncio.sleep(delay)
    return started


async def _blocks_the_loop(delay):
    started = time.time()
    time.sleep(delay)  # blocks the event loop: the bug the exercise asks the learner to find
    return started


def _sleeps_in_a_thread(delay):
    started = time.time()
    time.sleep(delay)  # a sync view: under ASGI it sleeps in a thread of its own
    return started


# The four behaviours, in the order COMPANION_MYSTERY_ORDER names their letters.
BEHAVIOURS = (_one_at_a_time, _awaits, _blocks_the_loop, _sleeps_in_a_thread)
LETTERS = "abcd"


def mystery_order(environ=os.environ):
    """The letters of BEHAVIOURS in order: from COMPANION_MYSTERY_ORDER, or drawn at random."""
    order = environ.get("COMPANION_MYSTERY_ORDER", "")
    if sorted(order) == sorted(LETTERS):
        return order
    if order:
        raise ValueError(f"COMPANION_MYSTERY_ORDER must be a permutation of {LETTERS!r}")
    return "".join(random.SystemRandom().sample(LETTERS, len(LETTERS)))


# tag -> server-side (started, ended) of each request that carried it; the last few tags only.
_TAG = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KEEP_TAGS = 256
_seen = collections.OrderedDict()
_seen_lock = threading.Lock()  # the sync mystery view records from its own thread


def _tag(request):
    tag = request.GET.get("tag")
    if tag is not None and not _TAG.fullmatch(tag):
        raise BadRequest("tag must be 1 to 64 letters, digits, '-' or '_'")
    return tag


def _remember(tag, kind, started, ended):
    if tag is None:
        return
    with _seen_lock:
        record = _seen.setdefault(tag, {"requests": [], "probes": []})
        _seen.move_to_end(tag)
        record[kind].append((started, ended))
        while len(_seen) > _KEEP_TAGS:
            _seen.popitem(last=False)


def _body(letter, started, delay, tag):
    ended = time.time()
    _remember(tag, "requests", started, ended)
    # No thread name, no view name: the body must not say which behaviour this letter has.
    return JsonResponse(
        {"view": f"mystery_{letter}", "pid": os.getpid(), "started": started, "ended": ended,
         "delay": delay}
    )  # fmt: skip


def _mystery_view(letter, behaviour):
    doc = f"Mystery endpoint {letter.upper()} (lesson 05 exercise): measure how it handles concurrent requests."
    if inspect.iscoroutinefunction(behaviour):

        async def view(request):
            delay, tag = params.delay(request), _tag(request)
            return _body(letter, await behaviour(delay), delay, tag)

    else:

        def view(request):
            delay, tag = params.delay(request), _tag(request)
            return _body(letter, behaviour(delay), delay, tag)

    view.__name__ = view.__qualname__ = f"mystery_{letter}"
    view.__doc__ = doc
    wrapped = json_api("GET")(view)
    wrapped.kind_is_the_question = True  # the endpoint list must not say "sync" for one letter
    return wrapped


def mystery_views(order=None):
    """{letter: view} for the four mystery endpoints, letters assigned to behaviours by `order`."""
    order = order or mystery_order()
    return {letter: _mystery_view(letter, BEHAVIOURS[i]) for i, letter in enumerate(order)}


@json_api("GET")
async def mystery_probe(request):
    """Async view that answers at once: probe it while a mystery endpoint is under load."""
    started, tag = time.time(), _tag(request)
    _remember(tag, "probes", started, time.time())
    return JsonResponse({"view": "mystery_probe", "started": started, "ended": time.time()})


@json_api("GET")
async def mystery_seen(request):
    """What the site saw of the requests that carried `?tag=`: how many, and when they ran."""
    tag = _tag(request)
    if tag is None:
        raise BadRequest("give ?tag=")
    with _seen_lock:
        record = _seen.get(tag, {"requests": [], "probes": []})
        return JsonResponse({kind: list(spans) for kind, spans in record.items()})
