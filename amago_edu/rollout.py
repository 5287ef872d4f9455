"""Rollouts: N parallel environments acting through the cached Transformer.

``Collector`` steps a gymnasium vector env (sync or async) with epsilon-greedy exploration, keeps one
open trajectory per environment and hands every finished trial to a callback (the replay store).
The key/value cache and the open trajectories persist between calls, so a trial may span several
collection rounds. ``evaluate`` runs whole trials on held-out seeds and reports returns and success
per task and per attempt.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from .agent import Agent


def make_vector_env(env_fn: Callable[[int], gym.Env], num_envs: int, mode: str = "sync") -> gym.vector.VectorEnv:
    """``env_fn(i)`` builds environment i. Autoreset happens in the same step (the final observation
    is in ``info["final_obs"]``), so every step we record is a real transition."""
    fns = [lambda i=i: env_fn(i) for i in range(num_envs)]
    if mode == "async":
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)


def obs_to_torch(obs: dict, device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(np.asarray(v), device=device) for k, v in obs.items()}


def _index(obs: dict, i: int) -> dict:
    return {k: np.array(v[i]) for k, v in obs.items()}


def random_actions(space: gym.Space, n: int, rng: np.random.Generator, action_mask: np.ndarray | None = None) -> np.ndarray:
    """``n`` uniform random actions; with a discrete ``action_mask`` (n, A), uniform over each row's valid ones."""
    if isinstance(space, gym.spaces.Discrete):
        if action_mask is not None:
            scores = np.where(np.asarray(action_mask)[:n] > 0.5, rng.random((n, space.n)), -1.0)
            return scores.argmax(-1)
        return rng.integers(space.n, size=n)
    return rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(np.float32)


class RandomPolicy(torch.nn.Module):
    """Uniform random actions behind the agent's acting interface, so ``evaluate`` can score it.

    In a mixture, a uniform index over ``Discrete(max A)`` that the current task lacks is replaced by
    a uniform valid one, so every task still sees uniform actions.
    """

    def __init__(self, action_space: gym.Space, seed: int = 0):
        super().__init__()
        self.action_space = action_space
        self.rng = np.random.default_rng(seed)
        self.anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)  # evaluate() reads the device from it

    class _NoContext:
        def reset(self, done_mask) -> None:
            pass

    def init_cache(self, num_envs: int, device=None):
        return self._NoContext()

    def act(self, obs: dict, time: torch.Tensor, cache, sample: bool = True) -> torch.Tensor:
        n = int(time.shape[0])
        valid = obs.get("action_mask")  # invalid_actions="mask": uniform over the valid ones, as the rule gives
        return torch.as_tensor(random_actions(self.action_space, n, self.rng,
                                              None if valid is None else valid.cpu().numpy()))


def exploration_rates(epsilon: float, scale: np.ndarray, time: np.ndarray, corridor: int = 0) -> np.ndarray:
    """Per-env probability of a random action: ``epsilon`` x the env's multiplier ``scale`` (U[0, 1), redrawn
    every trial). ``corridor`` H > 0: the authors' T-maze schedule (``TMazeExploration`` in their
    ``examples/04_tmaze.py``): steps strictly between the first and the last 3 of an H-step episode (0 < t < H - 3)
    explore with 0.5 / H only, so a random action rarely breaks the corridor walk while the start and the junction
    are explored at the full rate."""
    rate = epsilon * np.asarray(scale, dtype=np.float64)
    if corridor:
        rate = np.where((time > 0) & (time < corridor - 3), 0.5 / corridor, rate)
    return rate


class Collector:
    """Collects experience from a vector env with the agent (``agent.act`` + a KV cache per env)."""

    def __init__(self, envs: gym.vector.VectorEnv, agent: Agent, seed: int, on_trajectory: Callable[[dict], None]):
        self.envs, self.agent, self.on_trajectory = envs, agent, on_trajectory
        self.device = next(agent.parameters()).device
        self.rng = np.random.default_rng(seed)
        self.n = envs.num_envs
        self.obs, _ = envs.reset(seed=seed)
        self.cache = agent.init_cache(self.n, self.device)
        self.time = np.zeros(self.n, dtype=np.int64)
        self.open = [self._new_trajectory(_index(self.obs, i)) for i in range(self.n)]
        # each env explores with epsilon x u, u ~ U[0, 1) redrawn every trial (the authors'
        # randomised epsilon): some trials are nearly greedy, some nearly random, so replay
        # holds both on-policy data and wide exploration at every stage of training
        self.epsilon_scale = self.rng.random(self.n)
        self.env_steps = 0

    @staticmethod
    def _new_trajectory(first_obs: dict) -> dict:
        return {"obs": [first_obs], "actions": [], "rewards": [], "terminals": []}

    def collect(self, steps: int, epsilon: float, corridor: int = 0) -> list[dict]:
        """Step every env ``steps`` times. Returns the ``info`` of every trial that ended.

        ``corridor``: see :func:`exploration_rates`.
        """
        finished = []
        self.agent.eval()
        for _ in range(steps):
            with torch.no_grad():
                actions = self.agent.act(obs_to_torch(self.obs, self.device),
                                         torch.as_tensor(self.time, device=self.device), self.cache).cpu().numpy()
            explore = self.rng.random(self.n) < exploration_rates(epsilon, self.epsilon_scale, self.time, corridor)
            if explore.any():
                valid = self.obs.get("action_mask")
                actions[explore] = random_actions(self.envs.single_action_space, int(explore.sum()), self.rng,
                                                  None if valid is None else np.asarray(valid)[explore])
            next_obs, rewards, terminated, truncated, info = self.envs.step(actions)
            done = terminated | truncated
            for i in range(self.n):
                traj = self.open[i]
                traj["actions"].append(actions[i])
                traj["rewards"].append(rewards[i])
                traj["terminals"].append(bool(terminated[i]))
                if done[i]:
                    traj["obs"].append({k: np.array(v) for k, v in info["final_obs"][i].items()})
                    final_info = {k: v[i] for k, v in info["final_info"].items() if not k.startswith("_")}
                    traj["task"] = str(final_info.get("task", "task"))
                    self.on_trajectory(self._stack(traj))
                    finished.append(final_info)
                    self.open[i] = self._new_trajectory(_index(next_obs, i))
                else:
                    traj["obs"].append(_index(next_obs, i))
            self.time = np.where(done, 0, self.time + 1)
            if done.any():
                self.cache.reset(torch.as_tensor(done, device=self.device))
                self.epsilon_scale[done] = self.rng.random(int(done.sum()))
            self.obs = next_obs
            self.env_steps += self.n
        return finished

    @staticmethod
    def _stack(traj: dict) -> dict:
        T = len(traj["actions"])
        return {
            "obs": {k: np.stack([o[k] for o in traj["obs"]]) for k in traj["obs"][0]},
            "actions": np.stack(traj["actions"]),
            "rewards": np.asarray(traj["rewards"], dtype=np.float32),
            "terminals": np.asarray(traj["terminals"], dtype=bool),
            "time": np.arange(T + 1, dtype=np.int64),
            "task": traj.get("task", "task"),
        }


def _acting_steps(envs: gym.vector.VectorEnv, agent, seed: int, sample: bool):
    """Step ``envs`` (reset with ``seed``) with ``agent``'s actions as evaluation acts: no exploration, a fresh context
    at each trial. Yields ``(actions, done, info)`` after every step, for as long as the caller asks."""
    device = next(agent.parameters()).device
    agent.eval()
    obs, _ = envs.reset(seed=seed)
    cache = agent.init_cache(envs.num_envs, device)
    time = np.zeros(envs.num_envs, dtype=np.int64)
    while True:
        with torch.no_grad():
            actions = agent.act(obs_to_torch(obs, device), torch.as_tensor(time, device=device), cache, sample=sample)
        actions = actions.cpu().numpy()
        obs, _, terminated, truncated, info = envs.step(actions)
        done = terminated | truncated
        yield actions, done, info
        time = np.where(done, 0, time + 1)
        if done.any():
            cache.reset(torch.as_tensor(done, device=device))


def evaluate(envs: gym.vector.VectorEnv, agent: Agent, trials: int, seed: int, sample: bool = True) -> dict:
    """Run whole trials (no exploration, fresh context) and summarise them: the first ceil(trials / N) trials of each
    of the N envs, so at least ``trials``. Each env's first trials, whatever their length: keeping the first trials
    to *finish* would over-sample short ones (quick failures in frozen lake), a length bias of the score.

    Returns {"return", "success", "attempt_return", "attempt_success", "tasks": {name: {...}}} where
    returns are the environment's (scaled) rewards summed over the trial, "normalized_return" divides
    by the task's reward scale, "success" is the last attempt's success rate (None where the task has
    no success notion), and attempt_* are lists indexed by the attempt within the trial.
    """
    per_env = -(-trials // envs.num_envs)
    finished = np.zeros(envs.num_envs, dtype=np.int64)
    results, steps = [], _acting_steps(envs, agent, seed, sample)
    while finished.min() < per_env:
        _, done, info = next(steps)
        for i in np.flatnonzero(done):
            finished[i] += 1
            if finished[i] > per_env:
                continue
            final = info["final_info"]
            results.append({
                "task": str(final["task"][i]),
                "attempt_returns": np.asarray(final["attempt_returns"][i], dtype=np.float64),
                "attempt_successes": np.asarray(final["attempt_successes"][i], dtype=np.float64),
                "reward_scale": float(final["reward_scale"][i]),
            })
    return summarise_trials(results)


def action_frequencies(envs: gym.vector.VectorEnv, agent, steps: int, seed: int, sample: bool = True) -> np.ndarray:
    """How often ``agent`` picks each discrete action over ``steps`` steps of every env of ``envs`` (no exploration,
    a fresh context at each trial, as in :func:`evaluate`): (A,) frequencies that sum to 1."""
    space = envs.single_action_space
    if not isinstance(space, gym.spaces.Discrete):
        raise ValueError(f"action_frequencies needs a Discrete action space, got {space}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    counts = np.zeros(int(space.n), dtype=np.int64)
    for _, (actions, _, _) in zip(range(steps), _acting_steps(envs, agent, seed, sample)):  # range first: no extra step
        counts += np.bincount(actions, minlength=len(counts))
    return counts / counts.sum()


def _mean_or_none(values) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    return None if values.size == 0 or np.isnan(values).all() else float(np.nanmean(values))


def _standard_error(values) -> float | None:
    """std / sqrt(n) with ddof = 1 over the non-NaN values; 0 for one value, None for none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0


def summarise_trials(results: list[dict]) -> dict:
    """Aggregate per-trial results (task, attempt_returns, attempt_successes, reward_scale)."""
    by_task = defaultdict(list)
    for r in results:
        by_task[r["task"]].append(r)

    def summary(rows):
        returns = np.stack([r["attempt_returns"] for r in rows])  # (trials, k)
        successes = np.stack([r["attempt_successes"] for r in rows])
        scales = np.asarray([r["reward_scale"] for r in rows])
        return {
            "return": float(returns.sum(1).mean()),
            "normalized_return": float((returns.sum(1) / scales).mean()),
            "success": _mean_or_none(successes[:, -1]),
            "attempt_return": [float(x) for x in returns.mean(0)],
            "attempt_success": [_mean_or_none(successes[:, j]) for j in range(successes.shape[1])],
            "trials": len(rows),
            # standard errors of the means over trials (0 for a single trial)
            "return_se": _standard_error(returns.sum(1)),
            "attempt_return_se": [_standard_error(returns[:, j]) for j in range(returns.shape[1])],
            "attempt_success_se": [_standard_error(successes[:, j]) for j in range(successes.shape[1])],
        }

    overall = summary(results)
    overall["tasks"] = {task: summary(rows) for task, rows in sorted(by_task.items())}
    return overall
