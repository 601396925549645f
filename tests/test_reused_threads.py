"""config.reused_threads: requests borrow a thread; Django's guarantees and DB clean-up still hold."""

import asyncio
import concurrent.futures
import itertools
import threading

import httpx
import pytest
from config.reused_threads import (
    BorrowOnFirstCall,
    RequestThreads,
    ReusedThreadsASGIHandler,
    skip_request_started_housekeeping,
)
from django.core import signals
from django.db import close_old_connections, reset_queries

from benchmarks.hop_count import count_hops
from benchmarks.in_memory import get
from tutorial.site import start_site

REUSE = {"COMPANION_REUSE_THREADS": "1"}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_given_back_thread_is_borrowed_again_and_a_busy_one_is_not():
    threads = RequestThreads()
    first, second = threads.borrow(), threads.borrow()
    assert first is not second and threads.created == 2
    threads.give_back(first)
    assert threads.borrow() is first and threads.created == 2
    for executor in (first, second):
        executor.shutdown()


def test_threads_idle_too_long_are_let_go_and_the_others_kept():
    clock = FakeClock()
    threads = RequestThreads(idle_seconds=5, clock=clock)
    old, recent = threads.borrow(), threads.borrow()
    threads.give_back(old)
    clock.now = 4
    threads.give_back(recent)
    clock.now = 6  # `old` has waited 6 s, `recent` 2 s
    busy = threads.borrow()  # the most recent: `recent`
    threads.give_back(busy)
    assert busy is recent and threads.idle == 1
    assert old._shutdown and not recent._shutdown
    recent.shutdown()


def test_a_thread_still_busy_after_its_request_is_not_lent_again():
    threads = RequestThreads()
    executor, release = threads.borrow(), threading.Event()
    executor.submit(release.wait, 10)  # e.g. a sync call whose request was cancelled
    threads.give_back(executor)
    assert threads.idle == 0 and threads.borrow() is not executor
    release.set()
    executor.shutdown()
    assert executor.pending == 0


def test_a_request_borrows_its_thread_at_its_first_call_and_keeps_it():
    threads = RequestThreads()
    executor = BorrowOnFirstCall(threads)
    assert executor.thread is None and threads.created == 0  # no sync call yet: no thread
    first = executor.submit(threading.get_ident).result()
    assert executor.submit(threading.get_ident).result() == first and threads.created == 1
    borrowed = executor.thread
    executor.give_back()
    assert threads.idle == 1 and BorrowOnFirstCall(threads).submit(int).result() == 0
    assert threads.created == 1
    borrowed.shutdown()


def test_the_thread_of_a_request_that_did_not_end_cleanly_is_not_lent_again():
    threads = RequestThreads()
    executor = BorrowOnFirstCall(threads)
    executor.submit(int).result()
    borrowed = executor.thread
    executor.let_go()
    assert threads.idle == 0 and borrowed._shutdown


@pytest.fixture
def restore_request_signals():
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_started.connect(reset_queries)


def receivers(signal):
    return [r.__name__ for r in signal._live_receivers(None)[0]]


def test_without_persistent_connections_request_started_keeps_no_housekeeping(
    restore_request_signals,
):
    assert skip_request_started_housekeeping({"default": {"CONN_MAX_AGE": 0}}, debug=False)
    assert "close_old_connections" not in receivers(signals.request_started)
    assert "reset_queries" not in receivers(signals.request_started)
    assert "close_old_connections" in receivers(signals.request_finished)


@pytest.mark.parametrize(
    ("databases", "debug"),
    [
        ({"default": {}, "other": {"CONN_MAX_AGE": 60}}, False),
        ({"default": {"CONN_MAX_AGE": None}}, False),  # None: persistent, never closed
        ({"default": {"CONN_MAX_AGE": 0}}, True),  # DEBUG keeps a query log to reset
    ],
)
def test_request_started_keeps_its_housekeeping_when_it_has_work(databases, debug):
    assert not skip_request_started_housekeeping(databases, debug=debug)
    assert {"close_old_connections", "reset_queries"} <= set(receivers(signals.request_started))


def test_the_handler_gives_a_thread_back_only_after_a_clean_request(restore_request_signals):
    handler = ReusedThreadsASGIHandler()
    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(get(handler, "/sync/thread/", send))
    assert sent[0]["status"] == 200 and handler.threads.idle == 1

    async def client_gone(message):
        raise OSError("the client went away")

    with pytest.raises(OSError):
        asyncio.run(get(handler, "/sync/thread/", client_gone))
    assert handler.threads.idle == 0  # its thread was let go, not lent again


def test_a_request_starts_no_thread_and_hops_once_with_the_lean_stack():
    stock = count_hops(env={"COMPANION_LEAN_MIDDLEWARE": "1"})
    reused = count_hops(env={"COMPANION_LEAN_MIDDLEWARE": "1", **REUSE})
    assert stock["threads_started"] == 2 and sum(stock["hops"].values()) == 2
    assert reused["threads_started"] == 0 and list(reused["hops"]) == ["JsonResponse.close"]


@pytest.fixture(scope="module")
def reusing_site():
    """One site with reused threads for the three tests below (a site start is ~0.45 s CPU):
    what each checks holds whatever requests the site served before it."""
    with start_site(env=REUSE) as site:
        yield site


def sequential_threads(site, path="/sync/thread/", n=10):
    with httpx.Client(base_url=site.url, timeout=10) as client:
        return [client.get(path).json()["thread"] for _ in range(n)]


def test_one_request_after_another_reuses_threads(reusing_site):
    # Django sends the response before it closes it (a hop), so the next request may arrive
    # while the previous one still holds its thread: one or two threads, not always one.
    assert len(set(sequential_threads(reusing_site))) <= 5
    with start_site() as stock:
        assert len(set(sequential_threads(stock))) == 10  # stock Django: a new thread every time


def test_requests_at_the_same_time_never_share_a_thread(reusing_site):
    url = reusing_site.url + "/sync/sleep/?delay=0.3"
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: httpx.get(url, timeout=10).json(), range(6)))
    assert all(a["thread"].startswith("request-") for a in answers)
    spans = [(a["started"], a["ended"], a["thread"]) for a in answers]
    overlapping = [
        (a, b) for a, b in itertools.combinations(spans, 2) if a[0] < b[1] and b[0] < a[1]
    ]
    assert overlapping  # six 0.3 s sleeps sent at once: some ran at the same time
    assert all(a[2] != b[2] for a, b in overlapping)


def connection_reports(site, n=6):
    """What /async/executor-orm/ saw in the request's own thread, for n requests in a row."""
    with httpx.Client(base_url=site.url, timeout=10) as client:
        reports = [client.get("/async/executor-orm/").json()["sync_to_async"] for _ in range(n)]
        opened = client.get("/scaling/db-connection/").json()["opened"]
    return reports, opened


def reports_of_a_site(env):
    with start_site(env=env) as site:
        return connection_reports(site)


def test_request_finished_still_closes_the_connection_of_a_borrowed_thread(reusing_site):
    reports, _ = connection_reports(reusing_site)
    assert len({r["thread"] for r in reports}) < len(reports)  # threads were reused...
    assert not any(r["connection_was_open"] for r in reports)  # ...with no connection left open


def test_persistent_connections_are_reused_across_requests():
    reports, opened = reports_of_a_site({**REUSE, "COMPANION_CONN_MAX_AGE": "60"})
    assert not reports[0]["connection_was_open"] and any(r["connection_was_open"] for r in reports)
    stock_reports, stock_opened = reports_of_a_site({"COMPANION_CONN_MAX_AGE": "60"})
    assert not any(r["connection_was_open"] for r in stock_reports)  # a new thread each time
    assert stock_opened > opened
