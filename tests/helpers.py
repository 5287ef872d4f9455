"""Helpers shared by several test files (tests import them from here, never from another test module).

- ``make_agent``, ``random_batch``, ``seeded_loss`` (and the tiny spaces they build on): a small agent and
  a batch in the replay format, used by test_agent.py and test_grouped.py.
- ``ScriptedEnv``: an inner env with hand-checkable numbers, used by test_envs.py and test_rollout.py.
- ``SMALL``, ``small_config``: a 20-update run of the "fast" preset, used by test_train.py and the ``fast_run``
  fixture (conftest.py) that test_evaluation.py shares.
- ``TINY``: the tiniest network and loop settings, used by test_multitask.py and test_evaluation.py.
- ``ROWS`` (built by ``train_row``, ``eval_row``): hand-written metrics rows, used by test_metrics.py and
  course/test_plotting.py.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from amago_edu.agent import Agent, AgentConfig
from amago_edu.config import TrainConfig

OBS, A, D = 3, 4, 2  # observation width, Discrete(A) actions, Box(D) actions


def obs_space(actions: int = A) -> spaces.Dict:
    box = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
    return spaces.Dict({"observation": box(OBS), "prev_action": box(actions), "prev_reward": box(1),
                        "reset": box(1), "progress": box(1)})


def action_space(kind: str) -> spaces.Space:
    return spaces.Discrete(A) if kind == "discrete" else spaces.Box(-1.0, 1.0, (D,), np.float32)


def make_agent(kind: str = "discrete", seed: int = 0, **overrides) -> Agent:
    settings = dict(d_model=32, n_layers=1, n_heads=2, context_length=16, tstep_hidden=32, head_hidden=32,
                    num_critics=2, gammas=(0.9, 0.99), num_bins=16)
    settings.update(overrides)
    torch.manual_seed(seed)
    space = action_space(kind)
    return Agent(obs_space(A if kind == "discrete" else D), space, AgentConfig(**settings))


def random_batch(kind: str = "discrete", B: int = 3, L: int = 6, seed: int = 0) -> dict:
    """A batch in the format of amago_edu.replay.sample_batch + batch_to_torch, every step valid."""
    g = torch.Generator().manual_seed(seed)
    width = A if kind == "discrete" else D
    obs = {"observation": torch.randn(B, L + 1, OBS, generator=g),
           "prev_action": torch.rand(B, L + 1, width, generator=g),
           "prev_reward": torch.randn(B, L + 1, 1, generator=g),
           "reset": torch.zeros(B, L + 1, 1), "progress": torch.zeros(B, L + 1, 1)}
    if kind == "discrete":
        actions = torch.randint(A, (B, L), generator=g)
    else:
        actions = torch.rand(B, L, D, generator=g) * 1.8 - 0.9
    return {"obs": obs, "time": torch.arange(L + 1).expand(B, -1).clone(), "actions": actions,
            "rewards": torch.randn(B, L, generator=g), "terminals": torch.zeros(B, L, dtype=torch.bool),
            "mask": torch.ones(B, L, dtype=torch.bool)}


def seeded_loss(agent: Agent, batch: dict, seed: int = 123) -> dict:
    torch.manual_seed(seed)  # the TD target and V(s) sample actions: fix the draws
    return agent.loss(batch)


class ScriptedEnv(gym.Env):
    """Inner env with hand-checkable numbers: reward = action + 1, obs = [resets so far, t].

    An episode ends after ``length`` steps (never if ``None``) and then reports
    ``success = (last action == 2)`` when ``report_success``.
    """

    metadata = {"render_modes": []}

    def __init__(self, length: int | None = 2, report_success: bool = True):
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Discrete(3)
        self.length, self.report_success = length, report_success
        self.max_episode_steps = length  # read by TrialWrapper; None: no limit of its own
        self.reset_options: list = []
        self.resets = self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.reset_options.append(options)
        self.resets += 1
        self.t = 0
        return np.array([self.resets, 0], np.float32), {}

    def step(self, action):
        self.t += 1
        done = self.length is not None and self.t >= self.length
        info = {"success": int(action) == 2} if done and self.report_success else {}
        return np.array([self.resets, self.t], np.float32), float(action) + 1.0, done, False, info


# 20 updates, a row every 5, evaluations at 10 and 20, checkpoints at 10 and 20: a couple of seconds
SMALL = dict(total_updates=20, log_interval=5, eval_interval=10, checkpoint_interval=10, eval_trials=4)


def small_config(run_dir, **overrides) -> TrainConfig:
    return TrainConfig.preset("fast", run_dir=str(run_dir), **{**SMALL, **overrides})


# tiny settings: seconds per run, enough to exercise every part of the loop once
TINY = dict(d_model=32, n_layers=1, n_heads=2, tstep_hidden=32, head_hidden=32, num_critics=2, context_length=16,
            num_envs=2, collect_steps=8, updates_per_collect=2, learning_starts=1, batch_size=4, total_updates=4,
            eval_interval=4, eval_trials=2, log_interval=2, checkpoint_interval=4, warmup_updates=2, max_minutes=0.0)


def train_row(update, critic, actor):
    return {"kind": "train", "update": update, "env_steps": 10 * update, "wall_time": 0.5 * update,
            "critic_loss": critic, "actor_loss": actor, "q_mean": 0.0, "td_target_mean": 0.0,
            "advantage_positive": 0.5, "entropy": 1.0, "grad_norm": 1.0, "lr": 1e-4}


def eval_row(update, env_steps, attempt_success, attempt_return, lake_return, pop_return):
    """Two tasks: 'lake' has success, 'pop' (a POPGym-like game) has none."""
    return {"kind": "eval", "update": update, "env_steps": env_steps, "wall_time": float(update),
            "return": sum(attempt_return), "success": attempt_success[-1],
            "attempt_return": attempt_return, "attempt_success": attempt_success,
            "tasks": {"lake": {"return": lake_return, "normalized_return": lake_return / 3,
                               "attempt_return": [0.0, 1.0, 2.0], "attempt_success": [0.0, 0.5, 1.0], "trials": 4},
                      "pop": {"return": pop_return, "normalized_return": pop_return / 300,
                              "attempt_return": [100.0, 110.0, 120.0], "attempt_success": [None, None, None],
                              "trials": 2}}}


ROWS = [train_row(1, 4.0, -1.0), eval_row(2, 100, [0.0, 0.25, 0.5], [1.0, 2.0, 3.0], 3.0, 300.0),
        train_row(3, 3.0, -2.0), eval_row(4, 200, [0.25, 0.5, 1.0], [2.0, 3.0, 4.0], 6.0, 330.0)]
