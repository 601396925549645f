"""The lesson 03 checks pass offloaded answers, judge where the work ran, and name each wrong one."""

import asyncio
import concurrent.futures
import contextvars
import functools
import multiprocessing

import pytest
from asgiref.sync import sync_to_async

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson03 as checks
from tutorial.checks.core import REGISTRY
from tutorial.cpu import expected_sum_of_squares, sum_of_squares

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(scope="module")
def pool():
    """One spawned pool of two workers for the answers that need some process pool, not their
    own: a spawned worker costs ~0.1 s of CPU to start. test_a_process_pool_passes starts its
    own, cold, as a learner's answer does."""
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=SPAWN) as shared:
        yield shared


@pytest.fixture
def small_work(monkeypatch):
    """Less work per call, for verdicts that do not depend on how long it takes (a wrong
    argument, the wrong function, the wrong process, one call after another, a loop held for
    all of the work): the same path through the check for a fraction of the CPU. The verdicts
    that do (a blocked loop caught by its length, answers that pass) keep the check's sizes."""
    monkeypatch.setattr(checks, "WORK_SECONDS", 0.05)
    monkeypatch.setattr(checks, "PROCESS_WORK_SECONDS", 0.05)


def failure(check, answer):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(check(answer))
    return caught.value


def passes(check, answer, capsys):
    asyncio.run(check(answer))
    return "✓" in capsys.readouterr().out


def test_every_exercise_has_hint_steps():
    for name in ["offloaded_sum_of_squares", "in_context", "in_processes"]:
        assert len(REGISTRY[f"03_{name}"].hints) >= 2


# offloaded_sum_of_squares(work, n)


async def with_to_thread(work, n):
    return await asyncio.to_thread(work, n)


async def with_sync_to_async(work, n):
    return await sync_to_async(work, thread_sensitive=False)(n)


@pytest.mark.parametrize("answer", [with_to_thread, with_sync_to_async])
def test_offloaded_answers_pass(answer, capsys):
    assert passes(checks.offloaded_sum_of_squares, answer, capsys)


def test_offloading_to_a_process_pool_passes(pool, capsys):
    async def with_a_process_pool(work, n):
        return await asyncio.get_running_loop().run_in_executor(pool, work, n)

    assert passes(checks.offloaded_sum_of_squares, with_a_process_pool, capsys)


def test_untouched_exercise_fails_with_not_started():
    async def offloaded(work, n):
        raise NotImplementedError

    assert failure(checks.offloaded_sum_of_squares, offloaded).kind == "not_started"


def test_calling_it_on_the_loop_is_blocking():
    async def offloaded(work, n):
        return work(n)

    error = failure(checks.offloaded_sum_of_squares, offloaded)
    assert error.kind == "blocked" and "blocked the event loop" in error.hint


def test_a_forgotten_await_on_to_thread_is_named():
    async def offloaded(work, n):
        return asyncio.to_thread(work, n)

    assert failure(checks.offloaded_sum_of_squares, offloaded).kind == "missing_await"


def test_a_forgotten_await_on_run_in_executor_is_named():
    async def offloaded(work, n):
        return asyncio.get_running_loop().run_in_executor(None, work, 10)

    error = failure(checks.offloaded_sum_of_squares, offloaded)
    assert error.kind == "missing_await" and "Future" in error.hint


def test_a_wrong_argument_is_named(small_work):
    async def offloaded(work, n):
        return await asyncio.to_thread(work, n - 1)

    error = failure(checks.offloaded_sum_of_squares, offloaded)
    assert error.kind == "wrong" and "call it with n" in error.hint


def test_a_plain_def_is_not_async():
    def offloaded(work, n):
        return work(n)

    assert failure(checks.offloaded_sum_of_squares, offloaded).kind == "not_async"


@pytest.mark.filterwarnings("ignore:coroutine 'to_thread' was never awaited")
def test_asyncio_run_inside_the_loop_is_an_exception():
    async def offloaded(work, n):
        return asyncio.run(asyncio.to_thread(work, n))

    error = failure(checks.offloaded_sum_of_squares, offloaded)
    assert error.kind == "exception" and "RuntimeError" in error.hint


def test_shortcut_the_closed_formula_is_rejected():
    async def offloaded(work, n):
        return expected_sum_of_squares(n)  # the right number, no work moved anywhere

    error = failure(checks.offloaded_sum_of_squares, offloaded)
    assert error.kind == "wrong_method" and "work() never ran" in error.hint


def test_shortcut_the_untraced_function_in_a_thread_is_rejected(small_work):
    async def offloaded(work, n):
        return await asyncio.to_thread(sum_of_squares, n)  # right value, right place, not work

    assert failure(checks.offloaded_sum_of_squares, offloaded).kind == "wrong_method"


# in_context(executor, fn)


async def context_copied(executor, fn):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, contextvars.copy_context().run, fn)


async def context_copied_with_partial(executor, fn):
    run = functools.partial(contextvars.copy_context().run, fn)
    return await asyncio.get_running_loop().run_in_executor(executor, run)


@pytest.mark.parametrize("answer", [context_copied, context_copied_with_partial])
def test_copying_the_context_passes(answer, capsys):
    assert passes(checks.in_context, answer, capsys)


def test_in_context_untouched_is_not_started():
    async def in_context(executor, fn):
        raise NotImplementedError

    assert failure(checks.in_context, in_context).kind == "not_started"


def test_in_context_plain_def_is_named():
    def in_context(executor, fn):
        return executor.submit(fn).result()

    assert failure(checks.in_context, in_context).kind == "not_async"


def test_in_context_forgotten_await_is_named():
    async def in_context(executor, fn):
        return asyncio.get_running_loop().run_in_executor(executor, fn)

    assert failure(checks.in_context, in_context).kind == "missing_await"


def test_plain_run_in_executor_loses_the_context():
    async def in_context(executor, fn):
        return await asyncio.get_running_loop().run_in_executor(executor, fn)

    error = failure(checks.in_context, in_context)
    assert error.kind == "wrong" and "does not carry context variables" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_setting_the_values_in_the_pool_thread_leaks_them():
    # It sees the caller's values — by setting them in the thread's own context, where they
    # (and whatever fn sets) stay for the thread's next job.
    async def in_context(executor, fn):
        values = list(contextvars.copy_context().items())

        def run():
            for variable, value in values:
                variable.set(value)
            return fn()

        return await asyncio.get_running_loop().run_in_executor(executor, run)

    error = failure(checks.in_context, in_context)
    assert error.kind == "wrong" and "The pool thread kept" in error.hint


def test_waiting_for_the_future_on_the_loop_is_blocking():
    # The right thread, the right context — but .result() holds the loop while fn runs.
    async def in_context(executor, fn):
        return executor.submit(contextvars.copy_context().run, fn).result()

    error = failure(checks.in_context, in_context)
    assert error.kind == "blocked" and "`.result()`" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_awaiting_the_submitted_future_passes(capsys):
    async def in_context(executor, fn):
        future = executor.submit(contextvars.copy_context().run, fn)
        return await asyncio.wrap_future(future)

    assert passes(checks.in_context, in_context, capsys)


def test_shortcut_to_thread_is_another_pool():
    async def in_context(executor, fn):
        return await asyncio.to_thread(fn)  # copies the context, but in the default pool

    error = failure(checks.in_context, in_context)
    assert error.kind == "wrong_method" and "not in the executor you were given" in error.hint


# in_processes(work, numbers)


async def in_a_spawned_pool(work, numbers):
    loop = asyncio.get_running_loop()
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        return await asyncio.gather(*(loop.run_in_executor(pool, work, n) for n in numbers))


def test_a_process_pool_passes(capsys):
    assert passes(checks.in_processes, in_a_spawned_pool, capsys)


def test_in_processes_untouched_is_not_started():
    async def in_processes(work, numbers):
        raise NotImplementedError

    assert failure(checks.in_processes, in_processes).kind == "not_started"


def test_in_processes_plain_def_is_named():
    def in_processes(work, numbers):
        return [work(n) for n in numbers]

    assert failure(checks.in_processes, in_processes).kind == "not_async"


def test_a_lambda_cannot_reach_the_workers(pool):
    async def in_processes(work, numbers):
        loop = asyncio.get_running_loop()
        calls = (loop.run_in_executor(pool, lambda n=n: work(n)) for n in numbers)
        return await asyncio.gather(*calls)

    error = failure(checks.in_processes, in_processes)
    assert error.kind == "not_importable" and "sends it by name" in error.hint


def test_one_process_after_another_is_named(pool, small_work):
    async def in_processes(work, numbers):
        loop = asyncio.get_running_loop()
        return [await loop.run_in_executor(pool, work, n) for n in numbers]

    error = failure(checks.in_processes, in_processes)
    assert error.kind == "wrong" and "one after another" in error.hint


def test_pool_map_on_the_loop_is_blocking(pool, small_work):
    # Worker processes, both at once — while the loop waits for pool.map, frozen.
    async def in_processes(work, numbers):
        return list(pool.map(work, numbers))

    error = failure(checks.in_processes, in_processes)
    assert error.kind == "blocked" and "stood still" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_pool_map_in_a_thread_passes(pool, capsys):
    async def in_processes(work, numbers):
        return await asyncio.to_thread(lambda: list(pool.map(work, numbers)))

    assert passes(checks.in_processes, in_processes, capsys)


def test_shortcut_threads_instead_of_processes_is_rejected(small_work):
    async def in_processes(work, numbers):
        return await asyncio.gather(*(asyncio.to_thread(work, n) for n in numbers))

    error = failure(checks.in_processes, in_processes)
    assert error.kind == "wrong_method" and "ran in this process" in error.hint


def test_shortcut_the_formula_instead_of_the_pool_is_rejected():
    async def in_processes(work, numbers):
        return [expected_sum_of_squares(n) for n in numbers]

    assert failure(checks.in_processes, in_processes).kind == "wrong_method"


def test_shortcut_the_formula_for_some_numbers_is_rejected(pool, small_work):
    # Two real calls in two processes at once, the third number from the closed formula.
    async def in_processes(work, numbers):
        loop = asyncio.get_running_loop()
        ran = await asyncio.gather(*(loop.run_in_executor(pool, work, n) for n in numbers[:2]))
        return [*ran, expected_sum_of_squares(numbers[2])]

    error = failure(checks.in_processes, in_processes)
    assert error.kind == "wrong_method" and "for 2 of the 3 numbers" in error.hint


def test_work_on_the_loop_is_named_as_this_process(small_work):
    async def in_processes(work, numbers):
        return [work(n) for n in numbers]

    error = failure(checks.in_processes, in_processes)
    assert error.kind == "wrong_method" and "ran in this process" in error.hint
