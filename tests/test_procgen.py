"""Procgen inner environments (amago_edu/envs/procgen.py; paper Sec. 4 and App. A/B, Multi-Game Procgen)."""

from __future__ import annotations

import pytest

pytest.importorskip("envpool")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

from amago_edu.envs.procgen import (  # noqa: E402
    PROCGEN_EASY,
    PROCGEN_EASY_RESCALED,
    TEST_SEEDS,
    TRAIN_SEEDS,
    make_procgen_env,
    procgen_task_id,
)
from amago_edu.envs.trial import TrialWrapper  # noqa: E402

try:
    import envpool.procgen

    envpool.procgen.ProcgenEnvSpec
    HAS_QT = True
except ImportError:  # the Qt 5 runtime is missing: only the checks that build no game run
    HAS_QT = False
needs_qt = pytest.mark.skipif(not HAS_QT, reason="EnvPool's Procgen needs the Qt 5 runtime: apt-get install libqt5gui5")


def test_paper_games_and_rescaling():
    assert PROCGEN_EASY == ("coinrun", "climber", "jumper", "ninja", "leaper")
    assert PROCGEN_EASY_RESCALED == {"coinrun": 100.0, "climber": 0.1}
    assert procgen_task_id("coinrun") == "CoinrunEasy-v0"
    assert procgen_task_id("jumper", "memory-hard") == "JumperMemory-v0"  # jumper has a memory mode
    assert procgen_task_id("coinrun", "memory-hard") == "CoinrunHard-v0"  # coinrun does not


def test_train_and_test_level_seeds_are_disjoint():
    assert TRAIN_SEEDS == (0, 10_000) and TEST_SEEDS[0] > TRAIN_SEEDS[1]  # half-open ranges


def test_clear_errors():
    with pytest.raises(ValueError, match="Did you mean: coinrun"):
        make_procgen_env("coinrunn")
    with pytest.raises(ValueError, match="split"):
        make_procgen_env("coinrun", split="eval")
    with pytest.raises(ValueError, match="easy-rescaled"):
        make_procgen_env("coinrun", distribution="easy-rescaled")


def test_missing_envpool_names_requirements_and_apt(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_envpool(name, *args, **kwargs):
        if name.startswith("envpool"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_envpool)
    with pytest.raises(ImportError, match=r"requirements-procgen\.txt.*libqt5gui5"):
        make_procgen_env("coinrun")


@needs_qt
def test_unavailable_distribution_lists_the_games_modes():
    with pytest.raises(ValueError, match="has no 'memory' distribution; it has: easy, exploration, hard"):
        make_procgen_env("coinrun", distribution="memory")


@needs_qt
def test_spaces_time_limit_and_level_replay():
    env = make_procgen_env("coinrun")
    assert env.action_space == gym.spaces.Discrete(15)
    assert env.observation_space["pixels"] == gym.spaces.Box(0, 255, (3, 64, 64), np.uint8)
    assert env.max_episode_steps == 1000  # Procgen's own timeout
    first, info = env.reset(seed=0)
    assert first in env.observation_space
    level = info["level_seed"]
    assert TRAIN_SEEDS[0] <= level < TRAIN_SEEDS[1]
    for _ in range(5):
        env.step(env.action_space.sample())
    # the next attempt of the same trial: the same level, so the same first frame
    again, info = env.reset(options={"new_trial": False})
    assert info["level_seed"] == level
    np.testing.assert_array_equal(again["pixels"], first["pixels"])
    # a new trial: another level (another first frame)
    other, info = env.reset(options={"new_trial": True})
    assert info["level_seed"] != level
    assert not np.array_equal(other["pixels"], first["pixels"])
    env.close()


@needs_qt
def test_test_split_draws_held_out_levels():
    env = make_procgen_env("ninja", split="test", max_episode_steps=5)
    for seed in range(3):
        _, info = env.reset(seed=seed)
        assert TEST_SEEDS[0] <= info["level_seed"] < TEST_SEEDS[1]
    env.close()


@needs_qt
def test_trial_wrapped_env_passes_check_env():
    env = TrialWrapper(make_procgen_env("leaper", max_episode_steps=8), episodes_per_trial=2)
    assert env.max_episode_steps == 8 and env.max_trial_length == 16
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert set(obs) == {"pixels", "prev_action", "prev_reward", "reset", "progress"}
    first = obs["pixels"]
    steps, soft_resets, terminated = 0, 0, False
    while not terminated:
        obs, _, terminated, _, info = env.step(env.action_space.sample())
        steps += 1
        if obs["reset"][0] == 1.0:  # the soft reset into attempt 2 replays attempt 1's level
            soft_resets += 1
            np.testing.assert_array_equal(obs["pixels"], first)
    # a leaper attempt ends after 8 steps or earlier (the frog can be run over)
    assert soft_resets == 1 and 2 <= steps <= 16
    assert info["attempt_successes"].shape == (2,) and not np.isnan(info["attempt_successes"]).any()
    env.close()
