"""POPGym games (Morad et al. 2023) as flat-vector inner envs (AMAGO-2 Sec. 4 and App. B, POPGym).

Every game in ``popgym.envs.ALL`` is exposed as ``popgym/<ClassName>``. The adapter gives the
package's agent one interface for all of them:

* observations -> one float32 vector: Discrete -> one-hot, MultiDiscrete -> concatenated one-hots,
  Box -> flattened, Tuple/Dict of these -> concatenation (in the space's order);
* actions -> Discrete(A): Discrete as is, MultiDiscrete(nvec) -> one Discrete(prod(nvec)) (row-major);
  a bounded Box (the Pendulum games) -> Box in [-1, 1], rescaled to the native bounds.

POPGym scales rewards so that a game's return lies in [-1, 1]. Success is not defined (NaN).
"""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: the Easy games of the paper's POPGym mixture (App. B) that fit a shared Discrete action space
POPGYM_MT = [
    "RepeatPreviousEasy",
    "RepeatFirstEasy",
    "CountRecallEasy",
    "AutoencodeEasy",
    "PositionOnlyCartPoleEasy",
    "HigherLowerEasy",
    "MultiarmedBanditEasy",
    "MineSweeperEasy",
]

#: the paper's 27-game mixture (App. B, POPGym; the authors' ``MultiDomainPOPGym``): eight families at Easy, Medium
#: and Hard, the bandit at Easy and Medium, and MineSweeperEasy
POPGYM_27 = [
    f"{family}{level}"
    for family in ("Autoencode", "RepeatPrevious", "RepeatFirst", "CountRecall", "PositionOnlyCartPole",
                   "VelocityOnlyCartPole", "NoisyPositionOnlyCartPole", "HigherLower")
    for level in ("Easy", "Medium", "Hard")
] + ["MultiarmedBanditEasy", "MultiarmedBanditMedium", "MineSweeperEasy"]

Fill = Callable[[np.ndarray, object, int], None]  # fill(out, native_value, offset) writes in place


def popgym_games() -> dict[str, type]:
    """``{class name: class}`` for every game in ``popgym.envs.ALL`` (Easy/Medium/Hard)."""
    import popgym.envs

    return {cls.__name__: cls for cls in popgym.envs.ALL}


def _flat_encoder(space: spaces.Space, where: str) -> tuple[int, np.ndarray, np.ndarray, Fill]:
    """Size, float32 low/high bounds and an in-place encoder of ``space`` as one flat vector."""
    if isinstance(space, spaces.Discrete):
        n, start = int(space.n), int(space.start)

        def fill(out, x, offset):
            out[offset + int(x) - start] = 1.0

        return n, np.zeros(n, np.float32), np.ones(n, np.float32), fill
    if isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
        nvec, starts = space.nvec.astype(np.int64), space.start.astype(np.int64)
        bases = np.concatenate([[0], np.cumsum(nvec)[:-1]]) - starts
        size = int(nvec.sum())

        def fill(out, x, offset):
            out[offset + bases + np.asarray(x, dtype=np.int64)] = 1.0

        return size, np.zeros(size, np.float32), np.ones(size, np.float32), fill
    if isinstance(space, spaces.Box):
        size = int(np.prod(space.shape))

        def fill(out, x, offset):
            out[offset : offset + size] = np.asarray(x, dtype=np.float32).reshape(-1)

        return size, space.low.reshape(-1).astype(np.float32), space.high.reshape(-1).astype(np.float32), fill
    if isinstance(space, (spaces.Tuple, spaces.Dict)):
        keys = list(range(len(space.spaces))) if isinstance(space, spaces.Tuple) else list(space.spaces)
        parts = [_flat_encoder(space[key], where) for key in keys]
        offsets = np.concatenate([[0], np.cumsum([p[0] for p in parts])]).astype(int)
        fills = [(key, int(off), p[3]) for key, off, p in zip(keys, offsets, parts)]

        def fill(out, x, offset):
            for key, off, part_fill in fills:
                part_fill(out, x[key], offset + off)

        low = np.concatenate([p[1] for p in parts])
        high = np.concatenate([p[2] for p in parts])
        return int(offsets[-1]), low, high, fill
    raise ValueError(
        f"{where}: observation space {space} is not supported; supported spaces are Discrete, "
        "1-D MultiDiscrete, Box and Tuple/Dict of these"
    )


def _action_adapter(space: spaces.Space, where: str) -> tuple[spaces.Space, Callable]:
    """The agent-facing action space and a map from its actions to the native ones."""
    if isinstance(space, spaces.Discrete):
        start = int(space.start)
        return spaces.Discrete(int(space.n)), lambda a: int(a) + start
    if isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
        # row-major table: agent action i -> the i-th combination of sub-actions
        table = np.stack(np.unravel_index(np.arange(int(np.prod(space.nvec))), space.nvec), axis=-1)
        table = (table + space.start).astype(space.dtype)
        return spaces.Discrete(len(table)), lambda a: table[int(a)].copy()
    if isinstance(space, spaces.Box) and np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
        low, high = space.low.astype(np.float32), space.high.astype(np.float32)
        agent_space = spaces.Box(-1.0, 1.0, (int(np.prod(space.shape)),), np.float32)

        def to_native(a):
            a = np.clip(np.asarray(a, dtype=np.float32).reshape(space.shape), -1.0, 1.0)
            return (low + (a + 1.0) * 0.5 * (high - low)).astype(space.dtype)

        return agent_space, to_native
    raise ValueError(
        f"{where}: action space {space} is not supported; supported spaces are Discrete, 1-D "
        "MultiDiscrete (becomes one Discrete) and a Box with finite bounds (rescaled to [-1, 1])"
    )


class POPGymAdapter(gym.Wrapper):
    """Flat float32 observations and Discrete (or [-1, 1] Box) actions for one POPGym game.

    ``info`` is dropped: some games return the same mutable array in every step's info.
    ``max_episode_steps`` is the game's own episode limit (read by the trial wrapper).
    """

    def __init__(self, env: gym.Env, name: str | None = None):
        super().__init__(env)
        self.name = name or type(env).__name__
        size, low, high, self._fill = _flat_encoder(env.observation_space, self.name)
        self._size = size
        self.observation_space = spaces.Box(low, high, (size,), np.float32)
        self.action_space, self._to_native = _action_adapter(env.action_space, self.name)
        self.max_episode_steps = popgym_episode_limit(env)

    def _encode(self, native_obs) -> np.ndarray:
        out = np.zeros(self._size, dtype=np.float32)
        self._fill(out, native_obs, 0)
        return out

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        # POPGym games have no notion of a trial: every attempt is a fresh game (options ignored)
        native_obs, _ = self.env.reset(seed=seed)
        return self._encode(native_obs), {}

    def step(self, action):
        native_obs, reward, terminated, truncated, _ = self.env.step(self._to_native(action))
        return self._encode(native_obs), float(reward), bool(terminated), bool(truncated), {}


def popgym_episode_limit(env: gym.Env) -> int:
    """Longest possible episode of a POPGym game (an upper bound for the trial length)."""
    for attribute in ("max_episode_length", "episode_length"):  # most games / Concentration
        limit = getattr(env, attribute, None)
        if limit is not None:
            return int(limit)
    if hasattr(env, "deck_size"):  # HigherLower: one guess per card after the first
        return int(env.deck_size) - 1
    raise ValueError(f"cannot find the episode limit of POPGym game {type(env).__name__}")


def make_popgym_env(name: str) -> POPGymAdapter:
    """The inner (not trial-wrapped) env for ``popgym/<name>``; ``ValueError`` for unknown names."""
    games = popgym_games()
    if name not in games:
        import difflib

        close = difflib.get_close_matches(name, games, n=3)
        hint = f" Did you mean {', '.join('popgym/' + c for c in close)}?" if close else ""
        raise ValueError(f"unknown POPGym game {name!r}; known games: {', '.join(sorted(games))}.{hint}")
    return POPGymAdapter(games[name](), name)
