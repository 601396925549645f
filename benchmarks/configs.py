"""What the benchmark runs: each configuration started the way a user would deploy it.

Every I/O configuration waits DELAY seconds per request (asyncio.sleep, time.sleep or a sync
call through a bridge), so the ideal throughput at C concurrent requests is C / DELAY. The
"hello" configurations do no I/O: they measure what the framework itself costs per request.
`why` is the reason printed beside a configuration that falls below half of the ideal; each
is checked by a lesson or by the numbers in the same table (threads, p99).
"""

import os
from dataclasses import dataclass, field

DELAY = 0.1
LEVELS = (50, 200, 1000)
QUICK_LEVELS = (200,)  # the level the lesson's conclusions are drawn at
REPEATS = 3  # each configuration is measured this many times; the table shows median and spread
CORES = os.cpu_count() or 1
GUNICORN_WORKERS = 2 * CORES + 1  # gunicorn's documented starting point
GTHREAD_THREADS = 8  # undersized on purpose: the pool a default-ish deployment starts with
FAIR_THREADS = (100, 500)  # CORES × threads ≥ C: 200 and 1000 requests served at once
PEER_APP = "benchmarks.peer_starlette:app"
NATIVE = {"COMPANION_NATIVE_MIDDLEWARE": "1"}
REUSED = {"COMPANION_REUSE_THREADS": "1"}
LEAN = {"COMPANION_LEAN_MIDDLEWARE": "1"}


@dataclass(frozen=True)
class Configuration:
    name: str
    server: str
    path: str  # with "{delay}" where the view takes one
    why: str
    site: dict = field(default_factory=dict)  # extra start_site() arguments
    io: bool = True  # False: a trivial view, no ideal
    max_concurrency: int | None = None  # levels above it are not run (the why says why)
    own_levels: tuple | None = None  # run at these instead (e.g. where a request takes seconds)

    def url(self, base, delay=DELAY):
        return base + self.path.format(delay=delay)

    def levels(self, levels):
        """The concurrency levels of `levels` this configuration is run at."""
        if self.own_levels:
            return list(self.own_levels)
        return [c for c in levels if self.max_concurrency is None or c <= self.max_concurrency]


def gthread(threads, why, **more):
    return Configuration(
        f"django sync (gunicorn gthread {CORES}×{threads})", "gunicorn",
        "/sync/sleep/?delay={delay}", why,
        site={"workers": CORES, "worker_class": "gthread", "threads": threads}, **more,
    )  # fmt: skip


STOCK_WHY = (
    "Django's ASGI handler sends request_started/finished to sync receivers and closes the "
    "response through sync_to_async, and each of its built-in middleware (MiddlewareMixin) "
    "hops to the request's thread: 13 hops and 2 new threads per request "
    "(benchmarks.hop_count), many times the peer's CPU per request, so the one server process "
    "runs out of CPU"
)

CONFIGURATIONS = (
    Configuration(
        "starlette async (uvicorn)", "uvicorn", "/sleep/?delay={delay}",
        "the peer: no middleware, no signals; at high C the one server process runs out of CPU "
        "(it shares 2 cores with the load generator)",
        site={"app": PEER_APP},
    ),
    Configuration("django async (uvicorn)", "uvicorn", "/async/sleep/?delay={delay}", STOCK_WHY),
    Configuration(
        "django async, reused threads (uvicorn)", "uvicorn", "/async/sleep/?delay={delay}",
        "Django's default middleware kept, request threads lent instead of started "
        "(config/reused_threads.py): no thread started, but the 11 middleware hops stay, and "
        "they are most of the CPU",
        site={"env": REUSED},
    ),
    Configuration(
        "django async, native middleware (uvicorn)", "uvicorn", "/async/sleep/?delay={delay}",
        "the same protections, async-native (demo/middleware_native.py): 2 hops left "
        "(request_started's sync receivers, response.close()) and with them a one-thread "
        "executor and a joining thread started per request",
        site={"env": NATIVE},
    ),
    Configuration(
        "django async, native middleware + reused threads (uvicorn)", "uvicorn",
        "/async/sleep/?delay={delay}",
        "the same protections, async-native, and request threads lent: one hop left "
        "(response.close()), no thread started; at C=1000 the one server process runs out of CPU",
        site={"env": {**NATIVE, **REUSED}},
    ),
    Configuration(
        "django async, protections removed (uvicorn)", "uvicorn", "/async/sleep/?delay={delay}",
        "no security headers, sessions, CSRF or auth (COMPANION_LEAN_MIDDLEWARE): 2 hops and 2 "
        "threads per request are left, as with the native stack",
        site={"env": LEAN},
    ),
    Configuration(
        "django async, protections removed + reused threads (uvicorn)", "uvicorn",
        "/async/sleep/?delay={delay}",
        "no protections and request threads lent: what the deletion chain measured; at C=1000 "
        "the one server process runs out of CPU",
        site={"env": {**LEAN, **REUSED}},
    ),
    Configuration(
        "django sync (uvicorn, ASGI)", "uvicorn", "/sync/sleep/?delay={delay}",
        "a sync view under ASGI runs in its own thread per request: the same per-request "
        "threads and hops as the async view, plus the sleeping thread itself — as does "
        "sync_to_async(thread_sensitive=True), which is what runs it (not run at C=1000)",
        max_concurrency=200,
    ),
    gthread(
        GTHREAD_THREADS,
        f"{CORES} workers × {GTHREAD_THREADS} threads serve {CORES * GTHREAD_THREADS} requests at "
        f"a time: at most {CORES * GTHREAD_THREADS / DELAY:.0f} req/s — a pool sized below C, kept "
        "as the lesson; the two rows after it are sized for C (not run at C=1000: it only "
        "queues longer)",
        max_concurrency=200,
    ),
    *(
        gthread(
            threads,
            f"{CORES} workers × {threads} threads: {CORES * threads} requests at a time, so "
            f"at most {CORES * threads / DELAY:.0f} req/s; past that requests queue",
        )
        for threads in FAIR_THREADS
    ),
    Configuration(
        f"django sync (gunicorn sync ×{GUNICORN_WORKERS})", "gunicorn", "/sync/sleep/?delay={delay}",
        f"{GUNICORN_WORKERS} sync workers serve {GUNICORN_WORKERS} requests at a time: at most "
        f"{GUNICORN_WORKERS}/{DELAY:g} s = {GUNICORN_WORKERS / DELAY:.0f} req/s, whatever C is "
        "(run at C=50 only: past that it only queues longer)",
        site={"workers": GUNICORN_WORKERS, "worker_class": "sync"}, max_concurrency=50,
    ),
    Configuration(
        "django async + time.sleep (uvicorn)", "uvicorn", "/async/blocking/?delay={delay}",
        "time.sleep in an async view blocks the event loop: one request at a time, at most "
        f"1/{DELAY:g} s = {1 / DELAY:.0f} req/s; and since each request comes back to the "
        "loop a dozen times (its thread hops), the sleeps interleave and every request waits "
        "for nearly all the others: p50 ≈ C × delay (run at C=1 and 10 only: at C=50 a "
        "request already takes 5 s, longer than the measurement)",
        own_levels=(1, 10),
    ),
    Configuration(
        "django sync_to_async(thread_sensitive=False)", "uvicorn",
        "/bridge/insensitive/?delay={delay}",
        f"the loop's default executor has min(32, cores + 4) = {min(32, CORES + 4)} threads: "
        f"at most {min(32, CORES + 4) / DELAY:.0f} req/s of blocking calls (run at C=50 only)",
        max_concurrency=50,
    ),
    Configuration(
        "hello: starlette", "uvicorn", "/hello/", "framework overhead only",
        site={"app": PEER_APP}, io=False, max_concurrency=200,
    ),
    Configuration(
        "hello: django async (uvicorn)", "uvicorn", "/hello/async/", "framework overhead only",
        io=False, max_concurrency=200,
    ),
    Configuration(
        "hello: django async, native middleware (uvicorn)", "uvicorn", "/hello/async/",
        "framework overhead only", site={"env": NATIVE}, io=False, max_concurrency=200,
    ),
)  # fmt: skip

QUICK = (
    "starlette async (uvicorn)",
    "django async (uvicorn)",
    "django async, native middleware (uvicorn)",
    f"django sync (gunicorn gthread {CORES}×{FAIR_THREADS[0]})",
)


def select(names=None, *, quick=False):
    """The configurations named (all by default; QUICK with quick=True), in table order."""
    wanted = set(names) if names else set(QUICK) if quick else None
    if wanted is None:
        return list(CONFIGURATIONS)
    unknown = wanted - {c.name for c in CONFIGURATIONS}
    if unknown:
        known = "\n  ".join(c.name for c in CONFIGURATIONS)
        raise ValueError(f"unknown configuration(s) {sorted(unknown)}; known:\n  {known}")
    return [c for c in CONFIGURATIONS if c.name in wanted]
