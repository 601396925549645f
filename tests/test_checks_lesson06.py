"""The lesson 06 checks pass concurrent fetches done the taught way and name each wrong one."""

import asyncio
import contextlib

import httpx
import pytest

from tests.run_check import failure, run
from tutorial.checks import lesson06 as checks
from tutorial.site import start_site


@pytest.fixture(scope="module")
def site():
    with start_site() as running:
        yield running


# 1 · fetch_all


async def one(client, url, timeout):
    """The right way to fetch one URL: a deadline, and None for any failure."""
    try:
        async with asyncio.timeout(timeout):
            response = await client.get(url)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, TimeoutError, ValueError):
        return None


async def with_gather(client, urls, timeout):
    return await asyncio.gather(*(one(client, url, timeout) for url in urls))


async def with_a_task_group(client, urls, timeout):
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(client, url, timeout)) for url in urls]
    return [task.result() for task in tasks]


@pytest.mark.parametrize("answer", [with_gather, with_a_task_group])
def test_concurrent_answers_with_deadlines_pass(answer, site, capsys):
    run(checks.fetch_all, answer, site)
    assert "✓ [06_fetch_all]" in capsys.readouterr().out


def test_untouched_fetch_all_fails_with_not_started(site):
    async def fetch_all(client, urls, timeout):
        raise NotImplementedError

    assert failure(checks.fetch_all, fetch_all, site).kind == "not_started"


def test_one_after_the_other_is_named(site):
    async def fetch_all(client, urls, timeout):
        return [await one(client, url, timeout) for url in urls]

    assert "one after another" in failure(checks.fetch_all, fetch_all, site).hint


def test_no_deadline_is_a_timeout_naming_asyncio_timeout(site):
    async def fetch_all(client, urls, timeout):
        async def no_deadline(url):
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = await client.get(url)
                return response.json() if response.is_success else None

        return await asyncio.gather(*(no_deadline(url) for url in urls))

    error = failure(checks.fetch_all, fetch_all, site)
    assert error.kind == "timeout" and "asyncio.timeout(timeout)" in error.hint


def test_httpx_s_own_timeout_is_cut_short_by_the_trickling_url(site):
    async def fetch_all(client, urls, timeout):
        async def read_timeout_only(url):  # silent upstreams trip it; a trickling one never does
            try:
                response = await client.get(url, timeout=timeout)
                response.raise_for_status()
                return response.json()
            except (httpx.HTTPError, ValueError):
                return None

        return await asyncio.gather(*(read_timeout_only(url) for url in urls))

    error = failure(checks.fetch_all, fetch_all, site)
    assert error.kind == "timeout" and "trickles" in error.hint


def test_a_client_of_one_s_own_is_named(site):
    async def fetch_all(client, urls, timeout):
        async with httpx.AsyncClient(verify=False) as mine:
            return await with_gather(mine, urls, timeout)

    assert "use that client" in failure(checks.fetch_all, fetch_all, site).hint


def test_a_forgotten_await_on_gather_is_named(site):
    async def fetch_all(client, urls, timeout):
        return asyncio.gather(*(one(client, url, timeout) for url in urls))

    assert failure(checks.fetch_all, fetch_all, site).kind == "missing_await"


def test_letting_a_failure_escape_says_to_return_none(site):
    async def fetch_all(client, urls, timeout):
        async def strict(url):
            async with asyncio.timeout(timeout):
                response = await client.get(url)
            return response.raise_for_status().json()

        return await asyncio.gather(*(strict(url) for url in urls))

    error = failure(checks.fetch_all, fetch_all, site)
    assert error.kind == "exception" and "should give None" in error.hint


def test_returning_the_503_body_is_named(site):
    async def fetch_all(client, urls, timeout):
        async def ignores_status(url):
            try:
                async with asyncio.timeout(timeout):
                    return (await client.get(url)).json()
            except (httpx.HTTPError, TimeoutError, ValueError):
                return None

        return await asyncio.gather(*(ignores_status(url) for url in urls))

    error = failure(checks.fetch_all, fetch_all, site)
    assert error.kind == "wrong" and "answers 503" in error.hint


def test_returning_responses_is_named(site):
    async def fetch_all(client, urls, timeout):
        async def response_of(url):
            try:
                async with asyncio.timeout(timeout):
                    return await client.get(url)
            except (httpx.HTTPError, TimeoutError):
                return None

        return await asyncio.gather(*(response_of(url) for url in urls))

    assert "response.json()" in failure(checks.fetch_all, fetch_all, site).hint


def test_dropping_the_failures_is_named(site):
    async def fetch_all(client, urls, timeout):
        return [body for body in await with_gather(client, urls, timeout) if body is not None]

    assert "one item per URL" in failure(checks.fetch_all, fetch_all, site).hint


# 2 · fetch_capped


async def capped(client, urls, limit):
    cap = asyncio.Semaphore(limit)

    async def fetch_one(url):
        async with cap:
            return (await client.get(url)).json()

    return await asyncio.gather(*(fetch_one(url) for url in urls))


def test_a_semaphore_passes(site, capsys):
    run(checks.fetch_capped, capped, site)
    assert "✓ [06_fetch_capped]" in capsys.readouterr().out


def test_untouched_fetch_capped_fails_with_not_started(site):
    async def fetch_capped(client, urls, limit):
        raise NotImplementedError

    assert failure(checks.fetch_capped, fetch_capped, site).kind == "not_started"


def test_no_cap_is_named(site):
    async def fetch_capped(client, urls, limit):
        return await asyncio.gather(*(client.get(url) for url in urls))

    # Responses, not bodies, is named first; with bodies the cap is what is wrong:
    assert "response.json()" in failure(checks.fetch_capped, fetch_capped, site).hint

    async def uncapped(client, urls, limit):
        return [r.json() for r in await asyncio.gather(*(client.get(url) for url in urls))]

    assert "the cap did not hold" in failure(checks.fetch_capped, uncapped, site).hint


def test_a_semaphore_per_call_caps_nothing(site):
    async def fetch_capped(client, urls, limit):
        async def fetch_one(url):
            async with asyncio.Semaphore(limit):  # a new one each call: nobody ever waits
                return (await client.get(url)).json()

        return await asyncio.gather(*(fetch_one(url) for url in urls))

    assert "One semaphore for all" in failure(checks.fetch_capped, fetch_capped, site).hint


def test_one_at_a_time_is_named(site):
    async def fetch_capped(client, urls, limit):
        return [(await client.get(url)).json() for url in urls]

    assert "start the calls" in failure(checks.fetch_capped, fetch_capped, site).hint


def test_batches_of_limit_are_named(site):
    async def fetch_capped(client, urls, limit):
        bodies = []
        for first in range(0, len(urls), limit):
            batch = urls[first : first + limit]
            bodies += [r.json() for r in await asyncio.gather(*(client.get(u) for u in batch))]
        return bodies

    error = failure(checks.fetch_capped, fetch_capped, site)
    assert error.kind == "wrong" and "batches" in error.hint


def test_a_pool_limit_on_a_client_of_one_s_own_is_named(site):
    async def fetch_capped(client, urls, limit):
        limits = httpx.Limits(max_connections=limit)
        async with httpx.AsyncClient(limits=limits, verify=False) as mine:
            return [r.json() for r in await asyncio.gather(*(mine.get(url) for url in urls))]

    assert "use that client" in failure(checks.fetch_capped, fetch_capped, site).hint


def test_one_semaphore_for_the_whole_process_is_named(site):
    # The shortcut: the first call's semaphore, kept for every later request of the process.
    shared = {}

    async def fetch_capped(client, urls, limit):
        cap = shared.setdefault("cap", asyncio.Semaphore(limit))

        async def fetch_one(url):
            async with cap:
                return (await client.get(url)).json()

        return await asyncio.gather(*(fetch_one(url) for url in urls))

    error = failure(checks.fetch_capped, fetch_capped, site)
    assert error.kind == "wrong" and "shared by every request" in error.hint
    assert len(error.hint.splitlines()) <= 5


# 3 · first_good


async def fetch_one(client, url):
    response = await client.get(url)
    response.raise_for_status()
    return response.json()


async def with_as_completed(client, urls):
    tasks = [asyncio.create_task(fetch_one(client, url)) for url in urls]
    try:
        async for task in asyncio.as_completed(tasks):
            try:
                return await task
            except httpx.HTTPError:
                continue
        return None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def with_wait(client, urls):
    pending = {asyncio.create_task(fetch_one(client, url)) for url in urls}
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is None:
                    return task.result()
        return None
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


@pytest.mark.parametrize("answer", [with_as_completed, with_wait])
def test_the_first_good_answer_with_the_rest_stopped_passes(answer, site, capsys):
    run(checks.first_good, answer, site)
    assert "✓ [06_first_good]" in capsys.readouterr().out


def test_untouched_first_good_fails_with_not_started(site):
    async def first_good(client, urls):
        raise NotImplementedError

    assert failure(checks.first_good, first_good, site).kind == "not_started"


def test_waiting_for_every_call_is_named(site):
    async def first_good(client, urls):
        async def quietly(url):
            with contextlib.suppress(httpx.HTTPError):
                response = await fetch_one(client, url)
                return response

        bodies = await asyncio.gather(*(quietly(url) for url in urls))
        return min((b for b in bodies if b), key=lambda body: body["ended"])

    error = failure(checks.first_good, first_good, site)
    assert error.kind == "timeout" and "wait for every call" in error.hint


def test_cancelling_without_awaiting_is_named(site):
    async def first_good(client, urls):
        tasks = [asyncio.create_task(fetch_one(client, url)) for url in urls]
        async for task in asyncio.as_completed(tasks):
            with contextlib.suppress(httpx.HTTPError):
                body = await task
                for other in tasks:
                    other.cancel()  # ...and return at once: they have not stopped yet
                return body

    assert (
        "did not wait until they had stopped" in failure(checks.first_good, first_good, site).hint
    )


def test_leaving_the_rest_running_is_named(site):
    async def first_good(client, urls):
        tasks = [asyncio.create_task(fetch_one(client, url)) for url in urls]
        async for task in asyncio.as_completed(tasks):
            with contextlib.suppress(httpx.HTTPError):
                return await task

    assert "still running" in failure(checks.first_good, first_good, site).hint


def test_the_first_answer_even_if_it_failed_is_named(site):
    async def first_good(client, urls):
        tasks = [asyncio.create_task(client.get(url)) for url in urls]
        try:
            async for task in asyncio.as_completed(tasks):
                try:
                    return (await task).json()
                except (httpx.HTTPError, ValueError):
                    return None
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    error = failure(checks.first_good, first_good, site)
    assert "skip calls that fail" in error.hint


def test_the_urls_do_not_tell_which_call_answers_first(site):
    # The shortcut would be to read ?delay= in the URLs and fetch only the fastest one.
    given = []

    async def first_good(client, urls):
        given.extend(urls)
        return await with_as_completed(client, urls)

    run(checks.first_good, first_good, site)
    assert given and not any("delay" in url for url in given)


def test_the_urls_do_not_tell_the_silent_upstream_from_the_good_ones(site):
    # The shortcut would be to skip the URL with the longest ?delay= instead of a deadline.
    given = []

    async def fetch_all(client, urls, timeout):
        given.extend(urls)
        return await with_gather(client, urls, timeout)

    run(checks.fetch_all, fetch_all, site)
    items = [url for url in given if "/upstream/item/" in url]
    assert len(items) == 3 and not any("delay" in url for url in items)
