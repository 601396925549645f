"""Run an async check in a thread of its own, as a notebook runs it: on a loop no test code is under.

The checks' loop watch blames a stall on the innermost frame of the loop's thread that is not a
library's. Called as `asyncio.run(check(...))` from a test, the test's own frame sits under the
loop, so a stall of the whole machine (the loop waiting in select while the process gets no CPU)
would be blamed on the answer under test. In a notebook nothing of the learner's sits under the
loop while it waits; a thread started here reproduces that.
"""

import asyncio
import threading

import pytest

from tutorial.checks import ExerciseFailed


def run(check, *args):
    """Run `check(*args)` to the end on a fresh event loop in another thread; re-raise its error."""
    outcome = {}

    def target():
        try:
            asyncio.run(check(*args))
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="check-loop")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]


def failure(check, *args):
    """The ExerciseFailed that `check(*args)` raises (the test fails if it passes)."""
    with pytest.raises(ExerciseFailed) as caught:
        run(check, *args)
    return caught.value
