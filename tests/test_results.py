"""Scoring of committed benchmark results (amago_edu.results) on hand-built summaries."""

from __future__ import annotations

import math

import pytest

from amago_edu.results import above_random, attempt_score, load_result, verdict_table


def summary(returns, return_se, success=(None, None), success_se=(None, None)):
    return {"attempt_return": list(returns), "attempt_return_se": list(return_se),
            "attempt_success": list(success), "attempt_success_se": list(success_se)}


def test_above_random_uses_the_standard_error_of_the_difference():
    # difference 0.5; sqrt(0.2^2 + 0.15^2) = 0.25, so z = 2.0 exactly: not *more* than 2
    agent, random = summary([0.0, 0.6], [0.0, 0.2]), summary([0.0, 0.1], [0.0, 0.15])
    assert attempt_score(agent, "return", -1) == (0.6, 0.2)
    assert not above_random(agent, random)
    assert above_random(summary([0.0, 0.61], [0.0, 0.2]), random)
    assert not above_random(agent, random, attempt=0)  # equal first attempts


def test_verdict_table_counts_tasks_per_attempt():
    results = {"AMAGO-2": {"a": summary([0, 0], [0, 0], [0.9, 0.8], [0.05, 0.05]),
                           "b": summary([0, 0], [0, 0], [0.2, 0.5], [0.05, 0.05])},
               "random": {"a": summary([0, 0], [0, 0], [0.2, 0.2], [0.05, 0.05]),
                          "b": summary([0, 0], [0, 0], [0.2, 0.2], [0.05, 0.05])}}
    text, counts = verdict_table(results, "success", [0, 1])
    assert counts == {0: 1, 1: 2}
    assert "attempt 1: 1 of 2 tasks" in text and "attempt 2: 2 of 2 tasks" in text
    z_b1 = 0.3 / math.hypot(0.05, 0.05)
    assert f"{z_b1:.1f}" in text


def test_missing_result_names_its_maker():
    with pytest.raises(FileNotFoundError, match="benchmarks"):
        load_result("no_such_result.json")
