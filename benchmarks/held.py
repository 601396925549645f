"""Long-lived connections: N open event streams held by one server — threads and memory for each.

Where async truly differs from a pool of threads is not a short request that waits 0.1 s, but a
connection that stays open: a sync server gives each open stream a thread for its whole life,
so a pool of T threads holds T streams and the next client waits; an event loop holds a stream
as a coroutine. For each configuration and each N, on a fresh server:

1. note the idle server's threads and RSS;
2. open N server-sent-event streams at once (raw HTTP/1.1, one connection each) and wait until
   each has its first event, or until none has come for `settle` seconds while the server sat
   idle (a full thread pool: the rest wait for a thread);
3. while all N are held: sample the server's threads and RSS, and time one new short request
   (`/health/`): does a newcomer get in?
4. close every connection and stop the server.

WebSockets are another kind of held connection. benchmarks/websockets_held.py (lesson 14)
measures them on their own, with a broadcast to every socket, into results/websockets_held.md,
which this section's table points to. To put a kind of connection into this very table,
`register(kind, opener, [HeldConfiguration(..., kind=kind)])`: `OPENERS` maps a kind ("sse") to
the coroutine that opens one connection and sets its event at the first message.
"""

import asyncio
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tutorial.fresh_loop import run_in_fresh_loop
from tutorial.load import check_local
from tutorial.site import start_site

from . import configs
from .sampler import tree_usage

LEVELS = (1000, 3000)
QUICK_LEVELS = (300,)
MAX_HELD = 5000
INTERVAL = 2.0  # seconds between a stream's events: enough to keep it alive, cheap to send
COUNT = 60  # events per stream: it outlives the measurement, which closes it
PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class HeldConfiguration:
    name: str
    server: str
    path: str
    site: dict = field(default_factory=dict)
    kind: str = "sse"
    why: str = ""

    def threads(self):
        """Requests it serves at once if it is a thread pool (gthread), else None."""
        if self.site.get("worker_class") == "gthread":
            return self.site["workers"] * self.site["threads"]
        return None


SSE = f"/stream/?count={COUNT}&interval={INTERVAL:g}"
SYNC_SSE = f"/stream/sync/?count={COUNT}&interval={INTERVAL:g}"

CONFIGURATIONS = (
    HeldConfiguration("starlette async (uvicorn)", "uvicorn", SSE, {"app": configs.PEER_APP},
                      why="the peer: a stream is a coroutine"),
    HeldConfiguration("django async (uvicorn)", "uvicorn", SSE,
                      why="stock Django: request_started's sync receivers start the request's "
                          "thread before the view, and it lives as long as the stream"),
    HeldConfiguration("django async, native middleware + reused threads (uvicorn)", "uvicorn",
                      SSE, {"env": {**configs.NATIVE, **configs.REUSED}},
                      why="no sync call before response.close(): no thread while streaming"),
    *(
        HeldConfiguration(
            f"django sync (gunicorn gthread {configs.CORES}×{threads})", "gunicorn", SYNC_SSE,
            {"workers": configs.CORES, "worker_class": "gthread", "threads": threads},
            why="a sync generator: one worker thread per open stream",
        )
        for threads in configs.FAIR_THREADS
    ),
)  # fmt: skip
# The full run: one pool is enough to show the cap (2×500: N = 1000 fits, 3000 does not).
FULL = tuple(
    c.name for c in CONFIGURATIONS if c.threads() != configs.CORES * configs.FAIR_THREADS[0]
)

QUICK = (
    "django async (uvicorn)",
    f"django sync (gunicorn gthread {configs.CORES}×{configs.FAIR_THREADS[0]})",
)


@dataclass
class HeldResult:
    config: str
    kind: str
    held: int  # N: connections opened
    served: int  # of them, how many got their first event
    connect_errors: int
    seconds_to_serve: float  # from the first connect to the last first event (nan if none)
    idle_threads: int
    threads: int  # peak while all N were held
    idle_rss_mb: float
    rss_mb: float
    probe_ms: float | None  # a new /health/ request while all N were held; None: no answer
    pool: int | None = None  # threads of a thread-pool server, for "N exceeds its threads"
    note: str = ""

    @property
    def rss_kb_per_stream(self):
        return (self.rss_mb - self.idle_rss_mb) * 1024 / self.served if self.served else math.nan

    @property
    def threads_per_stream(self):
        return (self.threads - self.idle_threads) / self.served if self.served else math.nan

    def as_dict(self):
        return {**asdict(self), "rss_kb_per_stream": self.rss_kb_per_stream,
                "threads_per_stream": self.threads_per_stream}  # fmt: skip


async def open_sse(url, first_event, *, timeout):
    """Open one event stream and keep reading it; set `first_event` when the first tick arrives."""
    parts = urlsplit(url)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, parts.port), timeout
    )
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        seen = b""
        while not first_event.is_set():
            chunk = await reader.read(65536)
            if not chunk:
                return  # the server closed it
            seen = (seen + chunk)[-256:]
            if b"event: tick" in seen:
                first_event.set()
        while await reader.read(65536):  # hold it: keep reading what the server sends
            pass
    finally:
        writer.close()


OPENERS = {"sse": open_sse}


def register(kind, opener, configurations=(), *, quick=()):
    """Add a kind of held connection: `opener(url, first_event, *, timeout)` and its rows.

    `quick`: names of those configurations that the quick run includes too.
    """
    global CONFIGURATIONS, QUICK, FULL
    OPENERS[kind] = opener
    CONFIGURATIONS = (*CONFIGURATIONS, *configurations)
    QUICK = (*QUICK, *quick)
    FULL = (*FULL, *(c.name for c in configurations))


async def hold(url, n, *, kind="sse", settle=3.0, timeout=30.0, while_held=None, server_cpu=None):
    """Open `n` connections of `kind` to `url`; call `while_held()` once they settle; close all.

    Settled: every connection has its first event, or none came for `settle` seconds while the
    server sat idle (`server_cpu()`, its CPU seconds so far, grew by less than a tenth of a core)
    — a busy server is still working through newcomers, a full thread pool is not.
    Returns (served, connect_errors, seconds_to_serve, what while_held returned).
    """
    check_local(url)
    if not 1 <= n <= MAX_HELD:
        raise ValueError(f"held connections must be 1..{MAX_HELD}, got {n}")
    opener = OPENERS[kind]
    events = [asyncio.Event() for _ in range(n)]
    started = time.perf_counter()
    tasks = [asyncio.create_task(opener(url, event, timeout=timeout)) for event in events]
    deadline = started + timeout
    last_first_event = math.nan
    served_before, quiet_since = -1, time.perf_counter()
    cpu_since = server_cpu() if server_cpu else 0.0
    while time.perf_counter() < deadline:
        served = sum(e.is_set() for e in events)
        now = time.perf_counter()
        if served == n:
            last_first_event = now - started
            break
        if served != served_before:
            served_before, quiet_since = served, now
            cpu_since = server_cpu() if server_cpu else 0.0
            if served:
                last_first_event = now - started
        elif now - quiet_since > settle:
            if not server_cpu or server_cpu() - cpu_since < 0.1 * (now - quiet_since):
                break
            quiet_since, cpu_since = now, server_cpu()  # still busy: look again later
        await asyncio.sleep(0.05)
    served = sum(e.is_set() for e in events)
    failed = [t for t in tasks if t.done() and t.exception() is not None]
    observed = await while_held() if while_held else None
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return served, len(failed), last_first_event, observed


async def _probe(url):
    """Milliseconds for one new GET /health/ while the streams are held; None if no answer."""
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
        started = time.perf_counter()
        try:
            response = await client.get(url + "/health/")
        except httpx.HTTPError:
            return None
        return (time.perf_counter() - started) * 1000 if response.status_code == 200 else None


def measure(config, n, *, settle=3.0):
    """One HeldResult: `n` connections held by a fresh server of `config`."""
    site = start_site(config.server, fresh=True, **config.site)
    try:
        return measure_on(site, config, n, settle=settle)
    finally:
        # Not the graceful 5 s: a thread pool still works through the queued, abandoned streams.
        site.stop(timeout=1.0)


def measure_on(site, config, n, *, settle=3.0):
    """One HeldResult: `n` connections of `config`'s kind to `site`, an idle running server."""
    httpx.get(site.url + "/health/", timeout=10)
    idle_rss, idle_threads, _ = tree_usage(site.pids())

    async def while_held():
        peak_rss = peak_threads = 0
        for _ in range(5):  # a few samples: gunicorn workers start threads as they go
            rss, threads, _ = tree_usage(site.pids())
            peak_rss, peak_threads = max(peak_rss, rss), max(peak_threads, threads)
            await asyncio.sleep(0.1)
        return peak_rss, peak_threads, await _probe(site.url)

    def server_cpu():
        return sum(tree_usage(site.pids())[2].values())

    served, errors, seconds, (rss, threads, probe) = run_in_fresh_loop(
        hold, site.url + config.path, n, kind=config.kind, settle=settle,
        while_held=while_held, server_cpu=server_cpu, name="held",
    )  # fmt: skip
    return HeldResult(config.name, config.kind, n, served, errors, seconds, idle_threads, threads,
                      idle_rss / 2**20, rss / 2**20, probe, pool=config.threads())  # fmt: skip


def by_name(name):
    """The HeldConfiguration called `name`."""
    for config in CONFIGURATIONS:
        if config.name == name:
            return config
    raise ValueError(f"no held configuration {name!r}; known: {[c.name for c in CONFIGURATIONS]}")


def describe(r):
    probe = (
        f"{r.probe_ms:.0f} ms" if r.probe_ms is not None else f"no answer in {PROBE_TIMEOUT:g} s"
    )
    return (f"{r.config} N={r.held}: {r.served} served, {r.connect_errors} connect errors; "
            f"threads {r.idle_threads} → {r.threads}, RSS {r.idle_rss_mb:.0f} → {r.rss_mb:.0f} MB; "
            f"a new request meanwhile: {probe}")  # fmt: skip


def run(chosen, levels, *, settle=3.0, failures, write=print):
    """Every configuration at every N; a configuration that fails is one line in `failures`."""
    results = []
    for config in chosen:
        for n in levels:
            try:
                result = measure(config, n, settle=settle)
            except Exception as error:
                failures.append(f"held, {config.name} N={n}: {type(error).__name__}: "
                                f"{str(error).splitlines()[0] if str(error) else ''}")  # fmt: skip
                write(f"✗ {failures[-1]}")
                break
            results.append(result)
            write(describe(result))
    return results


def select(names=None, *, quick=False):
    wanted = set(names or (QUICK if quick else FULL))
    return [c for c in CONFIGURATIONS if c.name in wanted]


def markdown(results, *, settle):
    """The long-lived-connections table, with what each row means."""
    lines = [
        "## Long-lived connections: N open event streams held by one server",
        "",
        f"Each row: a fresh server, N server-sent-event streams opened at once (one connection "
        f"each, an event every {INTERVAL:g} s), held while the server's threads and RSS are "
        f"sampled and one new request is timed, then closed. *served*: streams that got their "
        f"first event (waiting until none came for {settle:g} s while the server sat idle); "
        f"*a new request*: "
        f"`GET /health/` while all N are held. A pool of T threads holds T streams: the others, "
        f"and the newcomer, wait for one to end. One run per N: what is counted here (streams "
        f"served, threads) does not move from run to run the way req/s does.",
        "",
        "| configuration | kind | N | served | threads idle → held | threads per stream "
        "| RSS MB idle → held | KB per stream | a new request meanwhile |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        probe = f"{r.probe_ms:.0f} ms" if r.probe_ms is not None else "no answer"
        per_thread = "—" if math.isnan(r.threads_per_stream) else f"{r.threads_per_stream:.2f}"
        per_kb = "—" if math.isnan(r.rss_kb_per_stream) else f"{r.rss_kb_per_stream:.0f}"
        pool = f" (pool of {r.pool})" if r.pool else ""
        lines.append(
            f"| {r.config} | {r.kind} | {r.held} | {r.served}{pool} | {r.idle_threads} → "
            f"{r.threads} | {per_thread} | {r.idle_rss_mb:.0f} → {r.rss_mb:.0f} | {per_kb} | "
            f"{probe} |"
        )
    websockets = Path(__file__).resolve().parent / "results" / "websockets_held.md"
    if websockets.exists():
        lines += ["", "WebSockets (Channels consumers) and the same streams, held 1000 at a time with "
                  "a broadcast to all: [websockets_held.md](websockets_held.md) "
                  "(`python -m benchmarks.websockets_held`)."]  # fmt: skip
    return "\n".join(lines) + "\n"
