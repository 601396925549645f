"""The peer: a bare Starlette app with the same endpoints the benchmark calls on Django.

Served by `start_site("uvicorn", app="benchmarks.peer_starlette:app")`. No middleware, no
signals, no ORM: what an ASGI framework costs when it does nothing but route and answer.
"""

import asyncio
import math

from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

MAX_DELAY = 10.0  # the same cap as the companion site's params.MAX_DELAY


async def health(request):
    return JSONResponse({"status": "ok", "peer": "starlette"})


async def hello(request):
    return JSONResponse({"hello": "starlette"})


async def sleep(request):
    delay = _number(request, "delay", 0.1, 0, MAX_DELAY)
    if delay is None:
        return JSONResponse({"error": f"delay must be between 0 and {MAX_DELAY}"}, status_code=400)
    await asyncio.sleep(delay)
    return JSONResponse({"delay": delay})


def _number(request, name, default, low, high):
    try:
        value = float(request.query_params.get(name, default))
    except ValueError:
        value = math.nan
    return value if low <= value <= high else None  # also rejects nan


async def stream(request):
    """Server-sent events, as the companion site's /stream/: `count` ticks `interval` s apart."""
    count = _number(request, "count", 5, 1, 1000)
    interval = _number(request, "interval", 0.2, 0, MAX_DELAY)
    if count is None or interval is None:
        return JSONResponse({"error": "count 1..1000, interval 0..10"}, status_code=400)

    async def ticks():
        for n in range(int(count)):
            yield f'id: {n}\nevent: tick\ndata: {{"n": {n}}}\n\n'
            await asyncio.sleep(interval)
        yield "event: done\ndata: {}\n\n"

    return StreamingResponse(ticks(), media_type="text/event-stream")


app = Starlette(
    routes=[Route("/health/", health), Route("/hello/", hello), Route("/sleep/", sleep),
            Route("/stream/", stream)]
)  # fmt: skip
