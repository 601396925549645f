"""Checks for exercises/00_start_here.ipynb."""

import httpx

from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

DELAYS = (0.3, 0.31)  # two distinct delays, so we can tell which body came back where


def _overlap(a, b):
    return a["started"] < b["ended"] and b["started"] < a["ended"]


@exercise(
    "00",
    "fetch_both",
    hint="Start both requests before awaiting either one: asyncio.gather(...) or a TaskGroup.",
)
async def fetch_both(fetch_both, site):
    """Check that fetch_both(client, url_a, url_b) returns both JSON bodies, in order, fetched at the same time."""
    url_a, url_b = (f"{site.url}/async/sleep/?delay={d}" for d in DELAYS)
    async with httpx.AsyncClient(timeout=10) as client:
        result = await call_async(fetch_both, client, url_a, url_b)
    if isinstance(result, httpx.Response) or (
        isinstance(result, (list, tuple)) and any(isinstance(r, httpx.Response) for r in result)
    ):
        fail("You returned httpx.Response objects; return the parsed bodies: response.json().")
    if not isinstance(result, (list, tuple)) or len(result) != 2:
        fail(f"Return a list or tuple of two bodies, got {type(result).__name__}: {result!r:.80}")
    if not all(isinstance(body, dict) and "delay" in body for body in result):
        fail(f"Each item should be the JSON body (a dict with 'delay'), got {result!r:.120}")
    if [body["delay"] for body in result] != list(DELAYS):
        fail("The bodies are not in the order of the URLs: body of url_a first, then url_b.")
    if not _overlap(*result):
        fail(
            "Both bodies are right, but the server handled the requests one after the other: "
            "the second request started only after the first had finished."
        )
