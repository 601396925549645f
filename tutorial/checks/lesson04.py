"""Checks for exercises/04_asgiref_bridges.ipynb."""

import threading
import time

from asgiref.sync import sync_to_async

from ..timing import Timeline
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

KEYS = ("alpha", "beta", "gamma", "delta", "epsilon")
CALL_SECONDS = 0.2


def blocking_lookup(timeline):
    """A stand-in for a blocking library call (a sync SDK, a sync HTTP client): it records when
    and in which thread it ran, waits CALL_SECONDS, and answers `value of <key>`."""

    def lookup(key):
        with timeline.span(key):
            time.sleep(CALL_SECONDS)
        return f"value of {key}"

    return lookup


async def _thread_sensitive_thread():
    """The thread that sync_to_async's default (thread_sensitive=True) uses here and now."""
    return await sync_to_async(lambda: threading.current_thread().name)()


@exercise(
    "04",
    "lookup_all",
    hint="Lesson 04's timeline shows when bridged calls overlap and when they queue in one "
    "thread: which setting decides that, and are all calls started before you await?",
)
async def lookup_all(lookup_all):
    """Check that lookup_all(lookup, keys) returns [lookup(key) for key in keys], all five blocking calls running at the same time in threads."""
    timeline = Timeline()
    result = await call_async(lookup_all, blocking_lookup(timeline), list(KEYS))
    expected = [f"value of {key}" for key in KEYS]
    if not isinstance(result, (list, tuple)):
        fail(
            f"Return a list of the {len(KEYS)} values, got {type(result).__name__}: {result!r:.80}"
        )
    if sorted(map(str, result)) == sorted(expected) and list(result) != expected:
        fail("The values are right but out of order: the value of keys[0] first, and so on.")
    if list(result) != expected:
        fail(f"Expected {expected[:2]}…, got {list(result)!r:.120}")
    spans = timeline.spans
    if len(spans) != len(KEYS):
        fail(f"lookup ran {len(spans)} times for {len(KEYS)} keys: call it once per key.")
    loop_thread = threading.current_thread().name
    if any(span.thread == loop_thread for span in spans):
        fail(
            "lookup ran in the event loop's own thread, so each call froze the loop for "
            f"{CALL_SECONDS} s: call it through sync_to_async so it runs in a worker thread."
        )
    overlap = timeline.max_overlap()
    if overlap == 1:
        threads = {span.thread for span in spans}
        if threads == {await _thread_sensitive_thread()}:
            fail(
                f"The calls ran one after another, all in {threads.pop()}: the one thread that "
                "sync_to_async uses by default (thread_sensitive=True) takes one call at a time."
            )
        fail(
            "The calls ran one after another: each was awaited before the next one started. "
            "Start them all first, then await them together."
        )
    if overlap < len(KEYS):
        fail(f"At most {overlap} of the {len(KEYS)} calls ran at the same time; all should.")
