"""The lesson 05 checks measure the real site, pass the right answers and name each wrong one."""

import asyncio
import time

import httpx
import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson05 as checks
from tutorial.site import start_site


@pytest.fixture(scope="module")
def site():
    with start_site() as running:
        yield running


def run(check, answer, site):
    asyncio.run(check(answer, site))


def failure(check, answer, site):
    with pytest.raises(ExerciseFailed) as caught:
        run(check, answer, site)
    return caught.value


async def timed_get(client, url):
    started = time.perf_counter()
    await client.get(url)
    return time.perf_counter() - started


# Right answers: what the solution notebook does.


async def classify(url, n=4):
    async with httpx.AsyncClient(timeout=30) as client:
        one = await timed_get(client, url)
        started = time.perf_counter()
        await asyncio.gather(*(client.get(url) for _ in range(n)))
        together = time.perf_counter() - started
    return "serialised" if together > n / 2 * one else "concurrent"


async def blocks_loop(url, probe_url, n=4):
    async with httpx.AsyncClient(timeout=30) as client:
        one = await timed_get(client, url)
        load = asyncio.gather(*(client.get(url) for _ in range(n)))
        waits = []
        while not load.done():
            waits.append(await timed_get(client, probe_url))
        await load
    return sum(waits) / len(waits) > one / 2


def test_the_check_sees_four_different_behaviours(site):
    seen = {name: asyncio.run(checks.measure(site, name)) for name in checks.MYSTERIES}
    assert seen == {
        "a": checks.Behaviour(concurrent=False, blocks_loop=False),  # waits for a lock
        "b": checks.Behaviour(concurrent=True, blocks_loop=False),  # awaits
        "c": checks.Behaviour(concurrent=False, blocks_loop=True),  # time.sleep on the loop
        "d": checks.Behaviour(concurrent=True, blocks_loop=False),  # a sync view, in threads
    }


def test_right_answers_pass(site, capsys):
    run(checks.classify, classify, site)
    run(checks.blocks_loop, blocks_loop, site)
    assert capsys.readouterr().out.count("✓") == 2


def test_untouched_exercises_fail_as_not_started(site):
    async def classify(url, n=4):
        raise NotImplementedError

    async def blocks_loop(url, probe_url, n=4):
        raise NotImplementedError

    assert failure(checks.classify, classify, site).kind == "not_started"
    assert failure(checks.blocks_loop, blocks_loop, site).kind == "not_started"


@pytest.mark.parametrize("answer", ["concurrent", "serialised"])
def test_one_answer_for_every_endpoint_is_wrong(site, answer):
    async def classify(url, n=4):
        return answer

    error = failure(checks.classify, classify, site)
    assert error.kind == "wrong"
    assert f"classify said '{answer}'" in error.hint


def test_requests_sent_one_after_another_are_named(site):
    async def classify(url, n=4):
        async with httpx.AsyncClient() as client:
            one = await timed_get(client, url)
            together = sum([await timed_get(client, url) for _ in range(n)])
        return "serialised" if together > n / 2 * one else "concurrent"

    assert "not one after another in a loop" in failure(checks.classify, classify, site).hint


def test_an_answer_that_is_not_one_of_the_two_strings_is_named(site):
    async def classify(url, n=4):
        return True

    assert "'concurrent' or 'serialised'" in failure(checks.classify, classify, site).hint


def test_american_spelling_is_accepted(site, capsys):
    async def american(url, n=4):
        return (await classify(url, n)).replace("serialised", "serialized")

    run(checks.classify, american, site)
    assert "✓" in capsys.readouterr().out


def test_a_sync_client_in_async_code_blocks_the_loop(site):
    async def classify(url, n=4):
        with httpx.Client() as client:
            for _ in range(n + 1):
                client.get(url)
        return "concurrent"

    assert failure(checks.classify, classify, site).kind == "blocked"


def test_a_plain_def_is_named(site):
    def classify(url, n=4):
        return "concurrent"

    assert failure(checks.classify, classify, site).kind == "not_async"


def test_serialised_is_not_blocked(site):
    async def blocks_loop(url, probe_url, n=4):
        return await classify(url, n) == "serialised"

    error = failure(checks.blocks_loop, blocks_loop, site)
    assert "serialised is not blocked" in error.hint


def test_never_blocked_is_wrong(site):
    async def blocks_loop(url, probe_url, n=4):
        return False

    error = failure(checks.blocks_loop, blocks_loop, site)
    assert "blocks_loop said False for /mystery/c/" in error.hint


def test_a_probe_sent_after_the_load_is_named(site):
    async def blocks_loop(url, probe_url, n=4):
        async with httpx.AsyncClient(timeout=30) as client:
            one = await timed_get(client, url)
            await asyncio.gather(*(client.get(url) for _ in range(n)))
            probe = await timed_get(client, probe_url)  # too late: nothing runs any more
        return probe > one / 2

    assert "still in flight" in failure(checks.blocks_loop, blocks_loop, site).hint


def test_an_answer_that_is_not_a_bool_is_named(site):
    async def blocks_loop(url, probe_url, n=4):
        return "no"

    assert "return True or False" in failure(checks.blocks_loop, blocks_loop, site).hint


def test_a_forgotten_await_is_named(site):
    async def classify(url, n=4):
        return other_classifier(url, n)  # a coroutine, never awaited

    async def other_classifier(url, n):
        return "concurrent"

    assert failure(checks.classify, classify, site).kind == "missing_await"
