"""The live page: requests in flight on this server, pushed to the browser as server-sent events."""

import asyncio
import json

from django.http import StreamingHttpResponse
from django.shortcuts import render

from .. import inflight, params
from ..http import json_api


@json_api("GET")
def live_page(request):
    """Live page: watch requests in flight while a notebook fires load (server-sent events)."""
    return render(request, "demo/live.html")


async def _snapshots(interval, seconds):
    for _ in range(max(1, round(seconds / interval))):
        yield f"event: snapshot\ndata: {json.dumps(inflight.snapshot())}\n\n"
        await asyncio.sleep(interval)
    yield "event: done\ndata: {}\n\n"


@json_api("GET")
async def live_events(request):
    """Server-sent events: a snapshot of requests in flight every `interval` s, for `seconds` s."""
    interval = params.number(request, "interval", 0.1, low=0.05, high=5.0)
    seconds = params.number(request, "seconds", 120.0, low=0.1, high=600.0)
    response = StreamingHttpResponse(
        _snapshots(interval, seconds), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    return response
