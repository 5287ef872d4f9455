"""Atari inner environments (amago_edu/envs/atari.py; paper Sec. 4 and App. B, Multi-Game Atari)."""

from __future__ import annotations

import pytest

pytest.importorskip("ale_py")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

from amago_edu.envs.atari import (  # noqa: E402
    ATARI_MT,
    HUMAN_RANDOM_SCORES,
    MAX_EPISODE_STEPS,
    area_weights,
    atari_games,
    human_normalised,
    make_atari_env,
    resize_frame,
)
from amago_edu.envs.trial import TrialWrapper  # noqa: E402


def test_time_limit_is_thirty_minutes_of_game_time():
    assert MAX_EPISODE_STEPS == 27_000 == 108_000 // 4


def test_area_weights_by_hand():
    # 5 -> 2: output 0 covers [0, 2.5), output 1 covers [2.5, 5)
    expected = np.array([[1, 1, 0.5, 0, 0], [0, 0, 0.5, 1, 1]]) / 2.5
    np.testing.assert_allclose(area_weights(5, 2), expected, rtol=1e-6)
    np.testing.assert_allclose(area_weights(210, 84).sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(area_weights(4, 4), np.eye(4))


def test_resize_frame_shape_channel_order_and_known_pixels():
    frame = np.zeros((210, 160, 3), dtype=np.uint8)
    frame[0, :, 0] = 100  # red, input row 0: a fraction 1 / 2.5 of output row 0
    frame[2, :, 1] = 200  # green, input row 2: split half and half between output rows 0 and 1
    frame[:, :, 2] = 255  # blue everywhere stays 255
    out = resize_frame(frame)
    assert out.shape == (3, 84, 84) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], np.full(84, 40))  # 100 * 1 / 2.5
    np.testing.assert_array_equal(out[0, 1:], 0)
    np.testing.assert_array_equal(out[1, 0], np.full(84, 40))  # 200 * 0.5 / 2.5
    np.testing.assert_array_equal(out[1, 1], np.full(84, 40))
    np.testing.assert_array_equal(out[1, 2:], 0)
    np.testing.assert_array_equal(out[2], 255)
    # one bright input pixel at (0, 0): output (0, 0) covers 2.5 x (160 / 84) input pixels
    single = np.zeros((210, 160, 3), dtype=np.uint8)
    single[0, 0] = 255
    assert resize_frame(single)[0, 0, 0] == round(255 / (2.5 * 160 / 84))  # 54
    with pytest.raises(ValueError, match="RGB frame"):
        resize_frame(np.zeros((210, 160), dtype=np.uint8))


def test_resize_frame_is_the_dense_area_resize(rng):
    # the fast gathers compute rows @ frame @ cols.T (up to float32 rounding at .5)
    frame = rng.integers(0, 256, (210, 160, 3), dtype=np.uint8)
    rows, cols = area_weights(210, 84).astype(np.float64), area_weights(160, 84).astype(np.float64)
    dense = np.rint(rows @ frame.transpose(2, 0, 1).astype(np.float64) @ cols.T)  # (3, 84, 84)
    assert np.abs(resize_frame(frame).astype(np.int64) - dense).max() <= 1


def test_human_normalised_by_hand():
    assert human_normalised("Pong", -20.7) == pytest.approx(0.0)
    assert human_normalised("Pong", 14.6) == pytest.approx(1.0)
    assert human_normalised("Breakout", 30.5 + 28.8) == pytest.approx(2.0)  # human - random = 28.8
    assert human_normalised("Boxing", 6.1) == pytest.approx(0.5)  # (6.1 - 0.1) / 12.0
    assert set(HUMAN_RANDOM_SCORES) == set(ATARI_MT) and len(ATARI_MT) == 10
    with pytest.raises(ValueError, match="Did you mean: Pong"):
        human_normalised("Pongg", 0.0)


def test_paper_games_are_registered():
    assert set(ATARI_MT) <= set(atari_games())


def test_settings_sticky_actions_full_action_space_and_frames():
    env = make_atari_env("Pong", max_episode_steps=20)
    ale = env.unwrapped.ale
    assert ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    assert env.action_space == gym.spaces.Discrete(18)
    assert env.observation_space["pixels"] == gym.spaces.Box(0, 255, (3, 84, 84), np.uint8)
    obs, info = env.reset(seed=0)
    assert obs["pixels"].dtype == np.uint8 and obs in env.observation_space
    start_frame = info["episode_frame_number"]
    for step in range(20):
        obs, reward, terminated, truncated, info = env.step(0)
        assert isinstance(reward, float)
    assert truncated and not terminated  # the step limit
    assert info["episode_frame_number"] - start_frame == 20 * 4  # frame skip 4
    # channel order: the 84x84 observation is the area-resized RGB screen, channels first
    np.testing.assert_array_equal(obs["pixels"], resize_frame(ale.getScreenRGB()))
    env.close()


def test_trial_wrapped_env_passes_check_env():
    env = TrialWrapper(make_atari_env("Breakout", max_episode_steps=10), episodes_per_trial=2)
    assert env.max_episode_steps == 10 and env.max_trial_length == 20
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=1)
    assert set(obs) == {"pixels", "prev_action", "prev_reward", "reset", "progress"}
    assert obs["prev_action"].shape == (18,)
    steps, terminated = 0, False
    while not terminated:
        obs, _, terminated, _, info = env.step(env.action_space.sample())
        steps += 1
    assert steps == 20 and info["attempt_returns"].shape == (2,)
    env.close()


def test_clear_errors():
    with pytest.raises(ValueError, match="Did you mean: MsPacman"):
        make_atari_env("MsPacmann")
    with pytest.raises(ValueError, match="split"):
        make_atari_env("Pong", split="eval")
    with pytest.raises(ValueError, match="max_episode_steps"):
        make_atari_env("Pong", max_episode_steps=0)
    assert make_atari_env("ms_pacman", max_episode_steps=5).game == "MsPacman"


def test_missing_ale_names_requirements(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ale(name, *args, **kwargs):
        if name == "ale_py":
            raise ImportError("No module named 'ale_py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ale)
    with pytest.raises(ImportError, match="pip install -r requirements-atari.txt"):
        make_atari_env("Pong")
