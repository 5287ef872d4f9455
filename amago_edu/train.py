"""The training loop: collect with the current policy -> store trials on disk -> update -> evaluate.

    python -m amago_edu.train --env toy/meta_frozen_lake --episodes-per-trial 5 --run-dir runs/fl
    python -m amago_edu.train --preset frozen_lake --run-dir runs/fl --resume

``train(config, callbacks=()) -> History``. The run folder holds ``config.json``, ``metrics.jsonl``
and ``metrics.csv`` (one row per log/eval), ``checkpoints/latest.pt`` (written atomically) and
``replay/`` (one file per finished trial). A run resumes from its last checkpoint with ``resume``;
Ctrl-C saves a checkpoint first. The loop imports no plotting library: notebooks pass callbacks
with any of ``on_train_log(row)``, ``on_eval(row)``, ``on_end(rows)``.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .agent import Agent
from .config import TrainConfig, config_from_args
from .envs import make_env
from .learning import autocast_context, make_optimizer, update_step
from .replay import TrajectoryStore, batch_to_torch, sample_batch
from .rollout import Collector, evaluate, make_vector_env
from .utils import atomic_torch_save, resolve_device, seed_everything

TRAIN_KEYS = ("critic_loss", "actor_loss", "q_mean", "td_target_mean", "advantage_positive", "entropy", "grad_norm", "lr")


class NonFiniteLossError(RuntimeError):
    """Too many non-finite losses in a row: the run stops instead of training on garbage."""


@dataclass
class History:
    """What a run produced: its folder and every metrics row (train and eval)."""

    run_dir: Path
    rows: list[dict] = field(default_factory=list)

    @property
    def evals(self) -> list[dict]:
        return [r for r in self.rows if r["kind"] == "eval"]

    @property
    def train(self) -> list[dict]:
        return [r for r in self.rows if r["kind"] == "train"]

    @property
    def final_eval(self) -> dict | None:
        return self.evals[-1] if self.evals else None

    @classmethod
    def load(cls, run_dir: str | Path) -> "History":
        return cls(Path(run_dir), read_metrics_rows(Path(run_dir) / "metrics.jsonl"))


def read_metrics_rows(path: Path) -> list[dict]:
    """Rows of a metrics.jsonl; a half-written last line (a crash mid-write) is dropped."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


class MetricsWriter:
    """Appends rows to metrics.jsonl (one flushed line each) and rewrites metrics.csv from them."""

    def __init__(self, run_dir: Path, rows: list[dict]):
        self.jsonl, self.csv = run_dir / "metrics.jsonl", run_dir / "metrics.csv"
        self.rows = rows

    def write(self, row: dict) -> None:
        self.rows.append(row)
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()

    def write_csv(self) -> None:
        flat = [_flatten(r) for r in self.rows]
        columns = list(dict.fromkeys(k for r in flat for k in r))
        tmp = self.csv.with_name(".tmp-metrics.csv")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(flat)
        tmp.replace(self.csv)


def _flatten(row: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "/"))
        elif isinstance(value, list):
            out.update({f"{name}/{i}": v for i, v in enumerate(value)})
        else:
            out[name] = value
    return out


def prepare_run_dir(config: TrainConfig) -> Path:
    """Create the run folder; refuse to reuse a non-empty one unless resume or overwrite is set."""
    run_dir = Path(config.run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir {run_dir} exists and is not a folder; pick another --run-dir")
    non_empty = run_dir.exists() and any(run_dir.iterdir())
    if config.resume:
        if not (run_dir / "checkpoints" / "latest.pt").exists():
            raise ValueError(f"cannot resume: {run_dir}/checkpoints/latest.pt does not exist; start without --resume")
    elif non_empty:
        if not config.overwrite:
            raise ValueError(f"run_dir {run_dir} is not empty; pass --resume to continue it, "
                             "--overwrite to delete it, or choose another --run-dir")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def build_env_fn(config: TrainConfig, seed_offset: int):
    def env_fn(i: int):
        return make_env(config.env, episodes_per_trial=config.episodes_per_trial, reward_scales=config.reward_scales,
                        seed=config.seed * 10_000 + seed_offset + i, **config.env_kwargs)
    return env_fn


def save_checkpoint(path: Path, agent, optimizer, scheduler, state: dict) -> None:
    atomic_torch_save({"agent": agent.state_dict(), "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict(), "state": state,
                       "torch_rng": torch.get_rng_state()}, path)


def load_checkpoint(path: Path, agent, optimizer, scheduler) -> dict:
    """Restore a checkpoint written by ``save_checkpoint``; clear errors for foreign or corrupt files."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a non-checkpoint file
        raise ValueError(f"{path} is not a readable amago_edu checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(data, dict) or not {"agent", "optimizer", "state"} <= set(data):
        raise ValueError(f"{path} is not an amago_edu checkpoint (missing agent/optimizer/state)")
    try:
        agent.load_state_dict(data["agent"])
    except RuntimeError as err:
        raise ValueError(f"{path} was saved by an agent of a different architecture than this config "
                         f"(d_model, layers, env spaces, critic ...): {str(err).splitlines()[0]}") from err
    optimizer.load_state_dict(data["optimizer"])
    scheduler.load_state_dict(data["scheduler"])
    torch.set_rng_state(data["torch_rng"])
    return data["state"]


def epsilon_at(config: TrainConfig, env_steps: int) -> float:
    """Linear epsilon-greedy schedule over environment steps."""
    frac = min(1.0, env_steps / max(1, config.epsilon_anneal_steps))
    return config.epsilon_start + frac * (config.epsilon_end - config.epsilon_start)


def train(config: TrainConfig, callbacks=()) -> History:
    """Train an agent as ``config`` says; return its History (also on disk in ``config.run_dir``)."""
    config.validate()
    run_dir = prepare_run_dir(config)
    config.save(run_dir / "config.json")
    rng = seed_everything(config.seed)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    device = resolve_device(config.device)
    autocast = lambda: autocast_context(device, config.mixed_precision)  # noqa: E731

    envs = make_vector_env(build_env_fn(config, 0), config.num_envs, config.vector_mode)
    eval_envs = make_vector_env(build_env_fn(config, 5_000), config.num_envs, config.vector_mode)
    agent = Agent(envs.single_observation_space, envs.single_action_space, config).to(device)
    optimizer, scheduler = make_optimizer(agent, config.lr, config.weight_decay, config.warmup_updates)
    store = TrajectoryStore(run_dir / "replay", config.buffer_capacity)
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    history = History(run_dir, read_metrics_rows(run_dir / "metrics.jsonl") if config.resume else [])
    state = {"update": 0, "env_steps": 0, "wall_time": 0.0, "eval_round": 0}
    if config.resume:
        state = load_checkpoint(checkpoint, agent, optimizer, scheduler)
        rng = np.random.default_rng([config.seed, state["update"]])
        # rows logged after the checkpoint are replayed by the resumed run, so drop them
        history.rows = [r for r in history.rows if r["update"] <= state["update"]]
        (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history.rows))
    metrics = MetricsWriter(run_dir, history.rows)
    collector = Collector(envs, agent, seed=int(rng.integers(2**31)), on_trajectory=store.add)
    collector.env_steps = state["env_steps"]

    def emit(hook: str, row) -> None:
        for callback in callbacks:
            fn = getattr(callback, hook, None)
            if fn is not None:
                fn(row)

    def run_eval() -> dict:
        result = evaluate(eval_envs, agent, config.eval_trials, seed=config.seed * 10_000 + 5_000 + state["eval_round"],
                          sample=config.eval_sample)
        state["eval_round"] += 1
        row = {"kind": "eval", "update": state["update"], "env_steps": collector.env_steps,
               "wall_time": round(elapsed(), 3), **result}
        metrics.write(row)
        metrics.write_csv()
        emit("on_eval", row)
        return row

    def elapsed() -> float:  # wall time of the whole run, across resumes
        return state["wall_time"] + time.time() - start

    def checkpoint_now() -> None:
        save_checkpoint(checkpoint, agent, optimizer, scheduler,
                        {**state, "env_steps": collector.env_steps, "wall_time": elapsed()})

    start = time.time()
    pending, bad_in_a_row = [], 0
    bar = tqdm(total=config.total_updates, initial=state["update"], desc="updates", unit="upd",
               disable=None, dynamic_ncols=True)
    try:
        while state["update"] < config.total_updates:
            if config.max_minutes and elapsed() > 60 * config.max_minutes:
                break
            # 1. collect with the current policy; finished trials go to disk
            collector.collect(config.collect_steps, epsilon_at(config, collector.env_steps))
            if len(store) < config.learning_starts:
                continue
            # 2. update on windows sampled from replay
            agent.train()
            for _ in range(config.updates_per_collect):
                batch = batch_to_torch(sample_batch(store, config.batch_size, config.window, rng), device)
                stats = update_step(agent, optimizer, scheduler, batch, config.grad_clip, autocast)
                bad_in_a_row = bad_in_a_row + 1 if stats["skipped"] else 0
                if stats["skipped"]:
                    tqdm.write(f"update {state['update']}: non-finite {stats['nonfinite_terms']}; update skipped")
                    if bad_in_a_row >= config.max_nonfinite_updates:
                        raise NonFiniteLossError(
                            f"{bad_in_a_row} non-finite losses in a row (last: {stats['nonfinite_terms']}); "
                            "lower lr, check reward scales / value_low..value_high, or raise max_nonfinite_updates")
                    continue
                pending.append(stats)
                state["update"] += 1
                bar.update(1)
                # 3. log, evaluate, checkpoint
                if state["update"] % config.log_interval == 0:
                    row = {"kind": "train", "update": state["update"], "env_steps": collector.env_steps,
                           "wall_time": round(elapsed(), 3),
                           **{k: float(np.mean([s[k] for s in pending])) for k in TRAIN_KEYS}}
                    pending = []
                    metrics.write(row)
                    emit("on_train_log", row)
                    bar.set_postfix(critic=f"{row['critic_loss']:.3f}", actor=f"{row['actor_loss']:.3f}")
                if state["update"] % config.eval_interval == 0:
                    row = run_eval()
                    agent.train()
                    bar.set_postfix(ret=f"{row['return']:.3f}")
                if state["update"] % config.checkpoint_interval == 0:
                    checkpoint_now()
                if state["update"] >= config.total_updates:
                    break
    except KeyboardInterrupt:
        tqdm.write("interrupted: saving a checkpoint; continue later with --resume")
        checkpoint_now()
        bar.close()
        envs.close()
        eval_envs.close()
        raise
    bar.close()
    if not history.evals or history.evals[-1]["update"] != state["update"]:
        run_eval()
    checkpoint_now()
    metrics.write_csv()
    envs.close()
    eval_envs.close()
    emit("on_end", history.rows)
    return history


def main(argv=None) -> int:
    config = config_from_args(argv)
    try:
        history = train(config)
    except (ValueError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    final = history.final_eval
    print(f"run folder: {history.run_dir}")
    if final is not None:
        print(f"final evaluation: return {final['return']:.3f}, success by attempt {final['attempt_success']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
