"""The lesson 03 check passes offloaded answers and names each wrong one."""

import asyncio
import concurrent.futures
import multiprocessing

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson03 as checks
from tutorial.cpu import sum_of_squares


def run(answer):
    asyncio.run(checks.offloaded_sum_of_squares(answer))


def failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        run(answer)
    return caught.value


async def with_to_thread(n):
    return await asyncio.to_thread(sum_of_squares, n)


async def with_a_process_pool(n):
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, sum_of_squares, n)


@pytest.mark.parametrize("answer", [with_to_thread, with_a_process_pool])
def test_offloaded_answers_pass(answer, capsys):
    run(answer)
    assert "✓" in capsys.readouterr().out


def test_untouched_exercise_fails_with_not_started():
    async def offloaded(n):
        raise NotImplementedError

    assert failure(offloaded).kind == "not_started"


def test_calling_it_on_the_loop_is_blocking():
    async def offloaded(n):
        return sum_of_squares(n)

    error = failure(offloaded)
    assert error.kind == "blocked"
    assert "blocked the event loop" in error.hint


def test_a_forgotten_await_on_to_thread_is_named():
    async def offloaded(n):
        return asyncio.to_thread(sum_of_squares, n)

    assert failure(offloaded).kind == "missing_await"


def test_a_forgotten_await_on_run_in_executor_is_named():
    async def offloaded(n):
        return asyncio.get_running_loop().run_in_executor(None, sum_of_squares, 10)

    error = failure(offloaded)
    assert error.kind == "missing_await"
    assert "Future" in error.hint


def test_a_wrong_value_is_shown_with_the_expected_one():
    async def offloaded(n):
        return await asyncio.to_thread(sum_of_squares, n - 1)

    error = failure(offloaded)
    assert error.kind == "wrong"
    assert "call it with n" in error.hint


def test_a_plain_def_is_not_async():
    def offloaded(n):
        return sum_of_squares(n)

    assert failure(offloaded).kind == "not_async"


@pytest.mark.filterwarnings("ignore:coroutine 'to_thread' was never awaited")
def test_asyncio_run_inside_the_loop_is_an_exception():
    async def offloaded(n):
        return asyncio.run(asyncio.to_thread(sum_of_squares, n))

    error = failure(offloaded)
    assert error.kind == "exception"
    assert "RuntimeError" in error.hint
