"""Checks for exercises/00_start_here.ipynb."""

import random

import httpx

from ..timing import max_overlap
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .counting import CountingTransport
from .learner import call_async


def _delays(count):
    """Distinct delays in a shuffled order, new each run: the order of the bodies tells if the
    answer kept the order of the URLs, and no answer can know them in advance."""
    delays = [round(0.2 + 0.02 * i, 2) for i in range(count)]
    random.shuffle(delays)
    return delays


async def _fetch_through_check(answer, delays, site):
    urls = [f"{site.url}/async/sleep/?delay={delay}" for delay in delays]
    transport = CountingTransport()
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        args = (client, *urls) if len(urls) == 2 else (client, urls)
        result = await call_async(answer, *args)
    return result, transport


def _judge_bodies(result, delays):
    if isinstance(result, httpx.Response) or (
        isinstance(result, (list, tuple)) and any(isinstance(r, httpx.Response) for r in result)
    ):
        fail(
            "You returned httpx.Response objects; return the parsed bodies: response.json().",
            kind="format",
        )
    if not isinstance(result, (list, tuple)) or len(result) != len(delays):
        fail(
            f"Return a list of {len(delays)} bodies, got {type(result).__name__}: {result!r:.80}",
            kind="format",
        )
    if not all(isinstance(body, dict) and "delay" in body for body in result):
        fail(
            f"Each item should be the JSON body (a dict with 'delay'), got {result!r:.120}",
            kind="format",
        )
    if [body["delay"] for body in result] != delays:
        fail(
            "The bodies are not in the order of the URLs: the body of the first URL first.",
            kind="order",
        )


def _judge_method(transport, result, count):
    if transport.sent < count:
        fail(
            f"Only {transport.sent} of the {count} requests went through the client you were "
            "given: send them with `await client.get(url)`, not another HTTP client.",
            kind="wrong_client",
        )
    if any(body not in transport.bodies for body in result):
        fail(
            "Some bodies you returned are not ones the server sent through the client: "
            "return response.json() of each response, not a dict you made up.",
            kind="wrong_method",
        )
    at_once = max_overlap([(i, body["started"], body["ended"]) for i, body in enumerate(result)])
    if at_once < count:
        fail(
            f"The bodies are right, but at most {at_once} of the {count} requests ran at the same "
            "time in the server: each request was awaited before the next one was sent."
        )


@exercise(
    "00",
    "fetch_both",
    hints=(
        "Lesson 00's section 'A first taste' sends requests at the same time; the exercise's "
        "header names the function that does it.",
        "Make both coroutines first, client.get(url_a) and client.get(url_b), then await them "
        "together with asyncio.gather(...); then call .json() on each response.",
    ),
)
async def fetch_both(fetch_both, site):
    """Check that fetch_both(client, url_a, url_b) returns both JSON bodies, in order, fetched at the same time through the given client."""
    delays = _delays(2)
    result, transport = await _fetch_through_check(fetch_both, delays, site)
    _judge_bodies(result, delays)
    _judge_method(transport, result, 2)


@exercise(
    "00",
    "fetch_all",
    hints=(
        "It is fetch_both for any number of URLs: how many coroutines can asyncio.gather take?",
        "Build a list of client.get(url) coroutines, then await asyncio.gather(*that_list): "
        "the star passes them as separate arguments, and the results come back in that order.",
    ),
)
async def fetch_all(fetch_all, site):
    """Check that fetch_all(client, urls) returns every JSON body in the order of urls, all requests running at the same time through the given client."""
    delays = _delays(random.randint(5, 8))
    result, transport = await _fetch_through_check(fetch_all, delays, site)
    _judge_bodies(result, delays)
    _judge_method(transport, result, len(delays))
