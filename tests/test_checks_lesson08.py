"""The lesson 08 check passes a reader that stops early and names each wrong one."""

import asyncio
import json

import httpx
import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson08 as checks
from tutorial.site import start_site


@pytest.fixture(scope="module")
def site():
    with start_site() as running:
        yield running


def run(answer, site):
    asyncio.run(checks.first_events(answer, site))


def failure(answer, site):
    with pytest.raises(ExerciseFailed) as caught:
        run(answer, site)
    return caught.value


def data_of(line):
    return json.loads(line.removeprefix("data: ")) if line.startswith("data: ") else None


async def stops_early(client, url, k):
    events = []
    async with client.stream("GET", url) as response:
        async for line in response.aiter_lines():
            if (data := data_of(line)) is not None:
                events.append(data)
            if len(events) == k:
                break
    return events


async def stops_early_with_aiter_text(client, url, k):
    events, buffer = [], ""
    async with client.stream("GET", url) as response:
        async for text in response.aiter_text():
            buffer += text
            *lines, buffer = buffer.split("\n")
            events += [d for d in map(data_of, lines) if d is not None]
            if len(events) >= k:
                return events[:k]
    return events


@pytest.mark.parametrize("answer", [stops_early, stops_early_with_aiter_text])
def test_readers_that_stop_early_pass(answer, site, capsys):
    run(answer, site)
    assert "✓" in capsys.readouterr().out


def test_untouched_exercise_fails_with_not_started(site):
    async def first_events(client, url, k):
        raise NotImplementedError

    assert failure(first_events, site).kind == "not_started"


def test_reading_the_whole_body_first_is_a_timeout(site):
    async def first_events(client, url, k):
        response = await client.get(url)  # waits for the end of the stream
        return [d for d in map(data_of, response.text.splitlines()) if d is not None][:k]

    error = failure(first_events, site)
    assert error.kind == "timeout"
    assert "stop after" in error.hint


def test_a_reader_left_running_is_named(site):
    async def first_events(client, url, k):
        queue = asyncio.Queue()

        async def read_all():
            async with client.stream("GET", url) as response:
                async for line in response.aiter_lines():
                    if (data := data_of(line)) is not None:
                        await queue.put(data)

        first_events.reader = asyncio.create_task(read_all())  # never cancelled: reads on
        return [await queue.get() for _ in range(k)]

    error = failure(first_events, site)
    assert error.kind == "wrong"
    assert "never saw you leave" in error.hint


def test_returning_the_raw_lines_is_named(site):
    async def first_events(client, url, k):
        lines = []
        async with client.stream("GET", url) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    lines.append(line)
                if len(lines) == k:
                    break
        return lines

    assert "json.loads" in failure(first_events, site).hint


def test_one_event_too_many_is_named(site):
    async def first_events(client, url, k):
        return await stops_early(client, url, k + 1)

    error = failure(first_events, site)
    assert error.kind == "wrong"
    assert "first 3" in error.hint


def test_a_forgotten_await_is_named(site):
    async def first_events(client, url, k):
        return stops_early(client, url, k)

    assert failure(first_events, site).kind == "missing_await"


def test_a_sync_client_blocking_the_loop_is_named(site):
    async def first_events(client, url, k):
        with httpx.stream("GET", url) as response:
            events = []
            for line in response.iter_lines():
                if (data := data_of(line)) is not None:
                    events.append(data)
                if len(events) == k:
                    return events

    assert failure(first_events, site).kind == "blocked"
