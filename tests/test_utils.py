"""Tests for amago_edu.utils."""

from amago_edu.utils import map_calls


def test_map_calls_returns_results_in_the_order_of_the_calls_in_and_out_of_worker_processes():
    calls = [(2, 5), (3, 2), (10, 0)]
    assert map_calls(pow, calls, jobs=1) == [32, 9, 1]
    assert map_calls(pow, calls, jobs=2) == [32, 9, 1]
