"""Procgen games as inner environments: two attempts at the same procedurally generated level.

Paper Sec. 4 (Multi-Game Procgen) and App. A/B; after the authors' ``TwoAttemptMTProcgen`` in
``amago/envs/builtin/procgen_envs.py`` and their ``examples/09_multitask_procgen.py``. The authors
run OpenAI's ``procgen`` package (old ``gym`` API); this module runs the same C++ games through
EnvPool (``envpool.make_gymnasium``), which installs as a wheel and speaks the gymnasium API.

A trial is two attempts at one level: ``reset(options={"new_trial": True})`` draws a level seed
from the split's range with this env's seeded ``np_random``; ``new_trial=False`` replays that
level, so the second attempt can use what the first one saw. Level seeds (half-open ranges):

* ``split="train"``: ``[0, 10_000)`` (the authors' ``--train_seeds 10_000``; their
  ``random.randint(0, 10_000)`` also includes 10,000);
* ``split="test"``: ``[10_001, 10_000_000)``, held-out levels never seen in training (the authors'
  ``seed_range=(train_seeds + 1, 10_000_000)``).

One level per pool: Procgen fixes the set of levels when the game is created
(``num_levels=1, start_level=seed`` plays level ``seed`` on every reset), so a new trial builds a
new one-env EnvPool and the next attempt resets the same one. A new level (build + reset) costs
about 0.5 ms and a replay 0.06 ms (measured on 2 busy CPU cores); only the first pool in a process
takes 1-3.5 s (EnvPool loads the Procgen assets once), so no cache is needed.

Time limit per attempt: the game's own Procgen timeout (1,000 steps for most games, 500 for
leaper and maze; EnvPool's ``max_episode_steps``), as in the authors' runs (their "easy" trial
horizon is 2 x 1,000). ``max_episode_steps`` can lower it for CPU runs.

Observation: ``{"pixels": uint8 (3, 64, 64)}`` RGB planes. Actions: ``Discrete(15)``. Rewards:
Procgen's own (e.g. 10 for reaching coinrun's coin); per-game scales belong to the trial wrapper's
``reward_scale`` (``PROCGEN_EASY_RESCALED``). ``info["success"]`` (Procgen's level-complete flag)
is set on the step that ends an attempt. Unlike the authors we do not paint a black square on
the second attempt's frames: the trial wrapper's ``reset`` and ``progress`` inputs say which
attempt it is.
"""

from __future__ import annotations

import difflib

import gymnasium as gym
import numpy as np

from .splits import check_split

#: all 16 Procgen games
PROCGEN_GAMES: tuple[str, ...] = (
    "bigfish", "bossfight", "caveflyer", "chaser", "climber", "coinrun", "dodgeball", "fruitbot",
    "heist", "jumper", "leaper", "maze", "miner", "ninja", "plunder", "starpilot",
)  # fmt: skip
#: the paper's five "easy" games (App. B, Procgen)
PROCGEN_EASY: tuple[str, ...] = ("coinrun", "climber", "jumper", "ninja", "leaper")
#: reward multipliers of the paper's rescaled variant ("easy-rescaled"); other games x1
PROCGEN_EASY_RESCALED: dict[str, float] = {"coinrun": 100.0, "climber": 0.1}
#: games that have a "memory" distribution; "memory-hard" uses it there and "hard" elsewhere
#: (the authors' rule)
MEMORY_GAMES: tuple[str, ...] = ("dodgeball", "caveflyer", "heist", "jumper", "maze", "miner")

TRAIN_SEEDS = (0, 10_000)
TEST_SEEDS = (10_001, 10_000_000)
LEVEL_SEEDS = {"train": TRAIN_SEEDS, "test": TEST_SEEDS}  # per split
DISTRIBUTIONS = ("easy", "hard", "extreme", "memory", "exploration", "memory-hard")
RESOLUTION = (64, 64)
NUM_ACTIONS = 15
INSTALL_HINT = (
    "pip install --no-deps -r requirements-procgen.txt (EnvPool; see the file), and on Debian/Ubuntu "
    "the Qt 5 runtime its Procgen links against: apt-get install --no-install-recommends libqt5gui5"
)


def _import_envpool():
    try:
        import envpool
        import envpool.procgen

        envpool.procgen.ProcgenEnvSpec  # raises ImportError if the Qt 5 runtime is missing
    except ImportError as err:
        raise ImportError(f"Procgen games need EnvPool and the Qt 5 runtime: {INSTALL_HINT}") from err
    except FileNotFoundError as err:  # envpool 1.2.5 reads MyoSuite metadata at import time
        raise ImportError(
            f"`import envpool` needs envpool-assets-mujoco-large even for Procgen: {INSTALL_HINT}"
        ) from err
    return envpool


def procgen_task_id(game: str, distribution: str = "easy") -> str:
    """EnvPool's id for a game and distribution, e.g. ``("coinrun", "easy") -> "CoinrunEasy-v0"``."""
    if game not in PROCGEN_GAMES:
        close = difflib.get_close_matches(str(game).lower(), PROCGEN_GAMES, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown Procgen game {game!r}.{hint} Procgen games are: {', '.join(PROCGEN_GAMES)}")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r} (the paper's 'easy-rescaled' is "
            "distribution='easy' with the trial's reward_scale from PROCGEN_EASY_RESCALED)"
        )
    if distribution == "memory-hard":
        distribution = "memory" if game in MEMORY_GAMES else "hard"
    return f"{game.capitalize()}{distribution.capitalize()}-v0"


class ProcgenLevels(gym.Env):
    """One Procgen game whose levels are drawn per trial and replayed within it.

    Args:
        game: a Procgen game, e.g. ``"coinrun"``.
        seeds: ``(low, high)`` level seeds, half-open (``TRAIN_SEEDS`` or ``TEST_SEEDS``).
        distribution: one of ``DISTRIBUTIONS``.
        max_episode_steps: steps per attempt, at most the game's own Procgen timeout (``None``:
            that timeout; a larger value is capped, since Procgen ends the episode there anyway).
        **kwargs: passed to ``envpool.make_gymnasium`` (e.g. ``use_backgrounds=False``).

    Reset options: ``{"new_trial": True}`` (default) draws a new level seed;
    ``{"new_trial": False}`` replays the current one. ``info["level_seed"]`` names it.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        game: str,
        *,
        seeds: tuple[int, int] = TRAIN_SEEDS,
        distribution: str = "easy",
        max_episode_steps: int | None = None,
        **kwargs,
    ):
        self.task_id = procgen_task_id(game, distribution)
        if (
            not isinstance(seeds, (tuple, list))
            or len(seeds) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in seeds)
            or not 0 <= seeds[0] < seeds[1] <= 2**31 - 1
        ):
            raise ValueError(f"seeds must be a (low, high) pair of integers, 0 <= low < high < 2**31, got {seeds!r}")
        self._envpool = _import_envpool()
        registered = self._envpool.list_all_envs()
        if self.task_id not in registered:
            modes = sorted(k[len(game) : -len("-v0")].lower() for k in registered if k.startswith(game.capitalize()))
            raise ValueError(f"Procgen {game!r} has no {distribution!r} distribution; it has: {', '.join(modes)}")
        self.game = game
        self.distribution = distribution
        self.seeds = (int(seeds[0]), int(seeds[1]))
        self._kwargs = kwargs
        spec = self._envpool.make_spec(self.task_id)
        game_limit = int(spec.config.max_episode_steps)
        if max_episode_steps is None:
            max_episode_steps = game_limit
        if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, (int, np.integer)):
            raise ValueError(f"max_episode_steps must be an integer >= 1 or None, got {max_episode_steps!r}")
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be an integer >= 1 or None, got {max_episode_steps!r}")
        self.max_episode_steps = min(int(max_episode_steps), game_limit)
        self.action_space = gym.spaces.Discrete(NUM_ACTIONS)
        self.observation_space = gym.spaces.Dict({"pixels": gym.spaces.Box(0, 255, (3, *RESOLUTION), np.uint8)})
        self.level_seed: int | None = None
        self._pool = None  # the one-env EnvPool that plays level ``level_seed``
        self._steps = 0

    def _make_pool(self, level_seed: int):
        return self._envpool.make_gymnasium(
            self.task_id,
            num_envs=1,
            num_threads=1,  # one env: a thread pool only adds contention
            seed=level_seed,
            num_levels=1,
            start_level=level_seed,
            channel_first=True,
            **self._kwargs,
        )

    @staticmethod
    def _observation(batch: np.ndarray) -> dict:
        return {"pixels": batch[0]}  # (1, 3, 64, 64) batch of one -> (3, 64, 64)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if (options or {}).get("new_trial", True) or self._pool is None:
            self.level_seed = int(self.np_random.integers(*self.seeds))
            if self._pool is not None:
                self._pool.close()
            self._pool = self._make_pool(self.level_seed)
        batch, _ = self._pool.reset()  # the same level again on every reset of this pool
        self._steps = 0
        return self._observation(batch), {"game": self.game, "level_seed": self.level_seed}

    def step(self, action):
        if self._pool is None:
            raise RuntimeError("step() called before reset()")
        batch, reward, terminated, truncated, raw = self._pool.step(np.array([int(action)], dtype=np.int32))
        self._steps += 1
        terminated, truncated = bool(terminated[0]), bool(truncated[0])
        truncated = truncated or (not terminated and self._steps >= self.max_episode_steps)
        info = {}
        if terminated or truncated:
            info["success"] = bool(raw["prev_level_complete"][0])
        return self._observation(batch), float(reward[0]), terminated, truncated, info

    def close(self):
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        super().close()


def make_procgen_env(
    game: str,
    *,
    split: str = "train",
    distribution: str = "easy",
    max_episode_steps: int | None = None,
    **kwargs,
) -> gym.Env:
    """The inner env (not trial-wrapped) for one Procgen game, e.g. ``make_procgen_env("coinrun")``.

    Args:
        game: one of ``PROCGEN_GAMES``.
        split: ``"train"`` (levels ``TRAIN_SEEDS``) or ``"test"`` (held-out ``TEST_SEEDS``).
        distribution: ``"easy"`` (the paper's), ``"hard"``, ``"memory-hard"`` (memory where the game
            has it, else hard), or EnvPool's ``"extreme"``, ``"memory"``, ``"exploration"``.
        max_episode_steps: steps per attempt; ``None`` = the game's Procgen timeout.
        **kwargs: options for ``envpool.make_gymnasium`` (e.g. ``use_backgrounds=False``).
    """
    check_split(split)
    return ProcgenLevels(
        game, seeds=LEVEL_SEEDS[split], distribution=distribution, max_episode_steps=max_episode_steps, **kwargs
    )
