"""Tests of amago_edu.envs: the trial contract, toy tasks, POPGym adapters and mixtures."""

from __future__ import annotations

import warnings
import zlib
from collections import deque

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from amago_edu.envs import MultiTaskEnv, TrialWrapper, make_env
from amago_edu.envs.popgym import POPGYM_MT, POPGymAdapter, _action_adapter, _flat_encoder, popgym_games
from amago_edu.config import TrainConfig
from amago_edu.envs.toy import MetaFrozenLake, map_split
from amago_edu.train import build_env_fn
from helpers import ScriptedEnv


def run(env, actions):
    """Step through ``actions`` after a reset; return (observations incl. the reset one, rewards, terms, infos)."""
    obs, info = env.reset()
    observations, rewards, terms, infos = [obs], [], [], [info]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        assert truncated is False
        observations.append(obs)
        rewards.append(reward)
        terms.append(terminated)
        infos.append(info)
    return observations, rewards, terms, infos


def quiet_check_env(env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # check_env warnings (inf bounds, no spec, wrapped env) are fine
        check_env(env)


# ---------------------------------------------------------------------------------------------
# Trial wrapper
# ---------------------------------------------------------------------------------------------
def test_trial_hand_computed_three_attempts():
    inner = ScriptedEnv(length=2)
    env = TrialWrapper(inner, episodes_per_trial=3, reward_scale=10.0, task_name="scripted", task_id=4)
    observations, rewards, terms, infos = run(env, [2, 2, 1, 0, 0, 2])

    assert terms == [False] * 5 + [True]  # inner episode ends (steps 2 and 4) never terminate
    assert rewards == [30.0, 30.0, 20.0, 10.0, 10.0, 30.0]
    assert inner.reset_options == [{"new_trial": True}, {"new_trial": False}, {"new_trial": False}]

    expected = [  # (observation, prev_action, prev_reward, reset, progress)
        ([1, 0], [0, 0, 0], 0.0, 1.0, 0.0),  # trial start
        ([1, 1], [0, 0, 1], 30.0, 0.0, 0.0),
        ([2, 0], [0, 0, 1], 30.0, 1.0, 1 / 3),  # soft reset: the action/reward that ended attempt 0
        ([2, 1], [0, 1, 0], 20.0, 0.0, 1 / 3),
        ([3, 0], [1, 0, 0], 10.0, 1.0, 2 / 3),
        ([3, 1], [1, 0, 0], 10.0, 0.0, 2 / 3),
        ([3, 2], [0, 0, 1], 30.0, 0.0, 2 / 3),  # terminal observation of the last attempt
    ]
    for obs, (o, a, r, reset, progress) in zip(observations, expected):
        assert obs in env.observation_space
        np.testing.assert_array_equal(obs["observation"], np.array(o, np.float32))
        np.testing.assert_array_equal(obs["prev_action"], np.array(a, np.float32))
        np.testing.assert_array_equal(obs["prev_reward"], np.array([r], np.float32))
        np.testing.assert_array_equal(obs["reset"], np.array([reset], np.float32))
        np.testing.assert_allclose(obs["progress"], np.array([progress], np.float32))

    assert [info["attempt"] for info in infos] == [0, 0, 0, 1, 1, 2, 2]
    assert all(info["task"] == "scripted" and info["task_id"] == 4 and info["reward_scale"] == 10.0 for info in infos)
    final = infos[-1]
    np.testing.assert_array_equal(final["attempt_returns"], np.array([60.0, 30.0, 40.0], np.float32))
    assert final["attempt_returns"].sum() == sum(rewards)
    np.testing.assert_array_equal(final["attempt_successes"], np.array([1.0, 0.0, 1.0], np.float32))
    assert "attempt_returns" not in infos[-2]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_trial_time_limit_and_unknown_success():
    # the inner env never ends by itself: the wrapper's limit ends each attempt, the last one terminates
    env = TrialWrapper(ScriptedEnv(length=None), episodes_per_trial=2, max_episode_steps=3)
    assert env.max_trial_length == 6
    _, rewards, terms, infos = run(env, [0] * 6)
    assert terms == [False] * 5 + [True]
    np.testing.assert_array_equal(infos[-1]["attempt_returns"], np.array([3.0, 3.0], np.float32))
    assert np.isnan(infos[-1]["attempt_successes"]).all()  # the inner env never reports success


def test_warmup_rewards_hidden_from_objective_but_visible():
    env = TrialWrapper(ScriptedEnv(length=2), episodes_per_trial=2, warmup_episodes=1, reward_scale=2.0)
    observations, rewards, terms, infos = run(env, [1, 2, 0, 1])
    assert rewards == [0.0, 0.0, 2.0, 4.0]  # warm-up attempt: optimised reward is 0
    assert observations[1]["prev_reward"][0] == 4.0  # ...but the real reward is shown
    assert observations[4]["prev_reward"][0] == 4.0
    np.testing.assert_array_equal(infos[-1]["attempt_returns"], np.array([10.0, 6.0], np.float32))


def test_box_actions_prev_action_is_raw_action():
    class BoxEnv(ScriptedEnv):
        def __init__(self):
            super().__init__(length=5)
            self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

        def step(self, action):
            return super().step(0)

    env = TrialWrapper(BoxEnv())
    observations, *_ = run(env, [np.array([0.5, -0.25], np.float32)])
    np.testing.assert_array_equal(observations[1]["prev_action"], np.array([0.5, -0.25], np.float32))
    np.testing.assert_array_equal(observations[0]["prev_action"], np.zeros(2, np.float32))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"episodes_per_trial": 0}, "episodes_per_trial"),
        ({"episodes_per_trial": 2, "warmup_episodes": 2}, "warmup_episodes"),
        ({"reward_scale": 0.0}, "reward_scale"),
        ({"reward_scale": float("nan")}, "reward_scale"),
    ],
)
def test_trial_wrapper_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrialWrapper(ScriptedEnv(), **kwargs)


def test_trial_wrapper_needs_a_time_limit():
    with pytest.raises(ValueError, match="max_episode_steps"):
        TrialWrapper(ScriptedEnv(length=None))


# ---------------------------------------------------------------------------------------------
# Toy tasks
# ---------------------------------------------------------------------------------------------
def shortest_path(rows: list[str], targets: set[tuple[int, int]]) -> list[int]:
    """Breadth-first search over safe tiles from (0, 0); returns frozen-lake actions (1 +x, 2 -x, 3 +y, 4 -y)."""
    moves = {1: (1, 0), 2: (-1, 0), 3: (0, 1), 4: (0, -1)}
    n = len(rows)
    queue, parent = deque([(0, 0)]), {(0, 0): None}
    while queue:
        x, y = queue.popleft()
        if (x, y) in targets:
            path = []
            while parent[(x, y)] is not None:
                (x, y), action = parent[(x, y)]
                path.append(action)
            return path[::-1]
        for action, (dx, dy) in moves.items():
            nx, ny = x + dx, y + dy
            inside = 0 <= nx < n and 0 <= ny < n
            if inside and (nx, ny) not in parent and (rows[ny][nx] != "H" or (nx, ny) in targets):
                parent[(nx, ny)] = ((x, y), action)
                queue.append((nx, ny))
    raise AssertionError("no path")


def test_frozen_lake_keeps_map_within_trial_and_changes_it_across_trials():
    env = make_env("toy/meta_frozen_lake", episodes_per_trial=3, seed=0)
    lake = env.unwrapped
    assert isinstance(lake, MetaFrozenLake) and env.max_trial_length == 3 * 16
    env.reset()
    first_map = list(lake.map)
    maps_seen = []
    terminated = False
    while not terminated:  # "stay" forever: each attempt ends at the 16-step limit
        _, _, terminated, _, info = env.step(0)
        maps_seen.append(list(lake.map))
    assert len(maps_seen) == 48 and all(m == first_map for m in maps_seen)
    np.testing.assert_array_equal(info["attempt_successes"], np.zeros(3, np.float32))
    env.reset()
    assert lake.map != first_map
    again = make_env("toy/meta_frozen_lake", episodes_per_trial=3, seed=0)
    again.reset()
    assert again.unwrapped.map == first_map  # seeded


def test_map_split_is_the_layout_hash_mod_4():
    # zlib.crc32 of the concatenated rows, computed by hand for two 3x3 layouts
    assert zlib.crc32(b"SFFFHFFFG") % 4 == 2 and map_split(["SFF", "FHF", "FFG"]) == "train"
    assert zlib.crc32(b"SFFFFHFFG") % 4 == 0 and map_split(["SFF", "FFH", "FFG"]) == "test"
    assert map_split(["SFF", "FFF", "FFG"]) == "both"  # no holes: nothing to hold out


def test_both_splits_draw_the_same_mix_of_hole_counts():
    # 4 x 4, as make run trains: each tile is a hole with p = 0.2 (generate_random_map), so the map without holes
    # is 0.8^14 = 4.4% of the draws, 6.4% of those with a path to the goal; kept with a quarter's and three
    # quarters' chance, it is ~6% of both splits, and the mean hole count is the same within sampling error
    holes = {}
    for split in ("train", "test"):
        env = MetaFrozenLake(size=4, split=split)
        env.reset(seed=1)
        counts = []
        for _ in range(1500):
            env.reset()
            counts.append("".join(env.map).count("H"))
        holes[split] = np.array(counts)
    for split, counts in holes.items():
        assert 0.04 < np.mean(counts == 0) < 0.09, split
    se = np.sqrt(holes["train"].var() / 1500 + holes["test"].var() / 1500)
    assert abs(holes["train"].mean() - holes["test"].mean()) < 3 * se + 0.05


def test_train_and_test_splits_draw_disjoint_frozen_lake_maps():
    maps = {}
    for split in ("train", "test"):
        env = make_env("toy/meta_frozen_lake", episodes_per_trial=1, seed=0, split=split, size=3)
        maps[split] = set()
        for _ in range(60):
            env.reset()
            maps[split].add("".join(env.unwrapped.map))
    assert len(maps["train"]) > 10 and len(maps["test"]) > 5
    assert maps["train"] & maps["test"] <= {"SFFFFFFFG"}  # only the map without holes is in both
    assert {map_split([m[i:i + 3] for i in (0, 3, 6)]) for m in maps["test"]} <= {"test", "both"}


def test_eval_envs_of_a_run_play_the_held_out_split():
    config = TrainConfig.preset("fast")
    assert build_env_fn(config, 0, evaluation=True)(0).unwrapped.split == "test"
    assert build_env_fn(config, 0)(0).unwrapped.split == "train"
    train_on_test = TrainConfig.preset("fast", eval_split="train")
    assert build_env_fn(train_on_test, 0, evaluation=True)(0).unwrapped.split == "train"
    with pytest.raises(ValueError, match="eval_split must be one of"):
        TrainConfig.preset("fast", eval_split="validation").validate()
    with pytest.raises(ValueError, match="split must be one of"):
        make_env("toy/tmaze", split="held-out")


def test_frozen_lake_goal_and_hole():
    env = make_env("toy/meta_frozen_lake", episodes_per_trial=2, seed=3)
    obs, _ = env.reset()
    rows = env.unwrapped.map
    assert rows[0][0] == "S" and rows[3][3] == "G"
    to_goal = shortest_path(rows, {(3, 3)})
    holes = {(x, y) for y, row in enumerate(rows) for x, tile in enumerate(row) if tile == "H"}
    to_hole = shortest_path(rows, holes)

    assert rows[0][1] != "H"  # this seed's map: one step +x from (0, 0) is safe
    obs, reward, terminated, _, _ = env.step(1)
    np.testing.assert_array_equal(obs["observation"], np.array([1 / 4, 0.0], np.float32))  # [x / n, y / n]
    assert reward == 0.0 and not terminated
    env.reset(seed=3)
    rewards = [env.step(a)[1] for a in to_goal]
    assert rewards == [0.0] * (len(to_goal) - 1) + [1.0]
    assert env.unwrapped.map == rows  # attempt 2: back at (0, 0) on the same map
    for action in to_hole:
        obs, reward, terminated, _, info = env.step(action)
    assert reward == 0.0 and terminated
    np.testing.assert_array_equal(info["attempt_returns"], np.array([1.0, 0.0], np.float32))
    np.testing.assert_array_equal(info["attempt_successes"], np.array([1.0, 0.0], np.float32))


@pytest.mark.parametrize("goal_action, wrong_action", [(2, 3), (3, 2)])
def test_tmaze_memory_and_rewards(goal_action, wrong_action):
    H = 5
    for seed in range(20):  # a seed whose goal side matches goal_action (up = +1, down = -1)
        env = make_env("toy/tmaze", corridor_length=H, seed=seed)
        obs, _ = env.reset()
        if obs["observation"][1] == (1.0 if goal_action == 2 else -1.0):
            break
    else:
        raise AssertionError("no seed with that goal side")
    assert env.max_trial_length == H + 1
    np.testing.assert_array_equal(obs["observation"], np.array([0.0, obs["observation"][1], 0.0], np.float32))
    observations, rewards, terms = [], [], []
    for _ in range(H):
        o, r, t, _, _ = env.step(0)
        observations.append(o["observation"])
        rewards.append(r)
        terms.append(t)
    assert rewards == [0.0] * H and not any(terms)
    np.testing.assert_allclose(observations[-1], np.array([1.0, 0.0, 1.0], np.float32))  # at the junction
    assert all(o[1] == 0.0 for o in observations)  # the goal side is never shown again
    _, reward, terminated, _, info = env.step(goal_action)
    assert reward == 1.0 and terminated and info["attempt_successes"][0] == 1.0

    # back, forward, turn-in-corridor, forward x2: two -1/H penalties; the corridor carries the agent
    # to the junction anyway (passive), so the remembered turn still succeeds
    env.reset(seed=seed)
    steps = [env.step(a) for a in [1, 0, wrong_action, 0, 0, goal_action]]
    np.testing.assert_allclose([s[1] for s in steps], [-1 / H, 0.0, -1 / H, 0.0, 0.0, 1.0])
    assert [s[2] for s in steps] == [False] * 5 + [True]  # an attempt is always H + 1 steps
    np.testing.assert_allclose(steps[-2][0]["observation"], np.array([1.0, 0.0, 1.0], np.float32))
    assert steps[-1][4]["attempt_successes"][0] == 1.0


def test_tmaze_wrong_turn_scores_zero():
    env = make_env("toy/tmaze", corridor_length=3, seed=0)
    obs, _ = env.reset()
    wrong = 3 if obs["observation"][1] == 1.0 else 2
    for _ in range(3):
        env.step(0)
    _, reward, terminated, _, info = env.step(wrong)
    assert reward == 0.0 and terminated and info["attempt_successes"][0] == 0.0


# ---------------------------------------------------------------------------------------------
# check_env and determinism
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec, k",
    [
        ("toy/meta_frozen_lake", 1),
        ("toy/meta_frozen_lake", 3),
        ("toy/tmaze", 1),
        ("popgym/RepeatPreviousEasy", 1),
        ("popgym/AutoencodeEasy", 1),
        ("popgym/CountRecallEasy", 1),
        # k = 2: with k = 1 check_env's seed-123 first click hits a mine, ending the trial in one step,
        # and the checker compares the NaN "unknown success" in info with NaN, which is never equal
        ("popgym/MineSweeperEasy", 2),
        ("popgym/PositionOnlyPendulumEasy", 1),
        ("popgym/ConcentrationEasy", 1),
        ("popgym-mt", None),
    ],
)
def test_check_env_passes(spec, k):
    env = make_env(spec, seed=0, episodes_per_trial=k)
    quiet_check_env(env)
    assert isinstance(env.max_trial_length, int) and env.max_trial_length > 0
    assert env.episodes_per_trial == (2 if spec == "popgym-mt" else k)
    assert len(env.task_names) == (len(POPGYM_MT) if spec == "popgym-mt" else 1)


@pytest.mark.parametrize("spec", ["toy/meta_frozen_lake", "popgym/HigherLowerEasy", "popgym-mt"])
def test_same_seed_same_trajectory(spec):
    def trajectory(seed):
        env = make_env(spec, seed=seed, episodes_per_trial=2)
        actions = np.random.default_rng(0).integers(env.action_space.n, size=300)
        out = [env.reset()[0]]
        for action in actions:
            obs, reward, terminated, _, _ = env.step(action)
            out.append((obs, reward))
            if terminated:
                out.append(env.reset()[0])
        return out

    first, second, other = trajectory(7), trajectory(7), trajectory(8)
    assert gym.utils.env_checker.data_equivalence(first, second, exact=True)
    assert not gym.utils.env_checker.data_equivalence(first, other, exact=True)


# ---------------------------------------------------------------------------------------------
# POPGym adapters and the popgym-mt mixture
# ---------------------------------------------------------------------------------------------
def test_flat_encoder_hand_computed():
    space = spaces.Tuple((spaces.Discrete(2), spaces.MultiDiscrete([2, 3]), spaces.Box(-2.0, 2.0, (2, 1))))
    size, low, high, fill = _flat_encoder(space, "test")
    assert size == 2 + 5 + 2
    out = np.zeros(size, np.float32)
    fill(out, (1, np.array([0, 2]), np.array([[0.5], [-1.5]], np.float32)), 0)
    np.testing.assert_array_equal(out, np.array([0, 1, 1, 0, 0, 0, 1, 0.5, -1.5], np.float32))
    np.testing.assert_array_equal(low, np.array([0] * 7 + [-2, -2], np.float32))
    np.testing.assert_array_equal(high, np.array([1] * 7 + [2, 2], np.float32))


def test_multidiscrete_actions_become_one_discrete():
    agent_space, to_native = _action_adapter(spaces.MultiDiscrete([4, 4]), "MineSweeperEasy")
    assert agent_space == spaces.Discrete(16)
    np.testing.assert_array_equal(to_native(0), [0, 0])
    np.testing.assert_array_equal(to_native(6), [1, 2])
    np.testing.assert_array_equal(to_native(15), [3, 3])
    box_space, box_to_native = _action_adapter(spaces.Box(-2.0, 2.0, (1,), np.float32), "Pendulum")
    assert box_space == spaces.Box(-1.0, 1.0, (1,), np.float32)
    np.testing.assert_allclose(box_to_native(np.array([0.5])), [1.0])
    np.testing.assert_allclose(box_to_native(np.array([3.0])), [2.0])  # clipped to the bounds


def test_every_popgym_mt_game_maps_into_the_shared_spaces_and_back():
    env = make_env("popgym-mt", seed=0)
    games = popgym_games()
    native_sizes = {}
    for name in POPGYM_MT:
        game = POPGymAdapter(games[name](), name)
        native_sizes[name] = game.observation_space.shape[0]
        n_actions = game.action_space.n
        obs, info = env.reset(options={"task": f"popgym/{name}"})
        assert info["task"] == f"popgym/{name}"
        for action in range(n_actions):  # every native action is valid: executed and not flagged
            obs, _, terminated, _, _ = env.step(action)
            assert obs in env.observation_space
            native = obs["observation"][: native_sizes[name]]
            assert native in game.observation_space  # the padded vector unpads to the game's own space
            assert not obs["observation"][native_sizes[name] :].any()  # zero padding and flag 0
            if obs["reset"][0] == 0.0:
                np.testing.assert_array_equal(obs["prev_action"], np.eye(27, dtype=np.float32)[action])
            if terminated:
                obs, _ = env.reset(options={"task": f"popgym/{name}"})
    # no room for a task id: the shared observation is the largest game plus the invalid-action flag
    assert env.observation_space["observation"].shape == (max(native_sizes.values()) + 1,)
    assert env.action_space == spaces.Discrete(27)  # CountRecallEasy's 27 answers


def test_invalid_actions_are_replaced_and_flagged():
    env = make_env("popgym-mt", seed=1)
    env.reset(options={"task": "popgym/RepeatPreviousEasy"})
    adapter = env.envs[POPGYM_MT.index("RepeatPreviousEasy")].env
    executed = []
    to_native = adapter._to_native
    adapter._to_native = lambda a: executed.append(int(a)) or to_native(a)
    for action in [20, 3, 26]:
        obs, *_ = env.step(action)
        invalid = action >= 4
        assert obs["observation"][-1] == float(invalid)
        np.testing.assert_array_equal(obs["prev_action"], np.eye(27, dtype=np.float32)[action])
    assert executed[1] == 3 and all(0 <= a < 4 for a in executed)


def test_task_identity_is_not_in_the_observation():
    env = make_env(["popgym/RepeatPreviousEasy", "popgym/PositionOnlyCartPoleEasy", "toy/tmaze"], seed=0)
    first = {}
    for task in env.task_names:
        obs, info = env.reset(options={"task": task})
        first[task] = obs
        assert info["task"] == task
    keys = {tuple(sorted(obs)) for obs in first.values()}
    assert len(keys) == 1
    for obs in first.values():
        assert {k: (v.shape, v.dtype) for k, v in obs.items()} == {
            k: (v.shape, v.dtype) for k, v in next(iter(first.values())).items()
        }
    repeat, cartpole, tmaze = first.values()
    for key in ("prev_action", "prev_reward", "reset", "progress"):  # identical outside the game content
        np.testing.assert_array_equal(repeat[key], cartpole[key])
        np.testing.assert_array_equal(repeat[key], tmaze[key])
    assert not repeat["observation"][4:].any() and not cartpole["observation"][2:].any()
    assert not tmaze["observation"][3:].any()
    assert env.observation_space["observation"].shape == (4 + 1,)  # 4 = RepeatPrevious, +1 flag


def test_reward_scales_multiply_rewards():
    env = make_env(["toy/tmaze", "toy/meta_frozen_lake"], reward_scales=[100.0, 1.0], seed=0)
    obs, info = env.reset(options={"task": "toy/tmaze"})
    assert info["reward_scale"] == 100.0
    obs, reward, *_ = env.step(1)  # a non-forward corridor step: -1/H (H = 30), times 100
    assert reward == pytest.approx(-100.0 / 30)
    assert obs["prev_reward"][0] == pytest.approx(-100.0 / 30)

    def rewards(scale):
        env = make_env("popgym/RepeatPreviousEasy", reward_scales=scale, seed=5)
        env.reset()
        return np.array([env.step(a)[1] for a in [0, 1, 2, 3] * 5])

    np.testing.assert_allclose(rewards(100.0), 100.0 * rewards(1.0))
    assert rewards(1.0).any()


def test_popgym_mt_is_one_shot_with_a_warmup_episode():
    env = make_env("popgym-mt", seed=2)
    assert env.episodes_per_trial == 2
    obs, _ = env.reset(options={"task": "popgym/RepeatFirstEasy"})
    rewards, terminated, attempts = [], False, []
    while not terminated:
        obs, reward, terminated, _, info = env.step(0)
        rewards.append(reward)
        attempts.append(info["attempt"])
    first = [r for r, a in zip(rewards, attempts) if a == 0]
    assert len(first) == 51 and not any(first)  # warm-up: rewards zeroed for the objective
    assert info["attempt_returns"][0] != 0.0  # ...but real
    assert sum(rewards) == pytest.approx(info["attempt_returns"][1])


def test_unknown_ids_list_families_and_close_matches():
    with pytest.raises(ValueError, match=r"toy/.*popgym/.*babyai/") as err:
        make_env("popgym/RepeatPreviusEasy")
    assert "popgym/RepeatPreviousEasy" in str(err.value)
    with pytest.raises(ValueError, match="Known families"):
        make_env("mujoco/Ant-v5")
    with pytest.raises(ValueError, match="reward_scales"):
        make_env(["toy/tmaze", "toy/meta_frozen_lake"], reward_scales=[1.0])
    with pytest.raises(TypeError, match="popgym/RepeatPreviousEasy"):
        make_env("popgym/RepeatPreviousEasy", size=3)


def test_unsupported_spaces_raise():
    class TextGame(gym.Env):
        observation_space = spaces.Text(5)
        action_space = spaces.Discrete(2)

    with pytest.raises(ValueError, match="TextGame: observation space Text"):
        POPGymAdapter(TextGame(), "TextGame")

    class UnboundedGame(gym.Env):
        observation_space = spaces.Discrete(2)
        action_space = spaces.Box(-np.inf, np.inf, (1,))

    with pytest.raises(ValueError, match="UnboundedGame: action space Box"):
        POPGymAdapter(UnboundedGame(), "UnboundedGame")
    with pytest.raises(ValueError, match="Discrete actions"):
        make_env(["popgym/RepeatPreviousEasy", "popgym/PositionOnlyPendulumEasy"])
    with pytest.raises(ValueError, match="episodes_per_trial"):
        MultiTaskEnv([TrialWrapper(ScriptedEnv(), 1, task_name="a"), TrialWrapper(ScriptedEnv(), 2, task_name="b")])


class GridEnv(gym.Env):
    """A BabyAI-shaped inner env: Dict observation without an "observation" key, Discrete(7)."""

    metadata = {"render_modes": []}
    observation_space = spaces.Dict(
        {"image": spaces.Box(0, 255, (7, 7, 3), np.uint8), "mission": spaces.Box(0, 30, (9,), np.int64)}
    )
    action_space = spaces.Discrete(7)
    max_episode_steps = 4

    def __init__(self, colour: int):
        self.colour = colour

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(), {}

    def _obs(self):
        return {"image": np.full((7, 7, 3), self.colour, np.uint8), "mission": np.arange(9, dtype=np.int64)}

    def step(self, action):
        return self._obs(), 1.0, False, False, {}


def test_dict_observation_tasks_mix_without_padding_keys():
    env = MultiTaskEnv([TrialWrapper(GridEnv(c), 2, task_name=f"grid{c}", task_id=c) for c in (0, 1)], seed=0)
    assert set(env.observation_space.spaces) == {"image", "mission", "prev_action", "prev_reward", "reset", "progress"}
    quiet_check_env(env)
    obs, info = env.reset(options={"task": "grid1"})
    assert obs["image"].max() == 1 and info["task_id"] == 1
    observations, rewards, terms, infos = run(env, [3] * 8)
    assert terms == [False] * 7 + [True] and rewards == [1.0] * 8
    # the 4-step limit ends attempt 0 at step 4: a soft reset that still shows the last action
    assert observations[4]["reset"][0] == 1.0 and observations[4]["progress"][0] == 0.5
    np.testing.assert_array_equal(observations[4]["prev_action"], np.eye(7, dtype=np.float32)[3])
    np.testing.assert_array_equal(observations[5]["prev_action"], np.eye(7, dtype=np.float32)[3])
