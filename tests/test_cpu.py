"""tutorial.cpu: the CPU-bound function of lesson 03, its closed form and its calibration."""

import pickle
import time

import tutorial.cpu
from tutorial.cpu import expected_sum_of_squares, rounds_for, sum_of_squares


def test_the_loop_and_the_formula_agree():
    assert [sum_of_squares(n) for n in range(6)] == [0, 0, 1, 5, 14, 30]
    assert all(sum_of_squares(n) == expected_sum_of_squares(n) for n in (0, 1, 7, 1000))


def test_rounds_for_scales_with_the_time_asked_for():
    assert rounds_for(0.2, sample=10_000) > rounds_for(0.02, sample=10_000) >= 10_000


def test_rounds_for_counts_cpu_time_not_the_time_spent_waiting(monkeypatch):
    # A sample that spends 20 ms off the CPU, as a thread waiting for a core does: timed by the
    # clock it looks 20 ms long, and the work would come out ~50 000 rounds for a second.
    def waits_then_works(n):
        time.sleep(0.02)
        return sum(range(n))

    monkeypatch.setattr(tutorial.cpu, "sum_of_squares", waits_then_works)
    assert rounds_for(1.0, sample=1000, tries=2) > 10 * 1000 / 0.02


def test_the_function_pickles_by_name_for_process_pools():
    assert pickle.loads(pickle.dumps(sum_of_squares)) is sum_of_squares


def test_the_traced_function_records_who_ran_it_and_pickles(tmp_path):
    import functools
    import json
    import os

    from tutorial.cpu import traced_sum_of_squares

    log = tmp_path / "runs.jsonl"
    work = pickle.loads(pickle.dumps(functools.partial(traced_sum_of_squares, log=str(log))))
    assert work(10) == work(3) + sum(i * i for i in range(3, 10))
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert first["n"] == 10 and second["n"] == 3 and first["pid"] == os.getpid()
    assert first["started"] <= first["ended"] <= second["started"]
