"""A database in the loop: one query on PostgreSQL, then a 0.1 s wait — req/s, p99, connections.

Every other configuration waits on `asyncio.sleep` and touches no database. Here each request
runs one query on the tutorial's PostgreSQL (`tutorial.postgres`, one cluster for the whole
section, a fresh database per server) and then waits `delay` seconds. Django gives a
connection back when the request finishes, so what matters is how many connections the
requests in flight hold while they wait: sampled from `pg_stat_activity` every 50 ms.

All with `CONN_MAX_AGE = 0` (Django's default): stock Django, async and sync, with and without
Django's `pool` option (psycopg's pool, 4 connections per process by default), and the async
view that releases its connection before it waits.
"""

import contextlib
from dataclasses import replace

from tutorial.postgres import start_postgres

from . import configs
from .sampler import INTERVAL, Sampling

LEVELS = (50, 200)
QUICK_LEVELS = (50,)
ASYNC_VIEW = "/db/query-then-sleep/?delay={delay}"
SYNC_VIEW = "/db/sync-query-then-sleep/?delay={delay}"
POOL = {"COMPANION_DB_POOL": "1"}
GTHREAD = {"workers": configs.CORES, "worker_class": "gthread", "threads": configs.FAIR_THREADS[0]}
SYNC = f"gunicorn gthread {configs.CORES}×{configs.FAIR_THREADS[0]}"

CONFIGURATIONS = (
    configs.Configuration(
        "db: django async (uvicorn)", "uvicorn", ASYNC_VIEW,
        "every request in flight holds its own connection through the wait: C connections, "
        "past PostgreSQL's max_connections (100) the newcomers are refused",
    ),
    configs.Configuration(
        "db: django async, pool (uvicorn)", "uvicorn", ASYNC_VIEW,
        "the pool's 4 connections are each held through a request's whole wait: at most "
        f"4 / {configs.DELAY:g} s = {4 / configs.DELAY:.0f} req/s per process, the rest queue",
        site={"env": POOL},
    ),
    configs.Configuration(
        "db: django async, pool, released before the wait (uvicorn)", "uvicorn",
        ASYNC_VIEW + "&release=1",
        "the connection goes back to the pool right after the query: 4 connections serve many "
        "requests, and what is left is Django's own CPU per request",
        site={"env": POOL},
    ),
    configs.Configuration(
        f"db: django sync ({SYNC})", "gunicorn", SYNC_VIEW,
        "each thread holds its connection through the wait: up to 200 connections, past "
        "PostgreSQL's max_connections (100) the newcomers are refused",
        site=GTHREAD,
    ),
)  # fmt: skip

QUICK = ("db: django async (uvicorn)", "db: django async, pool (uvicorn)")


class ConnectionSampler(Sampling):
    """`with ConnectionSampler(postgres, database) as sampled:` then `sampled.peak`."""

    name = "pg-sampler"

    def __init__(self, postgres, database, interval=INTERVAL):
        super().__init__(interval)
        self._postgres, self._database = postgres, database
        self.peak = 0

    def _sample(self):
        # A refused sample (too many clients) must not end the sampling.
        with contextlib.suppress(Exception):
            self.peak = max(self.peak, self._postgres.count_connections(self._database))


def with_postgres(config, postgres):
    """`config` started on a fresh database of `postgres`, sampled for its connections."""
    return replace(config, site={**config.site, "database": "postgres", "postgres": postgres})


def run(chosen, levels, *, repeats, options, generator, failures, fresh_servers=True):
    """Every configuration at every level on one PostgreSQL cluster; [] if it cannot start."""
    try:
        postgres = start_postgres()
    except Exception as error:
        failures.append(f"database in the loop: PostgreSQL not available: "
                        f"{type(error).__name__}: {str(error).splitlines()[0]}")  # fmt: skip
        print(f"✗ {failures[-1]}")
        return []
    from .run import run_rounds  # run.main runs this section: import it only when it runs

    def sampling(site):
        return ConnectionSampler(postgres, site.dsn.rsplit("/", 1)[1])

    try:
        return run_rounds([with_postgres(c, postgres) for c in chosen], levels, repeats=repeats,
                          options=options, generator=generator, failures=failures,
                          fresh_servers=fresh_servers, sampling=sampling)  # fmt: skip
    finally:
        postgres.stop()


def select(names=None, *, quick=False):
    wanted = set(names or (QUICK if quick else [c.name for c in CONFIGURATIONS]))
    return [c for c in CONFIGURATIONS if c.name in wanted]


def markdown(results, *, delay, whys, repeats=1):
    """The database table: the figures of the I/O table, and the connections held."""
    lines = [
        "## A database in the loop: one query on PostgreSQL, then the wait",
        "",
        f"Each request runs one query (`Item.objects.acount()` / `count()`) on PostgreSQL 18, then "
        f"waits {delay:g} s. `CONN_MAX_AGE = 0` throughout; *pool*: Django's `pool` option "
        "(psycopg_pool, its default 4 connections per process). *PG connections*: the peak "
        "number of client connections to the site's database in `pg_stat_activity` during the "
        "run (the server's max_connections is PostgreSQL's default, 100). "
        + (
            f"Each row: the median of {repeats} runs, (lowest–highest) beside it."
            if repeats > 1
            else "One run each (the quick run)."
        ),
        "",
        "| configuration | C | CPU ms/req | ratio | req/s | p99 ms | errors | unfinished "
        "| PG connections |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    from .report import _f0, _f2, _ms_f, _range, count_text

    for r in results:
        lines.append(
            f"| {r.config} | {r.concurrency} | {_range(r, 'cpu_ms', _f2)} | "
            f"{_range(r, 'ratio', _f2)} | {_range(r, 'throughput', _f0)} | "
            f"{_range(r, 'p99', _ms_f)} | {r.errors} | {count_text(r.unfinished)} | "
            f"{_range(r, 'db_connections', _f0)} |"
        )
    lines += ["", "Why each falls where it does:", ""]
    lines += [f"- **{name}**: {why}" for name, why in whys.items()]
    return "\n".join(lines) + "\n"
