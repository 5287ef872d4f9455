"""Multi-task mixtures without task labels (AMAGO-2 Sec. 2, Problem Setting; App. B, POPGym).

One env that plays a uniformly sampled task per trial. Every task is already a
:class:`~amago_edu.envs.trial.TrialWrapper`; the mixture only makes their interfaces identical,
so that nothing but the game content tells the agent which task it is playing:

* ``"observation"`` is zero-padded to the largest task's size;
* actions are one ``Discrete(max A)``; ``"prev_action"`` is padded to ``max A``;
* when the tasks' action counts differ, an index the current task does not have ("invalid
  action") is handled by ``invalid_actions``:

  - ``"replace"`` (the paper's rule, the authors' ``MultiDomainPOPGym``): it is replaced by a random
    valid one and flagged in one extra, last feature of ``"observation"``;
  - ``"mask"``: the observation carries ``"action_mask"`` (1 for the current task's valid actions),
    which the agent uses to give invalid actions probability 0. The agent never feeds the mask to
    its network (see :mod:`amago_edu.agent`), so it is not a task label. A policy that ignores the
    mask (e.g. a random one) still gets the replace rule, without the flag.

The task's identity is reported in ``info`` (``task``, ``task_id``) and never in the observation.
"""

from __future__ import annotations

from typing import Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .trial import TrialWrapper

INVALID_ACTIONS = ("replace", "mask")


class MultiTaskEnv(gym.Env):
    """Sample one task per trial (uniformly, from this env's own seeded ``np_random``).

    Args:
        envs: one trial env per task, all with the same ``episodes_per_trial`` and Discrete actions.
        seed: used by the first ``reset()`` that is not given a seed.
        task: name or index of the only task to play (per-task evaluation in a vector env, whose
            automatic resets pass no options); ``None`` samples a task per trial.
        invalid_actions: ``"replace"`` (random valid action + flag, the paper's rule) or ``"mask"``
            (an ``action_mask`` observation key for the agent; see the module docstring).
        shared_actions: size of the shared ``Discrete`` action space; ``None`` = the largest task's.
            A larger one pads every task (e.g. one game alone inside the 27 actions of ``popgym-mt``).

    ``reset(options={"task": name_or_id})`` plays a chosen task for one trial.
    Attributes: ``task_names``, ``episodes_per_trial``, ``max_trial_length`` (max over tasks).
    """

    metadata = {"render_modes": []}

    def __init__(self, envs: Sequence[TrialWrapper], seed: int | None = None, task: str | int | None = None,
                 invalid_actions: str = "replace", shared_actions: int | None = None):
        if len(envs) == 0:
            raise ValueError("envs must hold at least one task")
        if invalid_actions not in INVALID_ACTIONS:
            raise ValueError(f"invalid_actions must be one of {INVALID_ACTIONS}, got {invalid_actions!r}")
        self.invalid_actions = invalid_actions
        self.envs = list(envs)
        self.task_names = [env.task_name for env in self.envs]
        self.fixed_task = None if task is None else self._task_index(task, "task")
        ks = {env.episodes_per_trial for env in self.envs}
        if len(ks) != 1:
            raise ValueError(f"every task needs the same episodes_per_trial, got {dict(zip(self.task_names, ks))}")
        self.episodes_per_trial = ks.pop()
        self.max_trial_length = max(env.max_trial_length for env in self.envs)
        for name, env in zip(self.task_names, self.envs):
            if not isinstance(env.action_space, spaces.Discrete):
                raise ValueError(
                    f"multi-task mixtures need Discrete actions; task {name!r} has {env.action_space} "
                    "(train it on its own instead)"
                )
        self._num_actions = [int(env.action_space.n) for env in self.envs]
        self._max_actions = max(self._num_actions)
        if shared_actions is not None:
            if isinstance(shared_actions, bool) or not isinstance(shared_actions, int) or shared_actions < self._max_actions:
                raise ValueError(f"shared_actions must be an integer >= the largest task's action count "
                                 f"({self._max_actions}), got {shared_actions!r}")
            self._max_actions = shared_actions
        self._mask = invalid_actions == "mask"
        self._flag_invalid = min(self._num_actions) < self._max_actions and not self._mask
        self.observation_space = self._build_observation_space()
        self.action_space = spaces.Discrete(self._max_actions)
        self._eye = np.eye(self._max_actions, dtype=np.float32)
        self._pending_seed = seed
        if seed is not None:
            self.action_space.seed(seed)
        self._task: int | None = None

    def _build_observation_space(self) -> spaces.Dict:
        reference = self.envs[0].observation_space.spaces
        for name, env in zip(self.task_names, self.envs):
            if set(env.observation_space.spaces) != set(reference):
                raise ValueError(
                    f"task {name!r} has observation keys {sorted(env.observation_space.spaces)}, "
                    f"task {self.task_names[0]!r} has {sorted(reference)}; mix tasks of one family"
                )
            for key, space in env.observation_space.spaces.items():
                if key not in ("observation", "prev_action") and space != reference[key]:
                    raise ValueError(f"task {name!r}: observation[{key!r}] is {space}, expected {reference[key]}")
        entries = dict(reference)
        entries["prev_action"] = spaces.Box(0.0, 1.0, (self._max_actions,), np.float32)
        if self._mask:
            entries["action_mask"] = spaces.Box(0.0, 1.0, (self._max_actions,), np.float32)
        if "observation" in reference:
            sizes = [env.observation_space["observation"].shape[0] for env in self.envs]
            self._obs_size = max(sizes) + int(self._flag_invalid)
            # each dimension's bounds cover every task's native bounds, and 0 where a task is padded
            low = np.full(self._obs_size, np.inf, np.float32)
            high = np.full(self._obs_size, -np.inf, np.float32)
            for size, env in zip(sizes, self.envs):
                native = env.observation_space["observation"]
                low[:size] = np.minimum(low[:size], native.low)
                high[:size] = np.maximum(high[:size], native.high)
                low[size:] = np.minimum(low[size:], 0.0)
                high[size:] = np.maximum(high[size:], 0.0)
            if self._flag_invalid:
                low[-1], high[-1] = 0.0, 1.0
            entries["observation"] = spaces.Box(low, high, (self._obs_size,), np.float32)
        elif self._flag_invalid:
            raise ValueError("tasks with different action counts need an 'observation' key for the invalid-action flag")
        return spaces.Dict(entries)

    def _pad(self, obs: dict, action: int | None, invalid: bool) -> dict:
        n = self._num_actions[self._task]
        first_step = obs["reset"][0] == 1.0  # nothing "previous" is shown at an attempt's first step
        prev_action = np.zeros(self._max_actions, dtype=np.float32)
        if invalid and not first_step:
            prev_action[action] = 1.0  # show what the agent chose, with the flag below
        else:
            prev_action[:n] = obs["prev_action"]
        obs["prev_action"] = prev_action
        if self._mask:
            valid = np.zeros(self._max_actions, dtype=np.float32)
            valid[:n] = 1.0
            obs["action_mask"] = valid
        if "observation" in obs:
            native = obs["observation"]
            padded = np.zeros(self._obs_size, dtype=np.float32)
            padded[: native.shape[0]] = native
            if self._flag_invalid:
                padded[-1] = float(invalid and not first_step)
            obs["observation"] = padded
        return obs

    def _task_index(self, chosen: str | int, where: str) -> int:
        if isinstance(chosen, str):
            if chosen not in self.task_names:
                raise ValueError(f"{where} must be one of {self.task_names} or an index, got {chosen!r}")
            return self.task_names.index(chosen)
        if not 0 <= int(chosen) < len(self.envs):
            raise ValueError(f"{where} index must be in [0, {len(self.envs) - 1}], got {chosen!r}")
        return int(chosen)

    def _choose_task(self, options: dict | None) -> int:
        drawn = int(self.np_random.integers(len(self.envs)))  # drawn even when overridden: same rng stream
        chosen = (options or {}).get("task")
        if chosen is not None:
            return self._task_index(chosen, "options['task']")
        return drawn if self.fixed_task is None else self.fixed_task

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._pending_seed is not None:
            seed, self._pending_seed = self._pending_seed, None
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        # every trial's inner seed comes from this env's rng, so one seed fixes every task's games
        inner_seed = int(self.np_random.integers(2**31 - 1))
        inner_options = {k: v for k, v in (options or {}).items() if k != "task"}
        obs, info = self.envs[self._task].reset(seed=inner_seed, options=inner_options)
        return self._pad(obs, None, False), info

    def step(self, action):
        if self._task is None:
            raise RuntimeError("MultiTaskEnv.step() called before reset(); call reset()")
        action = int(action)
        invalid = action >= self._num_actions[self._task]
        taken = int(self.np_random.integers(self._num_actions[self._task])) if invalid else action
        obs, reward, terminated, truncated, info = self.envs[self._task].step(taken)
        return self._pad(obs, action, invalid), reward, terminated, truncated, info

    def close(self):
        for env in self.envs:
            env.close()
