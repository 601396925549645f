"""Checks for exercises/04_asgiref_bridges.ipynb."""

import asyncio
import random
import secrets
import sqlite3
import sys
import threading
import time

from asgiref.sync import ThreadSensitiveContext, sync_to_async

from ..timing import Timeline
from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async, call_sync

KEYS = ("alpha", "beta", "gamma", "delta", "epsilon")
CALL_SECONDS = 0.2


def blocking_lookup(timeline):
    """A stand-in for a blocking library call (a sync SDK, a sync HTTP client): it records when
    and in which thread it ran, waits CALL_SECONDS, and answers `value of <key>`."""

    def lookup(key):
        with timeline.span(key):
            time.sleep(CALL_SECONDS)
        if not _called_through_asgiref():
            timeline.not_through_asgiref.append(key)
        return f"value of {key}"

    return lookup


def _called_through_asgiref():
    """Whether asgiref's SyncToAsync is on the stack of this thread: sync_to_async ran us."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.replace("\\", "/").endswith("asgiref/sync.py"):
            return True
        frame = frame.f_back
    return False


async def _thread_sensitive_thread():
    """The thread that sync_to_async's default (thread_sensitive=True) uses here and now."""
    return await sync_to_async(lambda: threading.current_thread().name)()


@exercise(
    "04",
    "lookup_all",
    hints=(
        "Lesson 04's timeline shows when bridged calls overlap and when they queue in one "
        "thread: which setting decides that, and are all calls started before you await?",
        "sync_to_async(lookup, thread_sensitive=False) makes an async function; gather one "
        "call of it per key.",
    ),
)
async def lookup_all(lookup_all):
    """Check that lookup_all(lookup, keys) returns [lookup(key) for key in keys], all five blocking calls running at the same time in threads."""
    timeline = Timeline()
    timeline.not_through_asgiref = []
    result = await call_async(lookup_all, blocking_lookup(timeline), list(KEYS))
    expected = [f"value of {key}" for key in KEYS]
    if not isinstance(result, (list, tuple)):
        fail(
            f"Return a list of the {len(KEYS)} values, got {type(result).__name__}: {result!r:.80}"
        )
    if sorted(map(str, result)) == sorted(expected) and list(result) != expected:
        fail(
            "The values are right but out of order: the value of keys[0] first, and so on.",
            kind="order",
        )
    if list(result) != expected:
        fail(f"Expected {expected[:2]}…, got {list(result)!r:.120}")
    spans = timeline.spans
    if len(spans) != len(KEYS):
        fail(f"lookup ran {len(spans)} times for {len(KEYS)} keys: call it once per key.")
    loop_thread = threading.current_thread().name
    if any(span.thread == loop_thread for span in spans):
        fail(
            "lookup ran in the event loop's own thread, so each call froze the loop for "
            f"{CALL_SECONDS} s: call it through sync_to_async so it runs in a worker thread."
        )
    if timeline.not_through_asgiref:
        fail(
            "lookup ran in worker threads, but not through sync_to_async (asyncio.to_thread or "
            "run_in_executor): this exercise is about asgiref's bridge, the one Django uses.",
            kind="wrong_method",
        )
    overlap = timeline.max_overlap()
    if overlap == 1:
        threads = {span.thread for span in spans}
        if threads == {await _thread_sensitive_thread()}:
            fail(
                f"The calls ran one after another, all in {threads.pop()}: the one thread that "
                "sync_to_async uses by default (thread_sensitive=True) takes one call at a time."
            )
        fail(
            "The calls ran one after another: each was awaited before the next one started. "
            "Start them all first, then await them together."
        )
    if overlap < len(KEYS):
        fail(f"At most {overlap} of the {len(KEYS)} calls ran at the same time; all should.")


# run_queries: a thread-bound connection, inside a request ---------------------------------


def _open_db_factory(opened):
    """open_db() for the learner: a fresh in-memory SQLite database with per-run values. Like
    Django's connections, a sqlite3 connection works only in the thread that opened it; every
    row also says which thread ran the query (the SQL function thread_name())."""
    values = {i: secrets.token_hex(3) for i in range(1, 6)}

    def open_db():
        db = sqlite3.connect(":memory:")  # check_same_thread=True: sqlite3's own rule
        db.create_function("thread_name", 0, lambda: threading.current_thread().name)
        db.execute("create table item (id integer primary key, value text)")
        db.executemany("insert into item values (?, ?)", values.items())
        opened.append(threading.current_thread().name)
        return db

    return open_db, values


def _fail_crossed_threads(opened_in, request_thread):
    """sqlite3 refused a query from a thread other than the one that opened the database: say
    so when the opening was the mistake (opened in the request's thread, sqlite3's own message
    about the later call is the hint)."""
    if opened_in == request_thread:
        return
    if opened_in == threading.current_thread().name:
        fail(
            "open_db() ran on the event loop's own thread, and a query in another one, which "
            "sqlite3 refuses: open it through sync_to_async too, so that both run in the "
            "request's thread.",
            kind="blocked",
        )
    fail(
        f"The database opened in {opened_in} was then used from another thread, which sqlite3 "
        f"(like Django's connections) refuses: keep every call in the request's own thread "
        f"({request_thread}) with the default thread_sensitive=True.",
        kind="wrong_method",
    )


@exercise(
    "04",
    "run_queries",
    hints=(
        "Lesson 04's section 4: which setting keeps every call in one thread — the thread a "
        "connection like Django's, or sqlite3's, was opened in?",
        "db = await sync_to_async(open_db)(); then for each query await sync_to_async(run)(q), "
        "where def run(q): return db.execute(q).fetchone() — default thread_sensitive=True.",
    ),
)
async def run_queries(run_queries):
    """Check that run_queries(open_db, queries) opens the database and runs every query in the request's own thread (not on the loop, not in a pool), returning each query's first row."""
    opened = []
    open_db, values = _open_db_factory(opened)
    ids = random.sample(sorted(values), 3)
    queries = [f"select value, thread_name() from item where id = {i}" for i in ids]
    async with ThreadSensitiveContext():  # as Django opens around every ASGI request
        request_thread = await sync_to_async(lambda: threading.current_thread().name)()
        try:
            result = await call_async(run_queries, open_db, queries)
        except ExerciseFailed as error:
            if error.kind == "exception" and "same thread" in error.hint and opened:
                _fail_crossed_threads(opened[0], request_thread)  # if it was opened elsewhere
            raise
    if not opened:
        fail("open_db() was never called: open the database with it, then run the queries.")
    if not isinstance(result, (list, tuple)) or len(result) != len(queries):
        fail(f"Return one row per query ({len(queries)}), got {result!r:.100}")
    if not all(isinstance(row, (tuple, list)) and len(row) == 2 for row in result):
        fail(f"Return each query's first row, db.execute(q).fetchone(); got {result!r:.100}")
    if [row[0] for row in result] != [values[i] for i in ids]:
        fail("The rows are not those of the queries, in their order: one row per query.")
    loop_thread = threading.current_thread().name
    threads = {opened[0], *(row[1] for row in result)}
    if loop_thread in threads:
        fail(
            "The database was used on the event loop's own thread: a real query would block "
            "every other request. Go through sync_to_async.",
            kind="blocked",
        )
    if threads != {request_thread}:
        fail(
            f"The database ran in {', '.join(sorted(threads))}, not in the request's own thread "
            f"({request_thread}), where Django keeps this request's connection: keep the default "
            "thread_sensitive=True.",
            kind="wrong_method",
        )


# sync_fetch_all: async_to_sync from sync code ---------------------------------------------


def _fetcher(timeline, token):
    async def fetch(item_id):
        with timeline.span(f"fetch({item_id})"):
            timeline.loops.append(threading.current_thread().name)
            await asyncio.sleep(CALL_SECONDS)
        return f"item {item_id} {token}"

    return fetch


@exercise(
    "04",
    "sync_fetch_all",
    hints=(
        "Lesson 04's section 5: from sync code that sync_to_async started, which bridge runs "
        "a coroutine, and on which event loop?",
        "Write an `async def` that gathers fetch(i) for every id, and call it once with "
        "async_to_sync(that_function)() from your plain def.",
    ),
)
async def sync_fetch_all(sync_fetch_all):
    """Check that the plain def sync_fetch_all(fetch, ids) returns [await fetch(i) for i in ids], the fetches running at the same time on the server's event loop through async_to_sync."""
    timeline, token = Timeline(), secrets.token_hex(3)
    timeline.loops = []
    ids = random.sample(range(100, 1000), 4)
    fetch = _fetcher(timeline, token)
    async with ThreadSensitiveContext():  # a sync view under ASGI runs like this
        result = await sync_to_async(call_sync)(sync_fetch_all, fetch, ids)
    expected = [f"item {i} {token}" for i in ids]
    if not isinstance(result, (list, tuple)) or list(result) != expected:
        fail(f"Return [await fetch(i) for i in ids] in that order; got {result!r:.100}")
    loop_thread = threading.current_thread().name
    elsewhere = sorted(set(timeline.loops) - {loop_thread})
    if elsewhere:
        fail(
            f"The fetches ran on a new event loop in {elsewhere[0]} (asyncio.run, or a loop of "
            "your own), not on the server's loop, where its connections and tasks live: "
            "async_to_sync sends them back there.",
            kind="wrong_method",
        )
    if timeline.max_overlap() < len(ids):
        fail(
            f"At most {timeline.max_overlap()} of the {len(ids)} fetches ran at the same time: "
            "one async_to_sync call per fetch waits for each. Gather them in one coroutine."
        )
