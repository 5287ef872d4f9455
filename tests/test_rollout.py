"""Tests for amago_edu.rollout: what evaluation counts (each env's first trials, not the first to finish) and how often
a policy picks each action, on hand-built envs and policies."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from amago_edu.envs import TrialWrapper, make_env
from amago_edu.rollout import RandomPolicy, action_frequencies, evaluate, make_vector_env
from helpers import ScriptedEnv


class _PerEnvPolicy(torch.nn.Module):
    """Acting interface stub: env i always plays ``actions[i]``."""

    def __init__(self, actions):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)
        self.actions = torch.tensor(actions)

    def init_cache(self, num_envs, device=None):
        return RandomPolicy._NoContext()

    def act(self, obs, time, cache, sample=True):
        return self.actions


def test_evaluation_counts_each_envs_first_trials_not_the_first_to_finish():
    """Env 0's trials last 1 step and fail (action 0), env 1's last 5 steps and succeed (action 2, ScriptedEnv's
    success). Keeping the first 4 trials to finish would score 4 quick failures (0.0); each env's first 2 trials
    score 0.5, the mean of the two envs' success."""
    envs = make_vector_env(lambda i: TrialWrapper(ScriptedEnv(length=1 if i == 0 else 5), episodes_per_trial=1), 2)
    try:
        result = evaluate(envs, _PerEnvPolicy([0, 2]), trials=4, seed=0)
        assert result["attempt_success"] == [0.5]
        assert result["tasks"]["task"]["trials"] == 4
        assert evaluate(envs, _PerEnvPolicy([0, 2]), trials=3, seed=0)["tasks"]["task"]["trials"] == 4  # 2 per env
    finally:
        envs.close()


class _CyclingPolicy(torch.nn.Module):
    """Acting interface stub: call c picks action c % 4 in every env."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)
        self.calls = 0

    def init_cache(self, num_envs, device=None):
        return RandomPolicy._NoContext()

    def act(self, obs, time, cache, sample=True):
        self.calls += 1
        return torch.full((int(time.shape[0]),), (self.calls - 1) % 4)


def test_action_frequencies_count_every_env_and_step_by_hand():
    envs = make_vector_env(lambda i: make_env("toy/meta_frozen_lake", seed=i, episodes_per_trial=2), 2)
    try:
        # 6 calls x 2 envs: actions 0, 1, 2, 3, 0, 1 -> counts 4, 4, 2, 2, 0 of 12
        np.testing.assert_allclose(action_frequencies(envs, _CyclingPolicy(), steps=6, seed=0),
                                   [4 / 12, 4 / 12, 2 / 12, 2 / 12, 0.0])
        uniform = action_frequencies(envs, RandomPolicy(envs.single_action_space, seed=0), steps=2000, seed=0)
        np.testing.assert_allclose(uniform, 0.2, atol=0.02)  # 4,000 draws: s.e. of each share 0.006
        with pytest.raises(ValueError, match="steps must be >= 1"):
            action_frequencies(envs, _CyclingPolicy(), steps=0, seed=0)
    finally:
        envs.close()
    continuous = make_vector_env(lambda i: gym.make("Pendulum-v1"), 1)
    try:
        with pytest.raises(ValueError, match="needs a Discrete action space"):
            action_frequencies(continuous, _CyclingPolicy(), steps=1, seed=0)
    finally:
        continuous.close()
