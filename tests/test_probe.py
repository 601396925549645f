"""tutorial.probe: the server's threads sampled during a load, without a scan per sample."""

import asyncio
import os
import threading

from tutorial import probe


class OwnProcessAsSite:
    """A stand-in site whose process tree is this process; it counts how often it is listed."""

    def __init__(self):
        self.listed = 0

    def pids(self):
        self.listed += 1
        return [os.getpid()]


def test_peak_threads_sees_a_new_thread_and_lists_the_tree_a_few_times_a_second(monkeypatch):
    site = OwnProcessAsSite()

    async def settled(site):
        return probe.thread_count(site)

    monkeypatch.setattr(probe, "settled_thread_count", settled)

    async def load():
        started = threading.Event()
        worker = threading.Thread(target=lambda: (started.set(), threading.Event().wait(0.6)))
        worker.start()
        started.wait()
        await asyncio.sleep(0.6)  # ~100 samples at every=0.005
        worker.join()
        return "done"

    result, threads = asyncio.run(probe.peak_threads(site, load(), every=0.005))
    assert result == "done" and threads.extra >= 1
    assert site.listed <= 2 + 0.6 / probe.PIDS_EVERY + 2  # not once per sample


def test_settling_lists_the_tree_a_few_times_a_second():
    site = OwnProcessAsSite()
    count = asyncio.run(probe.settled_thread_count(site, quiet=0.5, timeout=1.0))
    assert count >= 1
    assert site.listed <= 1 + 1.0 / probe.PIDS_EVERY + 1  # ~50 looks at the count, not 50 scans
