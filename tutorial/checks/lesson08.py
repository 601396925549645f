"""Checks for exercises/08_streaming_exercises.ipynb: read a stream, leave it, serve one.

The server-side check serves the learner's async generator through Django's real ASGIHandler in
this process and plays the client itself, so it can disconnect in the middle and watch what the
generator does next (stop, clean up, let the cancellation through).
"""

import asyncio
import inspect
import json
import secrets
import time

import httpx

from ..tls import shared_context
from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .django_views import learner_urlconf, stream_until
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


def _fail_unless_sent_in(result, started, ended, name):
    """Each event's data carries the server's `time`: data typed in, or kept from another run, has
    none inside this check's own window."""
    for item in result:
        sent = item.get("time") if isinstance(item, dict) else None
        if not isinstance(sent, (int, float)) or not started <= sent <= ended:
            fail(
                f"{name} returned {item!r:.60}, which the stream did not send during this check "
                "(each event's data has the server's `time`): return the data you read from it."
            )


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
    hints=(
        "Read the body line by line as it arrives, as read_events does in lesson 08; keep the "
        "JSON of each `data: ` line, and stop reading once you have k: leaving the stream "
        "closes it.",
        "`async with client.stream('GET', url) as response:` then `async for line in "
        "response.aiter_lines():` — json.loads the text after 'data: ', and `break` at k.",
    ),
)
async def first_events(first_events, site):
    """Check that first_events(client, url, k) returns the parsed data of the stream's first k events and leaves early, so the server sees the disconnect."""
    label = f"check-{secrets.token_hex(4)}"
    started = time.time()
    async with httpx.AsyncClient(timeout=30, verify=shared_context()) as client:
        result = await _call(first_events, client, stream_url(site, label))
        ended = time.time()
        # Ask the server while our client is still open: closing it would close a forgotten
        # response too, and hide the mistake.
        left = await server_saw_leave(site, label)
    if not isinstance(result, (list, tuple)):
        fail(
            f"Return a list of the events' data, got {type(result).__name__}: {result!r:.80}",
            kind="shape",
        )
    if any(isinstance(item, (str, bytes)) for item in result):
        fail(
            f"You returned text ({result[0]!r:.60}): parse each event's data with json.loads "
            "(the text after `data: `).",
            kind="shape",
        )
    numbers = [item.get("n") if isinstance(item, dict) else item for item in result]
    if numbers != list(range(K)):
        fail(
            f"Expected the data of the first {K} tick events, n = {list(range(K))}; "
            f"got n = {numbers!r:.80}."
        )
    _fail_unless_sent_in(result, started, ended, "first_events")
    if not left:
        fail(
            f"The events are right, but the server never saw you leave (no 'stream cancelled' "
            f"in site.logs() within {LEAVE_WAIT:g} s). Once you have k events, close the "
            "response — leave the `async with client.stream(...)` block — and leave no task "
            "behind that is still reading it."
        )


# 2 · read_for: a deadline on the whole read, which a trickling stream never trips otherwise.

TRICKLE_COUNT, TRICKLE_INTERVAL = 60, 0.1  # an event every 0.1 s for 6 s


@exercise(
    "08",
    "read_for",
    hints=(
        "A stream that sends an event every 0.1 s never trips httpx's timeout=, which bounds the "
        "wait between two chunks. Lesson 06's deadline section: asyncio.timeout bounds the whole.",
        "Keep the events in a list outside `async with asyncio.timeout(seconds):`, read inside "
        "it, catch TimeoutError after it, and return the list.",
    ),
)
async def read_for(read_for, site):
    """Check that read_for(client, url, seconds) returns the events that arrived within seconds, then leaves the stream, however steadily it trickles — or however long it falls silent."""
    seconds = round(secrets.SystemRandom().uniform(0.4, 0.7), 2)
    await _read_for_once(read_for, site, seconds, TRICKLE_COUNT, TRICKLE_INTERVAL)
    # Then a stream that sends one event and falls silent: a deadline checked only when an event
    # arrives (time.monotonic() in the loop) waits for the next one, long past `seconds`.
    await _read_for_once(read_for, site, seconds, SILENT_COUNT, SILENT_INTERVAL)


SILENT_COUNT, SILENT_INTERVAL = 2, 3.0  # one event at once, then 3 s of silence


async def _read_for_once(read_for, site, seconds, count, interval):
    label = f"check-{secrets.token_hex(4)}"
    url = f"{site.url}/stream/?count={count}&interval={interval}&label={label}"
    silent = interval == SILENT_INTERVAL
    limit = seconds + 1.5
    started = time.time()
    async with httpx.AsyncClient(timeout=30, verify=shared_context()) as client:
        try:
            result = await call_async(read_for, client, url, seconds, timeout=limit)
            ended = time.time()
        except ExerciseFailed as error:
            if error.kind == "timeout" and silent:
                fail(
                    f"read_for(seconds={seconds}) was still reading after {limit:g} s on a "
                    "stream that sent one event and then fell silent: a deadline checked only "
                    "when an event arrives waits for the next one. Bound the whole read with "
                    "asyncio.timeout(seconds).",
                    kind="timeout",
                )
            if error.kind == "timeout":
                fail(
                    f"read_for(seconds={seconds}) was still reading after {limit:g} s. The "
                    "stream trickles an event every 0.1 s, so httpx's own timeout= (the wait "
                    "for the next chunk) never trips: bound the whole read with asyncio.timeout.",
                    kind="timeout",
                )
            raise
        left = await server_saw_leave(site, label)
    if not isinstance(result, (list, tuple)):
        fail(f"Return a list of the events' data, got {type(result).__name__}: {result!r:.80}",
             kind="shape")  # fmt: skip
    numbers = [item.get("n") if isinstance(item, dict) else item for item in result]
    if not numbers:
        fail(
            "read_for returned no events: when the deadline passes, keep what arrived before "
            "it (collect into a list outside the timeout block, catch TimeoutError)."
        )
    if numbers != list(range(len(numbers))):
        fail(f"Expected the data of the first events in order, n = 0, 1, …; got n = {numbers!r:.80}",
             kind="shape")  # fmt: skip
    _fail_unless_sent_in(result, started, ended, "read_for")
    if len(numbers) > seconds / interval + 3:
        fail(f"{len(numbers)} events in {seconds} s is more than the stream sent by then: stop "
             "reading when the deadline passes.")  # fmt: skip
    if not left:
        fail("The events are right, but the server never saw you leave: close the response "
             "(leave `async with client.stream(...)`) when the deadline passes.")  # fmt: skip


# 3 · ticks: a server-side event generator that is safe to cancel.


class Subscription:
    """What a stream holds while it runs (a channel subscription, a cursor): close it once."""

    def __init__(self):
        self.closed = 0

    def close(self):
        self.closed += 1

    def __repr__(self):
        return f"<Subscription closed={self.closed}>"


def _parse(parts):
    text = b"".join(body for _, body in parts).decode(errors="replace")
    data = []
    for line in text.splitlines():
        if line.startswith("data: "):
            try:
                data.append(json.loads(line.removeprefix("data: ")))
            except ValueError:
                data.append(line)
    return data


def _require_an_async_generator(ticks):
    if inspect.isasyncgenfunction(ticks):
        return
    if inspect.isgeneratorfunction(ticks):
        fail(
            "ticks is a sync generator (def with yield). Under ASGI Django consumes a sync "
            "iterator in full before it sends a byte, and a client that leaves cannot stop it: "
            "write `async def ticks(...)` with `yield`.",
            kind="not_async",
        )
    if not inspect.iscoroutinefunction(ticks):
        fail("ticks must be an async generator function: `async def` with `yield`.",
             kind="not_async")  # fmt: skip


async def _not_started_or_no_yield(ticks):
    """An `async def` without yield: the untouched stub (not started), or a missing yield."""
    await call_async(ticks, 1, 0.01, Subscription())
    fail("ticks must yield each event (an async generator), not return.", kind="not_async")


def _ticks_view(ticks, subscriptions, count, interval):
    from django.http import StreamingHttpResponse

    async def view(request):
        subscription = Subscription()
        subscriptions.append(subscription)
        return StreamingHttpResponse(
            ticks(count, interval, subscription), content_type="text/event-stream"
        )

    return view


async def _serve(ticks, count, interval, leave_after=None):
    """Serve ticks(count, interval, subscription) through the ASGIHandler; (parts, subscription)."""
    subscriptions = []
    view = _ticks_view(ticks, subscriptions, count, interval)

    def leave_when(parts):
        return leave_after is not None and len(_parse(parts)) >= leave_after

    async def ticks_served():  # named for the learner's code in call_async's hints
        return await stream_until("/learner/ticks/", leave_when=leave_when)

    ticks_served.__name__ = "ticks"
    with learner_urlconf({"ticks/": view}):
        parts = await call_async(ticks_served, timeout=count * interval + 5)
    return parts, subscriptions[0] if subscriptions else None


async def _cancel_midway(ticks):
    """Consume ticks directly, cancel after two events; True if the cancellation came back."""
    generator = ticks(1000, 0.02, Subscription())
    got = asyncio.Event()

    async def consume():
        seen = 0
        async for _ in generator:
            seen += 1
            if seen == 2:
                got.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        await got.wait()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return True
    finally:
        await generator.aclose()
    return False


@exercise(
    "08",
    "ticks",
    hints=(
        "Lesson 08's view: an async generator that yields each event and awaits asyncio.sleep "
        "between them; try/except asyncio.CancelledError (raise again) and finally for clean-up.",
        "Inside try: for each n in range(count), yield one event ('data: ' + the JSON "
        '{"n": n} + a blank line) and await asyncio.sleep(interval); in finally: '
        "subscription.close(); in except asyncio.CancelledError: raise again, never return.",
    ),
)
async def ticks(ticks):
    """Check that ticks(count, interval, subscription) streams count events as they happen, and closes the subscription once whether the stream ends or the client leaves — letting the cancellation through."""
    _require_an_async_generator(ticks)
    if not inspect.isasyncgenfunction(ticks):
        await _not_started_or_no_yield(ticks)
    # A whole stream: every event, as it happens, and the subscription closed at the end.
    parts, subscription = await _serve(ticks, 3, 0.3)
    data = _parse(parts)
    numbers = [item.get("n") if isinstance(item, dict) else item for item in data]
    if numbers[:3] != [0, 1, 2]:
        fail(
            "Served whole, ticks(3, ...) sent data "
            f"{numbers!r:.80}: expected three events 'data: {{\"n\": 0}}' … with n = 0, 1, 2, "
            "each ending in a blank line.",
            kind="shape",
        )
    if len(parts) > 1 and parts[0][0] > parts[-1][0] - 0.3:
        fail("The events all arrived together at the end: yield each one as soon as it is made.")
    if subscription.closed != 1:
        fail(
            f"After a stream that ran to its end, subscription.close() was called "
            f"{subscription.closed} time(s), not once: close it in `finally`, so it runs however "
            "the stream ends."
        )
    # The client leaves after two events: the generator must stop and clean up at once.
    parts, subscription = await _serve(ticks, 100, 0.05, leave_after=2)
    await asyncio.sleep(0.2)
    sent = len(_parse(parts))
    if sent > 10:
        fail(f"The client left after 2 events, but {sent} were sent: the generator went on.")
    if subscription.closed != 1:
        fail(
            f"The client left after 2 events and subscription.close() was called "
            f"{subscription.closed} time(s), not once: a disconnect cancels the generator "
            "(CancelledError at its await) — clean up in `finally`."
        )
    if not await _cancel_midway(ticks):
        fail(
            "Cancelled in the middle, ticks swallowed the CancelledError (it returned instead "
            "of raising): whoever cancelled it — Django, a TaskGroup, a deadline — never learns "
            "it stopped. Clean up, then `raise`.",
            kind="wrong",
        )
