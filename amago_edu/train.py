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

import contextlib
import fcntl
import json
import os
import platform
import shutil
import signal
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

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
from .utils import atomic_path, seed_everything

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


LOCK_FILE = ".lock"


class RunLock:
    """One writer per run folder: an exclusive ``flock`` on ``<run_dir>/.lock``, which holds the writer's process id.
    The kernel releases it when the process ends, however it ends (a kill included), so a stale file locks nothing."""

    def __init__(self, run_dir: Path):
        run_dir.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_named_in(self.fd)
            os.close(self.fd)
            raise ValueError(_in_use(run_dir, holder)) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"process {os.getpid()} on {platform.node()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
                 .encode())

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _holder_named_in(fd: int) -> str:
    """What the lock file open at ``fd`` says of the process that holds it."""
    return os.read(fd, 200).decode(errors="replace").strip() or "another process"


def _in_use(run_dir: Path, holder: str) -> str:
    return (f"run_dir {run_dir} is in use: {holder} is training in it (two writers would interleave its metrics and "
            "replay); wait for it to finish, stop it (Ctrl-C saves a checkpoint), or choose another --run-dir")


def run_dir_holder(run_dir: Path) -> str | None:
    """Who holds the run folder's lock (its process id, host and start), or None when no process does."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder_named_in(fd)
    finally:
        os.close(fd)  # closing also drops a lock taken just now
    return None


def check_run_dir(config: TrainConfig) -> Path:
    """Raise ValueError if ``config.run_dir`` may not be used as asked; touches nothing on disk."""
    run_dir = Path(config.run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir {run_dir} exists and is not a folder; pick another --run-dir")
    holder = run_dir_holder(run_dir)
    if holder is not None:
        raise ValueError(_in_use(run_dir, holder))
    non_empty = run_dir.exists() and any(p.name != LOCK_FILE for p in run_dir.iterdir())
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


def prepare_run_dir(config: TrainConfig) -> RunLock:
    """Check the run folder (see ``check_run_dir``), lock it, empty it for overwrite (the lock file stays), create
    it, clean stale temp files. Returns the lock; ``release()`` it when the run ends."""
    run_dir = check_run_dir(config)
    lock = RunLock(run_dir)
    if config.overwrite:
        for path in run_dir.iterdir():
            if path.name != LOCK_FILE:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    for stale in [*run_dir.glob(".tmp-*"), *run_dir.glob("checkpoints/.tmp-*"), *run_dir.glob("replay/.tmp-*")]:
        stale.unlink(missing_ok=True)  # a write a kill interrupted; its target is intact
    return lock


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


def save_checkpoint(path: Path, agent, optimizer, scheduler, state: dict, on_written=None) -> None:
    """``torch.save`` of state dicts to a temporary file renamed over ``path``: a kill leaves the old checkpoint.
    ``on_written(tmp)`` runs between writing the file and the rename (the crash tests stop there)."""
    data = {"agent": agent.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "state": state, "torch_rng": torch.get_rng_state()}
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
        if on_written is not None:
            on_written(tmp)


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


def epsilon_at(config: TrainConfig, env_steps_per_env: int) -> float:
    """Linear epsilon-greedy schedule over the steps each parallel env has taken (the authors count per actor,
    ``steps_anneal`` in ``amago/envs/exploration.py``), so the schedule does not depend on ``num_envs``."""
    frac = min(1.0, env_steps_per_env / max(1, config.epsilon_anneal_steps))
    return config.epsilon_start + frac * (config.epsilon_end - config.epsilon_start)


# -- Ctrl-C ----------------------------------------------------------------------
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
    run = Run(config, callbacks)  # envs, agent, optimizer, replay, metrics; resumed from the checkpoint if asked
    try:
        with stop_on_ctrl_c() as ctrl_c:
            while run.update < config.total_updates and not run.time_to_stop(ctrl_c):
                run.collect()  # 1. act with the current policy; finished trials go to disk
                if run.enough_replay():
                    run.update_round(ctrl_c)  # 2. updates on windows sampled from replay; 3. log, evaluate, checkpoint
        run.finish(interrupted=ctrl_c["stop"])  # a last evaluation and checkpoint (on Ctrl-C: checkpoint, then raise)
    finally:
        run.close()
    run.emit("on_end", run.history.rows)
    return run.history


class Run:
    """One training run's state and the steps of :func:`train`'s loop.

    ``callbacks`` are objects with any of ``on_train_log(row)``, ``on_eval(row)``, ``on_end(rows)`` (plots,
    notebooks), and ``on_trajectory(traj)``, ``on_update(stats)``, ``on_checkpoint_written(path)`` (the crash tests
    stop the process at these exact places: after a replay file is written, after an optimizer step, and between
    writing a checkpoint and renaming it over ``latest.pt``).
    """

    def __init__(self, config: TrainConfig, callbacks=()):
        config.validate()
        self.config, self.callbacks = config, list(callbacks)
        self.rank, self.world, self.device = distributed.setup(config.device)  # (0, 1, device) without torchrun
        self.lead = self.rank == 0  # only the lead process writes files and evaluates
        if self.lead:
            check_run_dir(config)
        seed_everything(config.seed)  # the same initial weights in every process
        self.rng = np.random.default_rng([config.seed, self.rank] if self.world > 1 else config.seed)
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.envs, self.eval_envs = build_envs(config, self.rank)
        self.checkpoint_path = Path(config.run_dir) / "checkpoints" / "latest.pt"
        self.state = {"update": 0, "env_steps": 0, "wall_time": 0.0, "eval_round": 0}
        try:
            self.agent = Agent(self.envs.single_observation_space, self.envs.single_action_space, config).to(self.device)
            self.optimizer, self.scheduler = make_optimizer(self.agent, config.lr, config.weight_decay,
                                                            config.warmup_updates)
            if config.resume:
                self.state = load_checkpoint(self.checkpoint_path, self.agent, self.optimizer, self.scheduler)
                self.rng = np.random.default_rng([config.seed, self.state["update"], self.rank])
            distributed.broadcast_parameters(self.agent)
        except Exception:
            self.envs.close()
            self.eval_envs.close()
            raise
        self.lock = self.open_run_dir() if self.lead else None  # from here on the folder is ours to write
        distributed.barrier()  # the other processes wait for the folder
        self.start = time.time()
        run_dir = Path(config.run_dir)
        rows = read_metrics_rows(run_dir / "metrics.jsonl") if config.resume and self.lead else []
        # rows logged after the checkpoint are replayed by the resumed run, so drop them
        self.metrics = MetricsWriter(run_dir, [r for r in rows if r["update"] <= self.state["update"]])
        if config.resume and self.lead:
            self.metrics.rewrite()
        self.history = History(run_dir, self.metrics.rows)
        self.store = TrajectoryStore(run_dir / ("replay" if self.lead else f"replay-rank{self.rank}"),
                                     config.buffer_capacity, cache_bytes=config.replay_cache_mb * 2**20)
        self.collector = Collector(self.envs, self.agent, seed=int(self.rng.integers(2**31)),
                                   on_trajectory=self.on_trajectory)
        self.collector.env_steps = self.state["env_steps"]
        self.batches: list[dict] = []  # drawn but not yet used (length_groups > 1)
        self.pending, self.skipped, self.bad_in_a_row = [], 0, 0
        self.bar = Progress(config, self.update, self.elapsed(), disable=None if self.lead else True)

    def open_run_dir(self) -> RunLock:
        """Lock, create (or clear, for overwrite) the run folder; write config.json and what trains it."""
        lock = prepare_run_dir(self.config)
        try:
            run_dir = Path(self.config.run_dir)
            self.config.save(run_dir / "config.json")
            with open(run_dir / "provenance.jsonl", "a") as f:  # a resumed run appends: a run may span commits
                f.write(json.dumps({**provenance(), "update": self.state["update"]}) + "\n")
        except BaseException:
            lock.release()
            raise
        return lock

    @property
    def update(self) -> int:
        return self.state["update"]

    def emit(self, hook: str, value) -> None:
        for callback in self.callbacks:
            fn = getattr(callback, hook, None)
            if fn is not None:
                fn(value)

    def on_trajectory(self, traj: dict) -> None:
        self.store.add(traj)
        self.emit("on_trajectory", traj)

    def elapsed(self) -> float:  # wall time of the whole run, across resumes
        return self.state["wall_time"] + time.time() - self.start

    def time_to_stop(self, ctrl_c: dict) -> bool:
        """Ctrl-C or the time cap; under torchrun every process decides together."""
        ctrl_c["stop"] = distributed.any_true(ctrl_c["stop"])
        return ctrl_c["stop"] or distributed.any_true(bool(self.config.max_minutes) and
                                                       self.elapsed() > 60 * self.config.max_minutes)

    def collect(self) -> None:
        self.collector.collect(self.config.collect_steps, epsilon_at(self.config, self.collector.env_steps // self.collector.n),
                               corridor=self.config.corridor_exploration)

    def enough_replay(self) -> bool:
        return distributed.all_true(len(self.store) >= self.config.learning_starts)

    def update_round(self, ctrl_c: dict) -> None:
        """``updates_per_collect`` gradient updates, each followed by its logging, evaluation and checkpoint."""
        config = self.config
        self.agent.train()
        for _ in range(config.updates_per_collect):
            # a single process may stop mid-round on Ctrl-C; under torchrun the round finishes
            if self.update >= config.total_updates or (ctrl_c["stop"] and self.world == 1):
                break
            if not self.batches:  # length_groups updates share one draw (1: a batch per update)
                self.batches = sample_length_groups(self.store, config.batch_size, config.window, self.rng,
                                                    config.length_groups)
            batch = batch_to_torch(self.batches.pop(), self.device)
            stats = update_step(self.agent, self.optimizer, self.scheduler, batch, config.grad_clip,
                                lambda: autocast_context(self.device, config.mixed_precision))
            self.emit("on_update", stats)
            if stats["skipped"]:
                self.count_skipped(stats)
                continue
            self.bad_in_a_row = 0
            self.pending.append(stats)
            self.state["update"] += 1
            self.bar.advance(self.update, self.elapsed())
            if self.update % config.log_interval == 0:
                row = self.log("train", **{k: float(np.mean([s[k] for s in self.pending])) for k in TRAIN_KEYS},
                               skipped=self.skipped)
                self.pending, self.skipped = [], 0
                self.emit("on_train_log", row)
                self.bar.advance(self.update, self.elapsed(), critic=f"{row['critic_loss']:.3f}",
                                 actor=f"{row['actor_loss']:.3f}")
            if self.update % config.eval_interval == 0 and self.lead:
                row = self.evaluate()
                self.agent.train()
                self.bar.advance(self.update, self.elapsed(), ret=f"{row['return']:.3f}")
            if self.update % config.checkpoint_interval == 0:
                self.save()

    def count_skipped(self, stats: dict) -> None:
        """Numerical guard: no step was taken; log the cause, and stop if it persists."""
        self.bad_in_a_row, self.skipped = self.bad_in_a_row + 1, self.skipped + 1
        # "update" is the number this update would have had, so resume drops it with the rest
        self.log("nonfinite", update=self.update + 1, terms=stats["nonfinite_terms"], in_a_row=self.bad_in_a_row)
        tqdm.write(f"update {self.update + 1}: non-finite {stats['nonfinite_terms']}; update skipped", file=sys.stderr)
        if self.bad_in_a_row >= self.config.max_nonfinite_updates:
            raise NonFiniteLossError(f"{self.bad_in_a_row} non-finite losses in a row (last: {stats['nonfinite_terms']}); "
                                     "lower lr, check reward scales / value_low..value_high, or raise max_nonfinite_updates")

    def log(self, kind: str, **values) -> dict:  # values may override "update"
        row = {"kind": kind, "update": self.update, "env_steps": self.collector.env_steps,
               "wall_time": round(self.elapsed(), 3), **values}
        if self.lead:
            self.metrics.write(row)
            self.metrics.write_csv()  # kept in step with metrics.jsonl, so a kill never leaves them apart
        return row

    def evaluate(self) -> dict:
        config = self.config
        result = evaluate(self.eval_envs, self.agent, config.eval_trials,
                          seed=config.seed * 10_000 + 5_000 + self.state["eval_round"], sample=config.eval_sample)
        self.state["eval_round"] += 1
        row = self.log("eval", **result)
        self.emit("on_eval", row)
        return row

    def save(self) -> None:
        if not self.lead:
            return
        agent_config = {f.name: _jsonable(getattr(self.config, f.name)) for f in fields(AgentConfig)}
        save_checkpoint(self.checkpoint_path, self.agent, self.optimizer, self.scheduler,
                        {**self.state, "env_steps": self.collector.env_steps, "wall_time": self.elapsed(),
                         "agent_config": agent_config},
                        on_written=lambda path: self.emit("on_checkpoint_written", path))
        if self.config.keep_checkpoints:  # a second name for the same file; replaces one a resumed run rewrote
            kept = self.checkpoint_path.with_name(f"update_{self.update:07d}.pt")
            with atomic_path(kept) as tmp:
                try:
                    tmp.unlink()
                    os.link(self.checkpoint_path, tmp)
                except OSError:  # a file system without hard links
                    shutil.copyfile(self.checkpoint_path, tmp)

    def finish(self, interrupted: bool) -> None:
        self.bar.close()
        if interrupted:
            self.save()
            tqdm.write(f"interrupted at update {self.update}: checkpoint saved to {self.checkpoint_path}; "
                       "continue with --resume", file=sys.stderr)
            raise KeyboardInterrupt
        if self.world > 1:
            self.log("distributed", world_size=self.world, params_in_sync=distributed.parameters_in_sync(self.agent))
        if self.lead and (not self.history.evals or self.history.evals[-1]["update"] != self.update):
            self.evaluate()
        self.save()
        distributed.barrier()  # leave together: tearing the group down while a peer still uses it aborts gloo

    def close(self) -> None:
        self.bar.close()
        self.envs.close()
        self.eval_envs.close()
        if self.lock is not None:
            self.lock.release()
        distributed.cleanup()


def main(argv=None, callbacks=()) -> int:
    config = config_from_args(argv)
    try:
        history = train(config, callbacks)
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
