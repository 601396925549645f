"""Bounded concurrent load with httpx: every request's start and end, ready to plot.

    result = await fire(site.url + "/async/sleep/?delay=0.2", n=20)
    result.elapsed, result.errors, plot_timeline(result.spans())

Bounded in count (`n`), in concurrency (`concurrency`, default all at once) and in time
(`timeout` per request, `deadline` for the whole run). Only 127.0.0.1/localhost URLs are allowed:
this tutorial never sends load anywhere else.
"""

import asyncio
import contextlib
import importlib.util
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from .timing import max_overlap as most_at_once  # noqa: F401 - lessons import it from here
from .tls import shared_context

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_REQUESTS = 5000
# httpcore's pool looks at each of its connections for every request it queues or finishes, so
# one pool of 1000 connections costs a million steps for 1000 requests: split the load over
# pools of at most this many connections.
CONNECTIONS_PER_CLIENT = 50

# httpcore asks `import sniffio` several times per request; where sniffio is not installed, each
# ask searches sys.path again (~0.3 ms, about 2 ms per request). Note once that it is absent.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)


@dataclass
class Record:
    """One request: when it started and ended (seconds since the run began), and how it went."""

    index: int
    start: float
    end: float
    status: int | None = None
    error: str | None = None
    body: object = None

    @property
    def duration(self):
        return self.end - self.start

    @property
    def ok(self):
        return self.error is None and self.status is not None and self.status < 400


@dataclass
class LoadResult:
    url: str
    concurrency: int
    records: list[Record] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def errors(self):
        return sum(not r.ok for r in self.records)

    @property
    def throughput(self):
        """Successful requests per second over the whole run."""
        return sum(r.ok for r in self.records) / self.elapsed if self.elapsed else 0.0

    def latency(self, percentile):
        """Latency in seconds at `percentile` (0-100) of the successful requests."""
        durations = sorted(r.duration for r in self.records if r.ok)
        if not durations:
            return float("nan")
        rank = min(len(durations) - 1, max(0, round(percentile / 100 * len(durations)) - 1))
        return durations[rank]

    def spans(self):
        """(label, start, end) per request, for `tutorial.plots.plot_timeline`."""
        return [(f"#{r.index}", r.start, r.end) for r in self.records]

    def server_spans(self):
        """(label, start, end) of each view as the server saw it, from the `started`/`ended`
        fields the companion site's timing views return, relative to the earliest start."""
        bodies = [(r.index, r.body) for r in self.records if isinstance(r.body, dict)]
        timed = [
            (i, b["started"], b["ended"]) for i, b in bodies if "started" in b and "ended" in b
        ]
        if not timed:
            return []
        t0 = min(start for _, start, _ in timed)
        return [(f"#{i}", start - t0, end - t0) for i, start, end in timed]

    def __repr__(self):
        return (
            f"<LoadResult {len(self.records)} requests, concurrency {self.concurrency}, "
            f"{self.elapsed:.2f} s, {self.errors} errors, {self.throughput:.1f} req/s>"
        )


def check_local(url):
    host = urlsplit(url).hostname
    if host not in LOCAL_HOSTS:
        raise ValueError(f"load goes to 127.0.0.1 only; {host!r} is not this machine")


async def fire(url, n=20, *, concurrency=None, timeout=30.0, deadline=120.0, json=True):
    """Send `n` GET requests to `url`, at most `concurrency` at a time (default: all at once).

    Returns a LoadResult whose records hold each request's start/end relative to the run's
    start, status, error (if any) and parsed JSON body (if `json`).
    """
    check_local(url)
    if not 1 <= n <= MAX_REQUESTS:
        raise ValueError(f"n must be between 1 and {MAX_REQUESTS}, got {n}")
    concurrency = min(concurrency or n, n)
    clients = -(-concurrency // CONNECTIONS_PER_CLIENT)
    per_client = -(-concurrency // clients)
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    # `concurrency` free places, each on one client: a request takes one (or waits for one, in
    # order, as at a semaphore) and sends on its client, which never has more in flight than
    # its connections.
    places = asyncio.Queue()
    result = LoadResult(url, concurrency)
    t0 = time.perf_counter()

    async def one(index):
        client = await places.get()
        start = time.perf_counter() - t0
        record = Record(index, start, start)
        try:
            response = await client.get(url)
            record.status = response.status_code
            if json and response.headers.get("content-type", "").startswith("application/json"):
                record.body = response.json()
        except httpx.HTTPError as error:
            record.error = (
                f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            )
        finally:
            places.put_nowait(client)
        record.end = time.perf_counter() - t0
        return record

    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(timeout=timeout, limits=limits, verify=shared_context())
            )
            for _ in range(clients)
        ]
        for place in range(concurrency):
            places.put_nowait(pool[place % clients])
        try:
            async with asyncio.timeout(deadline):
                result.records = list(await asyncio.gather(*(one(i) for i in range(n))))
        except TimeoutError:
            raise TimeoutError(
                f"{n} requests to {url} did not finish within {deadline:g} s"
            ) from None
    result.elapsed = time.perf_counter() - t0
    return result
