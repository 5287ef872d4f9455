"""Two small meta-RL / memory tasks that train on a CPU (the authors' ``amago/envs/builtin/toy_gym.py``
and ``amago/envs/builtin/tmaze.py``).

Both are *inner* envs: the :class:`~amago_edu.envs.trial.TrialWrapper` adds the previous action,
previous reward, reset flag and progress, and strings k attempts into one trial.
"""

from __future__ import annotations

import zlib

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.toy_text.frozen_lake import generate_random_map

from .splits import check_split


#: a frozen-lake layout with holes is held out when the CRC-32 of its rows is 0 mod this (a quarter of them)
HASH_BUCKETS = 4
#: share of the layouts held out for evaluation
TEST_SHARE = 1.0 / HASH_BUCKETS


def map_split(rows: list[str]) -> str:
    """The split a frozen-lake layout belongs to: "test" for a quarter of the layouts with holes (CRC-32 of the
    rows = 0 mod 4), "train" for the rest, so held-out maps are never trained on; "both" for the one layout
    without holes.

    That layout has nothing to remember (any path reaches the goal) and is 6% of the 4 x 4 maps
    ``generate_random_map`` draws (0.8^14: every tile frozen). In one split only, it would make the other
    split's maps harder on average. :class:`MetaFrozenLake` keeps it a quarter of the time for
    "test" and three quarters for "train", as the hash splits the other layouts, so both splits draw the same
    mix of hole counts (up to the hash's rounding).
    """
    layout = "".join(rows)
    if "H" not in layout:
        return "both"
    return "test" if zlib.crc32(layout.encode()) % HASH_BUCKETS == 0 else "train"


class MetaFrozenLake(gym.Env):
    """Meta-Frozen-Lake: a new random n x n FrozenLake map per trial, same map per attempt.

    After the authors' ``MetaFrozenLake`` (``amago/envs/builtin/toy_gym.py``).

    The agent starts at the top-left corner (x, y) = (0, 0); the goal is the bottom-right corner.
    Holes are invisible: the only way to learn the map is to fall in, remember, and do better on the
    next attempt, which is what the Transformer's context must learn (in-context adaptation).

    ``split`` ("train" or "test") picks the maps: :func:`map_split` sets a quarter of the layouts with holes
    aside for evaluation. Observation: float32 (2,) = [x / n, y / n]. Actions: Discrete(5) = stay, +x, -x, +y, -y (moves off
    the board leave the agent in place). Reward: +1 at the goal (ends the attempt, ``success=True``);
    a hole ends the attempt with 0; at most n * n steps per attempt (``success=False`` at the limit).
    """

    metadata = {"render_modes": []}
    MOVES = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # (dx, dy): stay, +x, -x, +y, -y

    def __init__(self, size: int = 4, split: str = "train"):
        if not isinstance(size, (int, np.integer)) or size < 2:
            raise ValueError(f"size must be an integer >= 2 (the map is size x size), got {size!r}")
        self.size = int(size)
        self.split = check_split(split)
        self.max_episode_steps = self.size * self.size
        self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(len(self.MOVES))
        self.map: list[str] | None = None  # rows of "S", "F", "H", "G"; row index = y
        self._tiles: np.ndarray | None = None  # (n, n) array of those letters, indexed [y, x]
        self._x = self._y = self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self._x / self.size, self._y / self.size], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self._tiles is None or (options or {}).get("new_trial", True):
            # a new task: draw maps from this env's own seeded rng (same seed -> same maps) until one is
            # of this env's split (about 4 draws for "test", 4/3 for "train"); the map without holes is
            # kept with its split's share of the layouts (see map_split)
            keep_hole_free = TEST_SHARE if self.split == "test" else 1.0 - TEST_SHARE
            for _ in range(10_000):
                self.map = generate_random_map(size=self.size, seed=int(self.np_random.integers(2**31 - 1)))
                split = map_split(self.map)
                if split == self.split or (split == "both" and self.np_random.random() < keep_hole_free):
                    break
            self._tiles = np.array([list(row) for row in self.map])
        self._x = self._y = self._t = 0
        return self._obs(), {}

    def step(self, action):
        dx, dy = self.MOVES[int(action)]
        self._x = min(max(self._x + dx, 0), self.size - 1)
        self._y = min(max(self._y + dy, 0), self.size - 1)
        self._t += 1
        tile = self._tiles[self._y, self._x]
        reward = 1.0 if tile == "G" else 0.0
        terminated = tile in ("G", "H")
        truncated = not terminated and self._t >= self.max_episode_steps
        info = {"success": tile == "G"} if terminated or truncated else {}
        return self._obs(), reward, terminated, truncated, info


class PassiveTMaze(gym.Env):
    """Passive T-maze (Ni et al. 2023): recall one bit over ``corridor_length`` steps.

    After the authors' ``TMazeAltPassive`` (``amago/envs/builtin/tmaze.py``).

    The goal side (+1 up / -1 down) is shown only in the first observation. The agent is then carried
    along a corridor of length H (one cell per step, whatever it does: the task is *passive*) and must
    turn towards the remembered side at the junction. An attempt lasts exactly H + 1 steps.

    Observation: float32 (3,) = [x / H, goal side at t = 0 else 0, 1 at the junction else 0].
    Actions: Discrete(4) = forward, back, turn up, turn down. Reward: -1/H for every corridor step
    whose action is not "forward" (the authors' shaping), then +1 for the correct turn at the
    junction (``success=True``), else 0. Returns lie in [-1, 1]; the optimum is 1.
    The goal side is redrawn per trial (kept across the attempts of one trial).

    Why passive: in the authors' version the agent must also choose "forward" H times to reach the
    junction, which random exploration essentially never does (0.25^H), so they needed a custom
    exploration schedule. Carrying the agent keeps what the task measures, recalling one bit over H
    steps, without an environment-specific exploration trick.
    """

    metadata = {"render_modes": []}
    FORWARD, BACK, UP, DOWN = 0, 1, 2, 3

    def __init__(self, corridor_length: int = 30, split: str = "train"):
        check_split(split)  # no held-out variants: every trial redraws the cue
        if not isinstance(corridor_length, (int, np.integer)) or corridor_length < 1:
            raise ValueError(f"corridor_length must be an integer >= 1, got {corridor_length!r}")
        self.corridor_length = int(corridor_length)
        self.max_episode_steps = self.corridor_length + 1
        self.observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = spaces.Discrete(4)
        self.goal_side = 0  # +1 (up) or -1 (down); 0 before the first reset
        self._x = self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.goal_side == 0 or (options or {}).get("new_trial", True):
            self.goal_side = 1 if self.np_random.random() < 0.5 else -1
        self._x = self._t = 0
        return np.array([0.0, self.goal_side, 0.0], dtype=np.float32), {}

    def step(self, action):
        action = int(action)
        self._t += 1
        H = self.corridor_length
        if self._t <= H:  # corridor phase: carried one cell forward
            self._x = min(self._x + 1, H)
            reward = 0.0 if action == self.FORWARD else -1.0 / H
            obs = np.array([self._x / H, 0.0, float(self._x == H)], dtype=np.float32)
            return obs, reward, False, False, {}
        # the turn, at t = H + 1
        turned_side = {self.UP: 1, self.DOWN: -1}.get(action, 0)
        success = self._x == H and turned_side == self.goal_side
        obs = np.array([self._x / H, 0.0, float(self._x == H)], dtype=np.float32)
        return obs, 1.0 if success else 0.0, True, False, {"success": success}


TOY_TASKS = {"meta_frozen_lake": MetaFrozenLake, "tmaze": PassiveTMaze}
