"""The training loop: collect with the current policy -> store trials on disk -> update -> evaluate.

    python -m amago_edu.train --env toy/meta_frozen_lake --episodes-per-trial 5 --run-dir runs/fl
    python -m amago_edu.train --preset frozen_lake --run-dir runs/fl --resume

``train(config, callbacks=()) -> History``. The run folder holds ``config.json``, ``metrics.jsonl``
and ``metrics.csv`` (one row per log/eval/skipped update), ``checkpoints/latest.pt`` (written
atomically) and ``replay/`` (one file per finished trial). A run resumes from its last checkpoint with
``resume``; Ctrl-C finishes the current update, saves a checkpoint and raises ``KeyboardInterrupt``.
The loop imports no plotting library: notebooks pass callbacks with any of ``on_train_log(row)``,
``on_eval(row)``, ``on_end(rows)``.

Crash safety: every file is either appended line by line (metrics.jsonl; a half line from a kill is
dropped on read and rewritten on resume) or written to a ``.tmp-`` file and renamed (checkpoint,
replay, metrics.csv), and a start that fails (bad env, foreign checkpoint) changes nothing on disk.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed
from .agent import Agent, AgentConfig
from .config import TrainConfig, config_from_args
from .envs import NAMED_SETS, make_env, named_set_ids
from .learning import autocast_context, make_optimizer, update_step
from .metrics import History, MetricsWriter, read_metrics_rows
from .replay import TrajectoryStore, batch_to_torch, sample_length_groups
from .rollout import Collector, evaluate, make_vector_env
from .results import provenance
from .utils import atomic_path, resolve_device, seed_everything, seeded_torch

TRAIN_KEYS = ("critic_loss", "actor_loss", "q_mean", "td_target_mean", "advantage_positive", "entropy", "grad_norm", "lr")
CHECKPOINT_KEYS = ("agent", "optimizer", "scheduler", "state", "torch_rng")
STATE_KEYS = ("update", "env_steps", "wall_time", "eval_round")


class NonFiniteLossError(RuntimeError):
    """Too many non-finite losses in a row: the run stops instead of training on garbage."""


# -- the run folder ---------------------------------------------------------------------------------
def _is_run_folder(run_dir: Path) -> bool:
    """A folder this package made: it holds a config.json written by ``TrainConfig.save``."""
    try:
        saved = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and {"env", "episodes_per_trial", "run_dir"} <= set(saved)


def check_run_dir(config: TrainConfig) -> Path:
    """Raise ValueError if ``config.run_dir`` may not be used as asked; touches nothing on disk."""
    run_dir = Path(config.run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir {run_dir} exists and is not a folder; pick another --run-dir")
    non_empty = run_dir.exists() and any(run_dir.iterdir())
    if config.resume:
        if not (run_dir / "checkpoints" / "latest.pt").exists():
            raise ValueError(f"cannot resume: {run_dir}/checkpoints/latest.pt does not exist; "
                             "start without --resume (or with --overwrite to delete the folder)")
    elif non_empty and not config.overwrite:
        raise ValueError(f"run_dir {run_dir} is not empty; pass --resume to continue it, "
                         "--overwrite to delete it, or choose another --run-dir")
    elif non_empty and not _is_run_folder(run_dir):
        # --overwrite deletes the folder: never do that to something that is not a run folder
        raise ValueError(f"refusing to --overwrite {run_dir}: it is not empty and holds no amago_edu config.json, "
                         "so it may not be a run folder; delete it yourself or choose another --run-dir")
    return run_dir


def prepare_run_dir(config: TrainConfig) -> Path:
    """Check the run folder (see ``check_run_dir``), delete it for overwrite, create it, clean stale temp files."""
    run_dir = check_run_dir(config)
    if config.overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*run_dir.glob(".tmp-*"), *run_dir.glob("checkpoints/.tmp-*"), *run_dir.glob("replay/.tmp-*")]:
        stale.unlink(missing_ok=True)  # a write a kill interrupted; its target is intact
    return run_dir


# -- environments and checkpoints -------------------------------------------------------------------
def env_spec(config: TrainConfig) -> str | list[str]:
    """``config.env`` as ``make_env`` takes it: "a,b" (comma-separated ids) becomes a mixture ["a", "b"]."""
    if "," in config.env:
        return [part.strip() for part in config.env.split(",") if part.strip()]
    return config.env


def env_options(config: TrainConfig) -> dict:
    """The keyword arguments of ``make_env`` that ``config`` sets (trial format, scales, action rule, kwargs)."""
    return dict(episodes_per_trial=config.episodes_per_trial, reward_scales=config.reward_scales,
                invalid_actions=config.invalid_actions, shared_actions=config.shared_actions or None,
                **config.env_kwargs)


def build_env_fn(config: TrainConfig, seed_offset: int, evaluation: bool = False):
    """Environment i of a vector env. Evaluation envs play the split ``config.eval_split`` (by default the
    held-out variants: frozen-lake maps, BabyAI layouts, ...; see amago_edu.envs.splits)."""
    split = config.eval_split if evaluation else "train"
    tasks = task_ids(config) if config.task_per_env else None

    def env_fn(i: int):
        return make_env(env_spec(config), seed=config.seed * 10_000 + seed_offset + i, split=split,
                        task=None if tasks is None else tasks[i % len(tasks)], **env_options(config))
    return env_fn


def task_ids(config: TrainConfig) -> list[str]:
    """The ids of the tasks of ``config.env`` (one for a single env)."""
    spec = env_spec(config)
    if isinstance(spec, list):
        return spec
    return named_set_ids(spec) if spec in NAMED_SETS else [spec]


def build_envs(config: TrainConfig, rank: int = 0):
    """(training envs, evaluation envs); a wrong env_kwargs becomes a ValueError naming the field.
    Under torchrun each process collects from differently seeded training envs."""
    tasks = len(task_ids(config))
    if config.task_per_env and config.num_envs % tasks:
        raise ValueError(f"task_per_env needs num_envs to be a multiple of the {tasks} tasks of "
                         f"{config.env!r} (so every task is played equally), got num_envs={config.num_envs}")
    try:
        envs = make_vector_env(build_env_fn(config, 100_000 * rank), config.num_envs, config.vector_mode)
    except TypeError as err:  # the env's constructor rejected a keyword: a user mistake, not a bug
        raise ValueError(f"env_kwargs {config.env_kwargs} do not fit env {config.env!r}: {err}") from err
    eval_envs = make_vector_env(build_env_fn(config, 5_000, evaluation=True), config.num_envs, config.vector_mode)
    return envs, eval_envs


def save_checkpoint(path: Path, agent, optimizer, scheduler, state: dict) -> None:
    """``torch.save`` of state dicts to a temporary file renamed over ``path``: a kill leaves the old checkpoint."""
    data = {"agent": agent.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "state": state, "torch_rng": torch.get_rng_state()}
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
        _test_signal_point("checkpoint")  # written, not yet renamed


def load_checkpoint(path: Path, agent, optimizer, scheduler) -> dict:
    """Restore a checkpoint written by ``save_checkpoint``; clear errors for foreign or corrupt files."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a non-checkpoint file
        raise ValueError(f"{path} is not a readable amago_edu checkpoint ({type(err).__name__}: {err})") from err
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(data, dict) or k not in data]
    if missing or not isinstance(data["state"], dict) or not set(STATE_KEYS) <= set(data["state"]):
        raise ValueError(f"{path} is not an amago_edu checkpoint (missing {missing or 'training state'}); "
                         "start a new run with --overwrite or another --run-dir")
    try:
        agent.load_state_dict(data["agent"])
    except RuntimeError as err:
        saved = data["state"].get("agent_config", {})
        differ = [f"{k}: checkpoint {saved[k]!r}, config {getattr(agent.config, k)!r}" for k in sorted(saved)
                  if hasattr(agent.config, k) and saved[k] != _jsonable(getattr(agent.config, k))]
        raise ValueError(f"{path} was saved by an agent of a different architecture than this config "
                         f"({'; '.join(differ) or 'env spaces differ'}); resume with the run's own settings "
                         "(its config.json) or start a new run") from err
    optimizer.load_state_dict(data["optimizer"])
    scheduler.load_state_dict(data["scheduler"])
    torch.set_rng_state(data["torch_rng"])
    return {k: data["state"][k] for k in STATE_KEYS}


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


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


#: seed offset of held-out measurements (main.py, benchmarks/context_length.py, notebooks): no training or
#: periodic-evaluation env of a run uses seeds this far up
HELD_OUT_SEEDS = 900_000


def measure_held_out(agent: Agent, config: TrainConfig, trials: int, seed_offset: int = HELD_OUT_SEEDS) -> dict:
    """``evaluate`` on ``trials`` trials of the held-out split (``config.eval_split``) with fresh seeds, plus the
    in-context improvement ``mean(success of attempts 2..k) - success of attempt 1`` (None without successes).

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
    result["improvement"] = (None if len(success) < 2 or None in success
                             else float(np.mean(success[1:]) - success[0]))
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
    sequence of games in each env (``evaluate`` keeps the first trials to finish, at least
    ``trials_per_task``, so the sets can differ by a trial or two).
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


def epsilon_at(config: TrainConfig, env_steps_per_env: int) -> float:
    """Linear epsilon-greedy schedule over the steps each parallel env has taken (the authors count per actor,
    ``steps_anneal`` in ``amago/envs/exploration.py``), so the schedule does not depend on ``num_envs``."""
    frac = min(1.0, env_steps_per_env / max(1, config.epsilon_anneal_steps))
    return config.epsilon_start + frac * (config.epsilon_end - config.epsilon_start)


# -- Ctrl-C and crash-test hooks ----------------------------------------------------------------------
@contextlib.contextmanager
def stop_on_ctrl_c():
    """Yield a flag dict; the first Ctrl-C (SIGINT) sets ``flag["stop"]`` instead of raising, so the
    loop stops between updates and the checkpoint it saves is never half an optimizer step. A second
    Ctrl-C raises KeyboardInterrupt at once. Outside the main thread signals cannot be caught: no-op."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True
        tqdm.write("Ctrl-C: stopping after this update and saving a checkpoint (Ctrl-C again to abort now)",
                   file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


_test_visits: collections.Counter = collections.Counter()


def _test_signal_point(point: str) -> None:
    """For tests/test_crash_resume.py only: ``AMAGO_EDU_TEST_SIGNAL_AT="point:n:KILL"`` (or ``:INT``) makes
    the n-th visit to ``point`` ("collect", "update", "checkpoint") send that signal to this process, so a
    kill lands at an exact place instead of a random time. Unset (always, outside tests): does nothing."""
    spec = os.environ.get("AMAGO_EDU_TEST_SIGNAL_AT")
    if not spec or not spec.startswith(point + ":"):
        return
    _, count, name = spec.split(":")
    _test_visits[point] += 1
    if _test_visits[point] == int(count):
        os.kill(os.getpid(), getattr(signal, "SIG" + name))


# -- progress -------------------------------------------------------------------------------------------
class Progress:
    """The run's tqdm bar. A time-capped run (``max_minutes`` > 0) usually stops on time, long before
    ``total_updates``, so its bar runs over the time budget in minutes (``5.4/10 min``) with the updates
    beside it; a run without a time limit gets a bar over updates."""

    def __init__(self, config: TrainConfig, update: int, elapsed_s: float, disable: bool | None):
        self.limit = config.max_minutes  # minutes; 0 = no time limit
        self.total_updates = config.total_updates
        self.info: dict[str, str] = {}
        if self.limit:
            self.bar = tqdm(total=self.limit, initial=min(elapsed_s / 60, self.limit), desc="time budget",
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:g} min{postfix}",
                            disable=disable, dynamic_ncols=True)
        else:
            self.bar = tqdm(total=config.total_updates, initial=update, desc="updates", unit="upd",
                            disable=disable, dynamic_ncols=True)
        self.advance(update, elapsed_s)

    def advance(self, update: int, elapsed_s: float, **info: str) -> None:
        """Move to ``update`` (a timed bar: to ``elapsed_s`` of the budget); ``info`` updates the postfix."""
        self.info.update(info)
        shown = {"update": f"{update:,}/{self.total_updates:,}"} if self.limit else {}
        self.bar.set_postfix_str(", ".join(f"{k}={v}" for k, v in {**shown, **self.info}.items()), refresh=False)
        position = min(elapsed_s / 60, self.limit) if self.limit else update
        self.bar.update(position - self.bar.n)  # tqdm redraws at most every 0.1 s

    def close(self) -> None:
        self.bar.close()


# -- the loop -------------------------------------------------------------------------------------------
def train(config: TrainConfig, callbacks=()) -> History:
    """Train an agent as ``config`` says; return its History (also on disk in ``config.run_dir``).

    Everything that can fail on a user mistake (config, run folder, device, env, checkpoint) runs
    before the run folder is touched, so a failed start leaves an existing folder byte-identical.
    """
    config.validate()
    rank, world, device = distributed.setup(config.device)  # (0, 1, device) without torchrun
    lead = rank == 0  # only the lead process writes files and evaluates
    if lead:
        check_run_dir(config)
    seed_everything(config.seed)  # the same initial weights in every process
    rng = np.random.default_rng([config.seed, rank]) if world > 1 else np.random.default_rng(config.seed)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    autocast = lambda: autocast_context(device, config.mixed_precision)  # noqa: E731

    envs, eval_envs = build_envs(config, rank)
    checkpoint = Path(config.run_dir) / "checkpoints" / "latest.pt"
    state = {"update": 0, "env_steps": 0, "wall_time": 0.0, "eval_round": 0}
    try:
        agent = Agent(envs.single_observation_space, envs.single_action_space, config).to(device)
        optimizer, scheduler = make_optimizer(agent, config.lr, config.weight_decay, config.warmup_updates)
        if config.resume:
            state = load_checkpoint(checkpoint, agent, optimizer, scheduler)
            rng = np.random.default_rng([config.seed, state["update"], rank])
        distributed.broadcast_parameters(agent)
    except Exception:
        envs.close()
        eval_envs.close()
        raise

    run_dir = Path(config.run_dir)
    if lead:
        prepare_run_dir(config)  # from here on the folder is ours to write
        config.save(run_dir / "config.json")
        # what trained it (a resumed run appends: a run may span commits)
        with open(run_dir / "provenance.jsonl", "a") as f:
            f.write(json.dumps({**provenance(), "update": state["update"]}) + "\n")
    distributed.barrier()  # the other processes wait for the folder
    rows = read_metrics_rows(run_dir / "metrics.jsonl") if config.resume and lead else []
    # rows logged after the checkpoint are replayed by the resumed run, so drop them
    metrics = MetricsWriter(run_dir, [r for r in rows if r["update"] <= state["update"]])
    if config.resume and lead:
        metrics.rewrite()
    history = History(run_dir, metrics.rows)
    store = TrajectoryStore(run_dir / ("replay" if rank == 0 else f"replay-rank{rank}"), config.buffer_capacity,
                            cache_bytes=config.replay_cache_mb * 2**20)

    def on_trajectory(traj: dict) -> None:
        store.add(traj)
        _test_signal_point("collect")

    collector = Collector(envs, agent, seed=int(rng.integers(2**31)), on_trajectory=on_trajectory)
    collector.env_steps = state["env_steps"]
    agent_config = {f.name: _jsonable(getattr(config, f.name)) for f in fields(AgentConfig)}

    def emit(hook: str, row) -> None:
        for callback in callbacks:
            fn = getattr(callback, hook, None)
            if fn is not None:
                fn(row)

    def elapsed() -> float:  # wall time of the whole run, across resumes
        return state["wall_time"] + time.time() - start

    def log(kind: str, **values) -> dict:  # values may override "update"
        row = {"kind": kind, "update": state["update"], "env_steps": collector.env_steps,
               "wall_time": round(elapsed(), 3), **values}
        if lead:
            metrics.write(row)
            metrics.write_csv()  # kept in step with metrics.jsonl, so a kill never leaves them apart
        return row

    def run_eval() -> dict:
        result = evaluate(eval_envs, agent, config.eval_trials, seed=config.seed * 10_000 + 5_000 + state["eval_round"],
                          sample=config.eval_sample)
        state["eval_round"] += 1
        row = log("eval", **result)
        emit("on_eval", row)
        return row

    def checkpoint_now() -> None:
        if lead:
            save_checkpoint(checkpoint, agent, optimizer, scheduler, {**state, "env_steps": collector.env_steps,
                                                                      "wall_time": elapsed(),
                                                                      "agent_config": agent_config})
            if config.keep_checkpoints:  # a second name for the same file; replaces one a resumed run rewrote
                kept = checkpoint.with_name(f"update_{state['update']:07d}.pt")
                with atomic_path(kept) as tmp:
                    try:
                        tmp.unlink()
                        os.link(checkpoint, tmp)
                    except OSError:  # a file system without hard links
                        shutil.copyfile(checkpoint, tmp)

    start = time.time()
    pending, skipped, bad_in_a_row = [], 0, 0
    batches: list[dict] = []  # drawn but not yet used (length_groups > 1)
    bar = Progress(config, state["update"], elapsed(), disable=None if lead else True)
    try:
        with stop_on_ctrl_c() as ctrl_c:
            while state["update"] < config.total_updates:
                # decisions every process must share (under torchrun) are reduced across them
                ctrl_c["stop"] = distributed.any_true(ctrl_c["stop"])
                if ctrl_c["stop"] or distributed.any_true(bool(config.max_minutes) and elapsed() > 60 * config.max_minutes):
                    break
                # 1. collect with the current policy; finished trials go to disk
                collector.collect(config.collect_steps, epsilon_at(config, collector.env_steps // collector.n),
                                  corridor=config.corridor_exploration)
                if not distributed.all_true(len(store) >= config.learning_starts):
                    continue
                # 2. update on windows sampled from replay
                agent.train()
                for _ in range(config.updates_per_collect):
                    # a single process may stop mid-round on Ctrl-C; under torchrun the round finishes
                    if state["update"] >= config.total_updates or (ctrl_c["stop"] and world == 1):
                        break
                    if not batches:  # length_groups updates share one draw (1: a batch per update)
                        batches = sample_length_groups(store, config.batch_size, config.window, rng, config.length_groups)
                    batch = batch_to_torch(batches.pop(), device)
                    stats = update_step(agent, optimizer, scheduler, batch, config.grad_clip, autocast)
                    _test_signal_point("update")
                    if stats["skipped"]:  # numerical guard: no step was taken; log the cause, stop if it persists
                        bad_in_a_row, skipped = bad_in_a_row + 1, skipped + 1
                        # "update" is the number this update would have had, so resume drops it with the rest
                        log("nonfinite", update=state["update"] + 1, terms=stats["nonfinite_terms"],
                            in_a_row=bad_in_a_row)
                        tqdm.write(f"update {state['update'] + 1}: non-finite {stats['nonfinite_terms']}; "
                                   "update skipped", file=sys.stderr)
                        if bad_in_a_row >= config.max_nonfinite_updates:
                            raise NonFiniteLossError(
                                f"{bad_in_a_row} non-finite losses in a row (last: {stats['nonfinite_terms']}); "
                                "lower lr, check reward scales / value_low..value_high, or raise max_nonfinite_updates")
                        continue
                    bad_in_a_row = 0
                    pending.append(stats)
                    state["update"] += 1
                    bar.advance(state["update"], elapsed())
                    # 3. log, evaluate, checkpoint
                    if state["update"] % config.log_interval == 0:
                        row = log("train", **{k: float(np.mean([s[k] for s in pending])) for k in TRAIN_KEYS},
                                  skipped=skipped)
                        pending, skipped = [], 0
                        emit("on_train_log", row)
                        bar.advance(state["update"], elapsed(), critic=f"{row['critic_loss']:.3f}",
                                    actor=f"{row['actor_loss']:.3f}")
                    if state["update"] % config.eval_interval == 0 and lead:
                        row = run_eval()
                        agent.train()
                        bar.advance(state["update"], elapsed(), ret=f"{row['return']:.3f}")
                    if state["update"] % config.checkpoint_interval == 0:
                        checkpoint_now()
        bar.close()
        if ctrl_c["stop"]:
            checkpoint_now()
            tqdm.write(f"interrupted at update {state['update']}: checkpoint saved to {checkpoint}; "
                       "continue with --resume", file=sys.stderr)
            raise KeyboardInterrupt
        if world > 1:
            log("distributed", world_size=world, params_in_sync=distributed.parameters_in_sync(agent))
        if lead and (not history.evals or history.evals[-1]["update"] != state["update"]):
            run_eval()
        checkpoint_now()
        distributed.barrier()  # leave together: tearing the group down while a peer still uses it aborts gloo
    finally:
        bar.close()
        envs.close()
        eval_envs.close()
        distributed.cleanup()
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
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun the lead process reports
        return 0
    print(f"run folder: {history.run_dir}")
    if final is not None:
        print(f"final evaluation: return {final['return']:.3f}, success by attempt {final['attempt_success']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
