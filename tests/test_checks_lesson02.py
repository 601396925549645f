"""The lesson 02 checks pass answers that keep the loop free and name each wrong one."""

import asyncio

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson02 as checks


def failure(check, answer):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(check(answer))
    return caught.value


# crunch_all: CPU work that must not hold the loop.


async def yielding_between_items(work, items):
    results = []
    for item in items:
        results.append(work(item))
        await asyncio.sleep(0)
    return results


async def each_item_in_a_thread(work, items):
    return [await asyncio.to_thread(work, item) for item in items]


async def all_items_in_one_thread(work, items):
    return await asyncio.to_thread(lambda: [work(item) for item in items])


@pytest.mark.parametrize(
    "answer", [yielding_between_items, each_item_in_a_thread, all_items_in_one_thread]
)
def test_crunching_without_holding_the_loop_passes(answer, capsys):
    asyncio.run(checks.crunch_all(answer))
    assert "✓ [02_crunch_all]" in capsys.readouterr().out


def test_untouched_crunch_all_fails_with_not_started():
    async def crunch_all(work, items):
        raise NotImplementedError

    assert failure(checks.crunch_all, crunch_all).kind == "not_started"


def test_crunching_everything_in_one_go_is_blocking():
    async def crunch_all(work, items):
        return [work(item) for item in items]

    error = failure(checks.crunch_all, crunch_all)
    assert error.kind == "blocked"
    assert "blocked the event loop" in error.hint


def test_sleep_0_without_await_still_blocks():
    async def crunch_all(work, items):
        results = []
        for item in items:
            results.append(work(item))
            asyncio.sleep(0).close()  # what `asyncio.sleep(0)` without await does: nothing
        return results

    assert failure(checks.crunch_all, crunch_all).kind == "blocked"


def test_crunch_results_in_the_wrong_order_are_named():
    async def crunch_all(work, items):
        return list(reversed(await yielding_between_items(work, items)))

    error = failure(checks.crunch_all, crunch_all)
    assert error.kind == "wrong"
    assert "in the order given" in error.hint


def test_skipping_the_work_is_named():
    async def crunch_all(work, items):
        return [item * item for item in items]  # right numbers, but work() never ran

    error = failure(checks.crunch_all, crunch_all)
    assert error.kind == "wrong"
    assert "Call work once per item" in error.hint


def test_a_plain_def_crunch_all_is_named():
    def crunch_all(work, items):
        return [work(item) for item in items]

    assert failure(checks.crunch_all, crunch_all).kind == "not_async"


# lookup_all: a blocking call, offloaded to threads, all at once.


async def lookups_in_threads_at_once(lookup, keys):
    return await asyncio.gather(*(asyncio.to_thread(lookup, key) for key in keys))


async def lookups_in_the_default_executor(lookup, keys):
    loop = asyncio.get_running_loop()
    return await asyncio.gather(*(loop.run_in_executor(None, lookup, key) for key in keys))


@pytest.mark.parametrize("answer", [lookups_in_threads_at_once, lookups_in_the_default_executor])
def test_lookups_in_threads_at_once_pass(answer, capsys):
    asyncio.run(checks.lookup_all(answer))
    assert "✓ [02_lookup_all]" in capsys.readouterr().out


def test_untouched_lookup_all_fails_with_not_started():
    async def lookup_all(lookup, keys):
        raise NotImplementedError

    assert failure(checks.lookup_all, lookup_all).kind == "not_started"


def test_calling_the_blocking_lookup_on_the_loop_is_blocking():
    async def lookup_all(lookup, keys):
        return [lookup(key) for key in keys]

    assert failure(checks.lookup_all, lookup_all).kind == "blocked"


def test_one_thread_after_another_is_not_concurrent():
    async def lookup_all(lookup, keys):
        return [await asyncio.to_thread(lookup, key) for key in keys]

    error = failure(checks.lookup_all, lookup_all)
    assert error.kind == "wrong"
    assert "at most 1 of the 3 lookups ran at the same time" in error.hint


def test_a_forgotten_await_on_gather_is_named():
    async def lookup_all(lookup, keys):
        return asyncio.gather(*(asyncio.to_thread(lookup, key) for key in keys))

    assert failure(checks.lookup_all, lookup_all).kind == "missing_await"


def test_a_wrong_lookup_value_is_named():
    async def lookup_all(lookup, keys):
        return await asyncio.gather(*(asyncio.to_thread(lookup, key.title()) for key in keys))

    error = failure(checks.lookup_all, lookup_all)
    assert error.kind == "wrong"
    assert "Call lookup once per item" in error.hint


def test_returning_something_else_than_the_lookups_results_is_named():
    async def lookup_all(lookup, keys):
        await lookups_in_threads_at_once(lookup, keys)
        return list(keys)

    error = failure(checks.lookup_all, lookup_all)
    assert error.kind == "wrong"
    assert "expected ['ADA', 'GRACE', 'LINUS']" in error.hint
