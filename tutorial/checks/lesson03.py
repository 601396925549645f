"""Checks for exercises/03_executors.ipynb."""

import asyncio
import concurrent.futures
import contextvars
import functools
import json
import os
import random
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ..cpu import expected_sum_of_squares, rounds_for, traced_sum_of_squares
from ..timing import max_overlap
from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import BLOCKED_AFTER, call_async

# Long enough that running it on the loop trips the blocked-loop detector (0.25 s) by far.
WORK_SECONDS = 0.6


class _Traced:
    """`work(n)` for the learner: sum_of_squares(n), recording which process and thread ran it.
    Picklable (a partial of a module function), so a process pool can run it as well."""

    def __init__(self):
        self._folder = Path(tempfile.mkdtemp(prefix="check-03-"))
        self.log = self._folder / "runs.jsonl"
        self.work = functools.partial(traced_sum_of_squares, log=str(self.log))

    def runs(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self._folder, ignore_errors=True)


@exercise(
    "03",
    "offloaded_sum_of_squares",
    hints=(
        "Lesson 03's section 1: how does a coroutine hand a blocking call to a thread and "
        "wait for it without holding the loop?",
        "`return await asyncio.to_thread(work, n)` — or loop.run_in_executor(None, work, n), "
        "or sync_to_async(work)(n).",
    ),
)
async def offloaded_sum_of_squares(offloaded_sum_of_squares):
    """Check that offloaded_sum_of_squares(work, n) returns work(n), work running in a worker while the event loop keeps running."""
    n = int(rounds_for(WORK_SECONDS) * random.uniform(0.9, 1.1))
    with _Traced() as traced:
        result = await call_async(offloaded_sum_of_squares, traced.work, n)
        runs = traced.runs()
    if not runs:
        fail(
            "work() never ran: hand it to a worker and return its result — the exercise is "
            "about moving the work off the loop, not about the formula.",
            kind="wrong_method",
        )
    if result != expected_sum_of_squares(n):
        fail(f"It returned {result!r:.60}, but work({n}) returns another number: call it with n.")
    if [run["n"] for run in runs] != [n]:
        fail(f"Call work once, with n ({n}); it ran {len(runs)} times: {[r['n'] for r in runs]}.")


# in_context: a ContextVar through loop.run_in_executor --------------------------------------

_request_id = contextvars.ContextVar("request_id", default=None)

# fn takes this long, as blocking work does: an answer that waits for it on the loop's thread
# (executor.submit(...).result()) holds the loop past the blocked-loop limit.
JOB_SECONDS = BLOCKED_AFTER + 0.1


def _job(value_to_leave):
    """What the learner's function runs: reports the request id it sees, and sets another one
    (as a sync library might) to see whether that leaks into the pool thread's next job."""
    seen = _request_id.get()
    _request_id.set(value_to_leave)
    time.sleep(JOB_SECONDS)
    return {"seen": seen, "thread": threading.current_thread().name}


@exercise(
    "03",
    "in_context",
    hints=(
        "Lesson 03's section on context variables: what does to_thread add around the "
        "function that run_in_executor does not?",
        "`await loop.run_in_executor(executor, contextvars.copy_context().run, fn)`: the "
        "copy carries your variables there, and what fn sets stays in the copy.",
    ),
)
async def in_context(in_context):
    """Check that in_context(executor, fn) runs fn in the given executor through run_in_executor, fn seeing the caller's context variables and leaving nothing behind in the pool thread."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="given-pool") as executor:
        ours = f"req-{secrets.token_hex(3)}"
        token = _request_id.set(ours)
        try:
            leave = f"left-by-job-{secrets.token_hex(3)}"
            result = await call_async(in_context, executor, functools.partial(_job, leave))
        except ExerciseFailed as error:
            if error.kind == "blocked":
                fail(
                    "fn ran, but the event loop waited for it, held: `.result()` on the "
                    "executor's future blocks the loop's thread. Await "
                    "loop.run_in_executor(executor, ...) instead.",
                    kind="blocked",
                )
            raise
        finally:
            _request_id.reset(token)
        if not isinstance(result, dict) or "seen" not in result:
            fail(f"Return what fn() returns; you returned {result!r:.80}.")
        if not result["thread"].startswith("given-pool"):
            fail(
                f"fn ran in {result['thread']}, not in the executor you were given: "
                "loop.run_in_executor(executor, ...), not asyncio.to_thread.",
                kind="wrong_method",
            )
        if result["seen"] != ours:
            fail(
                f"fn saw request_id = {result['seen']!r}, not the caller's {ours!r}: "
                "run_in_executor does not carry context variables into the thread.",
            )
        # The next job on the same pool thread, run plainly: does it find the first job's value?
        left = await asyncio.get_running_loop().run_in_executor(executor, _request_id.get)
    if left == leave:
        fail(
            f"The pool thread kept {leave!r}, set by fn, for its next job: the values were set "
            "in the thread's own context. Run fn inside a copy: copy_context().run.",
        )


# in_processes: a process pool with an importable function -----------------------------------

# Each of the three calls computes about this long: long enough for two of them to overlap in
# a pool's workers, and for the loop to tick while they run.
PROCESS_WORK_SECONDS = 0.2


class _Ticks:
    """A task that notes the time (time.time(), the clock of the work's records) at every turn it
    gets on the loop: a loop that stood still while the workers computed has no tick then."""

    def __init__(self):
        self.times = []
        self._task = asyncio.create_task(self._tick())

    async def _tick(self):
        while True:
            self.times.append(time.time())
            await asyncio.sleep(0.01)

    def between(self, start, end):
        return any(start < moment < end for moment in self.times)

    def stop(self):
        self._task.cancel()


@exercise(
    "03",
    "in_processes",
    hints=(
        "Lesson 03's sections 2 and 3: which pool runs Python code on two cores at once, and "
        "what must the function be so that its workers can find it?",
        "Create a ProcessPoolExecutor(2) in a `with`; gather loop.run_in_executor(pool, work, n) "
        "for each n — pass work itself and n, no lambda around them.",
    ),
)
async def in_processes(in_processes):
    """Check that in_processes(work, numbers) returns [work(n) for n in numbers], the calls running at the same time in worker processes."""
    base = rounds_for(PROCESS_WORK_SECONDS)
    numbers = [base + random.randint(0, 1000) for _ in range(3)]
    ticks = _Ticks()
    with _Traced() as traced:
        try:
            # Blocking is judged below by the process that ran the work and by the ticks the
            # loop made meanwhile: threads computing next to the loop can make its heartbeat late
            # on a busy machine without it being held.
            result = await call_async(
                in_processes, traced.work, numbers, timeout=30, allow_blocking=True
            )
        except ExerciseFailed as error:
            if error.kind == "exception" and (
                "pickle" in error.hint.lower() or "attribute" in error.hint.lower()
            ):
                fail(
                    "A worker process could not get your function: a process pool sends it by "
                    "name. Pass work and n as they are, not a lambda or a function from a cell.",
                    kind="not_importable",
                )
            raise
        finally:
            ticks.stop()
        runs = traced.runs()
    if not runs:
        fail("work() never ran: run work(n) in the pool for each n.", kind="wrong_method")
    if not isinstance(result, (list, tuple)) or list(result) != [
        expected_sum_of_squares(n) for n in numbers
    ]:
        fail(f"Return [work(n) for n in numbers], in that order; got {result!r:.80}.")
    ran_for = [run["n"] for run in runs]
    if sorted(ran_for) != sorted(numbers):
        done = sum(n in ran_for for n in numbers)
        fail(
            f"work ran {len(runs)} time(s), for {done} of the {len(numbers)} numbers: every "
            "value must come from work(n), run in the pool once for each n.",
            kind="wrong_method",
        )
    if any(run["pid"] == os.getpid() for run in runs):
        fail(
            "work ran in this process (threads, or the loop): one GIL, one core at a time. "
            "Run it in a ProcessPoolExecutor.",
            kind="wrong_method",
        )
    if not ticks.between(min(run["started"] for run in runs), max(run["ended"] for run in runs)):
        fail(
            "The work ran in worker processes, but the event loop stood still until all of it "
            "was done: pool.map or future.result() waits on the loop's thread. Await "
            "loop.run_in_executor(pool, work, n) instead.",
            kind="blocked",
        )
    spans = [(run["n"], run["started"], run["ended"]) for run in runs]
    if max_overlap(spans) < 2:
        fail(
            "The calls ran in other processes, but one after another: start them all before "
            "awaiting any, in a pool of two or more workers."
        )
