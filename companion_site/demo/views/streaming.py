"""Streaming with an async generator: server-sent events, and cleanup when the client leaves."""

import asyncio
import json
import logging
import re
import threading
import time

from django.http import JsonResponse, StreamingHttpResponse

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
            yield f"id: {n}\nevent: tick\ndata: {json.dumps({'n': n, 'time': time.time()})}\n\n"
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


def _label(request):
    label = request.GET.get("label", "")
    if label and not LABEL.fullmatch(label):
        raise params.BadRequest("label must be 1 to 40 letters, digits, '-' or '_'")
    return label


@json_api("GET")
async def stream(request):
    """Server-sent events from an async generator; a disconnect cancels it (lesson 08)."""
    count = params.number(request, "count", 5, low=1, high=1000, kind=int)
    interval = params.number(request, "interval", 0.2, low=0.0, high=params.MAX_DELAY)
    label = _label(request)  # names this stream in the log lines, so a check can find them
    response = StreamingHttpResponse(
        _ticks(count, interval, label), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # tell a proxy such as nginx not to buffer the stream
    return response


@json_api("GET")
async def open_streams(request):
    """How many event streams this process is producing now: 0 again once a client has left (lesson 08)."""
    return JsonResponse({"open": OPEN.count})
