"""The lesson 04 check judges overlap from recorded spans and names each wrong answer."""

import asyncio
import concurrent.futures

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson04 as checks
from tutorial.checks.core import REGISTRY


def run(answer):
    asyncio.run(checks.lookup_all(answer))


def failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        run(answer)
    return caught.value


async def with_sync_to_async(lookup, keys):
    call = sync_to_async(lookup, thread_sensitive=False)
    return await asyncio.gather(*(call(key) for key in keys))


async def with_a_decorated_helper(lookup, keys):
    @sync_to_async(thread_sensitive=False)
    def call(key):
        return lookup(key)

    return list(await asyncio.gather(*(call(key) for key in keys)))


@pytest.mark.parametrize("answer", [with_sync_to_async, with_a_decorated_helper])
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


def test_shortcut_to_thread_is_another_bridge():
    # The right values, at the same time, off the loop — but not through asgiref.
    async def lookup_all(lookup, keys):
        return list(await asyncio.gather(*(asyncio.to_thread(lookup, key) for key in keys)))

    error = failure(lookup_all)
    assert error.kind == "wrong_method" and "not through sync_to_async" in error.hint


def test_shortcut_values_without_the_lookup_are_named():
    async def lookup_all(lookup, keys):
        return [f"value of {key}" for key in keys]

    assert "call it once per key" in failure(lookup_all).hint


def test_every_exercise_has_hint_steps():
    for name in ["lookup_all", "run_queries", "sync_fetch_all"]:
        assert len(REGISTRY[f"04_{name}"].hints) >= 2


# run_queries(open_db, queries): a thread-bound connection inside a request


def queries_failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(checks.run_queries(answer))
    return caught.value


async def one_hop_per_query(open_db, queries):
    db = await sync_to_async(open_db)()

    def first_row(query):
        return db.execute(query).fetchone()

    return [await sync_to_async(first_row)(query) for query in queries]


async def all_in_one_hop(open_db, queries):
    @sync_to_async
    def everything():
        db = open_db()
        return [db.execute(query).fetchone() for query in queries]

    return await everything()


@pytest.mark.parametrize("answer", [one_hop_per_query, all_in_one_hop])
def test_thread_sensitive_queries_pass(answer, capsys):
    asyncio.run(checks.run_queries(answer))
    assert "✓ [04_run_queries]" in capsys.readouterr().out


def test_run_queries_untouched_is_not_started():
    async def run_queries(open_db, queries):
        raise NotImplementedError

    assert queries_failure(run_queries).kind == "not_started"


def test_run_queries_plain_def_is_named():
    def run_queries(open_db, queries):
        return []

    assert queries_failure(run_queries).kind == "not_async"


def test_the_database_on_the_loop_is_named():
    async def run_queries(open_db, queries):
        db = open_db()
        return [db.execute(query).fetchone() for query in queries]

    error = queries_failure(run_queries)
    assert error.kind == "blocked" and "event loop's own thread" in error.hint


def test_thread_sensitive_false_is_named():
    # Opened in one pool thread, used in pool threads: sqlite3 may refuse (another thread),
    # or the pool may hand back the same thread — either way it is not the request's thread.
    async def run_queries(open_db, queries):
        db = await sync_to_async(open_db, thread_sensitive=False)()

        def first_row(query):
            return db.execute(query).fetchone()

        rows = []
        for query in queries:
            rows.append(await sync_to_async(first_row, thread_sensitive=False)(query))
        return rows

    error = queries_failure(run_queries)
    assert error.kind == "wrong_method" and "thread_sensitive=True" in error.hint


def test_opening_on_the_loop_then_querying_in_a_thread_is_named():
    # sqlite3 refuses the query (another thread): the hint names where it was opened.
    async def run_queries(open_db, queries):
        db = open_db()

        def first_row(query):
            return db.execute(query).fetchone()

        return [await sync_to_async(first_row)(query) for query in queries]

    error = queries_failure(run_queries)
    assert error.kind == "blocked" and "open_db() ran on the event loop's own thread" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_shortcut_a_single_thread_executor_of_ones_own_is_rejected():
    # One thread for everything, so sqlite3 is happy — but not the request's thread.
    async def run_queries(open_db, queries):
        loop = asyncio.get_running_loop()
        with concurrent.futures.ThreadPoolExecutor(1) as own:
            db = await loop.run_in_executor(own, open_db)
            calls = [
                loop.run_in_executor(own, lambda q=q: db.execute(q).fetchone()) for q in queries
            ]
            return [await call for call in calls]

    error = queries_failure(run_queries)
    assert error.kind == "wrong_method" and "not in the request's own thread" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_fetching_on_the_loop_is_an_exception():
    async def run_queries(open_db, queries):
        db = await sync_to_async(open_db)()
        cursors = [await sync_to_async(db.execute)(query) for query in queries]
        return [cursor.fetchone() for cursor in cursors]  # on the loop: sqlite3 refuses

    error = queries_failure(run_queries)
    assert error.kind == "exception" and "ProgrammingError" in error.hint


# sync_fetch_all(fetch, ids): async_to_sync from sync code


def fetch_failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(checks.sync_fetch_all(answer))
    return caught.value


def gathered_through_async_to_sync(fetch, ids):
    async def fetch_all():
        return await asyncio.gather(*(fetch(i) for i in ids))

    return async_to_sync(fetch_all)()


def test_async_to_sync_of_a_gather_passes(capsys):
    asyncio.run(checks.sync_fetch_all(gathered_through_async_to_sync))
    assert "✓ [04_sync_fetch_all]" in capsys.readouterr().out


def test_sync_fetch_all_untouched_is_not_started():
    def sync_fetch_all(fetch, ids):
        raise NotImplementedError

    assert fetch_failure(sync_fetch_all).kind == "not_started"


def test_sync_fetch_all_as_async_def_is_named():
    async def sync_fetch_all(fetch, ids):
        return await asyncio.gather(*(fetch(i) for i in ids))

    assert fetch_failure(sync_fetch_all).kind == "not_sync"


def test_returning_coroutines_is_a_forgotten_await():
    def sync_fetch_all(fetch, ids):
        return [fetch(i) for i in ids]

    assert fetch_failure(sync_fetch_all).kind == "missing_await"


def test_one_async_to_sync_per_fetch_is_named():
    def sync_fetch_all(fetch, ids):
        return [async_to_sync(fetch)(i) for i in ids]

    error = fetch_failure(sync_fetch_all)
    assert error.kind == "wrong" and "one async_to_sync call per fetch" in error.hint


def test_shortcut_asyncio_run_is_a_loop_of_its_own():
    def sync_fetch_all(fetch, ids):
        async def fetch_all():
            return await asyncio.gather(*(fetch(i) for i in ids))

        return asyncio.run(fetch_all())  # works in a worker thread — on a new loop

    error = fetch_failure(sync_fetch_all)
    assert error.kind == "wrong_method" and "new event loop" in error.hint


def test_an_exception_in_sync_code_is_named():
    def sync_fetch_all(fetch, ids):
        return {i: None for i in ids}[0]

    error = fetch_failure(sync_fetch_all)
    assert error.kind == "exception" and "KeyError" in error.hint
