"""What one hop between async and sync code costs, in microseconds (lesson 04, the benchmarks).

    time_hops(n=300)  ->  {"await (no hop)": 0.2, "sync_to_async": 95.0, ...}

Each value is the median of round trips of a function that does nothing, so what is left is
the price of the hop itself: handing the call to another thread and getting the result back.
time_hops measures every hop in three rounds and keeps each hop's lowest median: a hop waits for
another thread to be scheduled, so a busy moment on the machine inflates one round, not all.
"""

import asyncio
import statistics
import time

from asgiref.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

from .fresh_loop import run_in_fresh_loop

HOPS = (
    "await (no hop)",
    "sync_to_async",
    "sync_to_async(thread_sensitive=False)",
    "asyncio.to_thread",
    "loop.run_in_executor",
    "async_to_sync (inside sync_to_async)",
    "async_to_sync (new loop, as under WSGI)",
)


def _nothing():
    return None


async def _nothing_async():
    return None


def _median_us(durations):
    return statistics.median(durations) * 1e6


async def _time_awaits(make_awaitable, n):
    await make_awaitable()  # warm up: the first call may start a thread
    durations = []
    for _ in range(n):
        started = time.perf_counter()
        await make_awaitable()
        durations.append(time.perf_counter() - started)
    return durations


def _time_calls(call, n):
    call()
    durations = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return durations


async def _measure(n):
    loop = asyncio.get_running_loop()
    awaited = {
        "await (no hop)": _nothing_async,
        "sync_to_async": sync_to_async(_nothing),
        "sync_to_async(thread_sensitive=False)": sync_to_async(_nothing, thread_sensitive=False),
        "asyncio.to_thread": lambda: asyncio.to_thread(_nothing),
        "loop.run_in_executor": lambda: loop.run_in_executor(None, _nothing),
    }
    results = {name: await _time_awaits(hop, n) for name, hop in awaited.items()}
    # Sync code that sync_to_async started can call back into this loop: a hop there and back.
    back_to_loop = async_to_sync(_nothing_async)
    results["async_to_sync (inside sync_to_async)"] = await sync_to_async(_time_calls)(
        back_to_loop, n
    )
    # No loop to go back to (a WSGI worker): each call starts a thread and an event loop.
    new_loop = async_to_sync(_nothing_async, force_new_loop=True)
    results["async_to_sync (new loop, as under WSGI)"] = await asyncio.to_thread(
        _time_calls, new_loop, max(10, n // 10)
    )
    return {name: _median_us(results[name]) for name in HOPS}


ROUNDS = 3


async def _lowest_medians(n):
    per_round = max(1, n // ROUNDS)
    rounds = [await _measure(per_round) for _ in range(ROUNDS)]
    return {name: min(medians[name] for medians in rounds) for name in HOPS}


def time_hops(n=300):
    """Median cost in µs of one round trip through each hop in HOPS, about `n` calls each: the
    lowest median of ROUNDS rounds.

    Runs its own event loop in a fresh thread, so it works the same from a script and from a
    notebook (where a loop is already running; the cell waits about n × 1 ms).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return run_in_fresh_loop(_lowest_medians, n, name="time_hops")


async def _request_hops(n):
    durations = []
    for _ in range(n):
        started = time.perf_counter()
        async with ThreadSensitiveContext():  # what Django's ASGIHandler opens per request
            await sync_to_async(_nothing)()  # the request's first hop: its thread starts
        # Leaving the context shut that thread down, from a joiner thread, and waited for it.
        durations.append(time.perf_counter() - started)
    return durations


def time_request_hop(n=200):
    """Median cost in µs of a request's first thread-sensitive hop, as under Django's ASGI
    handler: a ThreadSensitiveContext, the new thread its first sync_to_async call starts, the
    call, and the exit, which starts a joiner thread to shut the request's thread down.

    Like time_hops, it runs in an event loop of its own in a fresh thread.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")

    async def measure(n):
        return _median_us(await _request_hops(n))

    return run_in_fresh_loop(measure, n, name="time_request_hop")
