"""Checks for exercises/02_blocking_the_loop.ipynb."""

import time

from ..timing import Timeline
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import BLOCKED_AFTER, call_async

# crunch_all: 12 pieces of CPU work of 0.04 s each. One at a time (even two between heartbeats)
# they are short enough for the loop; all in one go (0.48 s) they are far past BLOCKED_AFTER.
CRUNCH_ITEMS = tuple(range(1, 13))
CRUNCH_SECONDS = 0.04
# lookup_all: a blocking call of 0.3 s (past BLOCKED_AFTER even once) for each of three keys.
LOOKUP_KEYS = ("ada", "grace", "linus")
LOOKUP_SECONDS = 0.3
assert (
    CRUNCH_SECONDS
    < BLOCKED_AFTER / 3
    < BLOCKED_AFTER
    < min(LOOKUP_SECONDS, CRUNCH_SECONDS * len(CRUNCH_ITEMS))
)


def _spin(seconds):
    """Keep the CPU busy for `seconds` without sleeping: work that holds the thread."""
    end = time.perf_counter() + seconds
    spins = 0
    while time.perf_counter() < end:
        spins += 1
    return spins


def make_work(timeline):
    def work(item):
        """CPU-bound: busy for CRUNCH_SECONDS, then return item * item."""
        with timeline.span(f"work({item})"):
            _spin(CRUNCH_SECONDS)
        return item * item

    return work


def make_lookup(timeline):
    def lookup(key):
        """A blocking call you cannot change (a sync client, a C library): 0.3 s, then KEY."""
        with timeline.span(f"lookup({key!r})"):
            time.sleep(LOOKUP_SECONDS)
        return key.upper()

    return lookup


def _check_in_order(result, expected, what):
    if not isinstance(result, (list, tuple)):
        fail(f"Return a list of {what}, got {type(result).__name__}: {result!r:.80}")
    if list(result) != expected:
        if sorted(map(str, result)) == sorted(map(str, expected)):
            fail(f"You returned {list(result)!r}: return them in the order given, {expected!r}.")
        fail(f"You returned {result!r:.100}; expected {expected!r}.")


def _check_each_called_once(timeline, fn_name, arguments):
    called = sorted(span.label for span in timeline.spans)
    wanted = sorted(f"{fn_name}({a!r})" for a in arguments)
    if called != wanted:
        fail(f"Call {fn_name} once per item: {len(wanted)} calls expected, saw {called}.")


@exercise(
    "02",
    "crunch_all",
    hint="Between two pieces of work, give the loop a turn (await asyncio.sleep(0)), or run "
    "the work in a thread (await asyncio.to_thread(...)).",
)
async def crunch_all(crunch_all):
    """Check that crunch_all(work, items) returns [work(item) for item in items] without holding the event loop for more than one piece of work at a time."""
    timeline = Timeline()
    result = await call_async(crunch_all, make_work(timeline), list(CRUNCH_ITEMS))
    _check_in_order(result, [item * item for item in CRUNCH_ITEMS], "work's results")
    _check_each_called_once(timeline, "work", CRUNCH_ITEMS)


@exercise(
    "02",
    "lookup_all",
    hint="The blocking call cannot change, so run each call in a thread "
    "(asyncio.to_thread), and start them all before awaiting any.",
)
async def lookup_all(lookup_all):
    """Check that lookup_all(lookup, keys) returns [lookup(key) for key in keys] without blocking the event loop, running the lookups at the same time."""
    timeline = Timeline()
    result = await call_async(lookup_all, make_lookup(timeline), list(LOOKUP_KEYS))
    _check_in_order(result, [key.upper() for key in LOOKUP_KEYS], "lookup's results")
    _check_each_called_once(timeline, "lookup", LOOKUP_KEYS)
    at_once = timeline.max_overlap()
    if at_once < len(LOOKUP_KEYS):
        fail(
            f"The loop stayed free, but at most {at_once} of the {len(LOOKUP_KEYS)} lookups "
            "ran at the same time: each waited for the previous one to finish."
        )
