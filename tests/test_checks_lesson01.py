"""The lesson 01 check passes concurrent answers with a deadline and names each wrong one."""

import asyncio
import time

import pytest

from tutorial.checks import ExerciseFailed
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
    assert error.kind == "wrong"
    assert "in the order the jobs finished" in error.hint


def test_a_wrong_value_is_shown_with_the_expected_one():
    async def run_all_within(jobs, seconds):
        async with asyncio.timeout(seconds):
            await asyncio.gather(*(job() for job in jobs))
        return len(jobs)

    error = failure(run_all_within)
    assert error.kind == "wrong"
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
