"""The lesson 04 check judges overlap from recorded spans and names each wrong answer."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson04 as checks


def run(answer):
    asyncio.run(checks.lookup_all(answer))


def failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        run(answer)
    return caught.value


async def with_sync_to_async(lookup, keys):
    call = sync_to_async(lookup, thread_sensitive=False)
    return await asyncio.gather(*(call(key) for key in keys))


async def with_to_thread(lookup, keys):
    return list(await asyncio.gather(*(asyncio.to_thread(lookup, key) for key in keys)))


@pytest.mark.parametrize("answer", [with_sync_to_async, with_to_thread])
def test_overlapping_answers_pass(answer, capsys):
    run(answer)
    assert "✓" in capsys.readouterr().out


def test_untouched_exercise_fails_with_not_started():
    async def lookup_all(lookup, keys):
        raise NotImplementedError

    assert failure(lookup_all).kind == "not_started"


def test_calling_the_blocking_function_directly_blocks_the_loop():
    async def lookup_all(lookup, keys):
        return [lookup(key) for key in keys]

    assert failure(lookup_all).kind == "blocked"


def test_direct_calls_between_awaits_fail_as_running_on_the_loop():
    async def lookup_all(lookup, keys):
        values = []
        for key in keys:
            values.append(lookup(key))
            await asyncio.sleep(0)  # lets the loop breathe between the 0.2 s stalls
        return values

    # Caught by the blocked-loop detector or, if every stall stayed under its threshold, by
    # the thread the spans were recorded in: either way the learner hears "on the loop".
    error = failure(lookup_all)
    assert error.kind == "blocked" or "event loop's own thread" in error.hint


def test_the_thread_sensitive_default_is_named():
    async def lookup_all(lookup, keys):
        call = sync_to_async(lookup)
        return await asyncio.gather(*(call(key) for key in keys))

    error = failure(lookup_all)
    assert error.kind == "wrong"
    assert "thread_sensitive=True" in error.hint


def test_awaiting_one_call_at_a_time_is_named():
    async def lookup_all(lookup, keys):
        call = sync_to_async(lookup, thread_sensitive=False)
        return [await call(key) for key in keys]

    assert "each was awaited before the next" in failure(lookup_all).hint


def test_a_limit_of_two_at_a_time_is_named():
    async def lookup_all(lookup, keys):
        gate = asyncio.Semaphore(2)
        call = sync_to_async(lookup, thread_sensitive=False)

        async def one(key):
            async with gate:
                return await call(key)

        return await asyncio.gather(*(one(key) for key in keys))

    assert "At most 2 of the 5" in failure(lookup_all).hint


def test_values_in_completion_order_are_out_of_order():
    async def lookup_all(lookup, keys):
        call = sync_to_async(lookup, thread_sensitive=False)
        return list(reversed(await asyncio.gather(*(call(key) for key in keys))))

    assert "out of order" in failure(lookup_all).hint


def test_returning_the_coroutines_is_a_forgotten_await():
    async def lookup_all(lookup, keys):
        call = sync_to_async(lookup, thread_sensitive=False)
        return [call(key) for key in keys]

    assert failure(lookup_all).kind == "missing_await"


def test_a_plain_def_is_not_async():
    def lookup_all(lookup, keys):
        return [lookup(key) for key in keys]

    assert failure(lookup_all).kind == "not_async"
