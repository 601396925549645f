"""The lesson 10 check passes a fire_and_forget that keeps (then drops) its tasks, and names each wrong one."""

import asyncio

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson10 as checks

kept = set()


def keeps_a_reference(coro):
    task = asyncio.create_task(coro)
    kept.add(task)
    task.add_done_callback(kept.discard)
    return task


def keeps_nothing(coro):
    return asyncio.create_task(coro)


hoard = []


def keeps_them_forever(coro):
    task = asyncio.create_task(coro)
    hoard.append(task)
    return task


def returns_nothing(coro):
    kept.add(task := asyncio.create_task(coro))
    task.add_done_callback(kept.discard)


async def is_async(coro):
    return keeps_a_reference(coro)


def untouched(coro):
    raise NotImplementedError


def failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(checks.fire_and_forget(answer))
    return caught.value


def test_keeping_and_releasing_a_reference_passes(capsys):
    asyncio.run(checks.fire_and_forget(keeps_a_reference))
    assert "✓" in capsys.readouterr().out
    assert not kept  # and the task let itself go


def test_untouched_exercise_fails_as_not_started():
    assert failure(untouched).kind == "not_started"


def test_async_def_is_named():
    assert failure(is_async).kind == "not_sync"


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (keeps_nothing, "garbage-collected"),
        (keeps_them_forever, "still referenced"),
        (returns_nothing, "Return the task"),
    ],
)
def test_wrong_answers_fail_with_a_hint(answer, phrase):
    error = failure(answer)
    assert error.kind == "wrong"
    assert phrase in error.hint
