"""Exploration as the authors schedule it: annealed over each env's own steps, and their T-maze corridor rule."""

from __future__ import annotations

import numpy as np
import pytest

from amago_edu.config import TrainConfig
from amago_edu.rollout import exploration_rates
from amago_edu.train import epsilon_at


@pytest.mark.parametrize("num_envs", [1, 8, 24])
def test_epsilon_anneals_over_each_envs_steps_whatever_the_number_of_envs(num_envs):
    config = TrainConfig(epsilon_start=1.0, epsilon_end=0.1, epsilon_anneal_steps=100, num_envs=num_envs)
    assert epsilon_at(config, 0) == pytest.approx(1.0)
    assert epsilon_at(config, 50) == pytest.approx(0.55)  # halfway: (1.0 + 0.1) / 2
    assert epsilon_at(config, 100) == pytest.approx(0.1)
    assert epsilon_at(config, 10_000) == pytest.approx(0.1)


def test_exploration_rate_is_epsilon_times_each_envs_multiplier():
    rates = exploration_rates(0.5, np.array([0.0, 0.2, 1.0]), np.array([0, 5, 9]))
    np.testing.assert_allclose(rates, [0.0, 0.1, 0.5])


def test_corridor_schedule_explores_little_inside_the_corridor_only():
    H = 10  # steps 1..6 are the corridor (0 < t < H - 3); step 0 and steps 7..9 keep epsilon x multiplier
    time = np.arange(H)
    rates = exploration_rates(0.8, np.full(H, 0.5), time, corridor=H)
    np.testing.assert_allclose(rates, [0.4] + [0.05] * 6 + [0.4] * 3)


def test_corridor_setting_is_validated():
    with pytest.raises(ValueError, match="corridor_exploration must be >= 0"):
        TrainConfig(corridor_exploration=-1).validate()
