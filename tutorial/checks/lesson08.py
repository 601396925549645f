"""Checks for exercises/08_streaming.ipynb."""

import asyncio
import secrets

import httpx

from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

K = 3
COUNT, INTERVAL = 25, 0.2  # the whole stream takes 5 s; the first K events come in 0.4 s
CHECK_TIMEOUT = 2.5
LEAVE_WAIT = 2.0  # how long the server may take to notice a closed connection


def stream_url(site, label):
    return f"{site.url}/stream/?count={COUNT}&interval={INTERVAL}&label={label}"


async def server_saw_leave(site, label, wait=LEAVE_WAIT):
    """True once the site's log says the stream labelled `label` was cancelled by a disconnect."""
    line = "stream cancelled: client disconnected after"
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        if any(line in entry and f"[{label}]" in entry for entry in site.logs(5000).splitlines()):
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)


async def _call(first_events, client, url):
    try:
        return await call_async(first_events, client, url, K, timeout=CHECK_TIMEOUT)
    except ExerciseFailed as error:
        if error.kind == "timeout":
            fail(
                f"first_events did not finish in {CHECK_TIMEOUT:g} s; reading the whole stream "
                f"takes {COUNT * INTERVAL:g} s. Read it as it arrives (client.stream) and stop "
                f"after {K} events.",
                kind="timeout",
            )
        raise


@exercise(
    "08",
    "first_events",
    hint="Read the body line by line as it arrives, as read_events does in lesson 08; keep the "
    "JSON of each `data: ` line, and stop reading once you have k: leaving the stream closes it.",
)
async def first_events(first_events, site):
    """Check that first_events(client, url, k) returns the parsed data of the stream's first k events and leaves early, so the server sees the disconnect."""
    label = f"check-{secrets.token_hex(4)}"
    async with httpx.AsyncClient(timeout=30) as client:
        result = await _call(first_events, client, stream_url(site, label))
        # Ask the server while our client is still open: closing it would close a forgotten
        # response too, and hide the mistake.
        left = await server_saw_leave(site, label)
    if not isinstance(result, (list, tuple)):
        fail(f"Return a list of the events' data, got {type(result).__name__}: {result!r:.80}")
    if any(isinstance(item, (str, bytes)) for item in result):
        fail(
            f"You returned text ({result[0]!r:.60}): parse each event's data with json.loads "
            "(the text after `data: `)."
        )
    numbers = [item.get("n") if isinstance(item, dict) else item for item in result]
    if numbers != list(range(K)):
        fail(
            f"Expected the data of the first {K} tick events, n = {list(range(K))}; "
            f"got n = {numbers!r:.80}."
        )
    if not left:
        fail(
            f"The events are right, but the server never saw you leave (no 'stream cancelled' "
            f"in site.logs() within {LEAVE_WAIT:g} s). Once you have k events, close the "
            "response — leave the `async with client.stream(...)` block — and leave no task "
            "behind that is still reading it."
        )
