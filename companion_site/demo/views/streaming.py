"""Streaming with an async generator: server-sent events, and cleanup when the client leaves."""

import asyncio
import json
import logging
import time

from django.http import StreamingHttpResponse

from .. import params
from ..http import json_api

log = logging.getLogger("demo.stream")


async def _ticks(count, interval):
    sent = 0
    try:
        for n in range(count):
            yield f"id: {n}\nevent: tick\ndata: {json.dumps({'n': n, 'time': time.time()})}\n\n"
            sent += 1
            await asyncio.sleep(interval)
        yield "event: done\ndata: {}\n\n"
        log.info("stream finished after %d events", sent)
    except asyncio.CancelledError:
        # The client went away. Clean up, say so in the log, and let the cancellation go on.
        log.info("stream cancelled: client disconnected after %d events", sent)
        raise


@json_api("GET")
async def stream(request):
    """Server-sent events from an async generator; a disconnect cancels it (lesson 08)."""
    count = params.number(request, "count", 5, low=1, high=1000, kind=int)
    interval = params.number(request, "interval", 0.2, low=0.0, high=params.MAX_DELAY)
    response = StreamingHttpResponse(_ticks(count, interval), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # tell a proxy such as nginx not to buffer the stream
    return response
