"""Checks for exercises/06_fan_out_exercises.ipynb: deadlines, a per-request cap, the first answer.

Each check hands the learner's code an httpx.AsyncClient whose transport records every request
it sends — when it started and ended, and whether it was cancelled — so the check judges how the
calls went out (at once? never more than the cap? the losers cancelled and awaited?), not only
what came back. Delays and positions are drawn per run.
"""

import asyncio
import secrets

import httpx

from ..timing import max_overlap
from ..tls import shared_context
from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

_rng = secrets.SystemRandom()

ITEM_DELAY = 0.3
SLOW_DELAY = 3.0  # an upstream that answers far too late
PER_CALL_TIMEOUT = 1.0
# Long enough for every right answer (~1 s), far shorter than waiting for the slow upstreams.
CHECK_TIMEOUT = 2.5
REFUSED = "http://127.0.0.1:1/"  # nobody listens: connection refused


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Records each request's (index, started, ended) on the loop's clock, and cancellations."""

    def __init__(self, latency=None):
        super().__init__(verify=shared_context())
        self.spans, self.cancelled, self.in_flight = [], 0, 0
        self._loop = asyncio.get_running_loop()
        self._latency = latency or {}  # url -> seconds the network takes, which no URL shows

    async def handle_async_request(self, request):
        started = self._loop.time()
        self.in_flight += 1
        try:
            await asyncio.sleep(self._latency.get(str(request.url), 0))
            return await super().handle_async_request(request)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
            self.spans.append((len(self.spans), started, self._loop.time()))


def recording_client(latency=None):
    transport = RecordingTransport(latency)
    return httpx.AsyncClient(transport=transport, timeout=30), transport


def _require_the_given_client(name, transport, expected):
    if len(transport.spans) + transport.in_flight < expected:
        fail(
            f"Only {len(transport.spans) + transport.in_flight} of the {expected} requests went "
            f"through the client {name} was given: use that client (its pool is the process's), "
            "not one of your own.",
        )


def _bodies_in_order(name, result, expected):
    if isinstance(result, httpx.Response) or (
        isinstance(result, (list, tuple)) and any(isinstance(r, httpx.Response) for r in result)
    ):
        fail(
            "You returned httpx.Response objects; return the parsed bodies: response.json().",
            kind="shape",
        )
    if not isinstance(result, (list, tuple)) or len(result) != len(expected):
        fail(
            f"{name} should return a list with one item per URL ({len(expected)}), "
            f"got {type(result).__name__}: {result!r:.100}",
            kind="shape",
        )


# 1 · fetch_all: every URL at once, a deadline each.


def _fetch_all_urls(site):
    """([(url, what a right answer returns for it)], latency), in an order drawn per run.

    The item upstreams look alike: how long each takes is the check's transport's (latency),
    not in its URL, so an answer cannot tell the silent one by reading its address.
    """
    good, silent = _rng.sample(range(10, 99), 2), _rng.randrange(100, 999)
    item = f"{site.url}/upstream/item/{{}}/".format
    latency = {item(good[0]): ITEM_DELAY, item(good[1]): ITEM_DELAY, item(silent): SLOW_DELAY}
    urls = [
        (item(good[0]), good[0]),
        (f"{site.url}/upstream/fail/?delay=0.1", None),  # 503
        (item(silent), None),  # silent, then too late
        (f"{site.url}/stream/?count=15&interval=0.2", None),  # trickles for 3 s: too late
        (REFUSED, None),
        (item(good[1]), good[1]),
    ]
    _rng.shuffle(urls)
    return urls, latency


def _explain_a_late_or_raised_call(error, transport):
    if error.kind == "timeout" and len(transport.spans) > 1 and max_overlap(transport.spans) < 2:
        fail(
            f"fetch_all did not finish in {CHECK_TIMEOUT:g} s: its calls went out one after "
            "another, so their deadlines add up. Start them all at once (gather, TaskGroup).",
            kind="timeout",
        )
    if error.kind == "timeout":
        fail(
            f"fetch_all did not finish in {CHECK_TIMEOUT:g} s. One URL stays silent for "
            f"{SLOW_DELAY:g} s; another trickles its answer a little at a time for 3 s, which "
            "httpx's own timeout= never trips (it bounds each wait between two chunks). "
            "Give each whole call a deadline: asyncio.timeout(timeout).",
            kind="timeout",
        )
    failed_call = (httpx.HTTPError, TimeoutError, BaseExceptionGroup, ValueError)
    if error.kind == "exception" and isinstance(error.__context__, failed_call):
        fail(
            f"{error.hint}\nA failing URL (an error status, a deadline, a refused connection, a "
            "body that is not JSON) should give None in its place, not an exception.",
            kind="exception",
        )
    raise error


@exercise(
    "06",
    "fetch_all",
    hints=(
        "Look at how lesson 06's fan-out view starts its calls, and at the section on per-call "
        "deadlines: each call gets its own, and a failed call is an empty slot.",
        "Write fetch_one(url): `async with asyncio.timeout(timeout):` around the GET, "
        "raise_for_status(), return .json(); on httpx.HTTPError, TimeoutError or ValueError "
        "return None. Then gather fetch_one for every URL.",
    ),
)
async def fetch_all(fetch_all, site):
    """Check that fetch_all(client, urls, timeout) fetches every URL at the same time and returns each JSON body, or None for a URL that failed or took longer than timeout."""
    expected, latency = _fetch_all_urls(site)
    urls = [url for url, _ in expected]
    client, transport = recording_client(latency)  # no default deadline to lean on
    async with client:
        try:
            result = await call_async(
                fetch_all, client, urls, PER_CALL_TIMEOUT, timeout=CHECK_TIMEOUT
            )
        except ExerciseFailed as error:
            _explain_a_late_or_raised_call(error, transport)
    _bodies_in_order("fetch_all", result, urls)
    _require_the_given_client("fetch_all", transport, len(urls))
    for (url, want), got in zip(expected, result, strict=True):
        path = url.removeprefix(site.url)
        if want is None and got is not None:
            why = "answers 503" if "fail" in url else "never answers in time"
            why = "refuses the connection" if url == REFUSED else why
            fail(f"{path} {why}: its place should be None, got {got!r:.80}.")
        if want is not None and not (isinstance(got, dict) and got.get("n") == want):
            fail(f"{path} should give its JSON body (a dict with n={want}), got {got!r:.80}.")
    if max_overlap(transport.spans) < len(urls) - 1:
        fail(
            "Every answer is right, but the calls did not all go out at the same time: at most "
            f"{max_overlap(transport.spans)} of {len(urls)} were in flight at once."
        )


# 2 · fetch_capped: all at once, but never more than `limit` of this request's calls in flight.


def _idle_slots(spans, limit):
    """Seconds during which fewer than `limit` calls were in flight while some had not started."""
    events = sorted([(start, 1) for _, start, _ in spans] + [(end, -1) for _, _, end in spans])
    total, in_flight, started, idle, last = len(spans), 0, 0, 0.0, None
    for moment, step in events:
        if last is not None and in_flight < limit and started < total:
            idle += moment - last
        in_flight += step
        started += step == 1
        last = moment
    return idle


CAPPED_SLOW = 0.6
CAPPED_FAST = 0.1


@exercise(
    "06",
    "fetch_capped",
    hints=(
        "Lesson 06's section 'A cap per request': one asyncio.Semaphore(limit), made inside "
        "fetch_capped, entered by every call before it sends its request.",
        "Make `cap = asyncio.Semaphore(limit)` once, write fetch_one(url) as `async with cap:` "
        "around the GET, and gather fetch_one for every URL: a call starts as soon as a slot is free.",
    ),
)
async def fetch_capped(fetch_capped, site):
    """Check that fetch_capped(client, urls, limit) fetches every URL, keeping up to limit — and never more — in flight at once, a cap of its own for each request."""
    limit = _rng.choice((2, 3))
    client, transport = recording_client()
    async with client:
        numbers, urls = _capped_urls(site, limit)
        result = await call_async(fetch_capped, client, urls, limit, timeout=10)
    _judge_capped(result, numbers, urls, transport, limit)
    # Two requests at the same time, limits 2 and 3: a semaphore shared by every call of the
    # process (made once, outside fetch_capped) caps them together, not each on its own.
    limits = _rng.sample((2, 3), 2)
    runs = [(*recording_client(), *_capped_urls(site, each)) for each in limits]
    calls = [(client, urls, each) for (client, _, _, urls), each in zip(runs, limits, strict=True)]

    async def two_requests_at_once():
        return await asyncio.gather(*(fetch_capped(*call) for call in calls))

    two_requests_at_once.__name__ = "fetch_capped"  # the learner's code, in call_async's hints
    try:
        results = await call_async(two_requests_at_once, timeout=10)
    finally:
        for client, *_ in runs:
            await client.aclose()
    # Each request's own cap lets limits[0] + limits[1] calls run at once; one shared cap, no
    # more than the larger limit.
    together = max_overlap([span for _, transport, *_ in runs for span in transport.spans])
    if together <= max(limits):
        fail(
            f"Called twice at the same time, with limit={limits[0]} and limit={limits[1]}, the "
            f"two requests had only {together} calls in flight together: one semaphore shared "
            "by every request caps them all. Make a new one inside each fetch_capped call."
        )
    for result, (_, transport, numbers, urls), each in zip(results, runs, limits, strict=True):
        _judge_capped(result, numbers, urls, transport, each)


def _capped_urls(site, limit):
    """(numbers, urls): 3 × limit + 3 calls, one slow among the first `limit`, drawn per run."""
    numbers = _rng.sample(range(100, 999), 3 * limit + 3)
    slow = _rng.randrange(limit)
    delays = [CAPPED_SLOW if i == slow else CAPPED_FAST for i in range(len(numbers))]
    urls = [
        f"{site.url}/upstream/item/{n}/?delay={d}" for n, d in zip(numbers, delays, strict=True)
    ]
    return numbers, urls


def _judge_capped(result, numbers, urls, transport, limit):
    _bodies_in_order("fetch_capped", result, urls)
    _require_the_given_client("fetch_capped", transport, len(urls))
    got = [body.get("n") if isinstance(body, dict) else body for body in result]
    if got != numbers:
        fail(f"fetch_capped should return each URL's JSON body, in order; got n = {got}.")
    most = max_overlap(transport.spans)
    if most > limit:
        fail(
            f"{most} calls were in flight at once with limit={limit}: the cap did not hold. "
            "One semaphore for all the calls of this fetch, not one per call."
        )
    if most < limit:
        fail(
            f"With limit={limit} at most {most} call(s) were in flight at once: start the calls "
            "together (gather) and let the semaphore hold back the extra ones."
        )
    idle = _idle_slots(transport.spans, limit)
    if idle > (CAPPED_SLOW - CAPPED_FAST) / 2:
        fail(
            f"Slots stood empty for {idle:.2f} s while calls were waiting: batches of {limit} "
            "wait for the slowest call of each batch. With a semaphore a call starts as soon as "
            "any slot is free."
        )


# 3 · first_good: the first good answer; the other calls cancelled and awaited.


@exercise(
    "06",
    "first_good",
    hints=(
        "Lesson 06's section on asyncio.as_completed: take the calls in the order they finish, "
        "skip the ones that failed, stop at the first good one.",
        "Create a task per URL; `async for task in asyncio.as_completed(tasks)`, return the "
        "first good body — but first, in a finally: cancel every task, then "
        "`await asyncio.gather(*tasks, return_exceptions=True)`.",
    ),
)
async def first_good(first_good, site):
    """Check that first_good(client, urls) returns the first good JSON body to arrive, with the other calls cancelled and stopped before it returns."""
    numbers = _rng.sample(range(100, 999), 3)
    # The first good one, then two that must be cancelled. The delays are the network's (the
    # check's transport), not in the URLs, so the answer cannot pick the fastest by reading them.
    delays = [0.25, 1.5, 2.5]
    latency = {f"{site.url}/upstream/item/{n}/": d for n, d in zip(numbers, delays, strict=True)}
    urls = [*latency, f"{site.url}/upstream/fail/", REFUSED]  # these fail at once: skip them
    _rng.shuffle(urls)
    client, transport = recording_client(latency)
    async with client:
        try:
            result = await call_async(first_good, client, urls, timeout=2.0)
        except ExerciseFailed as error:
            if error.kind == "timeout":
                fail(
                    "first_good did not return in 2 s, though one URL answers in 0.25 s: "
                    "did it wait for every call? Return at the first good answer.",
                    kind="timeout",
                )
            raise
        still_running, cancelled = transport.in_flight, transport.cancelled
    _require_the_given_client("first_good", transport, len(urls))
    if not isinstance(result, dict) or result.get("n") != numbers[0]:
        what = "a failed call's" if result is None or not isinstance(result, dict) else "another"
        fail(
            f"first_good returned {result!r:.80}: {what} answer. The first good body is the "
            f"one with n={numbers[0]}: skip calls that fail (503, refused) and keep waiting."
        )
    if still_running:
        fail(
            f"{still_running} call(s) were still running when first_good returned: you "
            "cancelled them (or not) but did not wait until they had stopped. Await the "
            "cancelled tasks (gather(..., return_exceptions=True)).",
        )
    if cancelled < 2:
        fail(
            "first_good returned the right body, but the slower calls were not cancelled: "
            "cancel the tasks you no longer need."
        )
