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
LEVELS = (1, 50, 200, 1000)
QUICK_LEVELS = (1, 50, 200)
CORES = os.cpu_count() or 1
GUNICORN_WORKERS = 2 * CORES + 1  # gunicorn's documented starting point
GTHREAD_THREADS = 8
PEER_APP = "benchmarks.peer_starlette:app"


@dataclass(frozen=True)
class Configuration:
    name: str
    server: str
    path: str  # with "{delay}" where the view takes one
    why: str
    site: dict = field(default_factory=dict)  # extra start_site() arguments
    io: bool = True  # False: a trivial view, no ideal

    def url(self, base, delay=DELAY):
        return base + self.path.format(delay=delay)


CONFIGURATIONS = (
    Configuration(
        "starlette async (uvicorn)", "uvicorn", "/sleep/?delay={delay}",
        "the peer: no middleware, no signals; at high C the one server process runs out of CPU "
        "(it shares 2 cores with the load generator)",
        site={"app": PEER_APP},
    ),
    Configuration(
        "django async (uvicorn)", "uvicorn", "/async/sleep/?delay={delay}",
        "Django's ASGI handler still sends request_started/finished to sync receivers and "
        "closes the response through sync_to_async, and each of its built-in middleware "
        "(MiddlewareMixin) hops to that thread: 13 hops and 2 new threads per request "
        "(benchmarks.hop_count), many times the peer's CPU per request (last column), so the "
        "one server process runs out of CPU; at C=1000 its ~2 threads per request in flight "
        "make each request dearer still",
    ),
    Configuration(
        "django async, lean middleware (uvicorn)", "uvicorn", "/async/sleep/?delay={delay}",
        "2 hops per request are left (request_started's sync receivers, response.close()), "
        "and with them a one-thread executor and a joining thread per request: less CPU than "
        "with the full stack, still far more than the peer's (the next row removes both)",
        site={"env": {"COMPANION_LEAN_MIDDLEWARE": "1"}},
    ),
    Configuration(
        "django async, lean + reused threads (uvicorn)", "uvicorn", "/async/sleep/?delay={delay}",
        "no thread started per request, one hop left (response.close()) and a thread held only "
        "from that hop to the end (config/reused_threads.py); at C=1000 the one server process "
        "runs out of CPU: 10 000 req/s × its CPU per request is more than a core",
        site={"env": {"COMPANION_LEAN_MIDDLEWARE": "1", "COMPANION_REUSE_THREADS": "1"}},
    ),
    Configuration(
        f"django async, lean + reused threads (uvicorn ×{CORES})", "uvicorn",
        "/async/sleep/?delay={delay}",
        "two server processes double the CPU Django can use, but they share the two cores "
        "with the load generator",
        site={"env": {"COMPANION_LEAN_MIDDLEWARE": "1", "COMPANION_REUSE_THREADS": "1"},
              "workers": CORES},
    ),
    Configuration(
        "django sync (uvicorn, ASGI)", "uvicorn", "/sync/sleep/?delay={delay}",
        "a sync view under ASGI runs in its own thread per request: the same per-request "
        "threads as the async view, plus the sleeping thread itself",
    ),
    Configuration(
        f"django sync (gunicorn sync ×{GUNICORN_WORKERS})", "gunicorn", "/sync/sleep/?delay={delay}",
        f"{GUNICORN_WORKERS} sync workers serve {GUNICORN_WORKERS} requests at a time: at most "
        f"{GUNICORN_WORKERS}/{DELAY:g} s = {GUNICORN_WORKERS / DELAY:.0f} req/s, whatever C is",
        site={"workers": GUNICORN_WORKERS, "worker_class": "sync"},
    ),
    Configuration(
        f"django sync (gunicorn gthread {CORES}×{GTHREAD_THREADS})", "gunicorn",
        "/sync/sleep/?delay={delay}",
        f"{CORES} workers × {GTHREAD_THREADS} threads serve {CORES * GTHREAD_THREADS} requests "
        f"at a time: at most {CORES * GTHREAD_THREADS / DELAY:.0f} req/s",
        site={"workers": CORES, "worker_class": "gthread", "threads": GTHREAD_THREADS},
    ),
    Configuration(
        "django async + time.sleep (uvicorn)", "uvicorn", "/async/blocking/?delay={delay}",
        "time.sleep in an async view blocks the event loop: one request at a time, at most "
        f"1/{DELAY:g} s = {1 / DELAY:.0f} req/s; and since each request comes back to the "
        "loop a dozen times (its thread hops), the sleeps interleave and every request waits "
        "for nearly all the others: p50 ≈ C × delay, nothing answered within a short window",
    ),
    Configuration(
        "django sync_to_async(thread_sensitive=True)", "uvicorn",
        "/bridge/sensitive/?delay={delay}",
        "under ASGI each request has its own thread-sensitive executor, so calls run in "
        "parallel — one thread each, the same CPU cost as a sync view",
    ),
    Configuration(
        "django sync_to_async(thread_sensitive=False)", "uvicorn",
        "/bridge/insensitive/?delay={delay}",
        f"the loop's default executor has min(32, cores + 4) = {min(32, CORES + 4)} threads: "
        f"at most {min(32, CORES + 4) / DELAY:.0f} req/s of blocking calls",
    ),
    Configuration(
        "hello: starlette", "uvicorn", "/hello/", "framework overhead only",
        site={"app": PEER_APP}, io=False,
    ),
    Configuration(
        "hello: django async (uvicorn)", "uvicorn", "/hello/async/", "framework overhead only",
        io=False,
    ),
    Configuration(
        "hello: django sync (uvicorn)", "uvicorn", "/hello/sync/", "framework overhead only",
        io=False,
    ),
)  # fmt: skip

QUICK = (
    "starlette async (uvicorn)",
    "django async (uvicorn)",
    "django async, lean middleware (uvicorn)",
    "django async, lean + reused threads (uvicorn)",
    "django sync (uvicorn, ASGI)",
    f"django sync (gunicorn gthread {CORES}×{GTHREAD_THREADS})",
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
