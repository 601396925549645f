"""The same wait written three ways: awaited, slept in a thread, and slept on the event loop.

And what a client that leaves early does to each kind: under ASGI Django (5.0 and later) cancels
an async view when the client disconnects; a sync view's thread cannot be cancelled and runs on.
"""

import asyncio
import time

from django.http import JsonResponse
from django.views import View

from .. import markers, params
from ..http import json_api
from .common import where_and_when


@json_api("GET")
async def async_sleep(request):
    """Async view that awaits asyncio.sleep(delay): many overlap on one event loop."""
    started = time.time()
    delay = params.delay(request)
    await asyncio.sleep(delay)
    return JsonResponse(where_and_when("async_sleep", started, delay=delay))


@json_api("GET")
def sync_sleep(request):
    """Sync view that time.sleep()s: under ASGI each request holds a thread of its own."""
    started = time.time()
    delay = params.delay(request)
    time.sleep(delay)
    return JsonResponse(where_and_when("sync_sleep", started, delay=delay))


@json_api("GET")
async def async_blocking(request):
    """THE MISTAKE: an async view that calls time.sleep() and stalls every other request."""
    started = time.time()
    delay = params.delay(request)
    time.sleep(delay)  # blocks the event loop: nothing else on this worker runs meanwhile
    return JsonResponse(where_and_when("async_blocking", started, delay=delay))


@json_api("GET")
def sync_thread(request):
    """Sync view that reports the thread serving it (compare with async_thread)."""
    return JsonResponse(where_and_when("sync_thread", time.time()))


@json_api("GET")
async def async_thread(request):
    """Async view that reports the thread serving it: the event loop's own thread."""
    return JsonResponse(where_and_when("async_thread", time.time()))


@json_api("GET")
async def hello_async(request):
    """Trivial async view: pure framework overhead, for benchmarks."""
    return JsonResponse({"hello": "async"})


@json_api("GET")
def hello_sync(request):
    """Trivial sync view: pure framework overhead, for benchmarks."""
    return JsonResponse({"hello": "sync"})


class SleepView(View):
    """Class-based async view: every handler is `async def`, so the view is async."""

    async def get(self, request):
        started = time.time()
        try:
            delay = params.delay(request)
        except params.BadRequest as error:
            return params.bad_request(error)
        await asyncio.sleep(delay)
        return JsonResponse(where_and_when("SleepView", started, delay=delay))

    async def http_method_not_allowed(self, request, *args, **kwargs):
        return JsonResponse({"error": f"{request.method} is not allowed here; use GET"}, status=405)


@json_api("GET")
async def async_cancellable(request):
    """Async view that waits, then marks ?marker= 'finished' — or 'cancelled' if the client left."""
    name, delay, started = markers.name_from(request), params.delay(request), time.time()
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:  # Django cancels the view when the client disconnects
        markers.write(name, outcome="cancelled", after=time.time() - started)
        raise  # never swallow a cancellation
    markers.write(name, outcome="finished", after=time.time() - started)
    return JsonResponse(where_and_when("async_cancellable", started, delay=delay))


@json_api("GET")
def sync_uncancellable(request):
    """Sync view that sleeps, then marks ?marker= 'finished': a thread runs on after the client left."""
    name, delay, started = markers.name_from(request), params.delay(request), time.time()
    time.sleep(delay)
    markers.write(name, outcome="finished", after=time.time() - started)
    return JsonResponse(where_and_when("sync_uncancellable", started, delay=delay))
