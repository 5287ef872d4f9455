"""Tests for amago_edu.evaluation: held-out measurement of a trained run, per-task scores of a mixture."""

import pytest
import torch

from amago_edu.config import TrainConfig
from amago_edu.evaluation import action_space, evaluate_tasks, load_agent, measure_held_out
from amago_edu.rollout import RandomPolicy
from helpers import TINY


def test_measure_held_out_is_reproducible_and_leaves_torchs_random_state_alone(fast_run):
    config, history = fast_run
    agent, _ = load_agent(history.run_dir)
    state = torch.get_rng_state()
    first = measure_held_out(agent, config, 8)
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(5)  # another random state: the measurement seeds its own
    again = measure_held_out(agent, config, 8)
    assert again["attempt_success"] == first["attempt_success"] and again["attempt_return"] == first["attempt_return"]


def test_random_policy_is_scored_per_task_through_the_same_evaluation():
    config = TrainConfig.preset("scale_ablation", **TINY)
    policy = RandomPolicy(action_space(config), seed=0)
    results = evaluate_tasks(policy, config, trials_per_task=2, seed=0)
    assert list(results) == ["popgym/HigherLowerEasy", "popgym/RepeatFirstEasy", "popgym/RepeatPreviousEasy"]
    for (name, stats), scale in zip(results.items(), (0.1, 1.0, 100.0), strict=True):
        assert stats["trials"] >= 2
        assert stats["normalized_return"] == pytest.approx(stats["return"] / scale)
        assert -1.0 <= stats["normalized_return"] <= 1.0
    again = evaluate_tasks(RandomPolicy(policy.action_space, seed=0), config, trials_per_task=2, seed=0)
    assert again == results  # same seeds -> same games and actions
