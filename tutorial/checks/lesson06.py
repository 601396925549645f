"""Checks for exercises/06_fan_out.ipynb."""

import httpx

from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

ITEM_DELAY = 0.3
SLOW_DELAY = 3.0  # an upstream that answers far too late
PER_CALL_TIMEOUT = 1.0
# Long enough for every right answer (~1 s), far shorter than waiting for the slow upstream.
CHECK_TIMEOUT = 2.5


def _urls(site):
    """(url, what a right answer returns for it): bodies for good items, None for the rest."""
    return [
        (f"{site.url}/upstream/item/0/?delay={ITEM_DELAY}", 0),
        (f"{site.url}/upstream/fail/?delay=0.1", None),  # 503
        (f"{site.url}/upstream/item/2/?delay={SLOW_DELAY}", None),  # too slow: times out
        ("http://127.0.0.1:1/", None),  # nobody listens: connection refused
        (f"{site.url}/upstream/item/4/?delay={ITEM_DELAY}", 4),
    ]


def _overlap(a, b):
    return a["started"] < b["ended"] and b["started"] < a["ended"]


async def _call(fetch_all, client, urls):
    try:
        return await call_async(fetch_all, client, urls, PER_CALL_TIMEOUT, timeout=CHECK_TIMEOUT)
    except ExerciseFailed as error:
        if error.kind == "timeout":
            fail(
                f"fetch_all did not finish in {CHECK_TIMEOUT:g} s: one URL answers only after "
                f"{SLOW_DELAY:g} s. Give each call its own deadline of `timeout` seconds.",
                kind="timeout",
            )
        failed_call = (httpx.HTTPError, TimeoutError, BaseExceptionGroup)
        if error.kind == "exception" and isinstance(error.__context__, failed_call):
            fail(
                f"{error.hint}\nA failing URL (an error status, a timeout, a refused "
                "connection) should give None in its place, not an exception.",
                kind="exception",
            )
        raise


@exercise(
    "06",
    "fetch_all",
    hint="Look at how lesson 06's fan-out view starts its calls, and at the section on "
    "per-call deadlines: each call gets its own, and a failed call is an empty slot.",
)
async def fetch_all(fetch_all, site):
    """Check that fetch_all(client, urls, timeout) fetches every URL at the same time and returns each JSON body, or None for a URL that failed or took longer than timeout."""
    expected = _urls(site)
    urls = [url for url, _ in expected]
    async with httpx.AsyncClient(timeout=30) as client:  # no default deadline to lean on
        result = await _call(fetch_all, client, urls)
    if isinstance(result, httpx.Response) or (
        isinstance(result, (list, tuple)) and any(isinstance(r, httpx.Response) for r in result)
    ):
        fail("You returned httpx.Response objects; return the parsed bodies: response.json().")
    if not isinstance(result, (list, tuple)) or len(result) != len(urls):
        fail(
            f"Return a list with one item per URL ({len(urls)}), "
            f"got {type(result).__name__}: {result!r:.100}"
        )
    for (url, want), got in zip(expected, result, strict=True):
        path = url.removeprefix(site.url)
        if want is None and got is not None:
            why = "answers 503" if "fail" in url else "never answers in time"
            why = "refuses the connection" if ":1/" in url else why
            fail(f"{path} {why}: its place should be None, got {got!r:.80}.")
        if want is not None and not (isinstance(got, dict) and got.get("n") == want):
            fail(f"{path} should give its JSON body (a dict with n={want}), got {got!r:.80}.")
    first, last = result[0], result[-1]
    if not _overlap(first, last):
        fail(
            "Every answer is right, but the server handled the calls one after the other: "
            "the last one started only after the first had finished."
        )
