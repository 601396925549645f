"""The lesson 00 checks pass concurrent answers through the given client and name each wrong one."""

import asyncio

import httpx
import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson00 as checks
from tutorial.checks.core import REGISTRY, _failures
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


async def both_with_gather(client, url_a, url_b):
    a, b = await asyncio.gather(client.get(url_a), client.get(url_b))
    return [a.json(), b.json()]


async def both_with_a_task_group(client, url_a, url_b):
    async with asyncio.TaskGroup() as group:
        a, b = group.create_task(client.get(url_a)), group.create_task(client.get(url_b))
    return [a.result().json(), b.result().json()]


async def all_with_gather(client, urls):
    return [r.json() for r in await asyncio.gather(*(client.get(url) for url in urls))]


async def all_tasks_first_then_awaited(client, urls):
    tasks = [asyncio.create_task(client.get(url)) for url in urls]
    return [(await task).json() for task in tasks]


@pytest.mark.parametrize("answer", [both_with_gather, both_with_a_task_group])
def test_concurrent_fetch_both_passes(answer, site, capsys):
    run(checks.fetch_both, answer, site)
    assert "✓ [00_fetch_both]" in capsys.readouterr().out


@pytest.mark.parametrize("answer", [all_with_gather, all_tasks_first_then_awaited])
def test_concurrent_fetch_all_passes(answer, site, capsys):
    run(checks.fetch_all, answer, site)
    assert "✓ [00_fetch_all]" in capsys.readouterr().out


def test_untouched_exercises_fail_with_not_started(site):
    async def fetch_both(client, url_a, url_b):
        raise NotImplementedError

    async def fetch_all(client, urls):
        raise NotImplementedError

    assert failure(checks.fetch_both, fetch_both, site).kind == "not_started"
    assert failure(checks.fetch_all, fetch_all, site).kind == "not_started"


def test_a_forgotten_await_is_named(site):
    async def fetch_both(client, url_a, url_b):
        return [client.get(url_a), client.get(url_b)]

    error = failure(checks.fetch_both, fetch_both, site)
    assert error.kind == "missing_await" and "forgotten `await`" in error.hint


def test_a_plain_def_is_named(site):
    def fetch_all(client, urls):
        return []

    assert failure(checks.fetch_all, fetch_all, site).kind == "not_async"


def test_a_sync_client_on_the_loop_is_blocking(site):
    async def fetch_both(client, url_a, url_b):
        return [httpx.get(url_a).json(), httpx.get(url_b).json()]

    assert failure(checks.fetch_both, fetch_both, site).kind == "blocked"


def test_an_exception_names_the_line(site):
    async def fetch_all(client, urls):
        return [(await client.get(url)).json()["missing"] for url in urls]

    error = failure(checks.fetch_all, fetch_all, site)
    assert error.kind == "exception" and "KeyError" in error.hint


def test_one_request_after_the_other_is_named(site):
    async def fetch_all(client, urls):
        return [(await client.get(url)).json() for url in urls]

    error = failure(checks.fetch_all, fetch_all, site)
    assert error.kind == "wrong"
    assert "each request was awaited before the next one" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_responses_instead_of_bodies_are_named(site):
    async def fetch_both(client, url_a, url_b):
        return list(await asyncio.gather(client.get(url_a), client.get(url_b)))

    assert "response.json()" in failure(checks.fetch_both, fetch_both, site).hint


def test_bodies_in_finishing_order_are_named(site):
    async def fetch_all(client, urls):
        return [(await done).json() for done in asyncio.as_completed([client.get(u) for u in urls])]

    error = failure(checks.fetch_all, fetch_all, site)
    assert error.kind == "order" and "order of the URLs" in error.hint
    assert "Hint" not in error.hint  # the steps are about concurrency: not for an order slip


def test_shortcut_sync_client_in_threads_is_rejected(site):
    # The right bodies, at the same time, without blocking the loop — but not through the
    # async client the exercise is about.
    async def fetch_all(client, urls):
        responses = await asyncio.gather(*(asyncio.to_thread(httpx.get, url) for url in urls))
        return [response.json() for response in responses]

    error = failure(checks.fetch_all, fetch_all, site)
    assert error.kind == "wrong_client" and "client you were given" in error.hint


def test_shortcut_own_async_client_is_rejected(site):
    # The client is made outside the answer: building one loads TLS certificates, CPU work that
    # a loaded machine could stretch past the blocked-loop limit, which is not this test's point.
    mine = {}

    async def fetch_both(client, url_a, url_b):
        a, b = await asyncio.gather(mine["client"].get(url_a), mine["client"].get(url_b))
        return [a.json(), b.json()]

    async def run_with_own_client():
        async with httpx.AsyncClient() as mine["client"]:
            await checks.fetch_both(fetch_both, site)

    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(run_with_own_client())
    assert caught.value.kind == "wrong_client"


def test_shortcut_made_up_bodies_are_rejected(site):
    # Every request through the client, then bodies written from the URLs: the right delays,
    # in order, with timestamps that overlap — none of it what the server said.
    async def fetch_all(client, urls):
        for url in urls:
            await client.get(url)
        delays = [float(url.rpartition("=")[2]) for url in urls]
        return [{"delay": delay, "started": 0.0, "ended": 1.0} for delay in delays]

    error = failure(checks.fetch_all, fetch_all, site)
    assert error.kind == "wrong_method" and "not ones the server sent" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_the_urls_change_from_run_to_run(site):
    seen = []

    async def fetch_all(client, urls):
        seen.append(tuple(urls))
        return await all_with_gather(client, urls)

    for _ in range(3):
        run(checks.fetch_all, fetch_all, site)
    assert len(set(seen)) > 1


def test_hints_come_in_steps_then_the_solution(site):
    async def fetch_both(client, url_a, url_b):
        return [(await client.get(url_a)).json(), (await client.get(url_b)).json()]

    _failures.pop("00_fetch_both", None)
    hints = [failure(checks.fetch_both, fetch_both, site).hint for _ in range(3)]
    steps = REGISTRY["00_fetch_both"].hints
    assert len(steps) >= 2
    assert steps[0] in hints[0] and steps[1] in hints[1]
    assert "solutions/00_start_here.ipynb" in hints[2]
