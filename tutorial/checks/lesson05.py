"""Checks for exercises/05_async_views.ipynb: tell the site's mystery endpoints apart over HTTP.

The right answers are not written down here: each check measures the running site itself
(the views' server-side spans, and probe views run during the load) and compares.
"""

import asyncio
from dataclasses import dataclass

import httpx

from ..load import fire, most_at_once
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

MYSTERIES = ("a", "b", "c", "d")
DELAY = 0.15  # each mystery view waits this long
REQUESTS = 4  # sent at once when the check measures an endpoint itself
ANSWERS = {"concurrent": "concurrent", "serialised": "serialised", "serialized": "serialised"}


@dataclass(frozen=True)
class Behaviour:
    """What the check saw an endpoint do with REQUESTS requests at once."""

    concurrent: bool  # the views' server-side spans overlapped
    blocks_loop: bool  # no other async view could run while they ran

    @property
    def answer(self):
        return "concurrent" if self.concurrent else "serialised"


_measured = {}  # (site url, name) -> Behaviour: measure each endpoint once per site


def mystery_url(site, name):
    return f"{site.url}/mystery/{name}/?delay={DELAY}"


async def _probe_times(client, url, load):
    """GET `url` (an async view that reports when it ran) again and again until `load` is done.

    Returns the server-side times at which the probes ran.
    """
    times = []
    while not load.done():
        response = await client.get(url)
        response.raise_for_status()
        times.append(response.json()["started"])
        await asyncio.sleep(0.005)
    return times


async def measure(site, name):
    """Load mystery endpoint `name` and, meanwhile, probe the event loop with another async view.

    Judged from the server's own timestamps, not from latencies, so a busy machine cannot turn
    a slow answer into a wrong verdict: the views are concurrent if their spans overlap, and
    they block the loop if no probe view ran while one of them was running.
    """
    key = (site.url, name)
    if key not in _measured:
        async with httpx.AsyncClient(timeout=30) as client:
            load = asyncio.create_task(fire(mystery_url(site, name), n=REQUESTS))
            await asyncio.sleep(0)  # let fire() set up its client before the first probe
            probes = await _probe_times(client, site.url + "/async/thread/", load)
        result = await load
        if result.errors:
            fail(f"The site answered {result.errors} of {REQUESTS} requests with an error.")
        spans = [(r.index, r.body["started"], r.body["ended"]) for r in result.records]
        _measured[key] = Behaviour(
            concurrent=most_at_once(spans) > 1,
            blocks_loop=not any(start < t < end for t in probes for _, start, end in spans),
        )
    return _measured[key]


@exercise(
    "05",
    "classify",
    hint="Time one request, then n requests sent at once (asyncio.gather): "
    "requests that overlap take about as long as one; serialised ones about n times as long.",
)
async def classify(classify, site):
    """Check that classify(url) tells which mystery endpoints run concurrent requests side by side and which one after another."""
    for name in MYSTERIES:
        url = mystery_url(site, name)
        answer = await call_async(classify, url, timeout=20)
        if not isinstance(answer, str) or answer.lower() not in ANSWERS:
            fail(f"classify returned {answer!r}; return the string 'concurrent' or 'serialised'.")
        expected = (await measure(site, name)).answer
        if ANSWERS[answer.lower()] == expected:
            continue
        if expected == "concurrent":
            fail(
                f"classify said 'serialised' for /mystery/{name}/, but its requests overlap when "
                "they are sent at the same time. Did you send yours at once (gather, TaskGroup), "
                "not one after another in a loop?"
            )
        fail(
            f"classify said 'concurrent' for /mystery/{name}/, but the server ran its requests "
            "one after another. Compare the time of n requests at once with the time of one."
        )


@exercise(
    "05",
    "blocks_loop",
    hint="While requests to url are in flight, time a request to probe_url: "
    "a free event loop answers it at once, a blocked one only when the blocking call returns.",
)
async def blocks_loop(blocks_loop, site):
    """Check that blocks_loop(url, probe_url) finds the mystery endpoint that stalls the server's event loop, and only that one."""
    probe_url = site.url + "/health/"
    for name in MYSTERIES:
        answer = await call_async(blocks_loop, mystery_url(site, name), probe_url, timeout=20)
        if not isinstance(answer, bool):
            fail(f"blocks_loop returned {answer!r}; return True or False.")
        behaviour = await measure(site, name)
        if answer == behaviour.blocks_loop:
            continue
        if answer:
            because = (
                " Its requests are serialised, but serialised is not blocked: something can "
                "make requests wait their turn while the loop stays free for others."
                if not behaviour.concurrent
                else ""
            )
            fail(
                f"blocks_loop said True for /mystery/{name}/, but the server went on answering "
                f"other requests while it ran.{because}"
            )
        fail(
            f"blocks_loop said False for /mystery/{name}/, but the server answered nothing else "
            "while its requests ran. Did your probe go out while they were still in flight?"
        )
