"""Environments: ``make_env(spec)`` builds a trial env that follows the package's contract.

Ids are ``family/name``:

* ``toy/meta_frozen_lake`` (kwarg ``size``), ``toy/tmaze`` (kwarg ``corridor_length``);
* ``popgym/<Game>`` for every POPGym game, e.g. ``popgym/RepeatPreviousEasy``;
* ``babyai/<Level>``, e.g. ``babyai/BabyAI-GoToRedBall-v0`` (see :mod:`amago_edu.envs.babyai`);
* ``metaworld/ML1/<task>``, ``metaworld/ML10``, ``metaworld/ML45`` (:mod:`amago_edu.envs.metaworld`, extra
  ``[metaworld]``);
* ``atari/<Game>``, e.g. ``atari/Pong`` (:mod:`amago_edu.envs.atari`, extra ``[atari]``);
* ``procgen/<game>``, e.g. ``procgen/coinrun`` (:mod:`amago_edu.envs.procgen`, extra ``[procgen]``).

A list of ids is a multi-task mixture (:class:`MultiTaskEnv`); a named set (``"popgym-mt"``, ``"popgym-27"``,
``"babyai-mt"``, ``"atari-mt"``, ``"procgen-easy"``, ``"procgen-easy-rescaled"``) is a string that stands for such a
list with its own trial format (and reward scales). Meta-World's ML10/ML45 are one env each that draws a task
family per trial (their 45 simulators are shared, not one mixture member each).

Every env returned: Dict observations (``observation`` or the BabyAI keys, plus ``prev_action``,
``prev_reward``, ``reset``, ``progress``), Discrete or [-1, 1] Box actions, ``terminated`` only at
the end of a trial, and the attributes ``max_trial_length``, ``task_names``, ``episodes_per_trial``.
"""

from __future__ import annotations

import difflib
import math
import numbers
from typing import Sequence

import gymnasium as gym
import numpy as np

from .multitask import MultiTaskEnv
from .popgym import POPGYM_27, POPGYM_MT, make_popgym_env, popgym_games
from .splits import SPLITS, check_split
from .toy import TOY_TASKS, MetaFrozenLake, PassiveTMaze
from .trial import TrialWrapper

KNOWN_FAMILIES = {
    "toy": "toy/meta_frozen_lake, toy/tmaze",
    "popgym": "popgym/<Game> for every POPGym game, e.g. popgym/RepeatPreviousEasy",
    "babyai": "babyai/<Level>, e.g. babyai/BabyAI-GoToRedBall-v0",
    "metaworld": "metaworld/ML1/<task> (e.g. metaworld/ML1/reach-v3), metaworld/ML10, metaworld/ML45",
    "atari": "atari/<Game>, e.g. atari/Pong",
    "procgen": "procgen/<game>, e.g. procgen/coinrun",
}

#: named sets: the ids they stand for and their trial format (App. B: POPGym one-shot with a warm-up, BabyAI k = 2,
#: Procgen two attempts at one level, Atari one episode per trial) and reward scales (the rescaled Procgen of Fig. 7)
NAMED_SETS = {
    "popgym-mt": {"episodes_per_trial": 2, "warmup_episodes": 1},
    "popgym-27": {"episodes_per_trial": 2, "warmup_episodes": 1},
    "babyai-mt": {"episodes_per_trial": 2, "warmup_episodes": 0},
    "atari-mt": {"episodes_per_trial": 1, "warmup_episodes": 0},
    "procgen-easy": {"episodes_per_trial": 2, "warmup_episodes": 0},
    "procgen-easy-rescaled": {"episodes_per_trial": 2, "warmup_episodes": 0, "rescaled": True},
}

__all__ = [
    "KNOWN_FAMILIES",
    "NAMED_SETS",
    "MetaFrozenLake",
    "MultiTaskEnv",
    "PassiveTMaze",
    "SPLITS",
    "TrialWrapper",
    "make_env",
    "named_set_ids",
]


def named_set_ids(name: str) -> list[str]:
    """The env ids a named set stands for."""
    if name == "popgym-mt":
        return [f"popgym/{game}" for game in POPGYM_MT]
    if name == "popgym-27":
        return [f"popgym/{game}" for game in POPGYM_27]
    if name == "babyai-mt":
        from .babyai import BABYAI_MT

        return [f"babyai/{level}" for level in BABYAI_MT]
    if name == "atari-mt":
        from .atari import ATARI_MT

        return [f"atari/{game}" for game in ATARI_MT]
    if name in ("procgen-easy", "procgen-easy-rescaled"):
        from .procgen import PROCGEN_EASY

        return [f"procgen/{game}" for game in PROCGEN_EASY]
    raise ValueError(f"unknown named set {name!r}; named sets are {sorted(NAMED_SETS)}")


def _unknown_id(env_id: str) -> ValueError:
    candidates = [f"toy/{name}" for name in TOY_TASKS] + [f"popgym/{game}" for game in popgym_games()]
    candidates += list(NAMED_SETS)
    close = difflib.get_close_matches(env_id, candidates, n=3)
    families = "; ".join(KNOWN_FAMILIES.values())
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ValueError(
        f"unknown env id {env_id!r}. Known families: {families}; named sets: {', '.join(NAMED_SETS)}.{hint}"
    )


def _make_inner(env_id: str, kwargs: dict, split: str, seeds: tuple[int, int] | None = None) -> gym.Env:
    """The inner (episodic, not trial-wrapped) env for one id and split; ``seeds`` reaches BabyAI levels only."""
    if not isinstance(env_id, str):
        raise TypeError(f"env ids must be strings like 'toy/tmaze', got {env_id!r}")
    family, _, name = env_id.partition("/")
    if family == "toy" and name in TOY_TASKS:
        try:
            return TOY_TASKS[name](split=split, **kwargs)
        except TypeError as err:
            raise TypeError(f"{env_id}: {err} (see help(amago_edu.envs.{TOY_TASKS[name].__name__}))") from err
    if family == "popgym" and name in popgym_games():
        if kwargs:
            raise TypeError(f"{env_id} takes no keyword arguments, got {sorted(kwargs)}")
        return make_popgym_env(name)  # no levels: a split changes nothing but the seeds the caller gives
    if family == "babyai" and name:
        from .babyai import make_babyai_env  # imported lazily: minigrid is only needed for BabyAI

        return make_babyai_env(name, split=split, seeds=seeds, **kwargs)
    if family == "metaworld" and name:
        from .metaworld import make_metaworld_env  # the optional packages load only when a family is used

        return make_metaworld_env(name, split=split, **kwargs)
    if family == "atari" and name:
        from .atari import make_atari_env

        return make_atari_env(name, split=split, **kwargs)
    if family == "procgen" and name:
        from .procgen import make_procgen_env

        return make_procgen_env(name, split=split, **kwargs)
    if env_id in NAMED_SETS:
        raise ValueError(f"named set {env_id!r} cannot be part of a list; pass it alone or list its ids")
    raise _unknown_id(env_id)


def _reward_scales(reward_scales, count: int) -> list[float]:
    if reward_scales is None:
        return [1.0] * count
    if isinstance(reward_scales, np.ndarray):
        reward_scales = reward_scales.tolist()
    if isinstance(reward_scales, numbers.Real) and count == 1:
        reward_scales = [reward_scales]
    if isinstance(reward_scales, (str, bytes)) or not isinstance(reward_scales, Sequence) or len(reward_scales) != count:
        raise ValueError(f"reward_scales must be a list of {count} positive numbers (one per task), got {reward_scales!r}")
    for scale in reward_scales:
        if isinstance(scale, bool) or not (isinstance(scale, numbers.Real) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"every reward scale must be a finite number > 0, got {reward_scales!r}")
    return [float(scale) for scale in reward_scales]


def make_env(
    spec: str | Sequence[str],
    *,
    episodes_per_trial: int | None = None,
    warmup_episodes: int | None = None,
    reward_scales: float | Sequence[float] | None = None,
    seed: int | None = None,
    split: str = "train",
    seeds: tuple[int, int] | None = None,
    task: str | None = None,
    invalid_actions: str = "replace",
    shared_actions: int | None = None,
    **kwargs,
) -> gym.Env:
    """Build a trial env (one id) or a multi-task mixture (a list of ids or a named set).

    Args:
        spec: an id (``"toy/meta_frozen_lake"``), a list of ids, or a named set (``"popgym-mt"``).
        episodes_per_trial: k attempts per trial; ``None`` -> 1, or the named set's own
            (``popgym-mt`` and ``babyai-mt``: 2).
        warmup_episodes: attempts whose reward is zeroed for the RL objective but visible in
            ``prev_reward``; ``None`` -> 0, or the named set's own (``popgym-mt``: 1).
        reward_scales: one multiplier per task (a number for a single id); ``None`` -> 1 each, or the named
            set's own (``procgen-easy-rescaled``: coinrun x100, climber x0.1).
        seed: seeds the first ``reset()`` and the action space; same seed -> same trajectory.
        split: ``"train"`` (the variants training sees) or ``"test"`` (the held-out ones: frozen-lake maps,
            BabyAI layouts, ...); each family's meaning is in :mod:`amago_edu.envs.splits`.
        seeds: ``(low, high)`` range of BabyAI *level* seeds, instead of the split's own. Other
            tasks have no level seeds and ignore it.
        task: play only this task of a mixture (per-task evaluation); the spaces stay the
            mixture's, so an agent trained on the mixture can act in it.
        invalid_actions: how a mixture handles an action index the current task does not have:
            ``"replace"`` (the paper's rule) or ``"mask"`` (see :class:`MultiTaskEnv`). Single envs ignore it.
        shared_actions: a mixture's shared action count (``None`` = its largest task's).
        **kwargs: passed to every task's constructor (e.g. ``size=5`` for frozen lake).
    """
    if isinstance(spec, str) and spec in NAMED_SETS:
        ids, defaults = named_set_ids(spec), NAMED_SETS[spec]
    elif isinstance(spec, str):
        ids, defaults = [spec], {}
    elif isinstance(spec, Sequence) and len(spec) > 0:
        ids, defaults = list(spec), {}
    else:
        raise ValueError(f"spec must be an env id, a non-empty list of ids or a named set {sorted(NAMED_SETS)}, got {spec!r}")
    k = episodes_per_trial if episodes_per_trial is not None else defaults.get("episodes_per_trial", 1)
    warmup = warmup_episodes if warmup_episodes is not None else defaults.get("warmup_episodes", 0)
    if reward_scales is None and defaults.get("rescaled"):
        from .procgen import PROCGEN_EASY_RESCALED

        reward_scales = [PROCGEN_EASY_RESCALED.get(env_id.partition("/")[2], 1.0) for env_id in ids]
    scales = _reward_scales(reward_scales, len(ids))
    check_split(split)
    single = isinstance(spec, str) and spec not in NAMED_SETS

    trials = [
        TrialWrapper(
            _make_inner(env_id, kwargs, split, seeds),
            episodes_per_trial=k,
            warmup_episodes=warmup,
            reward_scale=scale,
            task_name=env_id,
            task_id=task_id,
            seed=seed if single else None,  # a mixture seeds its tasks itself
        )
        for task_id, (env_id, scale) in enumerate(zip(ids, scales))
    ]
    if single:
        if task is not None and task != ids[0]:
            raise ValueError(f"task={task!r} is not part of {spec!r}; for a single env leave task=None")
        return trials[0]
    return MultiTaskEnv(trials, seed=seed, task=task, invalid_actions=invalid_actions, shared_actions=shared_actions)
