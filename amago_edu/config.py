"""`TrainConfig`: one flat dataclass for a training run, with presets and validation.

Every field has a docstring (the command line's ``--help`` is generated from them). The agent's
fields come from :class:`amago_edu.agent.AgentConfig`, so there is one place per setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .agent import AgentConfig
from .envs.splits import SPLITS


@dataclass
class TrainConfig(AgentConfig):
    """Everything a training run needs. Defaults: AMAGO-2 on meta frozen lake, CPU-sized."""

    env: str = "toy/meta_frozen_lake"
    """Environment id (toy/..., popgym/<Name>, babyai/<Level>), a named set (popgym-mt, babyai-mt)
    or a comma-separated list of ids for a multi-task mixture."""
    episodes_per_trial: int = 5
    """k: attempts at the same task in one trial (the agent adapts across them in context)."""
    env_kwargs: dict = field(default_factory=dict)
    """Extra keyword arguments for the environment, e.g. {"size": 4} or {"corridor_length": 30}."""
    reward_scales: tuple[float, ...] | None = None
    """One reward multiplier per task of a mixture (the return-scale experiment); None = all 1."""
    invalid_actions: str = "replace"
    """Mixtures whose tasks have different action counts: "replace" (an index the task lacks becomes a random
    valid action, flagged in the observation: the paper's rule) or "mask" (the agent's policy is masked to the
    current task's valid actions; the mask is never a network input)."""
    shared_actions: int = 0
    """Size of a mixture's shared Discrete action space (0 = its largest task's); larger pads every task,
    e.g. one game alone inside popgym-mt's 27 actions (a diagnosis run). A single env id: write "id," for a
    mixture of one."""
    task_per_env: bool = False
    """Mixtures: parallel env i always plays task i mod n (the authors' Atari set-up: every game is played all the
    time) instead of drawing a task per trial; num_envs must then be a multiple of the number of tasks."""
    seed: int = 0
    """Seeds python, numpy, torch and the environments."""
    device: str = "auto"
    """"auto" (CUDA if available, else CPU), "cpu" or "cuda[:N]"."""
    mixed_precision: str = "auto"
    """"auto" (bf16 autocast on CUDA only), "bf16" (also on CPU) or "no"."""
    num_threads: int = 0
    """CPU threads for torch (0 = leave torch's default)."""
    num_envs: int = 8
    """Parallel environments for collection (and for evaluation)."""
    vector_mode: str = "sync"
    """"sync" (one process) or "async" (a process per environment; worth it for slow envs)."""
    total_updates: int = 3000
    """Gradient updates in the run."""
    max_minutes: float = 0.0
    """Stop after this many minutes of wall time (0 = no limit); the final evaluation still runs."""
    collect_steps: int = 16
    """Environment steps per parallel env between rounds of updates."""
    updates_per_collect: int = 8
    """Gradient updates after each collection round (update-to-data ratio = this / (collect_steps x num_envs))."""
    learning_starts: int = 16
    """Trajectories in replay before the first update."""
    batch_size: int = 24
    """Sequences (windows of context_length steps) per update (with length_groups > 1: on average)."""
    length_groups: int = 1
    """1: every update draws its own batch. G > 1: G updates share one draw of G x batch_size windows, sorted by
    length and cut into G batches of about equal token count, so little of each batch is padding (worth it
    where trial lengths vary, e.g. frozen lake; ``benchmarks/length_groups.py`` times it on a run's own replay;
    see ``replay.sample_length_groups``). Trials collected meanwhile wait for the next draw: G = updates_per_collect
    draws once per collection round."""
    lr: float = 3e-4
    """AdamW learning rate (the authors use 1e-4 for long GPU runs)."""
    weight_decay: float = 1e-3
    """AdamW weight decay."""
    warmup_updates: int = 100
    """Linear learning-rate warm-up (updates)."""
    grad_clip: float = 1.0
    """Global gradient-norm clip."""
    buffer_capacity: int = 20000
    """Trajectory files kept in replay (oldest deleted first)."""
    replay_cache_mb: int = 4096
    """Memory for trajectories held in RAM (least recently used dropped first, read from disk again when sampled);
    0 = keep none in memory. State-vector runs fit whole; a pixel replay does not (21 MB per 1,000 Atari frames)."""
    epsilon_start: float = 1.0
    """Epsilon-greedy exploration at the start of training (each env uses epsilon x U[0, 1), redrawn per trial)."""
    epsilon_end: float = 0.05
    """Epsilon-greedy exploration after annealing."""
    epsilon_anneal_steps: int = 2500
    """Steps of each parallel env over which epsilon decays linearly (the authors' unit: ``steps_anneal`` per actor;
    their default 1M, BabyAI 500k, T-maze 100k, for runs of 100M+ steps)."""
    corridor_exploration: int = 0
    """0, or the T-maze's episode length H: the authors' T-maze schedule, 0.5 / H exploration strictly between an
    episode's first and last 3 steps (``TMazeExploration``, their ``examples/04_tmaze.py``)."""
    eval_interval: int = 500
    """Evaluate every this many updates (and at the end)."""
    eval_trials: int = 32
    """Trials per evaluation (spread over num_envs environments, held-out seeds)."""
    eval_sample: bool = True
    """Sample actions at evaluation (False = argmax, as the authors do for T-maze)."""
    eval_split: str = "test"
    """Variants evaluations play: "test" (held-out frozen-lake maps, BabyAI layouts, Meta-World variants, Procgen
    levels; see amago_edu.envs.splits) or "train" (e.g. the paper's ML45 score, success on the training families)."""
    log_interval: int = 50
    """Write averaged training diagnostics every this many updates."""
    checkpoint_interval: int = 500
    """Save a checkpoint every this many updates (and at the end, and on Ctrl-C)."""
    keep_checkpoints: bool = False
    """Also keep every checkpoint as checkpoints/update_<N>.pt (``load_agent(..., update=N)`` reads one),
    e.g. to compare runs of different speeds at the same number of updates."""
    run_dir: str = "runs/default"
    """Folder for config.json, metrics.jsonl/csv, checkpoints and the replay files."""
    resume: bool = False
    """Continue the run in run_dir from its last checkpoint."""
    overwrite: bool = False
    """Delete an existing run_dir and start over (without this, a non-empty run_dir is refused)."""
    max_nonfinite_updates: int = 5
    """Stop with an error after this many non-finite losses in a row (each one is skipped)."""

    def __post_init__(self):
        # JSON and the command line give lists; anything else is left for validate() to name
        if isinstance(self.reward_scales, list):
            self.reward_scales = tuple(self.reward_scales)
        if isinstance(self.gammas, list):
            self.gammas = tuple(self.gammas)
        if isinstance(self.cnn_channels, list):
            self.cnn_channels = tuple(self.cnn_channels)

    # -- validation ----------------------------------------------------------------------------
    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the field and the allowed range; return self.

        Types are checked first (every field, the agent's too), so a wrong type gets a message
        instead of a TypeError from a comparison deep inside a range check.
        """
        for f in dataclasses.fields(self):
            value, kind = getattr(self, f.name), _base_type(f.type)
            if kind is tuple and not (isinstance(value, tuple) or (value is None and "None" in str(f.type))):
                raise ValueError(f"{f.name} must be a list of numbers, got {value!r}")
            if kind is tuple and value is not None:
                for item in value:
                    if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
                        raise ValueError(f"{f.name} must hold finite numbers, got {item!r} in {value!r}")
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{f.name} must be an integer, got {value!r}")
            if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{f.name} must be a number, got {value!r}")
            if kind is float and not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite, got {value!r}")
            if kind is bool and not isinstance(value, bool):
                raise ValueError(f"{f.name} must be true or false, got {value!r}")
            if kind is str and not isinstance(value, str):
                raise ValueError(f"{f.name} must be a string, got {value!r}")
        if self.value_low >= self.value_high:
            raise ValueError(f"value_low must be smaller than value_high, "
                             f"got {self.value_low!r} >= {self.value_high!r}")
        super().validate()
        for name in ("episodes_per_trial", "num_envs", "total_updates", "collect_steps", "updates_per_collect",
                     "batch_size", "length_groups", "buffer_capacity", "eval_interval", "eval_trials", "log_interval",
                     "checkpoint_interval", "learning_starts", "max_nonfinite_updates"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("warmup_updates", "epsilon_anneal_steps", "corridor_exploration", "num_threads", "seed", "shared_actions"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("lr", "grad_clip"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.weight_decay < 0 or self.max_minutes < 0:
            raise ValueError(f"weight_decay and max_minutes must be >= 0, got {self.weight_decay!r}, {self.max_minutes!r}")
        for name in ("epsilon_start", "epsilon_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)!r}")
        if self.mixed_precision not in ("auto", "bf16", "no"):
            raise ValueError(f"mixed_precision must be 'auto', 'bf16' or 'no', got {self.mixed_precision!r}")
        if self.invalid_actions not in ("replace", "mask"):
            raise ValueError(f"invalid_actions must be 'replace' or 'mask', got {self.invalid_actions!r}")
        if self.eval_split not in SPLITS:
            raise ValueError(f"eval_split must be one of {SPLITS} (held-out variants or training ones), got {self.eval_split!r}")
        if self.vector_mode not in ("sync", "async"):
            raise ValueError(f"vector_mode must be 'sync' or 'async', got {self.vector_mode!r}")
        if isinstance(self.replay_cache_mb, bool) or not isinstance(self.replay_cache_mb, int) or self.replay_cache_mb < 0:
            raise ValueError(f"replay_cache_mb must be an integer >= 0 (MB of trajectories kept in memory), "
                             f"got {self.replay_cache_mb!r}")
        if self.buffer_capacity < self.learning_starts:
            raise ValueError(f"buffer_capacity ({self.buffer_capacity}) must be >= learning_starts "
                             f"({self.learning_starts}), or replay never holds enough trajectories to start")
        parts = self.env.split(",")
        parts = parts[:-1] if len(parts) > 1 and not parts[-1].strip() else parts  # "id," = a mixture of one
        if not self.env.strip() or any(not part.strip() for part in parts):
            raise ValueError(f"env must name an environment (or comma-separated ids), e.g. 'toy/meta_frozen_lake', "
                             f"got {self.env!r}")
        if not self.run_dir.strip():
            raise ValueError("run_dir must name a folder, e.g. 'runs/frozen_lake'")
        if self.device != "auto" and not re.fullmatch(r"cpu|cuda(:\d+)?|mps", self.device):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {self.device!r}")
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a dict, got {self.env_kwargs!r}")
        if self.reward_scales is not None:
            if not self.reward_scales:
                raise ValueError("reward_scales must be None or a non-empty list, one scale per task")
            for scale in self.reward_scales:
                if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
                    raise ValueError(f"reward_scales must be finite positive numbers, got {scale!r}")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite are mutually exclusive: pick one")
        return self

    @property
    def window(self) -> int:
        """Transitions per training window (the Transformer sees window + 1 observations)."""
        return self.context_length - 1

    # -- presets -------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, **overrides) -> "TrainConfig":
        """A named starting point (see ``PRESETS``) with field overrides."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read a config from {path}: {err}") from err
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown config fields {unknown}")
        return cls(**data)


# Small, CPU-sized settings. "fast" is for tests and FAST notebooks (seconds, learns nothing much).
# CPU presets train 3 discount factors instead of 7: the heads cost grows linearly with their number.
_SMALL = dict(d_model=64, n_layers=2, n_heads=4, tstep_hidden=64, head_hidden=64, gammas=(0.9, 0.99, 0.999))
PRESETS: dict[str, dict] = {
    "fast": dict(**_SMALL, env="toy/meta_frozen_lake", episodes_per_trial=2, env_kwargs={"size": 3},
                 context_length=24, num_envs=4, total_updates=40, collect_steps=8, updates_per_collect=4,
                 learning_starts=4, batch_size=8, warmup_updates=10, eval_interval=20, eval_trials=8,
                 log_interval=10, checkpoint_interval=20, epsilon_anneal_steps=125),
    # frozen lake's trials are 27 steps on average but up to 80: length_groups keeps the padding out of the batches.
    # The budget is in updates, so the result does not depend on the machine's speed; the time cap is a safety net
    # that a machine twice as slow as one core of a 2-core laptop still stays under.
    "frozen_lake": dict(**_SMALL, env="toy/meta_frozen_lake", episodes_per_trial=5, env_kwargs={"size": 4},
                        context_length=81, num_envs=16, total_updates=24_000, max_minutes=90.0,
                        epsilon_anneal_steps=12500, epsilon_end=0.1, eval_interval=500, lr=1e-4, length_groups=8),
    # T-maze: a 30-step memory (gamma 0.9999 so the final reward reaches the first step); argmax at evaluation, and
    # the authors' T-maze exploration (their examples/04_tmaze.py): 1.0 -> 0.01 over 100k steps per env, 0.5 / H
    # inside the corridor, so wrong turns keep reaching replay at the junction and the learned turn keeps a gradient
    "tmaze": dict(**{**_SMALL, "gammas": (0.9, 0.99, 0.9999)}, env="toy/tmaze", episodes_per_trial=1,
                  env_kwargs={"corridor_length": 30}, context_length=32, total_updates=10000, max_minutes=45.0,
                  reward_multiplier=100.0, eval_sample=False, epsilon_start=1.0, epsilon_end=0.01,
                  epsilon_anneal_steps=100_000, corridor_exploration=31),
    "popgym": dict(**_SMALL, env="popgym/RepeatPreviousEasy", episodes_per_trial=1, context_length=65,
                   total_updates=10000, max_minutes=2.5, reward_multiplier=100.0, lr=1e-3),
    # 8 POPGym Easy games, one-shot with a warm-up attempt (App. B, POPGym). Most trials are 102 steps (the
    # cart-pole and bandit ones 400): a 129-step context holds most trials whole on a CPU; use 401 on a GPU.
    # length_groups: trials of 102 or 400 steps cut to 128-step windows leave much padding to sort away. Budgeted in
    # updates (with a time cap) so the result does not depend on the machine's speed.
    "popgym_mt": dict(**_SMALL, env="popgym-mt", episodes_per_trial=2, context_length=129, reward_multiplier=100.0,
                      total_updates=10_000, max_minutes=90.0, eval_interval=1000, eval_trials=64, lr=1e-3,
                      length_groups=8),
    # 8 BabyAI levels, k=2 on the same layout (App. B, BabyAI). max_steps=64 caps OpenDoor/UnlockLocal (576 steps)
    # and KeyCorridorS3R1 (270) so a trial is <= 128 steps and fits the context whole. Budgeted in updates (with a
    # time cap) so the result does not depend on the machine's speed.
    "babyai_mt": dict(**_SMALL, env="babyai-mt", episodes_per_trial=2, env_kwargs={"max_steps": 64},
                      context_length=129, reward_multiplier=1000.0, total_updates=8_000, max_minutes=90.0,
                      eval_interval=1000, eval_trials=64, length_groups=8),
    # Return-scale ablation (Sec. 3; the rescaled games of Fig. 7): three POPGym Easy games whose rewards are
    # scaled x0.1, x1 and x100 (the 1000x spread of the authors' rescaled Procgen). HigherLower (13 cards) is told
    # apart from the others by its observations; RepeatFirst and RepeatPrevious show the same 4 suits and are told
    # apart by the rewards the agent sees (prev_reward: +-0.02 per step at x1, +-2 at x100). The smallest task's
    # per-step rewards must stay near a two-hot bin (x0.1 x 100 / 51 steps = 0.2, half a bin; x0.01 would be 1/20 of
    # a bin, below what the critic resolves). At most 4 actions, so the paper's replace rule pads HigherLower's 2 to 4.
    "scale_ablation": dict(**_SMALL, env="popgym/HigherLowerEasy,popgym/RepeatFirstEasy,popgym/RepeatPreviousEasy",
                           reward_scales=(0.1, 1.0, 100.0), episodes_per_trial=1, context_length=65,
                           reward_multiplier=100.0, total_updates=4000, max_minutes=20.0, eval_interval=250,
                           eval_trials=48, lr=1e-3),
    # CPU-sized runs of the other three benchmarks (benchmarks/multitask.py --sets ...; extras in the README).
    # Meta-World ML1 reach, k = 3 attempts of 100 steps (paper: 500) at one goal: the goal is hidden, so attempt 1
    # must find it and attempts 2-3 can go straight there, in context; the context holds the whole 300-step trial.
    "metaworld_ml1": dict(**_SMALL, env="metaworld/ML1/reach-v3", episodes_per_trial=3,
                          env_kwargs={"max_episode_steps": 100}, context_length=301, reward_multiplier=1.0, lr=5e-4,
                          grad_clip=2.0, total_updates=10**6, max_minutes=30.0, eval_interval=500, eval_trials=24),
    # Meta-World ML10: 10 training families (held-out: 5 others), the same trial format
    "metaworld_ml10": dict(**_SMALL, env="metaworld/ML10", episodes_per_trial=3, env_kwargs={"max_episode_steps": 100},
                           context_length=301, reward_multiplier=1.0, lr=5e-4, grad_clip=2.0, total_updates=10**6,
                           max_minutes=30.0, eval_interval=500, eval_trials=30, eval_split="train"),
    # Two Atari games whose scores differ by two orders of magnitude (Pong +-21, MsPacman hundreds to thousands),
    # one per parallel env, unclipped; episodes capped at 500 steps; a small IMPALA CNN
    "atari_2": dict(**_SMALL, env="atari/Pong,atari/MsPacman", episodes_per_trial=1, task_per_env=True,
                    env_kwargs={"max_episode_steps": 500}, context_length=33, cnn_channels=(8, 16, 16), num_envs=4,
                    batch_size=8, reward_multiplier=0.25, num_bins=128, buffer_capacity=300, learning_starts=4,
                    total_updates=10**6, max_minutes=30.0, eval_interval=250, eval_trials=8),
    # Procgen easy, two attempts at one level (capped at 200 steps each); a 64-step sliding context
    "procgen_easy": dict(**_SMALL, env="procgen-easy", episodes_per_trial=2, env_kwargs={"max_episode_steps": 200},
                         context_length=65, cnn_channels=(8, 16, 16), num_envs=5, task_per_env=True, batch_size=8,
                         num_bins=128, buffer_capacity=500, learning_starts=5, total_updates=10**6, max_minutes=30.0,
                         eval_interval=250, eval_trials=10),
}

# The paper's settings (App. A, Tables 1 and 2; the authors' example scripts for what the tables leave out), for a GPU.
# Shared: 7 discount factors, 4 critics, tau 0.003, symlog bins over +-1e5, FF width 4 x d_model, dropout 0.05.
# Replay sizes are given in trajectories here: the paper's step counts divided by the trial length.
_PAPER = dict(gammas=(0.1, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999), num_critics=4, tau=0.003, value_low=-1e5,
              value_high=1e5, n_heads=8, head_hidden=256, dropout=0.05, filter_threshold=-1e-4, grad_clip=1.0,
              total_updates=10**6, max_minutes=0.0, eval_interval=2000, eval_trials=64, checkpoint_interval=2000,
              log_interval=100, warmup_updates=1000, epsilon_anneal_steps=1_000_000)
PAPER_PRESETS: dict[str, dict] = {
    # POPGym, 27 games, one-shot with a warm-up attempt; paper: 100M env steps, 85% normalised return (Fig. 5)
    "paper_popgym": dict(**_PAPER, env="popgym-27", episodes_per_trial=2, context_length=600, d_model=256,
                         n_layers=3, tstep_hidden=512, num_bins=64, lr=1e-4, batch_size=24, weight_decay=1e-4,
                         buffer_capacity=15_000, reward_multiplier=100.0, num_envs=24),
    # BabyAI, k = 2 on one layout; the paper trains 50 levels (the authors' examples list them), this preset the
    # 8 of babyai-mt at the paper's network size; paper: two-episode return 1.61 at 100M steps (Fig. 10)
    "paper_babyai": dict(**{**_PAPER, "epsilon_anneal_steps": 500_000}, env="babyai-mt", episodes_per_trial=2, context_length=512, d_model=256,
                         n_layers=4, tstep_hidden=256, num_bins=32, lr=1e-4, batch_size=24, weight_decay=1e-3,
                         buffer_capacity=20_000, reward_multiplier=1000.0, num_envs=24),
    # Meta-World ML45, k = 3 attempts of 500 steps (trial 1,500 > context 256: a sliding window when acting);
    # the paper's score is success on the 45 training families (eval_split "train"): 88.8% at 100M steps (Fig. 4)
    "paper_metaworld_ml45": dict(**{**_PAPER, "grad_clip": 2.0}, env="metaworld/ML45", episodes_per_trial=3, context_length=256,
                                 d_model=320, n_layers=3, tstep_hidden=512, num_bins=128, lr=5e-4, batch_size=24,
                                 weight_decay=1e-4, buffer_capacity=5_300, reward_multiplier=1.0,
                                 num_envs=40, eval_split="train"),
    # Multi-Game Atari, 10 games, one per parallel env, unclipped rewards; ~21M steps per game (Fig. 9)
    "paper_atari": dict(**_PAPER, env="atari-mt", episodes_per_trial=1, task_per_env=True, context_length=64,
                        d_model=256, n_layers=3, tstep_hidden=384, num_bins=128, cnn_channels=(16, 32, 32), lr=1e-4,
                        batch_size=32, weight_decay=5e-3, buffer_capacity=4_000, reward_multiplier=0.25, num_envs=30),
    # Multi-Game Procgen "easy", two attempts at one level, DrQ-v2 shifts; 275M steps (Fig. 6)
    "paper_procgen_easy": dict(**_PAPER, env="procgen-easy", episodes_per_trial=2, context_length=128, d_model=512,
                               n_layers=3, tstep_hidden=384, num_bins=128, cnn_channels=(16, 32, 32),
                               random_shift=True, lr=1e-4, batch_size=24, weight_decay=5e-3, buffer_capacity=9_000,
                               reward_multiplier=10.0, num_envs=30),
}
PRESETS.update(PAPER_PRESETS)


# -- command line -------------------------------------------------------------------------------
def _base_type(annotation):
    """The plain type of a dataclass field annotation ('int', 'tuple[float, ...] | None', ...)."""
    text = str(annotation)
    for name, kind in (("tuple", tuple), ("dict", dict), ("bool", bool), ("int", int), ("float", float), ("str", str)):
        if text.startswith(name):
            return kind
    return None


def field_docs(cls=TrainConfig) -> dict[str, str]:
    """Field docstrings, read from the source (the string literal right after each field)."""
    import ast
    import inspect

    docs = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        body = ast.parse(inspect.getsource(klass)).body[0].body
        for node, nxt in zip(body, body[1:]):
            if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
                docs[node.target.id] = " ".join(str(nxt.value.value).split())
    return docs


def build_parser() -> argparse.ArgumentParser:
    """``--help`` generated from the dataclass fields and their docstrings."""
    parser = argparse.ArgumentParser(
        prog="python -m amago_edu.train",
        description="Train an AMAGO-2 agent (or the AMAGO-1-style baseline) and write metrics and checkpoints.",
    )
    parser.add_argument("--preset", default=None, help=f"start from a preset: {', '.join(sorted(PRESETS))}")
    docs = field_docs()
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = _base_type(f.type)
        # argparse expands %-formats in help ("75%" in a docstring would crash --help)
        help_text = f"{docs.get(f.name, '')} (default: {getattr(defaults, f.name)!r})".replace("%", "%%")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif kind is tuple:  # tuple[int, ...] (cnn_channels) or tuple[float, ...]
            item = int if str(f.type).startswith("tuple[int") else float
            parser.add_argument(flag, type=item, nargs="+", default=None, help=help_text)
        elif kind is dict:
            parser.add_argument(flag, type=_json_dict, default=None, help=help_text + ' (JSON, e.g. \'{"size": 4}\')')
        else:
            parser.add_argument(flag, type=kind, default=None, help=help_text)
    return parser


def _json_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object like '{\"size\": 4}'")
    return value


def config_from_args(argv: typing.Sequence[str] | None = None) -> TrainConfig:
    """Parse the command line into a validated TrainConfig (argparse exits with a message on errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "preset" and v is not None}
    if "gammas" in overrides:
        overrides["gammas"] = tuple(overrides["gammas"])
    preset = PRESETS.get(args.preset, {})
    if "env" in overrides and overrides["env"] != preset.get("env"):
        # env_kwargs and reward_scales describe the preset's own env ({"size": 3} is a frozen-lake map
        # size): passed to another env they would fail there, so an explicit --env drops them
        dropped = {name: preset[name] for name in ("env_kwargs", "reward_scales")
                   if preset.get(name) and name not in overrides}
        if dropped:
            import sys

            defaults = TrainConfig()
            overrides.update({name: getattr(defaults, name) for name in dropped})
            settings = " and ".join(f"{name}={value!r}" for name, value in dropped.items())
            flags = " / ".join("--" + name.replace("_", "-") for name in dropped)
            print(f"note: --env {overrides['env']} replaces the {args.preset!r} preset's env {preset['env']!r}, "
                  f"so the preset's {settings} are not used (pass {flags} to set them)", file=sys.stderr)
    try:
        config = TrainConfig.preset(args.preset, **overrides) if args.preset else TrainConfig(**overrides)
        return config.validate()
    except ValueError as err:
        parser.error(str(err))
