"""Atari 2600 games (the Arcade Learning Environment) as inner environments, from pixels.

Paper Sec. 4 (Multi-Game Atari) and App. B; after the authors' ``AtariGame`` in
``amago/envs/builtin/ale_retro.py`` and their ``examples/08_ale.py``.

Each game is one task; the agent is never told which game it is playing (the ten games share the
full 18-action space, so one policy head serves all of them). The settings are the authors':

* ALE v5 with sticky actions, ``repeat_action_probability = 0.25`` (Machado et al. 2018);
* ``full_action_space=True``: every game has ``Discrete(18)`` (the same index means the same
  joystick move in every game);
* frame skip 4 inside the ALE (for RGB frames the authors skip frames in the emulator and do not
  max-pool over the last two, ``ale_retro.py``);
* RGB frames area-resized from 210x160 to 84x84, channels first;
* unclipped rewards (multi-task reward scales are the learner's business, paper Sec. 3);
* no terminal on life loss; a time limit of 30 minutes of game time = 108,000 frames = 27,000
  agent steps at frame skip 4 (``AtariGame(time_limit=108_000)``). The authors' example script
  plays at frame skip 5 (21,600 steps for the same 30 minutes); we keep ``AtariGame``'s default 4.

Atari has no held-out levels: ``split="test"`` builds the same game. Evaluation differs from
training only through the seed (the ALE's seeded sticky-action randomness), as in the paper.

Observation: ``{"pixels": uint8 (3, 84, 84)}`` (R, G, B planes). A trial (``TrialWrapper``) plays
the game again on every attempt: Atari's "task" is the game, so ``new_trial`` changes nothing.
"""

from __future__ import annotations

import difflib
import functools

import gymnasium as gym
import numpy as np

from .splits import check_split

#: the paper's ten multi-game Atari games (the authors' ``DEFAULT_MULTIGAME_LIST``)
ATARI_MT: tuple[str, ...] = (
    "Pong", "Boxing", "Breakout", "Gopher", "MsPacman",
    "ChopperCommand", "CrazyClimber", "BattleZone", "Qbert", "Seaquest",
)  # fmt: skip

#: (random, human) episode scores for human normalisation,
#: ``(score - random) / (human - random)``. The values are the standard Atari-57 table as used by
#: Agent57 (Badia et al. 2020), rliable and DeepMind's DQN Zoo (``dqn_zoo/atari_data.py``): random
#: scores from Mnih et al. 2015 (Nature DQN), human scores from Badia et al. 2020 / Wang et al. 2016.
HUMAN_RANDOM_SCORES: dict[str, tuple[float, float]] = {
    "Pong": (-20.7, 14.6),
    "Boxing": (0.1, 12.1),
    "Breakout": (1.7, 30.5),
    "Gopher": (257.6, 2412.5),
    "MsPacman": (307.3, 6951.6),
    "ChopperCommand": (811.0, 7387.8),
    "CrazyClimber": (10780.5, 35829.4),
    "BattleZone": (2360.0, 37187.5),
    "Qbert": (163.9, 13455.0),
    "Seaquest": (68.4, 42054.7),
}

FRAME_SKIP = 4
#: 30 minutes of game time at 60 frames per second
TIME_LIMIT_FRAMES = 30 * 60 * 60
MAX_EPISODE_STEPS = TIME_LIMIT_FRAMES // FRAME_SKIP  # 27,000
RESOLUTION = (84, 84)
INSTALL_HINT = "pip install -r requirements-atari.txt"


def human_normalised(game: str, score: float) -> float:
    """Human-normalised score ``(score - random) / (human - random)`` (0 = random play, 1 = human)."""
    if game not in HUMAN_RANDOM_SCORES:
        close = difflib.get_close_matches(game, HUMAN_RANDOM_SCORES, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"no human/random scores for {game!r}; known games: {', '.join(HUMAN_RANDOM_SCORES)}.{hint}")
    random_score, human_score = HUMAN_RANDOM_SCORES[game]
    return (float(score) - random_score) / (human_score - random_score)


@functools.lru_cache(maxsize=16)
def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` float32 matrix of area-resize weights along one axis (rows sum to 1).

    Output pixel ``i`` covers the input interval ``[i * s, (i + 1) * s)`` with ``s = n_in / n_out``;
    input pixel ``j`` gets the weight ``|[j, j + 1) ∩ [i s, (i + 1) s)| / s``. This is the box
    filter of OpenCV's ``INTER_AREA`` (what the authors call), computed without OpenCV.
    """
    scale = n_in / n_out
    edges = np.arange(n_out + 1, dtype=np.float64) * scale
    lo, hi = edges[:-1, None], edges[1:, None]  # (n_out, 1)
    j = np.arange(n_in, dtype=np.float64)[None, :]  # (1, n_in)
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return (overlap / scale).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _area_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``area_weights`` as taps: ``(n_out, K)`` input indices and ``(n_out, K)`` weights, K <= ceil(s) + 1."""
    weights = area_weights(n_in, n_out)
    taps = int((weights > 0).sum(axis=1).max())
    first = np.argmax(weights > 0, axis=1)  # (n_out,) first input pixel with a weight
    index = np.minimum(first[:, None] + np.arange(taps)[None, :], n_in - 1)  # (n_out, K)
    tap_weights = np.take_along_axis(weights, index, axis=1)
    tap_weights[index != first[:, None] + np.arange(taps)[None, :]] = 0.0  # clipped duplicates
    return index, tap_weights.astype(np.float32)


def resize_frame(frame: np.ndarray, resolution: tuple[int, int] = RESOLUTION) -> np.ndarray:
    """Area-resize an RGB frame: ``(H, W, 3)`` uint8 -> ``(3, h, w)`` uint8, channels first.

    Separable: ``out[c] = rows @ frame[..., c] @ cols.T`` with ``rows = area_weights(H, h)`` and
    ``cols = area_weights(W, w)``, rounded to the nearest integer. Each output pixel reads only
    a few input pixels per axis (3 for 210 -> 84, 3 for 160 -> 84), so the products are computed
    as a few weighted gathers, not dense matrix products: those go through the BLAS, whose
    threads are much slower than the gathers on a busy CPU (measured on 2 busy cores: 0.2 ms a
    frame vs 2-15 ms).
    """
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB frame, got shape {frame.shape}")
    height, width = resolution
    row_index, row_weights = _area_taps(frame.shape[0], height)  # (h, K)
    col_index, col_weights = _area_taps(frame.shape[1], width)  # (w, K)
    planes = frame.transpose(2, 0, 1).astype(np.float32)  # (3, H, W)
    rows = np.zeros((3, height, frame.shape[1]), np.float32)  # (3, h, W) = rows @ planes
    for k in range(row_index.shape[1]):
        rows += row_weights[None, :, k, None] * planes[:, row_index[:, k], :]
    resized = np.zeros((3, height, width), np.float32)  # (3, h, w) = rows @ cols.T
    for k in range(col_index.shape[1]):
        resized += col_weights[None, None, :, k] * rows[:, :, col_index[:, k]]
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


def atari_games() -> list[str]:
    """Names of every game the installed ALE registers as ``ALE/<Name>-v5``."""
    ale_py = _import_ale()
    gym.register_envs(ale_py)
    return sorted(k[len("ALE/") : -len("-v5")] for k in gym.envs.registry if k.startswith("ALE/") and k.endswith("-v5"))


def _import_ale():
    try:
        import ale_py
    except ImportError as err:
        raise ImportError(f"Atari games need the Arcade Learning Environment (ale-py): {INSTALL_HINT}") from err
    return ale_py


def _game_name(game: str) -> str:
    games = atari_games()
    if game in games:
        return game
    folded = {name.lower(): name for name in games}
    if isinstance(game, str) and game.lower().replace("_", "") in folded:
        return folded[game.lower().replace("_", "")]
    close = difflib.get_close_matches(str(game), games, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown Atari game {game!r}.{hint} The ALE has {len(games)} games, e.g. {', '.join(ATARI_MT)}.")


class AtariPixels(gym.Env):
    """One ALE v5 game with ``{"pixels": uint8 (3, 84, 84)}`` observations and a step limit.

    ``env.ale`` (also ``env.unwrapped.ale``) is the emulator; ``env.inner`` is ale-py's ``AtariEnv``.
    Actions: ``Discrete(18)``. Rewards: the game score's change, unclipped.
    ``truncated`` is set after ``max_episode_steps`` agent steps.
    """

    def __init__(self, inner: gym.Env, game: str, max_episode_steps: int, resolution: tuple[int, int] = RESOLUTION):
        self.inner = inner
        self.game = game
        self.max_episode_steps = int(max_episode_steps)
        self.resolution = tuple(resolution)
        self.metadata = dict(inner.metadata)
        self.render_mode = inner.render_mode
        self.action_space = inner.action_space
        self.observation_space = gym.spaces.Dict(
            {"pixels": gym.spaces.Box(0, 255, (3, *self.resolution), np.uint8)}
        )
        self._steps = 0

    @property
    def ale(self):
        return self.inner.ale

    def _observation(self, frame: np.ndarray) -> dict:
        return {"pixels": resize_frame(frame, self.resolution)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        # the game is the whole task: a new trial and a new attempt reset the same way
        frame, info = self.inner.reset(seed=seed)
        self._steps = 0
        return self._observation(frame), {**info, "game": self.game}

    def step(self, action):
        frame, reward, terminated, truncated, info = self.inner.step(int(action))
        self._steps += 1
        truncated = bool(truncated) or self._steps >= self.max_episode_steps
        return self._observation(frame), float(reward), bool(terminated), truncated, info

    def render(self):
        return self.inner.render()

    def close(self):
        self.inner.close()
        super().close()


def make_atari_env(game: str, *, split: str = "train", max_episode_steps: int = MAX_EPISODE_STEPS, **kwargs) -> gym.Env:
    """The inner env (not trial-wrapped) for one Atari game, e.g. ``make_atari_env("Pong")``.

    Args:
        game: an ALE game name (``"MsPacman"``; ``"ms_pacman"`` and other casings work too).
        split: ``"train"`` or ``"test"``; validated only, since Atari has no held-out levels
            (evaluation differs by seed and sticky-action randomness alone).
        max_episode_steps: agent steps per episode (default 27,000 = 30 minutes of game time at
            frame skip 4); set it small for CPU runs.
        **kwargs: passed to ``gym.make("ALE/<game>-v5", ...)`` and override the defaults
            ``frameskip=4, repeat_action_probability=0.25, full_action_space=True`` (e.g. ``mode``,
            ``difficulty``, ``render_mode``; ``obs_type`` stays ``"rgb"``).
    """
    check_split(split)  # validated only: Atari has no held-out levels
    if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, (int, np.integer)):
        raise ValueError(f"max_episode_steps must be an integer >= 1, got {max_episode_steps!r}")
    if max_episode_steps < 1:
        raise ValueError(f"max_episode_steps must be an integer >= 1, got {max_episode_steps!r}")
    if kwargs.get("obs_type", "rgb") != "rgb":
        raise ValueError(f"the pixel observations need obs_type='rgb', got {kwargs['obs_type']!r}")
    name = _game_name(game)
    ale_kwargs = {"frameskip": FRAME_SKIP, "repeat_action_probability": 0.25, "full_action_space": True, **kwargs}
    ale_kwargs["obs_type"] = "rgb"
    if isinstance(ale_kwargs["frameskip"], (int, np.integer)):
        # the ALE's own frame limit agrees with ours (v5's default is 108,000 frames)
        ale_kwargs.setdefault("max_num_frames_per_episode", int(max_episode_steps) * int(ale_kwargs["frameskip"]))
    # .unwrapped skips gym.make's order/passive checkers (they cost time on every step)
    inner = gym.make(f"ALE/{name}-v5", disable_env_checker=True, **ale_kwargs).unwrapped
    return AtariPixels(inner, name, max_episode_steps)
