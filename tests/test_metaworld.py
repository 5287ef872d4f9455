"""Meta-World inner envs (amago_edu.envs.metaworld): the trial contract, splits, success and seeding.

Attempts are shortened to a few dozen steps (``max_episode_steps``) so the file runs in seconds;
ML45 (tens of seconds to build) is only checked in a ``slow`` test.
"""

import sys

import numpy as np
import pytest

pytest.importorskip("metaworld")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from amago_edu.envs.metaworld import make_metaworld_env, ml1_task_names  # noqa: E402
from amago_edu.envs.trial import TrialWrapper  # noqa: E402

SHORT = 40  # steps per attempt in these tests (the benchmark's own is 500)

# The checker's advice, not failures: metaworld's bounds leave object coordinates unbounded and pin
# the hidden goal to [0, 0]; we check the trial-wrapped env on purpose (it is what agents see).
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*Box observation space (maximum|minimum):UserWarning"),
    pytest.mark.filterwarnings("ignore:.*different from the unwrapped version:UserWarning"),
]


def reach(split: str = "train", max_episode_steps: int = SHORT, **kwargs):
    return make_metaworld_env("ML1/reach-v3", split=split, max_episode_steps=max_episode_steps, **kwargs)


def play_attempt(env, policy=None):
    """Step the trial env to the end of the current attempt; returns the last step's output."""
    while True:
        action = np.zeros(4, np.float32) if policy is None else policy()
        out = env.step(action)
        obs, _, terminated, _, _ = out
        if terminated or obs["reset"][0] == 1.0:
            return out


@pytest.fixture(scope="module")
def ml10():
    return make_metaworld_env("ML10", split="train"), make_metaworld_env("ML10", split="test")


def test_families_are_v3_and_spaces_match_the_contract():
    assert "reach-v3" in ml1_task_names() and len(ml1_task_names()) == 50
    env = reach()
    assert env.families == ["reach-v3"] and env.max_episode_steps == SHORT
    assert env.observation_space.shape == (39,) and env.observation_space.dtype == np.float32
    assert env.action_space.shape == (4,) and env.action_space.low.min() == -1 and env.action_space.high.max() == 1
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and info["task_family"] == "reach-v3" == env.family
    assert np.all(obs[-3:] == 0.0)  # the ML benchmarks hide the goal


def test_trial_wrapped_env_passes_gymnasium_env_checker():
    env = TrialWrapper(reach(), episodes_per_trial=3)
    assert env.max_trial_length == 3 * SHORT
    check_env(env, skip_render_check=True)


def test_attempts_replay_the_variant_and_new_trials_redraw_it():
    env = TrialWrapper(reach(), episodes_per_trial=3, seed=0)
    inner = env.unwrapped
    variants, goals = [], []
    for _ in range(4):
        obs, _ = env.reset()
        first_obs, goal, variant = obs["observation"].copy(), inner.goal_position, inner.variant
        for attempt in (1, 2):
            obs, *_ = play_attempt(env, policy=env.action_space.sample)
            assert obs["reset"][0] == 1.0 and obs["progress"][0] == pytest.approx(attempt / 3)
            # same goal, same object, same start: the attempt starts exactly where the first did
            np.testing.assert_array_equal(inner.goal_position, goal)
            np.testing.assert_array_equal(obs["observation"], first_obs)
            assert inner.variant == variant
        _, _, terminated, _, info = play_attempt(env)
        assert terminated and info["attempt"] == 2
        variants.append(variant)
        goals.append(goal)
    assert len(set(variants)) > 1
    for i in range(4):
        for j in range(i):
            assert (variants[i] == variants[j]) == np.array_equal(goals[i], goals[j])


def test_ml1_train_and_test_splits_hold_different_variants():
    goals = {}
    for split in ("train", "test"):
        env = reach(split)
        env.reset(seed=0)
        seen = set()
        for _ in range(25):
            env.reset(options={"new_trial": True})
            seen.add(tuple(np.round(env.goal_position, 6)))
        goals[split] = seen
        assert len(seen) > 10
    assert not goals["train"] & goals["test"]


def test_ml10_splits_hold_different_families_and_trials_switch_between_them(ml10):
    train, test = ml10
    assert len(train.families) == 10 and len(test.families) == 5
    assert not set(train.families) & set(test.families)
    assert "reach-v3" in train.families and "drawer-open-v3" in test.families
    for env in (train, test):
        env.reset(seed=1)
        seen = set()
        for _ in range(6):
            _, info = env.reset()
            assert info["task_family"] == env.family in env.families
            obs, _, _, _, step_info = env.step(env.action_space.sample())
            assert step_info["task_family"] == env.family and env.observation_space.contains(obs)
            seen.add(env.family)
        assert len(seen) > 1
    check_env(TrialWrapper(test, episodes_per_trial=3), skip_render_check=True, skip_close_check=True)


def reach_controller(inner):
    """Proportional control of the gripper's centre towards the hidden goal (a privileged, hand-written policy)."""
    return lambda: np.r_[np.clip(20.0 * (inner.goal_position - inner._env.tcp_center), -1, 1), 0.0].astype(np.float32)


def test_attempt_success_reaches_the_trial_info():
    """The controller solves attempt 1; standing still fails attempts 2 and 3."""
    env = TrialWrapper(reach(max_episode_steps=80), episodes_per_trial=3, seed=3)
    env.reset()
    _, _, _, _, info = play_attempt(env, policy=reach_controller(env.unwrapped))
    assert info["success"] is True and info["attempt"] == 0
    play_attempt(env)
    _, _, terminated, _, info = play_attempt(env)
    assert terminated
    np.testing.assert_array_equal(info["attempt_successes"], [1.0, 0.0, 0.0])


def test_success_ends_the_attempt_only_when_asked():
    for terminate_on_success in (False, True):
        env = reach(max_episode_steps=80, terminate_on_success=terminate_on_success)
        env.reset(seed=3)
        policy = reach_controller(env)
        for step in range(1, 81):
            _, _, terminated, truncated, info = env.step(policy())
            if terminated or truncated:
                break
        assert info["success"] is True
        if terminate_on_success:
            assert terminated and not truncated and step < 80
        else:
            assert truncated and not terminated and step == 80


def test_attempts_may_be_longer_than_metaworlds_own_horizon():
    env = reach(max_episode_steps=501)
    env.reset(seed=0)
    for _ in range(500):
        _, _, terminated, truncated, info = env.step(np.zeros(4, np.float32))
        assert not (terminated or truncated) and "success" not in info
    _, _, _, truncated, info = env.step(np.zeros(4, np.float32))
    assert truncated and info["success"] in (True, False)


def test_same_seed_gives_the_same_trajectory():
    def rollout(seed):
        env = TrialWrapper(reach(), episodes_per_trial=3, seed=seed)
        env.action_space.seed(seed)
        obs, _ = env.reset()
        observations, rewards = [obs["observation"]], []
        for _ in range(2 * SHORT + 5):
            obs, reward, *_ = env.step(env.action_space.sample())
            observations.append(obs["observation"])
            rewards.append(reward)
        return np.stack(observations), np.array(rewards)

    first, second = rollout(5), rollout(5)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_bad_names_splits_and_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="Did you mean: ML1/reach-v3"):
        make_metaworld_env("ML1/reach-v2")
    with pytest.raises(ValueError, match="ML45"):
        make_metaworld_env("ml45")
    with pytest.raises(ValueError, match="ML10"):
        make_metaworld_env("MT10")
    with pytest.raises(ValueError, match="split"):
        reach(split="validation")
    with pytest.raises(ValueError, match="max_episode_steps"):
        reach(max_episode_steps=0)
    with pytest.raises(ValueError, match="seed_benchmark"):
        make_metaworld_env("ML1/reach-v3", seed_benchmark=-1)


def test_missing_metaworld_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "metaworld", None)  # makes `import metaworld` fail
    with pytest.raises(ImportError, match="requirements-metaworld.txt"):
        make_metaworld_env("ML1/reach-v3")


@pytest.mark.slow
def test_ml45_has_45_training_and_5_held_out_families():
    train = make_metaworld_env("ML45", split="train")
    test = make_metaworld_env("ML45", split="test")
    assert len(train.families) == 45 and not set(train.families) & set(test.families)
    assert sorted(test.families) == ["bin-picking-v3", "box-close-v3", "door-lock-v3", "door-unlock-v3", "hand-insert-v3"]
    obs, info = train.reset(seed=0)
    assert train.observation_space.contains(obs) and info["task_family"] in train.families
