"""Look at the running server from outside while a load runs: its threads, its memory.

    load = fire(site.url + "/sync/sleep/?delay=0.2", n=10)
    result, threads = await peak_threads(site, load)
    threads.extra        # threads the server started for this load (peak minus before)

Reads the operating system's view of the server's processes (psutil on `site.pids()`), so it
works for every server and every endpoint, even one whose event loop is stuck.
"""

import asyncio
from dataclasses import dataclass

import psutil


def _processes(site):
    processes = []
    for pid in site.pids():
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass  # a worker that exited between the listing and now
    return processes


def thread_count(site):
    """Threads in the server's whole process tree right now (supervisor, server, workers)."""
    total = 0
    for process in _processes(site):
        try:
            total += process.num_threads()
        except psutil.NoSuchProcess:
            pass
    return total


def memory_mb(site):
    """Resident memory of the server's whole process tree, in MB."""
    total = 0
    for process in _processes(site):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


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
    count, since = thread_count(site), loop.time()
    while loop.time() - since < quiet and loop.time() < deadline:
        await asyncio.sleep(0.01)
        now = thread_count(site)
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
    while not task.done():
        peak = max(peak, thread_count(site))
        await asyncio.wait([task], timeout=every)
    return task.result(), ThreadPeak(before, peak)
