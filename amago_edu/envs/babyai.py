"""BabyAI levels as inner environments for multi-task meta-RL without task labels.

Paper Sec. 4 (BabyAI) and App. B (BabyAI); after the authors' ``amago/envs/builtin/babyai.py``.

Each level is one task. The agent is never told which level it is in: it sees the 7x7 partial grid,
its direction and the mission text as word tokens (the instruction, which is part of the task),
exactly as AMAGO-2's ``MultitaskMetaBabyAI``. A trial of k episodes replays the *same* level
seed (``options={"new_trial": False}``), so the second attempt can use what the first found;
a new trial draws a new seed from a train or a held-out eval range.

This module builds the inner env only; the trial wrapper (k episodes, previous action and
reward in the observation) lives elsewhere in ``amago_edu.envs``.
"""

from __future__ import annotations

import contextlib
import io
import re

import gymnasium as gym
import numpy as np

from .splits import check_split

# Words produced by BabyAI's instruction grammar (minigrid/envs/babyai/core/verifier.py) plus a
# few from other minigrid missions. Index 0 pads, 1 is any word not listed.
VOCAB: tuple[str, ...] = (
    "<pad>", "<unk>",
    "red", "green", "blue", "purple", "yellow", "grey",
    "door", "key", "ball", "box", "object", "goal", "wall",
    "go", "to", "pick", "up", "open", "put", "next", "unlock", "get", "use",
    "the", "a", "and", "then", "after", "you",
    "behind", "in", "front", "of", "on", "your", "left", "right",
)  # fmt: skip
WORD_TO_ID: dict[str, int] = {word: i for i, word in enumerate(VOCAB)}
PAD_ID, UNKNOWN_ID = 0, 1
# Single BabyAI instructions have at most 9 words; "put X next to Y" with locations up to 16.
MAX_WORDS = 16

# Easy levels (max_steps 64..576, random-policy episodes end quickly) for the teaching mixture.
BABYAI_MT: list[str] = [
    "GoToRedBall", "GoToLocal", "PickupLoc", "OpenDoor",
    "UnlockLocal", "OneRoomS8", "GoToObj", "KeyCorridorS3R1",
]  # fmt: skip
# Level seeds as in AMAGO-2's BabyAI experiments: train on 0..4999, evaluate on unseen layouts.
TRAIN_SEEDS = (0, 5000)
EVAL_SEEDS = (5000, 10**6)

_WORD_PATTERN = re.compile(r"[a-z]+")
_DIRECTION_ONE_HOT = np.eye(4, dtype=np.float32)


def tokenize_mission(text: str, max_words: int = MAX_WORDS) -> np.ndarray:
    """Mission text -> ``(max_words,)`` int64 word ids (0 = padding, 1 = unknown word).

    Lower-cased, split on anything that is not a letter ("go to X, then open Y" keeps its
    words and drops the comma), truncated or right-padded to ``max_words``.
    """
    if not isinstance(text, str):
        raise TypeError(f"mission text must be a str, got {type(text).__name__}")
    tokens = np.zeros(max_words, dtype=np.int64)
    ids = [WORD_TO_ID.get(word, UNKNOWN_ID) for word in _WORD_PATTERN.findall(text.lower())]
    ids = ids[:max_words]
    tokens[: len(ids)] = ids
    return tokens


def babyai_env_id(level: str) -> str:
    """``"GoToRedBall"`` (or the full id) -> the id minigrid registers, e.g. ``"BabyAI-GoToRedBall-v0"``."""
    import minigrid  # noqa: F401  (importing registers the BabyAI-* ids)

    registered = [k for k in gym.envs.registry if k.startswith("BabyAI-")]
    if level in registered:
        return level
    versions = sorted(k for k in registered if re.fullmatch(rf"BabyAI-{re.escape(level)}-v\d+", k))
    if not versions:
        names = sorted({re.sub(r"^BabyAI-|-v\d+$", "", k) for k in registered})
        raise ValueError(f"unknown BabyAI level {level!r}; registered levels are: {', '.join(names)}")
    return versions[0]


class BabyAIEnv(gym.Env):
    """One BabyAI level with a numeric observation dict and re-playable level seeds.

    Observation dict (no level id anywhere):
        image      (7, 7, 3) uint8    partial grid (object, colour, state ids)
        direction  (4,) float32       one-hot agent direction
        mission    (MAX_WORDS,) int64 ``tokenize_mission`` of the instruction
    Actions: Discrete(7). Reward: BabyAI's native ``1 - 0.9 * t / max_steps`` on success, else 0.
    ``info["success"]`` is set on the step that ends the episode.
    Reset options: ``{"new_trial": True}`` (default) draws a level seed uniformly from
    ``[seeds[0], seeds[1])`` with this env's seeded ``np_random``; ``{"new_trial": False}``
    re-uses the previous one (same layout and mission for the next episode of the trial).
    """

    def __init__(self, level: str, *, seeds: tuple[int, int] = TRAIN_SEEDS, render_mode: str | None = None, **kwargs):
        if (
            not isinstance(seeds, (tuple, list))
            or len(seeds) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in seeds)
            or not 0 <= seeds[0] < seeds[1]
        ):
            raise ValueError(f"seeds must be a (low, high) pair of integers with 0 <= low < high, got {seeds!r}")
        self.env_id = babyai_env_id(level)
        self.level = re.sub(r"^BabyAI-|-v\d+$", "", self.env_id)
        self.seeds = (int(seeds[0]), int(seeds[1]))
        # .unwrapped skips gym.make's order/passive checkers: they cost time on every step.
        self.inner = gym.make(self.env_id, render_mode=render_mode, disable_env_checker=True, **kwargs).unwrapped
        self.render_mode = render_mode
        self.metadata = dict(self.inner.metadata)
        self.action_space = gym.spaces.Discrete(self.inner.action_space.n)
        self.observation_space = gym.spaces.Dict(
            {
                "image": self.inner.observation_space["image"],
                "direction": gym.spaces.Box(0.0, 1.0, (4,), np.float32),
                "mission": gym.spaces.Box(0, len(VOCAB) - 1, (MAX_WORDS,), np.int64),
            }
        )
        self.level_seed: int | None = None
        self._mission_text = ""
        self._mission_tokens = tokenize_mission("")
        # minigrid sets max_steps only when a level is generated; probe once so the trial wrapper
        # knows the time limit of one attempt up front
        with contextlib.redirect_stdout(io.StringIO()):
            self.inner.reset(seed=self.seeds[0])
        self.max_episode_steps = int(self.inner.max_steps)

    def _observation(self, raw: dict) -> dict:
        if raw["mission"] != self._mission_text:
            self._mission_text = raw["mission"]
            self._mission_tokens = tokenize_mission(raw["mission"])
        return {
            "image": raw["image"],
            "direction": _DIRECTION_ONE_HOT[raw["direction"]].copy(),
            "mission": self._mission_tokens.copy(),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if options.get("new_trial", True) or self.level_seed is None:
            self.level_seed = int(self.np_random.integers(*self.seeds))
        # Level generation rejection-samples layouts and prints "Sampling rejected" for each retry.
        with contextlib.redirect_stdout(io.StringIO()):
            raw, _ = self.inner.reset(seed=self.level_seed)
        info = {"level": self.level, "level_seed": self.level_seed, "mission": raw["mission"]}
        return self._observation(raw), info

    def step(self, action):
        raw, reward, terminated, truncated, _ = self.inner.step(int(action))
        info = {}
        if terminated or truncated:
            # BabyAI also terminates on failure (e.g. picking up the wrong object) with reward 0.
            info["success"] = bool(terminated and reward > 0)
        return self._observation(raw), float(reward), bool(terminated), bool(truncated), info

    def render(self):
        return self.inner.render()

    def close(self):
        self.inner.close()
        super().close()


def make_babyai_env(level: str, *, split: str = "train", seeds: tuple[int, int] | None = None, **kwargs) -> gym.Env:
    """The inner env (not trial-wrapped) for ``BabyAI-<level>-v0``: layouts from ``TRAIN_SEEDS`` (split "train")
    or the held-out ``EVAL_SEEDS`` (split "test"), unless ``seeds`` names a range itself; ``kwargs`` go to the
    level (e.g. ``max_steps``)."""
    if seeds is None:
        seeds = TRAIN_SEEDS if check_split(split) == "train" else EVAL_SEEDS
    return BabyAIEnv(level, seeds=seeds, **kwargs)
