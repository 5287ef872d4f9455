"""Using trained agents: load a run's agent, measure it on held-out trials, score each task of a mixture.

    agent, config = load_agent("runs/fl")                  # the run's latest checkpoint, in eval mode
    measure_held_out(agent, config, trials=256)            # success by attempt on fresh held-out trials
    evaluate_tasks(agent, config, trials_per_task=32, seed=7_000)   # a mixture, one task at a time

Kept apart from the training loop (``amago_edu.train``): notebooks, ``main.py``, the registry and the benchmarks
read trained agents through these, and none of them trains.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import torch

from .agent import Agent
from .config import TrainConfig
from .envs import make_env
from .rollout import evaluate, make_vector_env
from .train import build_env_fn, env_options, env_spec
from .utils import resolve_device, seeded_torch


def kept_checkpoints(run_dir: str | Path) -> dict[int, Path]:
    """``{update: path}`` of the checkpoints a run with ``keep_checkpoints`` kept, in update order."""
    found = {int(p.stem.removeprefix("update_")): p for p in Path(run_dir).glob("checkpoints/update_*.pt")}
    return dict(sorted(found.items()))


def agent_for(config: TrainConfig) -> Agent:
    """A freshly initialised agent for the spaces of ``config``'s environment."""
    env = make_env(env_spec(config), **env_options(config))
    agent = Agent(env.observation_space, env.action_space, config)
    env.close()
    return agent


def load_agent(run_dir: str | Path, device: str | torch.device = "cpu",
               update: int | None = None) -> tuple[Agent, TrainConfig]:
    """The agent of a run in eval mode, and its config: the weights of ``checkpoints/latest.pt``, or of
    the checkpoint kept at ``update`` (runs with ``keep_checkpoints``)."""
    run_dir = Path(run_dir)
    config = TrainConfig.load(run_dir / "config.json")
    path = run_dir / "checkpoints" / "latest.pt"
    if update is not None:
        kept = kept_checkpoints(run_dir)
        if update not in kept:
            raise ValueError(f"{run_dir} has no checkpoint at update {update}; kept: {list(kept) or 'none'} "
                             "(train with keep_checkpoints=True to keep them)")
        path = kept[update]
    agent = agent_for(config)
    state = torch.load(path, map_location="cpu", weights_only=True)
    agent.load_state_dict(state["agent"])
    return agent.to(resolve_device(device)).eval(), config


#: seed offset of held-out measurements (main.py, the experiment registry, notebooks): no training or
#: periodic-evaluation env of a run uses seeds this far up
HELD_OUT_SEEDS = 900_000


def measure_held_out(agent: Agent, config: TrainConfig, trials: int, seed_offset: int = HELD_OUT_SEEDS) -> dict:
    """``evaluate`` on ``trials`` trials of the held-out split (``config.eval_split``) with fresh seeds, plus the
    in-context improvement ``success of the last attempt - success of the first`` (None without successes; the
    registry's and the notebooks' one definition).

    The sampled actions come from torch's generator seeded with the same seed as the envs (and torch's random
    state is restored afterwards), so measuring one agent twice gives the same trials and the same figures."""
    envs = make_vector_env(build_env_fn(config, seed_offset, evaluation=True), min(config.num_envs, trials))
    seed = config.seed * 10_000 + seed_offset
    try:
        with seeded_torch(seed, next(agent.parameters()).device):
            result = evaluate(envs, agent, trials, seed=seed, sample=config.eval_sample)
    finally:
        envs.close()
    success = result["attempt_success"]
    result["improvement"] = None if len(success) < 2 or None in success else float(success[-1] - success[0])
    return result


def action_space(config: TrainConfig) -> gym.Space:
    """The action space the agent of ``config`` acts in (a mixture's shared ``Discrete(max A)``)."""
    env = make_env(env_spec(config), **env_options(config))
    space = env.action_space
    env.close()
    return space


def evaluate_tasks(policy, config: TrainConfig, trials_per_task: int, seed: int) -> dict[str, dict]:
    """Score ``policy`` on each task of ``config.env`` separately: ``{task: evaluate()'s per-task summary}``.

    Each task gets its own vector env that plays only that task (``make_env(task=...)``, the
    mixture's spaces) on the split ``config.eval_split`` (held-out variants by default). The same ``seed`` gives every policy the same
    sequence of games in each env (``evaluate`` scores each env's first trials, at least ``trials_per_task`` in all).
    """
    spec = env_spec(config)
    probe = make_env(spec, split=config.eval_split, **env_options(config))
    # one env that draws among families itself (Meta-World ML10/ML45): trials_per_task per family on average
    names, families, results = probe.task_names, getattr(probe.unwrapped, "families", None), {}
    probe.close()
    for task_id, name in enumerate(names):
        def env_fn(i: int, name=name):
            return make_env(spec, seed=seed + 1000 * task_id + i, split=config.eval_split,
                            task=None if len(names) == 1 else name, **env_options(config))

        trials = trials_per_task * (len(families) if families and len(names) == 1 else 1)
        envs = make_vector_env(env_fn, min(config.num_envs, trials))
        try:
            summary = evaluate(envs, policy, trials, seed=seed + 1000 * task_id, sample=config.eval_sample)
        finally:
            envs.close()
        if len(names) == 1:
            results.update(summary["tasks"])
        else:
            results[name] = summary["tasks"][name]
    return results
