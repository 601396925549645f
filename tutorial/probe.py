"""Look at the running server from outside: its threads during a load, its memory, its workers.

    load = fire(site.url + "/sync/sleep/?delay=0.2", n=10)
    result, threads = await peak_threads(site, load)
    threads.extra        # threads the server started for this load (peak minus before)
    memory_mb(site)      # resident memory of the whole server
    cpu_seconds(site)    # CPU time the whole server has used so far (take a difference)
    await wait_for_workers(site, 4)   # before loading a multi-worker server

Reads the operating system's view of the server's processes (psutil on `site.pids()`), so it
works for every server and every endpoint, even one whose event loop is stuck.
"""

import asyncio
import contextlib
import time
from dataclasses import dataclass

import httpx
import psutil

from .tls import shared_context

# How often a sampler lists the server's processes again (a worker started late, or one gunicorn
# replaced). Listing them scans every process on the machine (~12 ms with the ~650 of a loaded
# test run): listed at every sample, a load generator's loop did little else.
PIDS_EVERY = 0.2


class ListedEvery:
    """`pids()` (a site's `.pids`), called again only once PIDS_EVERY s have passed, or when
    asked for `fresh=True`; in between, the last list."""

    def __init__(self, pids):
        self._pids, self._listed, self._at = pids, [], None

    def __call__(self, *, fresh=False):
        now = time.monotonic()
        if fresh or self._at is None or now - self._at >= PIDS_EVERY:
            self._listed, self._at = self._pids(), now
        return self._listed


def _sum_over_server(site, measure, pids=None):
    """Add up `measure(process)` over the server's process tree (`pids`, by default listed now),
    skipping processes that exit."""
    total = 0
    for pid in site.pids() if pids is None else pids:
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker may exit while we look
            total += measure(psutil.Process(pid))
    return total


def thread_count(site, pids=None):
    """Threads in the server's whole process tree right now (supervisor, server, workers)."""
    return _sum_over_server(site, lambda process: process.num_threads(), pids)


def memory_mb(site):
    """Resident memory of the server's whole process tree, in MB."""
    return _sum_over_server(site, lambda process: process.memory_info().rss) / 2**20


def cpu_seconds(site, pids=None):
    """CPU time (user + system) the server's process tree has used so far. A difference across a
    load, divided by its requests, is the server's CPU per request: on a busy machine it moves
    much less than requests per second, which count every wait for a core too."""
    return _sum_over_server(site, lambda process: sum(process.cpu_times()[:2]), pids)


@dataclass
class ThreadPeak:
    """Thread counts of the server's process tree: before a load and at its peak during it."""

    before: int
    peak: int

    @property
    def extra(self):
        """Threads the server added for the load."""
        return self.peak - self.before


async def settled_thread_count(site, *, quiet=0.1, timeout=2.0):
    """The server's thread count once it has stopped changing for `quiet` seconds.

    Threads of the previous load take a moment to exit (asgiref joins them in the background),
    so a count taken right after a load would include them.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pids = ListedEvery(site.pids)
    count, since = thread_count(site, pids()), loop.time()
    while loop.time() - since < quiet and loop.time() < deadline:
        await asyncio.sleep(0.01)
        now = thread_count(site, pids())
        if now != count:
            count, since = now, loop.time()
    return count


async def peak_threads(site, load, *, every=0.005):
    """Await `load` (e.g. `fire(...)`) while sampling the server's thread count every `every` s.

    Waits for the count to settle first, so `ThreadPeak.extra` counts only this load's threads.
    Returns (whatever `load` returned, ThreadPeak).
    """
    before = await settled_thread_count(site)
    peak = before
    task = asyncio.ensure_future(load)
    pids = ListedEvery(site.pids)
    while not task.done():
        peak = max(peak, thread_count(site, pids()))
        await asyncio.wait([task], timeout=every)
    return task.result(), ThreadPeak(before, peak)


async def wait_for_workers(site, workers, *, path="/sync/sleep/?delay=0.05", timeout=20.0):
    """Wait until `workers` different server processes have answered `path`.

    gunicorn answers as soon as its first worker is up, while the others are still importing
    Django; a load sent then queues behind the ready ones. Returns the set of worker PIDs seen.
    """
    seen = set()
    async with (
        asyncio.timeout(timeout),
        httpx.AsyncClient(timeout=timeout, verify=shared_context()) as client,
    ):
        while len(seen) < workers:
            responses = await asyncio.gather(
                *(client.get(site.url + path) for _ in range(2 * workers))
            )
            seen |= {response.json()["pid"] for response in responses}
    return seen
