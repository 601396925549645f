"""tutorial.cpu: the CPU-bound function of lesson 03, its closed form and its calibration."""

import pickle

from tutorial.cpu import expected_sum_of_squares, rounds_for, sum_of_squares


def test_the_loop_and_the_formula_agree():
    assert [sum_of_squares(n) for n in range(6)] == [0, 0, 1, 5, 14, 30]
    assert all(sum_of_squares(n) == expected_sum_of_squares(n) for n in (0, 1, 7, 1000))


def test_rounds_for_scales_with_the_time_asked_for():
    assert rounds_for(0.2, sample=10_000) > rounds_for(0.02, sample=10_000) >= 10_000


def test_the_function_pickles_by_name_for_process_pools():
    assert pickle.loads(pickle.dumps(sum_of_squares)) is sum_of_squares
