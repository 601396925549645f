"""The lesson 06 check passes a concurrent fetch with per-call deadlines and names each wrong one."""

import asyncio
import contextlib

import httpx
import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson06 as checks
from tutorial.site import start_site


@pytest.fixture(scope="module")
def site():
    with start_site() as running:
        yield running


def run(answer, site):
    asyncio.run(checks.fetch_all(answer, site))


def failure(answer, site):
    with pytest.raises(ExerciseFailed) as caught:
        run(answer, site)
    return caught.value


async def one(client, url, timeout):
    """The right way to fetch one URL: a deadline, and None for any failure."""
    try:
        async with asyncio.timeout(timeout):
            response = await client.get(url)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, TimeoutError):
        return None


async def with_gather(client, urls, timeout):
    return await asyncio.gather(*(one(client, url, timeout) for url in urls))


async def with_a_task_group(client, urls, timeout):
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(client, url, timeout)) for url in urls]
    return [task.result() for task in tasks]


@pytest.mark.parametrize("answer", [with_gather, with_a_task_group])
def test_concurrent_answers_with_deadlines_pass(answer, site, capsys):
    run(answer, site)
    assert "✓" in capsys.readouterr().out


def test_untouched_exercise_fails_with_not_started(site):
    async def fetch_all(client, urls, timeout):
        raise NotImplementedError

    assert failure(fetch_all, site).kind == "not_started"


def test_one_after_the_other_is_named(site):
    async def fetch_all(client, urls, timeout):
        return [await one(client, url, timeout) for url in urls]

    error = failure(fetch_all, site)
    assert error.kind == "wrong"
    assert "one after the other" in error.hint


def test_no_deadline_is_a_timeout_naming_the_slow_url(site):
    async def fetch_all(client, urls, timeout):
        async def no_deadline(url):
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(url)
                return response.json() if response.is_success else None

        return await asyncio.gather(*(no_deadline(url) for url in urls))

    error = failure(fetch_all, site)
    assert error.kind == "timeout"
    assert "its own deadline" in error.hint


def test_a_forgotten_await_on_gather_is_named(site):
    async def fetch_all(client, urls, timeout):
        return asyncio.gather(*(one(client, url, timeout) for url in urls))

    assert failure(fetch_all, site).kind == "missing_await"


def test_letting_a_failure_escape_says_to_return_none(site):
    async def fetch_all(client, urls, timeout):
        async def strict(url):
            async with asyncio.timeout(timeout):
                response = await client.get(url)
            return response.raise_for_status().json()

        return await asyncio.gather(*(strict(url) for url in urls))

    error = failure(fetch_all, site)
    assert error.kind == "exception"
    assert "should give None" in error.hint


def test_returning_the_503_body_is_named(site):
    async def fetch_all(client, urls, timeout):
        async def ignores_status(url):
            try:
                async with asyncio.timeout(timeout):
                    return (await client.get(url)).json()
            except (httpx.HTTPError, TimeoutError):
                return None

        return await asyncio.gather(*(ignores_status(url) for url in urls))

    error = failure(fetch_all, site)
    assert error.kind == "wrong"
    assert "answers 503" in error.hint


def test_returning_responses_is_named(site):
    async def fetch_all(client, urls, timeout):
        async def response_of(url):
            try:
                async with asyncio.timeout(timeout):
                    return await client.get(url)
            except (httpx.HTTPError, TimeoutError):
                return None

        return await asyncio.gather(*(response_of(url) for url in urls))

    assert "response.json()" in failure(fetch_all, site).hint


def test_dropping_the_failures_is_named(site):
    async def fetch_all(client, urls, timeout):
        return [body for body in await with_gather(client, urls, timeout) if body is not None]

    assert "one item per URL" in failure(fetch_all, site).hint
