"""Checks for exercises/03_executors.ipynb."""

from ..cpu import expected_sum_of_squares, rounds_for
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

# Long enough that running it on the loop trips the blocked-loop detector (0.25 s) by far.
WORK_SECONDS = 0.6


@exercise(
    "03",
    "offloaded_sum_of_squares",
    hint="Hand the call to a worker and await the result: asyncio.to_thread, "
    "loop.run_in_executor (a thread or a process pool), or sync_to_async.",
)
async def offloaded_sum_of_squares(offloaded_sum_of_squares):
    """Check that offloaded_sum_of_squares(n) returns sum_of_squares(n) while the event loop keeps running."""
    n = rounds_for(WORK_SECONDS)
    result = await call_async(offloaded_sum_of_squares, n)
    expected = expected_sum_of_squares(n)
    if result != expected:
        fail(
            f"offloaded_sum_of_squares({n}) returned {result!r:.60}, "
            f"but sum_of_squares({n}) is {expected}: call it with n, and return what it returns."
        )
