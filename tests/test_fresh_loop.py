"""run_in_fresh_loop: a coroutine run to completion from any thread, even under a running loop."""

import asyncio
import threading

import pytest

from tutorial.fresh_loop import run_in_fresh_loop


async def where(value):
    await asyncio.sleep(0)
    return value, threading.current_thread().name


async def fails():
    raise KeyError("from the fresh loop")


def test_returns_the_result_from_another_thread():
    assert run_in_fresh_loop(where, 42, name="probe") == (42, "probe")


def test_reraises_the_coroutines_exception_in_the_caller():
    with pytest.raises(KeyError, match="from the fresh loop"):
        run_in_fresh_loop(fails)


def test_works_where_a_loop_is_already_running():
    async def inside_a_running_loop():
        refused = where(1)
        with pytest.raises(RuntimeError):
            asyncio.run(refused)  # what a notebook cell would hit
        refused.close()
        return run_in_fresh_loop(where, 1)[0]

    assert asyncio.run(inside_a_running_loop()) == 1
