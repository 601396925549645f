"""Checks for exercises/01_event_loop.ipynb."""

import asyncio

from ..timing import Timeline
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

# (label, seconds, result): finishing order (b, c, a) differs from the order given (a, b, c).
QUICK_JOBS = (("a", 0.3, "A"), ("b", 0.1, "B"), ("c", 0.2, "C"))
# One job that ends in time, two that would run far past the deadline.
STUCK_JOBS = (("quick", 0.05, 1), ("stuck", 60, 2), ("stuck too", 60, 3))
DEADLINE = 0.2
# How long we wait for their function past the deadline before calling it stuck (a guard, not
# a measurement: a right answer returns right after DEADLINE).
GRACE = 3.0


def make_jobs(timeline, specs):
    """Zero-argument coroutine functions that sleep, record their span, and return a value."""

    def job(label, seconds, value):
        async def run():
            with timeline.span(label):
                await asyncio.sleep(seconds)
            return value

        run.__qualname__ = f"job_{label.replace(' ', '_')}"
        return run

    return [job(*spec) for spec in specs]


async def _let_cancellations_land():
    # A task that was just cancelled ends on the loop's next turns: give it those turns.
    for _ in range(3):
        await asyncio.sleep(0)


def _check_results(result):
    expected = [value for _, _, value in QUICK_JOBS]
    if not isinstance(result, (list, tuple)):
        fail(f"Return a list of the jobs' results, got {type(result).__name__}: {result!r:.80}")
    if list(result) == expected:
        return
    if sorted(map(str, result)) == sorted(expected):
        fail(
            f"You returned {list(result)!r}: the results in the order the jobs finished. "
            f"Return them in the order of `jobs`: {expected!r}."
        )
    fail(f"You returned {result!r:.80}; the jobs returned {expected!r} (in that order).")


async def _check_all_at_once(run_all_within):
    timeline = Timeline()
    result = await call_async(run_all_within, make_jobs(timeline, QUICK_JOBS), 5.0)
    _check_results(result)
    ran = sorted(span.label for span in timeline.spans)
    if ran != sorted(label for label, _, _ in QUICK_JOBS):
        fail(f"Each job should run exactly once; these ran: {ran}.")
    if timeline.max_overlap() < len(QUICK_JOBS):
        fail(
            f"The results are right, but at most {timeline.max_overlap()} of the "
            f"{len(QUICK_JOBS)} jobs ran at the same time: you awaited one before starting "
            "the next."
        )


async def _check_deadline(run_all_within):
    timeline = Timeline()
    call = asyncio.create_task(run_all_within(make_jobs(timeline, STUCK_JOBS), DEADLINE))
    done, _ = await asyncio.wait({call}, timeout=DEADLINE + GRACE)
    try:
        if not done:
            call.cancel()
            fail(
                f"Given {DEADLINE} s and two jobs that take a minute, it was still waiting "
                f"{DEADLINE + GRACE:g} s later: the deadline must cover all the jobs.",
            )
        error = call.exception()
        if error is None:
            fail(
                f"Past the deadline it returned {call.result()!r:.60} instead of raising "
                "TimeoutError: the caller cannot tell the jobs did not finish.",
            )
        if not isinstance(error, TimeoutError):
            fail(
                f"Past the deadline it raised {type(error).__name__}: {error}"[:200]
                + "; it should raise TimeoutError.",
            )
        await _let_cancellations_land()
        if timeline.running:
            fail(
                f"It raised TimeoutError, but left {timeline.running} running: "
                "cancel the jobs that did not finish.",
            )
    finally:
        timeline.cancel_running()  # never leave their stray tasks running after the check
        await _let_cancellations_land()


@exercise(
    "01",
    "run_all_within",
    hint="Look at lesson 01's sections on TaskGroup and on timeouts: which jobs are running "
    "at the same moment, and what stops them all when time is up?",
)
async def run_all_within(run_all_within):
    """Check that run_all_within(jobs, seconds) runs all jobs at the same time and returns their results in order, and that past the deadline it raises TimeoutError and leaves no job running."""
    await _check_all_at_once(run_all_within)
    await _check_deadline(run_all_within)
