"""Server-sent events from a plain generator: under WSGI each open stream holds a worker thread.

The sync twin of views/streaming.py, for the long-lived-connections benchmark (lesson 15): a
gunicorn gthread worker serves one stream per thread for as long as the stream lasts, so a pool
of T threads holds at most T streams open and the next client waits. Serve it under WSGI: under
ASGI Django consumes a sync iterator in full before it sends anything.
"""

import json
import time

from django.http import StreamingHttpResponse

from .. import params
from ..http import json_api
from .streaming import OPEN


def _ticks(count, interval):
    OPEN.add(1)
    try:
        for n in range(count):
            yield f"id: {n}\nevent: tick\ndata: {json.dumps({'n': n, 'time': time.time()})}\n\n"
            time.sleep(interval)  # this thread is the stream's for its whole life
        yield "event: done\ndata: {}\n\n"
    finally:  # also when a write fails because the client left: the server closes the generator
        OPEN.add(-1)


@json_api("GET")
def sync_stream(request):
    """Server-sent events from a sync generator: one worker thread per open stream under WSGI (lesson 15)."""
    count = params.number(request, "count", 5, low=1, high=1000, kind=int)
    interval = params.number(request, "interval", 0.2, low=0.0, high=params.MAX_DELAY)
    response = StreamingHttpResponse(_ticks(count, interval), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    return response
