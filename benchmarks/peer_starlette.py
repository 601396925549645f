"""The peer: a bare Starlette app with the same endpoints the benchmark calls on Django.

Served by `start_site("uvicorn", app="benchmarks.peer_starlette:app")`. No middleware, no
signals, no ORM: what an ASGI framework costs when it does nothing but route and answer.
"""

import asyncio
import math

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_DELAY = 10.0  # the same cap as the companion site's params.MAX_DELAY


async def health(request):
    return JSONResponse({"status": "ok", "peer": "starlette"})


async def hello(request):
    return JSONResponse({"hello": "starlette"})


async def sleep(request):
    raw = request.query_params.get("delay", "0.1")
    try:
        delay = float(raw)
    except ValueError:
        delay = math.nan
    if not 0 <= delay <= MAX_DELAY:  # also rejects nan
        return JSONResponse({"error": f"delay must be between 0 and {MAX_DELAY}"}, status_code=400)
    await asyncio.sleep(delay)
    return JSONResponse({"delay": delay})


app = Starlette(
    routes=[Route("/health/", health), Route("/hello/", hello), Route("/sleep/", sleep)]
)
