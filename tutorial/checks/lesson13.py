"""Checks for exercises/13_connections_and_pools_exercises.ipynb: each judged on a real PostgreSQL."""

import asyncio
import random
import secrets
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from ..site import start_site
from ..tls import shared_context
from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async, call_sync

MYSTERIES = ("a", "b", "c")
# The site shuffles these three behaviours over the letters with the seed it reads from the file
# COMPANION_CONN_SEED_FILE names (companion_site/demo/views/connections.py), and removes the file
# as it starts: the seed is in no process's environment while find_leak runs. The same shuffle
# here tells which letter leaks.
BEHAVIOURS = ("plain", "leaky", "closed")


def leaky_letter(seed):
    behaviours = list(BEHAVIOURS)
    random.Random(seed).shuffle(behaviours)
    return MYSTERIES[behaviours.index("leaky")]


class _CountingCluster:
    """The site's PostgreSQL cluster as the learner's code gets it: it counts their counts, and
    notes what each saw (a count that never changed saw no leak, whatever was called between)."""

    def __init__(self, postgres):
        self._postgres, self.seen = postgres, []

    @property
    def counts(self):
        return len(self.seen)

    def count_connections(self, database=None, state=None):
        count = self._postgres.count_connections(database, state)
        self.seen.append(count)
        return count

    def connections(self, database=None):
        rows = self._postgres.connections(database)
        self.seen.append(len(rows))
        return rows


class _LearnersSite:
    """What find_leak gets of a site: its address, database and cluster — not its process or
    environment, which hold the shuffle's seed."""

    def __init__(self, site):
        self.url, self.dsn, self.database = site.url, site.dsn, site.database
        self.postgres = _CountingCluster(site.postgres)

    def __repr__(self):
        return f"<Site {self.url} postgres>"


def _two_seeds_with_different_leaks():
    first = secrets.token_hex(4)
    while True:
        second = secrets.token_hex(4)
        if leaky_letter(second) != leaky_letter(first):
            return first, second


@exercise(
    "13",
    "find_leak",
    hints=(
        "Call each /conn/mystery/<letter>/ endpoint a few times, wait a moment, and count the "
        "site's connections with site.postgres.count_connections(database) in between.",
        "The site's database is the last part of site.dsn; the endpoint after whose calls the "
        "count grows (and stays up) is the leaky one. Count before and after each letter.",
    ),
)
async def find_leak(find_leak, postgres):
    """Check that find_leak(site) names the mystery endpoint that leaks connections, on two differently shuffled sites."""
    await _fail_if_not_started(find_leak)  # before any site starts: the stub needs none
    for seed in _two_seeds_with_different_leaks():
        # One site at a time: an answer wrong on the first never needs the second.
        site = await asyncio.to_thread(_site_shuffled_by, seed, postgres)
        try:
            given = _LearnersSite(site)
            answer = await call_async(find_leak, given, timeout=20, allow_blocking=True)
        finally:
            site.stop()
        if answer not in MYSTERIES:
            fail(f"Return one letter of {', '.join(MYSTERIES)}; got {answer!r}.", kind="shape")
        if given.postgres.counts < 2:
            fail(
                f"find_leak answered {answer!r} after counting the connections "
                f"{given.postgres.counts} time(s): count with "
                "site.postgres.count_connections(database) before and after each endpoint."
            )
        if len(set(given.postgres.seen)) < 2:
            fail(
                f"find_leak answered {answer!r}, but every count it made saw "
                f"{given.postgres.seen[0]} connection(s): the leak never showed in them. Count "
                "before and after calling each endpoint, and wait a moment after the calls."
            )
        if answer != leaky_letter(seed):
            fail(
                f"On this site /conn/mystery/{answer}/ does not leak: its connections are "
                "closed again. Count after calling each endpoint, not only once at the end."
            )


def _site_shuffled_by(seed, postgres):
    folder = Path(tempfile.mkdtemp(prefix="check-13-"))
    try:
        seed_file = folder / "seed"
        seed_file.write_text(seed)
        env = {"COMPANION_CONN_SEED_FILE": str(seed_file)}
        return start_site(database="postgres", postgres=postgres, env=env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _NoSiteHere(Exception):
    """What the stand-in raises when find_leak looks at it: find_leak got past its first line."""


class _StandIn:
    """A site that is not there: find_leak is called with it first, so that the untouched stub,
    which raises before it looks at its site, fails without a site started for it."""

    def __getattr__(self, name):
        raise _NoSiteHere(name)


async def _fail_if_not_started(find_leak):
    try:
        await call_async(find_leak, _StandIn(), timeout=5, allow_blocking=True)
    except ExerciseFailed as error:
        if error.kind in ("not_started", "not_async"):
            raise
    # Anything else it did with no site says nothing yet: the real sites judge it.


# (in flight per process, processes, max_connections, headroom): fits, fits, does not fit.
def _sizing_cases():
    rng = random.Random()
    in_flight, processes = rng.randint(5, 9), rng.choice((2, 3, 4))
    headroom = rng.randint(3, 6)
    fitting = in_flight * processes + headroom + rng.randint(0, 3)
    tight = in_flight * processes + headroom
    return [
        (in_flight, processes, fitting, headroom),
        (in_flight + 1, processes, (in_flight + 1) * processes + headroom, headroom),
        (in_flight, processes, tight - 1, headroom),  # one connection short
    ], in_flight


DELAY = 0.3  # each request: one query, then an unrelated await of this long


async def _waits_with_pool(postgres, size, in_flight):
    """How many of `in_flight` concurrent requests waited for a connection with a pool of `size`."""
    env = {
        "COMPANION_DB_POOL": "1",
        "COMPANION_DB_POOL_MIN": str(size),
        "COMPANION_DB_POOL_MAX": str(size),
        "COMPANION_DB_POOL_TIMEOUT": "5",
    }
    with start_site(database="postgres", postgres=postgres, env=env) as site:
        async with httpx.AsyncClient(timeout=30, verify=shared_context()) as client:
            await client.get(site.url + "/db/query-then-sleep/")  # opens the pool
            replies = await asyncio.gather(
                *(
                    client.get(f"{site.url}/db/query-then-sleep/?delay={DELAY}")
                    for _ in range(in_flight)
                )
            )
    bodies = [reply.json() for reply in replies if reply.status_code == 200]
    # The server's own clock: how long each request waited before its query could run.
    return sum(body["queried"] - body["started"] > DELAY / 2 for body in bodies) + (
        len(replies) - len(bodies)
    )


@exercise(
    "13",
    "pool_size",
    hints=(
        "A request keeps its pooled connection until it ends, awaits included: how many "
        "connections does one process need when `in_flight` such requests run at once?",
        "Every process has its own pool, and PostgreSQL serves at most max_connections minus "
        "the headroom you keep: check the total before you return a size, raise ValueError if it does not fit.",
    ),
)
async def pool_size(pool_size, postgres):
    """Check that pool_size(in_flight, processes, max_connections, headroom) sizes a pool no request waits for, within what PostgreSQL serves."""
    cases, in_flight = _sizing_cases()
    for case in cases[:2]:
        size = await asyncio.to_thread(call_sync, pool_size, *case)
        if isinstance(size, bool) or not isinstance(size, int):
            fail(f"Return the pool's max_size per process, an int; got {size!r}.")
        need, processes, limit, headroom = case
        if size * processes > limit - headroom:
            fail(
                f"pool_size{case} = {size}: {processes} processes × {size} = {size * processes} "
                f"connections, more than max_connections − headroom = {limit - headroom}."
            )
        if size < need:
            fail(f"pool_size{case} = {size}: {need} requests in flight, so some would wait.")
    try:
        answer = await asyncio.to_thread(call_sync, pool_size, *cases[2])
    except Exception as error:  # call_sync turned the learner's exception into a hint
        if "ValueError" not in str(error):
            raise
    else:
        fail(
            f"pool_size{cases[2]} returned {answer!r}, but {cases[2][0]} × {cases[2][1]} "
            f"connections do not fit in {cases[2][2]} − {cases[2][3]}: raise ValueError."
        )
    # And live: the size it gives for one process really lets every request run at once.
    size = await asyncio.to_thread(call_sync, pool_size, in_flight, 1, 100, 3)
    waited = await _waits_with_pool(postgres, size, in_flight)
    if waited:
        fail(f"With max_size={size}, {waited} of {in_flight} requests waited for a connection.")


def _reset_tickets():
    from demo.models import Item
    from django.db import connection

    try:
        Item.objects.filter(name__startswith="ticket ").delete()
    finally:
        connection.close()


def _ticket_names():
    from demo.models import Item
    from django.db import connection

    try:
        return list(Item.objects.filter(name__startswith="ticket ").values_list("name", flat=True))
    finally:
        connection.close()


def _call_in_own_connection(issue_ticket, work):
    from django.db import connection

    try:
        return issue_ticket(work)
    finally:
        connection.close()  # each thread's own connection, as each request's would be


def _lock_waits_during(postgres, database, running):
    """Count the samples in which a backend of `database` waited for a lock, while `running`."""
    seen = 0
    with postgres.admin_connection() as connection:
        while running.is_set():
            waiting = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                (database,),
            ).fetchone()[0]
            seen += waiting > 0
            running.wait(0.005)
    return seen


CALLS, WORK = 40, 0.02


@exercise(
    "13",
    "fix_ticket_race",
    hints=(
        "Counting and inserting in one transaction is not enough on PostgreSQL: two "
        "transactions can count the same rows. Something in the database must make the second wait.",
        "Lock one row everyone must pass (select_for_update() on a counter row, inside "
        "transaction.atomic()) before counting: a Python lock would not reach a second server process.",
    ),
)
async def fix_ticket_race(issue_ticket, postgres):
    """Check that 40 concurrent issue_ticket(work) calls on PostgreSQL get 40 distinct numbers, serialised by a lock in the database."""
    from django.db import connection

    database = connection.settings_dict["NAME"]
    await asyncio.to_thread(_reset_tickets)
    first = await asyncio.to_thread(call_sync, issue_ticket, WORK)
    if first != 1:
        fail(f"The first ticket on an empty table should be 1; issue_ticket returned {first!r}.")
    running = threading.Event()
    running.set()
    with ThreadPoolExecutor(CALLS) as pool:
        sampler = pool.submit(_lock_waits_during, postgres, database, running)
        calls = [pool.submit(_call_in_own_connection, issue_ticket, WORK) for _ in range(CALLS - 1)]
        try:
            numbers = [first] + [await asyncio.wrap_future(call) for call in calls]
        except Exception as error:
            fail(f"A concurrent call raised {type(error).__name__}: {error}", kind="exception")
        finally:
            running.clear()
        lock_waits = await asyncio.wrap_future(sampler)
    stored = await asyncio.to_thread(_ticket_names)
    if len(set(numbers)) != CALLS:
        fail(f"{CALLS} concurrent calls got only {len(set(numbers))} distinct numbers.")
    if sorted(numbers) != list(range(1, CALLS + 1)) or len(set(stored)) != CALLS:
        fail(
            f"Expected tickets 1 to {CALLS}, each stored once; the table holds {len(set(stored))}."
        )
    if not lock_waits:
        fail(
            "The numbers are right, but PostgreSQL never made a transaction wait for a lock: "
            "the calls were kept apart in Python, which a second server process would not see."
        )
