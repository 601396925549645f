"""tutorial.hops.time_hops: one median per hop, measured in its own thread and loop."""

import asyncio

import pytest

from tutorial.hops import HOPS, time_hops, time_request_hop


def test_time_hops_reports_a_positive_median_for_every_hop():
    medians = time_hops(n=5)
    assert list(medians) == list(HOPS)
    assert all(value > 0 for value in medians.values())


def test_time_hops_works_while_an_event_loop_is_running():
    async def from_async_code():
        return time_hops(n=3)  # as in a notebook cell: a loop is running in this thread

    assert set(asyncio.run(from_async_code())) == set(HOPS)


def test_time_hops_refuses_zero_calls():
    with pytest.raises(ValueError, match="at least 1"):
        time_hops(n=0)


def test_time_request_hop_is_positive_and_leaves_no_thread():
    import threading
    import time

    # Compare thread objects, not a count: a thread an earlier test in this worker left
    # running may end meanwhile, which made a count go down and fail (seen in CI).
    before = set(threading.enumerate())
    assert time_request_hop(n=5) > 0
    for _ in range(100):  # a joiner thread may still be returning from its last line
        if not set(threading.enumerate()) - before:
            break
        time.sleep(0.01)
    assert not set(threading.enumerate()) - before  # each request's thread and joiner are gone


def test_time_request_hop_refuses_zero_calls():
    with pytest.raises(ValueError, match="at least 1"):
        time_request_hop(n=0)
