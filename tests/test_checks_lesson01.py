"""The lesson 01 check passes concurrent answers with a deadline and names each wrong one."""

import asyncio
import time

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import core as checks_core
from tutorial.checks import lesson01 as checks


def run(answer):
    asyncio.run(checks.run_all_within(answer))


def failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        run(answer)
    return caught.value


async def with_a_task_group(jobs, seconds):
    async with asyncio.timeout(seconds), asyncio.TaskGroup() as group:
        tasks = [group.create_task(job()) for job in jobs]
    return [task.result() for task in tasks]


async def with_gather_and_wait_for(jobs, seconds):
    return await asyncio.wait_for(asyncio.gather(*(job() for job in jobs)), seconds)


@pytest.mark.parametrize("answer", [with_a_task_group, with_gather_and_wait_for])
def test_concurrent_answers_with_a_deadline_pass(answer, capsys):
    run(answer)
    assert "✓ [01_run_all_within]" in capsys.readouterr().out


def test_untouched_exercise_fails_with_not_started():
    async def run_all_within(jobs, seconds):
        raise NotImplementedError

    assert failure(run_all_within).kind == "not_started"


def test_a_plain_def_is_named():
    def run_all_within(jobs, seconds):
        return []

    assert failure(run_all_within).kind == "not_async"


def test_awaiting_one_job_after_another_is_not_concurrent():
    async def run_all_within(jobs, seconds):
        async with asyncio.timeout(seconds):
            return [await job() for job in jobs]

    error = failure(run_all_within)
    assert error.kind == "wrong"
    assert "at most 1 of the 3 jobs ran at the same time" in error.hint


def test_results_in_finishing_order_are_named():
    async def run_all_within(jobs, seconds):
        async with asyncio.timeout(seconds):
            return [await done for done in asyncio.as_completed([job() for job in jobs])]

    error = failure(run_all_within)
    assert error.kind == "order"
    assert "in the order the jobs finished" in error.hint
    assert "Hint" not in error.hint  # the concurrency steps do not fit an order slip


def test_a_wrong_value_is_shown_with_the_expected_one():
    async def run_all_within(jobs, seconds):
        async with asyncio.timeout(seconds):
            await asyncio.gather(*(job() for job in jobs))
        return len(jobs)

    error = failure(run_all_within)
    assert error.kind == "format"
    assert "Return a list" in error.hint


def test_a_forgotten_await_is_named():
    async def run_all_within(jobs, seconds):
        return [job() for job in jobs]

    assert failure(run_all_within).kind == "missing_await"


def test_blocking_the_loop_is_named():
    async def run_all_within(jobs, seconds):
        tasks = [asyncio.create_task(job()) for job in jobs]
        time.sleep(0.4)  # "wait for them" without awaiting: nothing else can run
        return [await task for task in tasks]

    assert failure(run_all_within).kind == "blocked"


def test_no_deadline_at_all_is_named():
    async def run_all_within(jobs, seconds):
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(job()) for job in jobs]
        return [task.result() for task in tasks]

    error = failure(run_all_within)
    assert error.kind == "wrong"
    assert "the deadline must cover all the jobs" in error.hint


def test_swallowing_the_timeout_is_named():
    async def run_all_within(jobs, seconds):
        try:
            return await with_a_task_group(jobs, seconds)
        except TimeoutError:
            return []

    error = failure(run_all_within)
    assert error.kind == "wrong"
    assert "instead of raising TimeoutError" in error.hint


def test_another_exception_at_the_deadline_is_named():
    async def run_all_within(jobs, seconds):
        try:
            return await with_a_task_group(jobs, seconds)
        except TimeoutError:
            raise ValueError("too slow") from None

    error = failure(run_all_within)
    assert error.kind == "wrong"
    assert "raised ValueError: too slow" in error.hint


def test_leaving_jobs_running_after_the_deadline_is_named():
    async def run_all_within(jobs, seconds):
        tasks = [asyncio.create_task(job()) for job in jobs]
        _, pending = await asyncio.wait(tasks, timeout=seconds)
        if pending:
            raise TimeoutError  # ... but the pending tasks run on
        return [task.result() for task in tasks]

    error = failure(run_all_within)
    assert error.kind == "wrong"
    assert "left ['stuck', 'stuck too'] running" in error.hint


def test_cancelling_without_waiting_for_the_jobs_to_stop_is_named():
    async def run_all_within(jobs, seconds):
        tasks = [asyncio.create_task(job()) for job in jobs]
        _, pending = await asyncio.wait(tasks, timeout=seconds)
        if pending:
            for task in pending:
                task.cancel()  # asks them to stop ...
            raise TimeoutError  # ... and returns before they have
        return [task.result() for task in tasks]

    error = failure(run_all_within)
    assert error.kind == "wrong"
    assert "were still stopping" in error.hint and "cancel() only asks" in error.hint
    assert len(error.hint.splitlines()) <= 5


async def with_wait_cancel_and_gather(jobs, seconds):
    tasks = [asyncio.create_task(job()) for job in jobs]
    _, pending = await asyncio.wait(tasks, timeout=seconds)
    if pending:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)  # until they have stopped
        raise TimeoutError
    return [task.result() for task in tasks]


def test_cancelling_and_waiting_for_the_jobs_passes(capsys):
    run(with_wait_cancel_and_gather)
    assert "✓ [01_run_all_within]" in capsys.readouterr().out


def test_shortcut_jobs_on_loops_of_their_own_are_rejected():
    # Right values, all at once — but each job on a fresh loop in a thread, out of reach of a
    # deadline on this loop.
    async def run_all_within(jobs, seconds):
        return list(await asyncio.gather(*(asyncio.to_thread(asyncio.run, job()) for job in jobs)))

    error = failure(run_all_within)
    assert error.kind == "wrong_method" and "other threads" in error.hint


def test_the_results_change_from_run_to_run():
    seen = []

    async def run_all_within(jobs, seconds):
        results = await with_a_task_group(jobs, seconds)
        seen.append(tuple(results))
        return results

    run(run_all_within)
    run(run_all_within)
    assert seen[0] != seen[1]


def test_run_all_within_hints_come_in_steps():
    async def run_all_within(jobs, seconds):
        async with asyncio.timeout(seconds):
            return [await job() for job in jobs]

    checks_core._failures.pop("01_run_all_within", None)
    hints = [failure(run_all_within).hint for _ in range(3)]
    steps = checks_core.REGISTRY["01_run_all_within"].hints
    assert steps[0] in hints[0] and steps[1] in hints[1] and "solutions/01" in hints[2]


# --- collect_failures ---------------------------------------------------------------------


def run_collect(answer):
    asyncio.run(checks.collect_failures(answer))


def collect_failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        run_collect(answer)
    return caught.value


async def collect_with_except_star(jobs):
    messages = []
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job())
    except* ValueError as failures:
        messages = [str(error) for error in failures.exceptions]
    return messages


async def collect_with_wait_first_exception(jobs):
    tasks = [asyncio.create_task(job()) for job in jobs]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    errors = [t.exception() for t in tasks if not t.cancelled() and t.exception()]
    others = [e for e in errors if not isinstance(e, ValueError)]
    if others:
        raise ExceptionGroup("other failures", others)
    return [str(e) for e in errors]


@pytest.mark.parametrize("answer", [collect_with_except_star, collect_with_wait_first_exception])
def test_collecting_every_failure_passes(answer, capsys):
    run_collect(answer)
    assert "✓ [01_collect_failures]" in capsys.readouterr().out


def test_collect_untouched_is_not_started():
    async def collect_failures(jobs):
        raise NotImplementedError

    assert collect_failure(collect_failures).kind == "not_started"


def test_collect_plain_def_is_named():
    def collect_failures(jobs):
        return []

    assert collect_failure(collect_failures).kind == "not_async"


def test_collect_forgotten_await_is_named():
    async def collect_failures(jobs):
        return asyncio.gather(*(job() for job in jobs), return_exceptions=True)

    assert collect_failure(collect_failures).kind == "missing_await"


def test_collect_letting_the_group_error_escape_is_an_exception():
    async def collect_failures(jobs):
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job())
        return []

    error = collect_failure(collect_failures)
    assert error.kind == "exception" and "ExceptionGroup" in error.hint


def test_gather_keeps_one_error_and_is_named():
    async def collect_failures(jobs):
        try:
            await asyncio.gather(*(job() for job in jobs))
        except ValueError as error:
            return [str(error)]
        return []

    error = collect_failure(collect_failures)
    assert error.kind == "wrong_method" and "gather keeps the first error" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_shortcut_gather_return_exceptions_is_rejected():
    # Every message, right — but the slow job is left to run to its end.
    async def collect_failures(jobs):
        outcomes = await asyncio.gather(*(job() for job in jobs), return_exceptions=True)
        others = [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, ValueError)]
        if others:
            raise others[0]
        return [str(o) for o in outcomes if isinstance(o, ValueError)]

    error = collect_failure(collect_failures)
    assert error.kind == "wrong_method" and "cancels the rest" in error.hint


def test_catching_every_exception_is_named():
    async def collect_failures(jobs):
        messages = []
        try:
            async with asyncio.TaskGroup() as group:
                for job in jobs:
                    group.create_task(job())
        except* Exception as failures:
            messages = [str(error) for error in failures.exceptions]
        return messages

    error = collect_failure(collect_failures)
    assert error.kind == "wrong" and "only ValueError is yours to handle" in error.hint


# --- guarded ------------------------------------------------------------------------------


def run_guarded(answer):
    asyncio.run(checks.guarded(answer))


def guarded_failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        run_guarded(answer)
    return caught.value


async def guarded_with_finally(work, release):
    try:
        return await work()
    finally:
        await release()


async def guarded_with_except_and_raise(work, release):
    try:
        result = await work()
    except BaseException:
        await release()
        raise
    await release()
    return result


@pytest.mark.parametrize("answer", [guarded_with_finally, guarded_with_except_and_raise])
def test_guarded_answers_pass(answer, capsys):
    run_guarded(answer)
    assert "✓ [01_guarded]" in capsys.readouterr().out


def test_guarded_untouched_is_not_started():
    async def guarded(work, release):
        raise NotImplementedError

    assert guarded_failure(guarded).kind == "not_started"


def test_guarded_plain_def_is_named():
    def guarded(work, release):
        return None

    assert guarded_failure(guarded).kind == "not_async"


def test_swallowing_the_cancellation_is_named():
    async def guarded(work, release):
        try:
            return await work()
        except asyncio.CancelledError:
            return None  # THE MISTAKE
        finally:
            await release()

    error = guarded_failure(guarded)
    assert error.kind == "swallowed" and "the cancellation was swallowed" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_suppressing_cancelled_error_is_named():
    import contextlib

    async def guarded(work, release):
        try:
            with contextlib.suppress(asyncio.CancelledError):
                return await work()
        finally:
            await release()

    assert guarded_failure(guarded).kind == "swallowed"


def test_except_exception_misses_the_cancellation():
    async def guarded(work, release):
        try:
            result = await work()
        except Exception:
            await release()
            raise
        await release()
        return result

    error = guarded_failure(guarded)
    assert error.kind == "wrong" and "CancelledError is not an Exception" in error.hint


@pytest.mark.filterwarnings("ignore:coroutine '_Resource.release' was never awaited")
def test_a_forgotten_await_on_release_is_named():
    async def guarded(work, release):
        try:
            return await work()
        finally:
            release()  # a coroutine, never run

    error = guarded_failure(guarded)
    assert "release() never ran (called without `await`?)" in error.hint


def test_releasing_twice_is_named():
    async def guarded(work, release):
        try:
            return await work()
        except BaseException:
            await release()
            raise
        finally:
            await release()

    assert "ran 2 times" in guarded_failure(guarded).hint


def test_shortcut_shielding_the_work_is_rejected():
    # Release always runs — but shielded work cannot be cancelled: the caller's cancellation
    # is turned into a wait.
    async def guarded(work, release):
        try:
            return await asyncio.shield(asyncio.ensure_future(work()))
        except asyncio.CancelledError:
            return None
        finally:
            await release()

    assert guarded_failure(guarded).kind == "swallowed"
