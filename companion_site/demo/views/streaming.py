"""Streaming with an async generator: server-sent events, and cleanup when the client leaves.

And the mirror cases: the same events from a *sync* generator, and from a file-like object
behind a FileResponse. Under ASGI Django consumes a sync iterator in full before it sends a byte;
under WSGI a sync generator streams, and is closed when a write to a departed client fails.
"""

import asyncio
import json
import logging
import re
import threading
import time

from django.http import FileResponse, JsonResponse, StreamingHttpResponse

from .. import params
from ..http import json_api

log = logging.getLogger("demo.stream")

LABEL = re.compile(r"[A-Za-z0-9_-]{1,40}")


class OpenStreams:
    """How many event streams this process is producing right now (the cleanup lowers it)."""

    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()  # under WSGI, streams run in several threads

    def add(self, step):
        with self._lock:
            self.count += step


OPEN = OpenStreams()


async def _ticks(count, interval, label):
    sent = 0
    tag = f" [{label}]" if label else ""
    OPEN.add(1)  # stands for whatever a real stream holds: a subscription, a cursor, a file
    try:
        for n in range(count):
            yield _event(n)
            sent += 1
            await asyncio.sleep(interval)
        yield "event: done\ndata: {}\n\n"
        log.info("stream finished after %d events%s", sent, tag)
    except asyncio.CancelledError:
        # The client went away. Clean up, say so in the log, and let the cancellation go on.
        log.info("stream cancelled: client disconnected after %d events%s", sent, tag)
        raise
    finally:
        OPEN.add(-1)


def _event(n):
    return f"id: {n}\nevent: tick\ndata: {json.dumps({'n': n, 'time': time.time()})}\n\n"


def _sync_ticks(count, interval, label):
    """The same events from a sync generator: `close()` (GeneratorExit) is how it learns to stop."""
    sent = 0
    tag = f" [{label}]" if label else ""
    OPEN.add(1)
    try:
        for n in range(count):
            yield _event(n)
            sent += 1
            time.sleep(interval)  # fine here: a sync generator runs in a thread, never on the loop
        yield "event: done\ndata: {}\n\n"
        log.info("sync stream finished after %d events%s", sent, tag)
    except GeneratorExit:
        # The server stopped asking: under WSGI, a write to the departed client failed.
        log.info("sync stream closed after %d events%s", sent, tag)
        raise
    finally:
        OPEN.add(-1)


class SlowFile:
    """A file-like object whose every read() takes `interval` and returns one event: a slow disk,
    a pipe, an object store — what a FileResponse reads its body from."""

    def __init__(self, count, interval, label):
        self.left, self.interval, self.label, self.n = count, interval, label, 0

    def read(self, size=-1):
        if self.left == 0:
            log.info("file stream read to the end after %d events [%s]", self.n, self.label)
            return b""
        time.sleep(self.interval)
        self.left -= 1
        self.n += 1
        return _event(self.n - 1).encode()


def _stream_params(request):
    count = params.number(request, "count", 5, low=1, high=1000, kind=int)
    interval = params.number(request, "interval", 0.2, low=0.0, high=params.MAX_DELAY)
    return count, interval, _label(request)


def _event_stream(response):
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # tell a proxy such as nginx not to buffer the stream
    return response


def _label(request):
    label = request.GET.get("label", "")
    if label and not LABEL.fullmatch(label):
        raise params.BadRequest("label must be 1 to 40 letters, digits, '-' or '_'")
    return label


@json_api("GET")
async def stream(request):
    """Server-sent events from an async generator; a disconnect cancels it (lesson 08)."""
    count, interval, label = _stream_params(request)  # label names the stream in the log
    return _event_stream(
        StreamingHttpResponse(_ticks(count, interval, label), content_type="text/event-stream")
    )


@json_api("GET")
def stream_sync(request):
    """The same events from a sync generator: consumed in full under ASGI, live under WSGI (lesson 08)."""
    count, interval, label = _stream_params(request)
    return _event_stream(
        StreamingHttpResponse(_sync_ticks(count, interval, label), content_type="text/event-stream")
    )


@json_api("GET")
def stream_file(request):
    """The same events as a FileResponse over a slow file: read in full before sending under ASGI (lesson 08)."""
    count, interval, label = _stream_params(request)
    slow = SlowFile(count, interval, label or "file")
    return _event_stream(FileResponse(slow, content_type="text/event-stream"))


@json_api("GET")
async def open_streams(request):
    """How many event streams this process is producing now: 0 again once a client has left (lesson 08)."""
    return JsonResponse({"open": OPEN.count})
