"""The lesson 08 check passes a reader that stops early and names each wrong one."""

import asyncio
import contextlib
import json
import time

import httpx
import pytest

from tests.run_check import failure as failure_of
from tests.run_check import run as run_check
from tutorial.checks import lesson08 as checks
from tutorial.site import start_site


@pytest.fixture(scope="module")
def site():
    with start_site() as running:
        yield running


def run(answer, site):
    run_check(checks.first_events, answer, site)


def failure(answer, site):
    return failure_of(checks.first_events, answer, site)


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


def test_a_typed_in_answer_never_reached_the_server(site):
    async def first_events(client, url, k):
        return [{"n": n} for n in range(k)]

    assert "did not send during this check" in failure(first_events, site).hint


# 2 · read_for


async def read_for(client, url, seconds):
    events = []
    try:
        async with asyncio.timeout(seconds):
            async with client.stream("GET", url) as response:
                async for line in response.aiter_lines():
                    if (data := data_of(line)) is not None:
                        events.append(data)
    except TimeoutError:
        pass
    return events


def test_a_deadline_on_the_whole_read_passes(site, capsys):
    run_check(checks.read_for, read_for, site)
    assert "✓ [08_read_for]" in capsys.readouterr().out


def test_untouched_read_for_fails_with_not_started(site):
    async def read_for(client, url, seconds):
        raise NotImplementedError

    assert failure_of(checks.read_for, read_for, site).kind == "not_started"


def test_httpx_s_own_timeout_never_trips_on_a_trickle(site):
    async def read_for(client, url, seconds):
        events = []
        with contextlib.suppress(httpx.TimeoutException):
            async with client.stream("GET", url, timeout=seconds) as response:
                async for line in response.aiter_lines():
                    if (data := data_of(line)) is not None:
                        events.append(data)
        return events

    error = failure_of(checks.read_for, read_for, site)
    assert error.kind == "timeout" and "httpx's own timeout=" in error.hint


def test_wait_for_that_throws_the_events_away_is_named(site):
    async def read_for(client, url, seconds):
        try:
            return await asyncio.wait_for(stops_early(client, url, 10**6), seconds)
        except TimeoutError:
            return []

    assert "returned no events" in failure_of(checks.read_for, read_for, site).hint


def test_a_typed_in_read_for_is_named(site):
    async def read_for(client, url, seconds):
        return [{"n": n} for n in range(int(seconds / 0.1))]

    assert "did not send during this check" in failure_of(checks.read_for, read_for, site).hint


def test_a_deadline_checked_only_between_events_is_named(site):
    # Passes on a stream that trickles; waits for the next event on one that falls silent.
    async def read_for(client, url, seconds):
        events, deadline = [], time.monotonic() + seconds
        async with client.stream("GET", url) as response:
            async for line in response.aiter_lines():
                if time.monotonic() > deadline:
                    break
                if (data := data_of(line)) is not None:
                    events.append(data)
        return events

    error = failure_of(checks.read_for, read_for, site)
    assert error.kind == "timeout" and "fell silent" in error.hint
    assert len(error.hint.splitlines()) <= 5


# 3 · ticks, served through Django's ASGI handler


async def ticks(count, interval, subscription):
    try:
        for n in range(count):
            yield f"data: {json.dumps({'n': n})}\n\n"
            await asyncio.sleep(interval)
    except asyncio.CancelledError:
        raise
    finally:
        subscription.close()


def test_a_cancel_safe_generator_passes(capsys):
    run_check(checks.ticks, ticks)
    assert "✓ [08_ticks]" in capsys.readouterr().out


def test_untouched_ticks_fails_with_not_started():
    async def ticks(count, interval, subscription):
        raise NotImplementedError

    assert failure_of(checks.ticks, ticks).kind == "not_started"


def test_a_sync_generator_is_named():
    def ticks(count, interval, subscription):
        yield from ()

    error = failure_of(checks.ticks, ticks)
    assert error.kind == "not_async" and "consumes a sync iterator in full" in error.hint


def test_time_sleep_in_the_generator_blocks_the_loop():
    async def ticks(count, interval, subscription):
        try:
            for n in range(count):
                yield f"data: {json.dumps({'n': n})}\n\n"
                time.sleep(interval)
        finally:
            subscription.close()

    assert failure_of(checks.ticks, ticks).kind == "blocked"


def test_clean_up_only_on_cancellation_is_named():
    async def ticks(count, interval, subscription):
        try:
            for n in range(count):
                yield f"data: {json.dumps({'n': n})}\n\n"
                await asyncio.sleep(interval)
        except asyncio.CancelledError:
            subscription.close()
            raise

    assert "ran to its end" in failure_of(checks.ticks, ticks).hint


def test_no_clean_up_on_a_disconnect_is_named():
    async def ticks(count, interval, subscription):
        for n in range(count):
            yield f"data: {json.dumps({'n': n})}\n\n"
            await asyncio.sleep(interval)
        subscription.close()  # only when it ran to its end

    assert "The client left after 2 events" in failure_of(checks.ticks, ticks).hint


def test_swallowing_the_cancellation_is_named():
    async def ticks(count, interval, subscription):
        try:
            for n in range(count):
                yield f"data: {json.dumps({'n': n})}\n\n"
                await asyncio.sleep(interval)
        except asyncio.CancelledError:
            return  # swallowed
        finally:
            subscription.close()

    assert "swallowed the CancelledError" in failure_of(checks.ticks, ticks).hint


def test_events_made_all_at_once_are_named():
    async def ticks(count, interval, subscription):
        try:
            await asyncio.sleep(count * interval)  # everything first...
            for n in range(count):
                yield f"data: {json.dumps({'n': n})}\n\n"  # ...then all at once
        finally:
            subscription.close()

    assert "all arrived together" in failure_of(checks.ticks, ticks).hint


def test_wrong_event_text_is_named():
    async def ticks(count, interval, subscription):
        try:
            for n in range(count):
                yield f"{n}\n"
                await asyncio.sleep(interval)
        finally:
            subscription.close()

    assert "expected three events" in failure_of(checks.ticks, ticks).hint


def test_typed_in_data_after_opening_and_closing_the_stream_is_named(site):
    async def first_events(client, url, k):
        async with client.stream("GET", url):
            pass  # opened and left: the server logs the leave
        return [{"n": n} for n in range(k)]

    assert "did not send during this check" in failure(first_events, site).hint


def test_a_typed_in_read_for_that_touches_the_stream_is_named(site):
    async def read_for(client, url, seconds):
        async with client.stream("GET", url):
            await asyncio.sleep(seconds)
        return [{"n": n, "time": 0} for n in range(3)]

    assert "did not send during this check" in failure_of(checks.read_for, read_for, site).hint
