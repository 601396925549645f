"""Checks for exercises/01_event_loop.ipynb."""

import asyncio
import random
import secrets
import threading

from ..timing import Timeline
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

# How long we wait for their function past what it should take before calling it stuck (a
# guard, not a measurement: a right answer returns right away).
GRACE = 3.0
# A cancelled job takes this long to stop (it closes what it opened), so an answer that calls
# cancel() and returns without waiting leaves it running — far longer than a few loop turns.
STOPPING_SECONDS = 0.15


def make_jobs(timeline, specs):
    """Zero-argument coroutine functions that sleep, record their span, then return or raise.

    Cancelled, a job notes its label in `timeline.stopping` and takes STOPPING_SECONDS to stop.
    """
    timeline.stopping = []

    def job(label, seconds, outcome):
        async def run():
            with timeline.span(label):
                try:
                    await asyncio.sleep(seconds)
                except asyncio.CancelledError:
                    timeline.stopping.append(label)
                    await asyncio.sleep(STOPPING_SECONDS)
                    raise
                if isinstance(outcome, BaseException):
                    raise outcome
            return outcome

        run.__qualname__ = f"job_{label.replace(' ', '_')}"
        return run

    return [job(*spec) for spec in specs]


async def _let_cancellations_land():
    # A task that was just cancelled ends on the loop's next turns: give it those turns.
    for _ in range(3):
        await asyncio.sleep(0)


async def _outcome_of(coroutine, seconds):
    """Run `coroutine` as a task for at most `seconds`: (task, done?) — never raises."""
    task = asyncio.create_task(coroutine)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        await _let_cancellations_land()
    return task, bool(done)


def _quick_jobs():
    """(label, seconds, result): the finishing order differs from the order given; the results
    are new each run, so no answer can know them without running the jobs."""
    results = [secrets.token_hex(3) for _ in range(3)]
    return (("a", 0.3, results[0]), ("b", 0.1, results[1]), ("c", 0.2, results[2]))


def _check_results(result, expected):
    if not isinstance(result, (list, tuple)):
        fail(
            f"Return a list of the jobs' results, got {type(result).__name__}: {result!r:.80}",
            kind="format",
        )
    if list(result) == expected:
        return
    if sorted(map(str, result)) == sorted(expected):
        fail(
            f"You returned {list(result)!r}: the results in the order the jobs finished. "
            f"Return them in the order of `jobs`: {expected!r}.",
            kind="order",
        )
    fail(f"You returned {result!r:.80}; the jobs returned {expected!r} (in that order).")


def _check_on_this_loop(timeline):
    loop_thread = threading.current_thread().name
    elsewhere = sorted({span.thread for span in timeline.spans if span.thread != loop_thread})
    if elsewhere:
        fail(
            f"The jobs ran in other threads ({', '.join(elsewhere)}), each on an event loop of "
            "its own: run them as tasks on this loop, where one deadline can cancel them all.",
            kind="wrong_method",
        )


async def _check_all_at_once(run_all_within):
    timeline, specs = Timeline(), _quick_jobs()
    result = await call_async(run_all_within, make_jobs(timeline, specs), 5.0)
    _check_on_this_loop(timeline)
    _check_results(result, [value for _, _, value in specs])
    ran = sorted(span.label for span in timeline.spans)
    if ran != sorted(label for label, _, _ in specs):
        fail(f"Each job should run exactly once; these ran: {ran}.")
    if timeline.max_overlap() < len(specs):
        fail(
            f"The results are right, but at most {timeline.max_overlap()} of the "
            f"{len(specs)} jobs ran at the same time: you awaited one before starting the next."
        )


async def _check_deadline(run_all_within):
    timeline = Timeline()
    deadline = random.choice((0.15, 0.2, 0.25))
    specs = (("quick", 0.05, 1), ("stuck", 60, 2), ("stuck too", 60, 3))
    call, done = await _outcome_of(
        run_all_within(make_jobs(timeline, specs), deadline), deadline + GRACE
    )
    try:
        if not done:
            fail(
                f"Given {deadline} s and two jobs that take a minute, it was still waiting "
                f"{deadline + GRACE:g} s later: the deadline must cover all the jobs.",
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
            if set(timeline.running) <= set(timeline.stopping):
                fail(
                    f"It raised TimeoutError while {timeline.running} were still stopping: "
                    "cancel() only asks a task to stop. Wait until they have stopped (a "
                    "TaskGroup does) before you raise.",
                )
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
    hints=(
        "Look at lesson 01's sections on TaskGroup and on timeouts: which jobs are running "
        "at the same moment, and what stops them all when time is up?",
        "Open `async with asyncio.timeout(seconds)` around `async with asyncio.TaskGroup()`, "
        "create one task per job() in the group, and read task.result() after the block.",
    ),
)
async def run_all_within(run_all_within):
    """Check that run_all_within(jobs, seconds) runs all jobs at the same time and returns their results in order, and that past the deadline it raises TimeoutError and leaves no job running."""
    await _check_all_at_once(run_all_within)
    await _check_deadline(run_all_within)


# --- collect_failures: a TaskGroup and except* ------------------------------------------


def _messages(count):
    return [f"job {secrets.token_hex(2)} failed" for _ in range(count)]


async def _check_failures_collected(collect_failures):
    timeline = Timeline()
    messages = _messages(2)
    specs = (
        ("fails", 0, ValueError(messages[0])),
        ("fails too", 0, ValueError(messages[1])),
        ("slow", 1.5, "slow result"),
    )
    try:
        result = await call_async(collect_failures, make_jobs(timeline, specs))
    finally:
        still = timeline.running
        timeline.cancel_running()
        await _let_cancellations_land()
    if not isinstance(result, (list, tuple)):
        fail(
            f"Return a list of the error messages, got {type(result).__name__}: {result!r:.80}",
            kind="format",
        )
    found = sorted(str(message) for message in result)
    if len(found) == 1 and found[0] in messages:
        fail(
            "Two jobs raised ValueError, and you returned one message: gather keeps the first "
            "error and drops the rest. A TaskGroup raises all of them in an ExceptionGroup.",
            kind="wrong_method",
        )
    if found != sorted(messages):
        fail(f"You returned {list(result)!r:.100}; the two ValueErrors said {sorted(messages)!r}.")
    if still:
        fail(
            f"You returned both messages but left {still} running: when a job fails, the group "
            "should cancel the others.",
        )
    if timeline.outcomes().get("slow") == "done":
        fail(
            "You returned both messages, but the slow job ran to its end after two jobs had "
            "failed: gather(return_exceptions=True) waits for all; a TaskGroup cancels the rest.",
            kind="wrong_method",
        )


async def _check_other_errors_propagate(collect_failures):
    timeline = Timeline()
    specs = (("fails", 0, ValueError(_messages(1)[0])), ("broken", 0, KeyError("missing")))
    call, done = await _outcome_of(collect_failures(make_jobs(timeline, specs)), GRACE)
    timeline.cancel_running()
    if not done:
        fail(f"When one job raised KeyError, it was still running {GRACE:g} s later.")
    error = call.exception()
    if error is None:
        fail(
            f"A job raised KeyError and you returned {call.result()!r:.60}: only ValueError is "
            "yours to handle (except* ValueError); every other error must reach the caller.",
        )
    keys = error.subgroup(KeyError) if isinstance(error, BaseExceptionGroup) else error
    if not isinstance(keys, (KeyError, BaseExceptionGroup)):
        fail(f"A job raised KeyError, but the caller got {type(error).__name__}: {error}"[:200])


async def _check_nothing_fails(collect_failures):
    timeline = Timeline()
    specs = (("one", 0.05, 1), ("two", 0.05, 2))
    result = await call_async(collect_failures, make_jobs(timeline, specs))
    if list(result or []) != [] or not isinstance(result, (list, tuple)):
        fail(f"When no job fails, return an empty list; you returned {result!r:.80}.")
    if sorted(span.label for span in timeline.spans) != ["one", "two"]:
        fail("When no job fails, every job should still run once.")


@exercise(
    "01",
    "collect_failures",
    hints=(
        "Lesson 01's TaskGroup section: what does the group do with the other tasks when one "
        "fails, and what does it raise when two fail?",
        "Create the tasks in `async with asyncio.TaskGroup()`, wrap that in try, and catch "
        "with `except* ValueError as group:` — group.exceptions holds every ValueError. "
        "Keep the messages in a variable there: `return` is not allowed inside except*.",
    ),
)
async def collect_failures(collect_failures):
    """Check that collect_failures(jobs) runs the jobs in a TaskGroup and returns the messages of every ValueError, the group cancelling the rest, while any other exception reaches the caller."""
    await _check_failures_collected(collect_failures)
    await _check_other_errors_propagate(collect_failures)
    await _check_nothing_fails(collect_failures)


# --- guarded: never swallow CancelledError ------------------------------------------------


class _Resource:
    """What `release` does: count the calls that ran to their end."""

    def __init__(self):
        self.started = self.finished = 0

    async def release(self):
        self.started += 1
        await asyncio.sleep(0.01)  # closing a connection takes a moment: it must be awaited
        self.finished += 1


def _check_released_once(resource, when):
    if resource.finished == 1 and resource.started == 1:
        return
    if resource.started == 0:
        because = (
            " CancelledError is not an Exception: `except Exception` does not see it; "
            "`finally` does."
            if when == "cancelled"
            else ""
        )
        fail(f"When work() {when}, release() never ran (called without `await`?).{because}")
    if resource.finished < resource.started:
        fail(f"When work() {when}, release() was called but not awaited to its end: await it.")
    fail(
        f"When work() {when}, release() ran {resource.started} times: once is right "
        "(a `finally` runs on every way out)."
    )


async def _waiting_work(started):
    started.set()
    await asyncio.sleep(60)


@exercise(
    "01",
    "guarded",
    hints=(
        "Lesson 01's section on cancellation: where does CancelledError arrive, and which "
        "block runs on every way out of a try?",
        "Put `return await work()` in try, and `await release()` in finally. No except at "
        "all: then the cancellation (and any error) goes on by itself.",
    ),
)
async def guarded(guarded):
    """Check that guarded(work, release) returns work()'s result and awaits release() exactly once on every way out — a result, an error, a cancellation, a deadline — letting the error or the cancellation go on."""
    value, resource = secrets.token_hex(3), _Resource()

    async def work():
        await asyncio.sleep(0.01)
        return value

    result = await call_async(guarded, work, resource.release)
    if result != value:
        fail(
            f"work() returned {value!r} and you returned {result!r:.60}: return what it returns.",
            kind="format",
        )
    _check_released_once(resource, "returned")

    resource = _Resource()

    async def broken():
        await asyncio.sleep(0.01)
        raise ValueError("work failed")

    call, done = await _outcome_of(guarded(broken, resource.release), GRACE)
    if not done or call.cancelled() or not isinstance(call.exception(), ValueError):
        fail("When work() raised ValueError, that ValueError should reach the caller.")
    _check_released_once(resource, "raised")

    resource, started = _Resource(), asyncio.Event()
    call = asyncio.create_task(guarded(lambda: _waiting_work(started), resource.release))
    await asyncio.wait_for(started.wait(), GRACE)
    call.cancel()
    done, _ = await asyncio.wait({call}, timeout=GRACE)
    if not done:
        call.cancel()
        fail(f"Cancelled, it was still running {GRACE:g} s later: let the cancellation end it.")
    if not call.cancelled():
        outcome = f"raised {call.exception()!r}" if call.exception() else "returned normally"
        fail(
            f"Cancelled while work() waited, it {outcome}: the cancellation was swallowed. "
            "Clean up, then let CancelledError go on (finally, or except + raise).",
            kind="swallowed",
        )
    _check_released_once(resource, "cancelled")

    resource, started = _Resource(), asyncio.Event()

    async def under_a_deadline():
        async with asyncio.timeout(0.05):
            return await guarded(lambda: _waiting_work(started), resource.release)

    call, done = await _outcome_of(under_a_deadline(), GRACE)
    if not done or not isinstance(call.exception(), TimeoutError):
        fail(
            "Under `asyncio.timeout(0.05)`, the caller should get TimeoutError: a swallowed "
            "cancellation makes the deadline vanish.",
            kind="swallowed",
        )
    _check_released_once(resource, "ran past a deadline")
