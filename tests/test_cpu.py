"""tutorial.cpu: the CPU-bound function of lesson 03, its closed form and its calibration."""

import pickle
import sys
import threading

from tutorial.cpu import expected_sum_of_squares, rounds_for, sum_of_squares


def test_the_loop_and_the_formula_agree():
    assert [sum_of_squares(n) for n in range(6)] == [0, 0, 1, 5, 14, 30]
    assert all(sum_of_squares(n) == expected_sum_of_squares(n) for n in (0, 1, 7, 1000))


def test_rounds_for_scales_with_the_time_asked_for():
    assert rounds_for(0.2, sample=10_000) > rounds_for(0.02, sample=10_000) >= 10_000


def test_rounds_for_counts_cpu_time_not_the_time_spent_waiting():
    # A thread spinning in this process takes the GIL half of the time: by the clock, the
    # sample would look twice as slow and the work come out half as large as asked.
    # Turns of 0.1 ms, so that no try runs its whole sample in one turn.
    alone = rounds_for(0.05, tries=5)
    stop, interval = threading.Event(), sys.getswitchinterval()
    spinner = threading.Thread(target=lambda: [None for _ in iter(stop.is_set, True)])
    sys.setswitchinterval(0.0001)
    spinner.start()
    try:
        shared = rounds_for(0.05, tries=5)
    finally:
        stop.set()
        spinner.join()
        sys.setswitchinterval(interval)
    assert shared > 0.7 * alone, (alone, shared)


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
