"""Checks for exercises/10_background_work.ipynb."""

import asyncio
import gc
import weakref

from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import _explain_exception as explain_exception
from .learner import require_sync


async def _waits_for(future, done):
    await future
    done.append(True)


def _lost(context):
    return "destroyed but it is pending" in context.get("message", "")


@exercise(
    "10",
    "fire_and_forget",
    hint="Lesson 10 shows a task garbage-collected mid-flight: who holds on to a task "
    "while it runs, and who lets go of it once it is done?",
)
async def fire_and_forget(fire_and_forget):
    """Check that fire_and_forget(coro) starts a task that survives garbage collection and is let go once done."""
    loop = asyncio.get_running_loop()
    destroyed = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(
        lambda _, context: destroyed.append(context) if _lost(context) else None
    )
    try:
        done = []
        future = loop.create_future()
        # Only the task will hold the future: if nothing holds the task, gc takes both.
        future_ref = weakref.ref(future)
        coroutine = _waits_for(future, done)
        del future
        # Not call_sync: it rejects a returned Task as a forgotten await, and here one is right.
        try:
            require_sync(fire_and_forget)
            task = fire_and_forget(coroutine)
        except BaseException as error:
            coroutine.close()  # never started: no "coroutine was never awaited" warning
            if isinstance(error, ExerciseFailed):
                raise
            explain_exception(fire_and_forget, error)
        del coroutine  # from here on, only the learner's code may keep the task alive
        if not isinstance(task, asyncio.Task):
            fail(
                f"Return the task you started, got {type(task).__name__}: asyncio.create_task(coro)."
            )
        task_ref = weakref.ref(task)
        del task
        await asyncio.sleep(0)  # let it start and wait on the future
        gc.collect()
        future = future_ref()
        if future is None or destroyed:
            fail(
                "Your task was garbage-collected while it waited (asyncio logged 'Task was "
                "destroyed but it is pending!'): nothing kept a reference to it.",
            )
        future.set_result(None)
        del future
        for _ in range(5):
            await asyncio.sleep(0)
        if not done:
            fail("The task never finished its coroutine.")
        gc.collect()
        if task_ref() is not None:
            fail(
                "The task finished but is still referenced: a set that only grows leaks every "
                "task. Remove it when it is done.",
            )
    finally:
        loop.set_exception_handler(previous_handler)
