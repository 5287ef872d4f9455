"""Meta-World ML1 / ML10 / ML45 as inner environments for k-shot meta-RL (paper Sec. 4, Fig. 4).

Meta-World (Yu et al. 2019, arXiv 1910.10897) is a set of 50 robot-arm manipulation *task families*
(reach, push, pick-place, door-open, ...). Each family has parametric *variants*: the object and
goal positions change, and in the meta-learning benchmarks the goal is hidden (the last three
numbers of the observation are zeros), so the agent must find it by trying. The benchmarks:

* ``ML1/<task>``: one family; the train split draws among ``benchmark.train_tasks`` (50 variants),
  the test split among ``benchmark.test_tasks`` (50 other variants of the same family).
* ``ML10``: 10 training families, 5 held-out test families.
* ``ML45``: 45 training families, 5 held-out test families (``bin-picking``, ``box-close``,
  ``hand-insert``, ``door-lock``, ``door-unlock``).

AMAGO-2 (Grigsby et al., NeurIPS 2024, arXiv 2411.11188) uses ML45 as its main test of multi-task
optimisation without task labels (Sec. 4, Fig. 4): a trial is k = 3 attempts of up to 500 steps
each at one variant, the agent trains for 100M steps and the headline number is the success rate
on the 45 *training* families, where the difficulty is learning all of them at once from
rewards of very different scales, with no label telling the agent which family it is in.

This module builds the *inner*, episodic env; :class:`amago_edu.envs.trial.TrialWrapper` turns it
into a k-attempt trial. After the authors' ``amago/envs/builtin/metaworld_ml.py``
(``KEpisodeMetaworld``), written here from scratch for metaworld 3.1.1 (the ``-v3`` families,
gymnasium API):

* A new trial (``reset()`` or ``reset(options={"new_trial": True})``) draws one family uniformly
  and one of its variants uniformly, both from this env's seeded ``np_random``; an attempt with
  ``options={"new_trial": False}`` replays the same variant (same object and goal) from a fresh start.
* Success does **not** end an attempt, as in the authors' wrapper (and metaworld's default:
  ending on success during training makes learning unstable); every attempt lasts
  ``max_episode_steps`` steps unless ``terminate_on_success=True``. An attempt is a success if
  metaworld's per-step success was 1 at any step of it; ``info["success"]`` carries that on the
  step that ends the attempt, and the per-step value is ``info["step_success"]``.
* Rewards are metaworld's own (v2 reward functions, in [0, 10] per step), unscaled.

One env object plays every family of its split: they all share the 39-d observation and 4-d
action, so it keeps one MuJoCo env per family, built on first use. Building the benchmark (its
50 variants per family) is the slow part (ML45: tens of seconds), so benchmarks are cached per
``(name, seed_benchmark)`` for the whole process: parallel envs in one process build it once.
"""

from __future__ import annotations

import difflib
import threading

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .splits import check_split

BENCHMARKS = ("ML10", "ML45")  # and "ML1/<task>" for each task of ml1_task_names()
INSTALL_HINT = "pip install -r requirements-metaworld.txt (or pip install -e .[metaworld])"
OBSERVATION_SIZE = 39  # hand xyz, gripper opening, 14 object numbers; the same for the previous step; 3 goal
ACTION_SIZE = 4  # hand xyz displacement, gripper torque

_BENCHMARK_CACHE: dict[tuple[str, int], object] = {}
_BENCHMARK_LOCK = threading.Lock()


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _import_metaworld():
    try:
        import metaworld
    except ImportError as err:
        raise ImportError(f"Meta-World environments need the metaworld package: {INSTALL_HINT}") from err
    return metaworld


def ml1_task_names() -> list[str]:
    """The task families metaworld offers as ``ML1/<task>``, e.g. ``"reach-v3"`` (50 of them)."""
    return list(_import_metaworld().ML1.ENV_NAMES)


def check_benchmark_name(name) -> str:
    """``name`` itself if it is ``"ML1/<task>"``, ``"ML10"`` or ``"ML45"``, else a ValueError listing the valid ones."""
    if not isinstance(name, str):
        raise ValueError(f"a Meta-World benchmark name must be a string like 'ML1/reach-v3', 'ML10' or 'ML45', got {name!r}")
    if name in BENCHMARKS:
        return name
    tasks = ml1_task_names()
    prefix, _, task = name.partition("/")
    if prefix == "ML1" and task in tasks:
        return name
    if prefix == "ML1":
        close = difflib.get_close_matches(task, tasks, n=3)
        hint = f" Did you mean: {', '.join('ML1/' + t for t in close)}?" if close else ""
        raise ValueError(f"unknown Meta-World ML1 task {task!r}.{hint} ML1 tasks are: {', '.join(tasks)}")
    candidates = list(BENCHMARKS) + [f"ML1/{t}" for t in tasks]
    by_lower = {c.lower(): c for c in candidates}
    close = [by_lower[c] for c in difflib.get_close_matches(name.lower(), list(by_lower), n=3)]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(
        f"unknown Meta-World benchmark {name!r}.{hint} Valid names: 'ML10', 'ML45', or 'ML1/<task>' "
        f"with <task> one of: {', '.join(tasks)}"
    )


def load_benchmark(name: str, seed_benchmark: int = 0):
    """The ``metaworld`` benchmark object for ``name``, built once per process per ``(name, seed_benchmark)``.

    ``seed_benchmark`` fixes which variants (object and goal positions) the benchmark draws; ML1's
    test variants come from ``seed_benchmark + 1`` (metaworld's own rule).
    """
    name = check_benchmark_name(name)
    if not _is_int(seed_benchmark) or not 0 <= seed_benchmark < 2**32 - 1:
        raise ValueError(f"seed_benchmark must be an integer in [0, 2**32 - 2], got {seed_benchmark!r}")
    key = (name, int(seed_benchmark))
    with _BENCHMARK_LOCK:  # metaworld draws the variants from numpy's global generator
        if key not in _BENCHMARK_CACHE:
            metaworld = _import_metaworld()
            if name.startswith("ML1/"):
                _BENCHMARK_CACHE[key] = metaworld.ML1(name.partition("/")[2], seed=key[1])
            else:
                _BENCHMARK_CACHE[key] = getattr(metaworld, name)(seed=key[1])
        return _BENCHMARK_CACHE[key]


class MetaWorldEnv(gym.Env):
    """The task families of one Meta-World benchmark split behind one episodic env.

    Observation: float32 ``(39,)``: hand position (3), gripper opening (1), object positions and
    quaternions (14, zero-padded), the same 18 numbers one step earlier, and the goal (3), which the
    ML benchmarks hide (always 0). Bounds are metaworld's own (hand box, gripper [-1, 1],
    objects unbounded, goal [0, 0]). Actions: Box(-1, 1, (4,)) float32 (clipped to it).

    ``info`` on every step: ``task_family`` (e.g. ``"reach-v3"``), ``variant`` (index of the variant
    within the family's variants of this split), ``step_success`` and metaworld's diagnostics
    (``near_object``, ``grasp_success``, ...); on the step that ends an attempt also ``success``
    (any success during the attempt). ``reset`` returns ``task_family`` and ``variant`` too.

    Attributes: ``benchmark_name``, ``split``, ``families`` (this split's family names), ``family``
    (the current one), ``variant``, ``max_episode_steps``, ``benchmark`` (the metaworld object),
    ``goal_position`` (the hidden goal; for tests and plots, never part of the observation).
    """

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 80}

    def __init__(
        self,
        name: str,
        *,
        split: str = "train",
        seed_benchmark: int = 0,
        max_episode_steps: int = 500,
        terminate_on_success: bool = False,
        render_mode: str | None = None,
    ):
        check_split(split)
        if not _is_int(max_episode_steps) or max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be an integer >= 1, got {max_episode_steps!r}")
        if not isinstance(terminate_on_success, bool):
            raise ValueError(f"terminate_on_success must be True or False, got {terminate_on_success!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.benchmark = load_benchmark(name, seed_benchmark)
        self.benchmark_name = name
        self.split = split
        self.max_episode_steps = int(max_episode_steps)
        self.terminate_on_success = terminate_on_success
        self.render_mode = render_mode

        classes = self.benchmark.train_classes if split == "train" else self.benchmark.test_classes
        tasks = self.benchmark.train_tasks if split == "train" else self.benchmark.test_tasks
        self._classes = dict(classes)
        self.families: list[str] = list(classes)
        self._variants = {family: [task for task in tasks if task.env_name == family] for family in self.families}
        empty = [family for family, variants in self._variants.items() if not variants]
        if empty:
            raise ValueError(f"{name} split {split!r} has no variants for {empty}")
        self._envs: dict[str, gym.Env] = {}

        self.family: str = self.families[0]
        self.variant: int | None = None
        self._env = self._family_env(self.family)
        native = self._env.observation_space
        self._low = native.low.astype(np.float32)
        self._high = native.high.astype(np.float32)
        self.observation_space = spaces.Box(self._low, self._high, (OBSERVATION_SIZE,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (ACTION_SIZE,), np.float32)
        self._attempt_step = 0
        self._attempt_success = False

    def _family_env(self, family: str) -> gym.Env:
        """The family's MuJoCo env, built on first use (each holds its own simulator)."""
        if family not in self._envs:
            env = self._classes[family](render_mode=self.render_mode)
            # metaworld refuses to step past its own horizon (500); ours may be longer
            env.max_path_length = self.max_episode_steps
            shape = env.observation_space.shape
            if shape != (OBSERVATION_SIZE,) or env.action_space.shape != (ACTION_SIZE,):
                raise RuntimeError(
                    f"{family}: expected ({OBSERVATION_SIZE},) observations and ({ACTION_SIZE},) actions, got {shape} and {env.action_space.shape}"
                )
            self._envs[family] = env
        return self._envs[family]

    @property
    def goal_position(self) -> np.ndarray | None:
        """The hidden goal of the current variant, ``(3,)``; ``None`` before the first reset."""
        target = getattr(self._env, "_target_pos", None)
        return None if self.variant is None or target is None else np.array(target, dtype=np.float64)

    def _observation(self, raw: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(raw, dtype=np.float32), self._low, self._high)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if options.get("new_trial", True) or self.variant is None:
            self.family = self.families[int(self.np_random.integers(len(self.families)))]
            variants = self._variants[self.family]
            self.variant = int(self.np_random.integers(len(variants)))
            self._env = self._family_env(self.family)
            self._env.set_task(variants[self.variant])  # fixes the object and goal positions
        raw, _ = self._env.reset()
        self._attempt_step = 0
        self._attempt_success = False
        return self._observation(raw), {"task_family": self.family, "variant": self.variant}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float32).reshape(ACTION_SIZE), -1.0, 1.0)
        raw, reward, _, _, native_info = self._env.step(action)
        self._attempt_step += 1
        step_success = bool(native_info.get("success", 0.0))
        self._attempt_success = self._attempt_success or step_success
        terminated = self.terminate_on_success and step_success
        truncated = not terminated and self._attempt_step >= self.max_episode_steps
        info = {key: value for key, value in native_info.items() if key != "success"}
        info["step_success"] = step_success
        info["task_family"] = self.family
        info["variant"] = self.variant
        if terminated or truncated:
            info["success"] = self._attempt_success
        return self._observation(raw), float(reward), terminated, truncated, info

    def render(self):
        return self._env.render()

    def close(self):
        for env in self._envs.values():
            env.close()
        self._envs.clear()
        super().close()


def make_metaworld_env(
    name: str, *, split: str = "train", seed_benchmark: int = 0, max_episode_steps: int = 500, **kwargs
) -> gym.Env:
    """The inner (episodic, not trial-wrapped) env for ``"ML1/<task>"``, ``"ML10"`` or ``"ML45"``.

    ``split`` "train" plays the benchmark's training variants (ML1) or families (ML10/ML45),
    "test" the held-out ones. ``kwargs``: ``terminate_on_success`` (default False, as the authors),
    ``render_mode``. See :class:`MetaWorldEnv`.
    """
    return MetaWorldEnv(name, split=split, seed_benchmark=seed_benchmark, max_episode_steps=max_episode_steps, **kwargs)
