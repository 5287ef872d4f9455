"""The k-shot meta-RL trial: ``episodes_per_trial`` attempts at one task (paper Sec. 2,
Problem Setting).

A *trial* is what the agent's Transformer sees as one sequence. Inside it the inner env is reset
softly after every attempt ("episode"); the outer ``terminated`` fires only after the k-th attempt,
so the hidden state (the Transformer's context) carries what was learned about the task from one
attempt to the next. The observation gains the RL^2 inputs the timestep encoder needs (paper
Sec. 3 and Fig. 2; the authors' ``amago/nets/tstep_encoders.py``): the previous action, the
previous reward, a soft-reset flag and the trial progress (attempt index / k).

Observation (a ``gymnasium.spaces.Dict``)::

    "observation"  float32 (n,)   the inner env's flat observation (or the inner Dict's own keys)
    "prev_action"  float32 (A,)   one-hot of a_{t-1} (Discrete) or the raw a_{t-1} (Box);
                                  zeros at the trial's first step; after a soft reset, the action
                                  that ended the previous attempt
    "prev_reward"  float32 (1,)   r_{t-1} * reward_scale (shown even in warm-up attempts);
                                  0 at the trial's first step; after a soft reset, the reward
                                  that ended the previous attempt
    "reset"        float32 (1,)   1.0 at the first step of every attempt, else 0.0
    "progress"     float32 (1,)   attempt index / episodes_per_trial
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

RESERVED_KEYS = ("prev_action", "prev_reward", "reset", "progress")


def infer_episode_limit(env: gym.Env) -> int | None:
    """The inner env's own time limit, if it states one (``max_episode_steps``, spec, minigrid ``max_steps``)."""
    for owner in (env, env.unwrapped):
        limit = getattr(owner, "max_episode_steps", None)
        if limit is not None:
            return int(limit)
    if env.spec is not None and env.spec.max_episode_steps is not None:
        return int(env.spec.max_episode_steps)
    limit = getattr(env.unwrapped, "max_steps", None)  # minigrid / BabyAI
    return None if limit is None else int(limit)


class TrialWrapper(gym.Wrapper):
    """Turn an episodic env into a k-attempt trial env (the package's environment contract).

    Args:
        env: inner env; Box (flat float32) or Dict observations; Discrete or Box-in-[-1, 1] actions.
            It may read ``options["new_trial"]`` in ``reset`` to keep the task between attempts.
        episodes_per_trial: k, the number of attempts per trial (>= 1).
        warmup_episodes: the first ``warmup_episodes`` attempts return reward 0 (their real reward
            stays visible in ``prev_reward``): the E-RL^2 one-shot format of the authors' ``MultiDomainPOPGym`` (App. B, POPGym).
        reward_scale: multiplies every inner reward (a per-task return scale; not the loss's ``reward_multiplier``).
        task_name, task_id: reported in ``info`` on every step (never in the observation); an inner env that
            reports ``info["task_family"]`` is reported as ``"<task_name>/<family>"``.
        max_episode_steps: per-attempt time limit; ``None`` reads the inner env's own limit.
        seed: used by the first ``reset()`` that is not given a seed.

    Attributes: ``episodes_per_trial``, ``max_trial_length`` (= k * max_episode_steps),
    ``task_names``.
    """

    def __init__(
        self,
        env: gym.Env,
        episodes_per_trial: int = 1,
        warmup_episodes: int = 0,
        reward_scale: float = 1.0,
        task_name: str = "task",
        task_id: int = 0,
        max_episode_steps: int | None = None,
        seed: int | None = None,
    ):
        super().__init__(env)
        if not isinstance(episodes_per_trial, (int, np.integer)) or episodes_per_trial < 1:
            raise ValueError(f"episodes_per_trial must be an integer >= 1, got {episodes_per_trial!r}")
        if not isinstance(warmup_episodes, (int, np.integer)) or not 0 <= warmup_episodes < episodes_per_trial:
            raise ValueError(
                f"warmup_episodes must be an integer in [0, episodes_per_trial - 1] = [0, {episodes_per_trial - 1}], "
                f"got {warmup_episodes!r}"
            )
        if not (isinstance(reward_scale, (int, float, np.floating)) and math.isfinite(reward_scale) and reward_scale > 0):
            raise ValueError(f"reward_scale must be a finite number > 0, got {reward_scale!r}")
        if max_episode_steps is None:
            max_episode_steps = infer_episode_limit(env)
        if max_episode_steps is None or int(max_episode_steps) < 1:
            raise ValueError(
                f"max_episode_steps must be an integer >= 1 (the inner env {env} states no time limit of its own); "
                "pass max_episode_steps=..."
            )
        self.episodes_per_trial = int(episodes_per_trial)
        self.warmup_episodes = int(warmup_episodes)
        self.reward_scale = float(reward_scale)
        self.task_name = str(task_name)
        self.task_id = int(task_id)
        self.max_episode_steps = int(max_episode_steps)
        self.max_trial_length = self.episodes_per_trial * self.max_episode_steps
        self.task_names = [self.task_name]
        self._pending_seed = seed

        self.observation_space = self._build_observation_space(env)
        self._prev_action_shape = self.observation_space["prev_action"].shape
        action_space = env.action_space
        if isinstance(action_space, spaces.Discrete):
            if action_space.start != 0:
                raise ValueError(f"Discrete action spaces must start at 0, got {action_space}")
            self._eye = np.eye(int(action_space.n), dtype=np.float32)
        elif isinstance(action_space, spaces.Box):
            if action_space.low.min() < -1 or action_space.high.max() > 1 or len(action_space.shape) != 1:
                raise ValueError(f"Box action spaces must be 1-D within [-1, 1] (rescale them first), got {action_space}")
            self._eye = None
        else:
            raise ValueError(f"action space must be Discrete or Box, got {action_space}")
        if seed is not None:
            self.action_space.seed(seed)

        self._attempt = 0
        self._attempt_step = 0
        self._needs_reset = True
        self._attempt_returns = np.zeros(self.episodes_per_trial, dtype=np.float32)
        self._attempt_successes = np.full(self.episodes_per_trial, np.nan, dtype=np.float32)

    def _build_observation_space(self, env: gym.Env) -> spaces.Dict:
        inner = env.observation_space
        if isinstance(inner, spaces.Box):
            if inner.dtype != np.float32 or len(inner.shape) != 1:
                raise ValueError(f"a Box observation must be 1-D float32 (flatten it first), got {inner}")
            self._flat = True
            entries = {"observation": inner}
        elif isinstance(inner, spaces.Dict):
            clash = [key for key in inner.spaces if key in RESERVED_KEYS]
            if clash:
                raise ValueError(f"inner observation keys {clash} clash with the trial's own keys {RESERVED_KEYS}")
            self._flat = False
            entries = dict(inner.spaces)
        else:
            raise ValueError(f"observation space must be a flat float32 Box or a Dict, got {inner}")
        action_space = env.action_space
        if isinstance(action_space, spaces.Discrete):
            entries["prev_action"] = spaces.Box(0.0, 1.0, (int(action_space.n),), np.float32)
        else:
            entries["prev_action"] = spaces.Box(-1.0, 1.0, action_space.shape, np.float32)
        entries["prev_reward"] = spaces.Box(-np.inf, np.inf, (1,), np.float32)
        entries["reset"] = spaces.Box(0.0, 1.0, (1,), np.float32)
        entries["progress"] = spaces.Box(0.0, 1.0, (1,), np.float32)
        return spaces.Dict(entries)

    # ---- observation assembly -------------------------------------------------------------
    def _observation(self, inner_obs, prev_action: np.ndarray, prev_reward: float, reset: float) -> dict:
        obs = {"observation": np.asarray(inner_obs, dtype=np.float32)} if self._flat else dict(inner_obs)
        obs["prev_action"] = prev_action
        obs["prev_reward"] = np.array([prev_reward], dtype=np.float32)
        obs["reset"] = np.array([reset], dtype=np.float32)
        obs["progress"] = np.array([self._attempt / self.episodes_per_trial], dtype=np.float32)
        return obs

    def _no_action(self) -> np.ndarray:
        return np.zeros(self._prev_action_shape, dtype=np.float32)

    def _encode_action(self, action) -> np.ndarray:
        if self._eye is not None:
            return self._eye[int(action)].copy()  # copy: a row view would alias every step's obs
        return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0).reshape(self._prev_action_shape)

    def _info(self, info: dict, attempt: int) -> dict:
        info = dict(info)
        # an env that draws among task families itself (Meta-World ML10/ML45) names the family in its info:
        # results are then reported per family, e.g. "metaworld/ML10/reach-v3"
        family = info.get("task_family")
        info["task"] = self.task_name if family is None or self.task_name.endswith(family) else f"{self.task_name}/{family}"
        info["task_id"] = self.task_id
        info["attempt"] = attempt
        info["reward_scale"] = self.reward_scale
        return info

    # ---- gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._pending_seed is not None:
            seed, self._pending_seed = self._pending_seed, None
        inner_obs, inner_info = self.env.reset(seed=seed, options={**(options or {}), "new_trial": True})
        self._attempt = 0
        self._attempt_step = 0
        self._needs_reset = False
        self._attempt_returns = np.zeros(self.episodes_per_trial, dtype=np.float32)
        self._attempt_successes = np.full(self.episodes_per_trial, np.nan, dtype=np.float32)
        return self._observation(inner_obs, self._no_action(), 0.0, 1.0), self._info(inner_info, 0)

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError("TrialWrapper.step() called before reset() or after the trial terminated; call reset()")
        inner_obs, reward, terminated, truncated, inner_info = self.env.step(action)
        self._attempt_step += 1
        attempt = self._attempt
        reward = float(reward) * self.reward_scale
        self._attempt_returns[attempt] += reward
        # E-RL^2 warm-up: the agent sees the reward (prev_reward) but is not trained to earn it
        optimised_reward = 0.0 if attempt < self.warmup_episodes else reward
        info = self._info(inner_info, attempt)
        attempt_over = terminated or truncated or self._attempt_step >= self.max_episode_steps
        if not attempt_over:
            obs = self._observation(inner_obs, self._encode_action(action), reward, 0.0)
            return obs, optimised_reward, False, False, info

        if "success" in inner_info:
            self._attempt_successes[attempt] = float(bool(inner_info["success"]))
        if attempt + 1 == self.episodes_per_trial:
            # the end of the trial is a true terminal (no bootstrap), even after a time limit,
            # as in the authors' env wrappers
            self._needs_reset = True
            info["attempt_returns"] = self._attempt_returns.copy()
            info["attempt_successes"] = self._attempt_successes.copy()
            obs = self._observation(inner_obs, self._encode_action(action), reward, 0.0)
            return obs, optimised_reward, True, False, info

        # soft reset: same task, next attempt; the trial (and the agent's context) goes on
        self._attempt += 1
        self._attempt_step = 0
        inner_obs, _ = self.env.reset(options={"new_trial": False})
        # the action and reward that ended the attempt stay visible (as in AMAGO's soft resets):
        # without them the agent could not tell which move fell into a hole or reached the goal
        obs = self._observation(inner_obs, self._encode_action(action), reward, 1.0)
        return obs, optimised_reward, False, False, info
