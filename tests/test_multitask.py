"""Multi-task runs without task labels: mixture plumbing, tiny end-to-end runs, the multi-task benchmark script."""

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from amago_edu.config import TrainConfig
from amago_edu.envs import make_env
from amago_edu.envs.babyai import EVAL_SEEDS, TRAIN_SEEDS
from amago_edu.envs.popgym import POPGYM_MT
from amago_edu.train import train
from amago_edu.results import task_table
from conftest import ROOT
from helpers import TINY


def test_warmup_reward_is_visible_in_the_mixture_observation_but_not_optimised():
    # RepeatPreviousEasy (k=4, 51 steps): the first 3 steps pay 0, the other 48 pay +-1/48 each
    env = make_env("popgym-mt", seed=3, task="popgym/RepeatPreviousEasy")
    env.reset()
    shown, optimised, attempts, terminated = [], [], [], False
    while not terminated:
        obs, reward, terminated, _, info = env.step(1)
        shown.append(float(obs["prev_reward"][0]))
        optimised.append(reward)
        attempts.append(info["attempt"])
    shown, optimised, attempts = np.array(shown), np.array(optimised), np.array(attempts)
    warmup = attempts == 0
    assert warmup.sum() == 51 and (attempts == 1).sum() == 51
    assert np.all(optimised[warmup] == 0.0)  # the warm-up attempt earns nothing for the RL objective...
    np.testing.assert_allclose(np.abs(shown[warmup][:3]), 0.0)
    np.testing.assert_allclose(np.abs(shown[warmup][3:]), 1 / 48, rtol=1e-6)  # ...but the policy sees its reward
    assert shown[warmup].sum() == pytest.approx(info["attempt_returns"][0], abs=1e-5)
    np.testing.assert_allclose(optimised[~warmup], shown[~warmup], rtol=1e-6)  # scored attempt: the same numbers


@pytest.mark.filterwarnings("ignore:.*infinity:UserWarning")  # prev_reward is unbounded by design
def test_fixed_task_plays_only_that_task_with_the_mixture_spaces():
    mixture = make_env("popgym-mt", seed=0)
    env = make_env("popgym-mt", seed=0, task="popgym/MineSweeperEasy")
    assert env.observation_space == mixture.observation_space and env.action_space == mixture.action_space
    tasks = []
    for _ in range(4):
        _, info = env.reset()
        done = False
        while not done:
            _, _, done, _, info = env.step(env.action_space.sample())
        tasks.append(info["task"])
    assert tasks == ["popgym/MineSweeperEasy"] * 4
    check_env(make_env("popgym-mt", seed=0, task="popgym/MineSweeperEasy"), skip_render_check=True)
    with pytest.raises(ValueError, match="task must be one of"):
        make_env("popgym-mt", task="popgym/Pong")
    with pytest.raises(ValueError, match="task="):
        make_env("popgym/RepeatPreviousEasy", task="popgym/RepeatFirstEasy")


def test_eval_level_seeds_reach_every_babyai_task_and_popgym_ignores_them():
    def level_seeds(**kwargs):
        env = make_env(["babyai/GoToRedBall", "babyai/OneRoomS8"], episodes_per_trial=2, seed=0, max_steps=8, **kwargs)
        return [env.reset()[1]["level_seed"] for _ in range(6)]

    assert all(TRAIN_SEEDS[0] <= s < TRAIN_SEEDS[1] for s in level_seeds())
    assert all(EVAL_SEEDS[0] <= s < EVAL_SEEDS[1] for s in level_seeds(seeds=EVAL_SEEDS))
    make_env("popgym-mt", seeds=EVAL_SEEDS)  # no level seeds in POPGym: accepted and unused


def test_babyai_mt_preset_caps_every_level_at_64_steps():
    config = TrainConfig.preset("babyai_mt")
    env = make_env(config.env, episodes_per_trial=config.episodes_per_trial, **config.env_kwargs)
    assert [task.max_episode_steps for task in env.envs] == [64] * 8
    assert env.max_trial_length == 128 and config.context_length == 129  # a whole trial fits the context


@pytest.mark.parametrize("preset", ["popgym_mt", "babyai_mt"])
def test_tiny_mixture_run_has_finite_losses_and_per_task_metrics(preset, tmp_path):
    config = TrainConfig.preset(preset, run_dir=str(tmp_path / preset), **TINY)
    history = train(config)
    losses = [row[key] for row in history.train for key in ("critic_loss", "actor_loss")]
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    final = history.final_eval
    assert final["update"] == 4 and final["tasks"]
    for name, stats in final["tasks"].items():
        assert name.startswith(preset.split("_")[0] + "/")
        assert len(stats["attempt_return"]) == len(stats["attempt_success"]) == 2
        assert stats["normalized_return"] == pytest.approx(stats["return"])  # every reward scale is 1
    written = [json.loads(line) for line in (tmp_path / preset / "metrics.jsonl").read_text().splitlines()]
    assert written[-1]["tasks"] == final["tasks"]
    header = (tmp_path / preset / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {f"tasks/{name}/normalized_return" for name in final["tasks"]} <= set(header)


def test_fast_multitask_benchmark_writes_per_task_results_and_curves(tmp_path):
    command = [sys.executable, str(ROOT / "benchmarks" / "multitask.py"), "--fast", "--sets", "popgym-mt",
               "--out", str(tmp_path / "out"), "--run-root", str(tmp_path / "runs"), "--epsilon-anneal-steps", "1234"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    games = [f"popgym/{g}" for g in POPGYM_MT]
    with open(tmp_path / "out" / "multitask_popgym-mt.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["policy"], r["task"]) for r in rows] == [(p, g) for p in ("AMAGO-2", "random") for g in games]
    record = json.loads((tmp_path / "out" / "multitask_popgym-mt.json").read_text())
    assert record["updates"] == 4 and record["set"] == "popgym-mt"
    assert record["config"]["epsilon_anneal_steps"] == 1234  # the override reaches the run's config
    assert record["curves"][-1]["update"] == 4  # FAST: one evaluation, at the end
    assert set(record["curves"][-1]["tasks"]) <= set(games)
    for task in games:
        assert task in done.stdout  # one printed table per game


@pytest.mark.parametrize("flag", ["--lr", "--length-groups", "--epsilon-anneal-steps"])
def test_multitask_command_line_names_negative_overrides(flag):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "multitask.py"), flag, "-1", "--fast"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--lr, --length-groups and --epsilon-anneal-steps >= 0" in done.stderr


def test_task_table_hand_built():
    stats = {"trials": 4, "return": 0.5, "normalized_return": 0.5, "attempt_return": [0.1, 0.4],
             "attempt_success": [0.25, None]}
    table = task_table("babyai/GoToRedBall", {"AMAGO-2": stats}).splitlines()
    assert table[0] == "babyai/GoToRedBall"
    assert table[1].split("  ")[0] == "policy"
    assert table[2].split() == ["AMAGO-2", "4", "0.500", "0.500", "0.100", "/", "0.400", "0.25", "/", "-"]


# ------------------------------------------------------------------------------------------------
# invalid_actions="mask": the valid-action set as an observation key the network never reads
# ------------------------------------------------------------------------------------------------
def test_mask_mode_observes_the_valid_actions_without_the_invalid_flag():
    ids = ["popgym/RepeatFirstEasy", "popgym/HigherLowerEasy"]  # 4 and 2 actions
    replace = make_env(ids, seed=0)
    masked = make_env(ids, seed=0, invalid_actions="mask")
    check_env(masked.unwrapped, skip_render_check=True)
    # the replace rule adds one flag feature; the mask mode adds an action_mask key instead
    assert masked.observation_space["observation"].shape[0] == replace.observation_space["observation"].shape[0] - 1
    assert "action_mask" in masked.observation_space.spaces and "action_mask" not in replace.observation_space.spaces
    seen = {}
    for trial in range(12):
        obs, info = masked.reset(seed=trial)
        seen[info["task"]] = obs["action_mask"].tolist()
        obs, *_ = masked.step(3)  # invalid in HigherLower: still replaced by a valid action (no flag)
        assert obs["action_mask"].tolist() == seen[info["task"]]
    assert seen == {"popgym/RepeatFirstEasy": [1, 1, 1, 1], "popgym/HigherLowerEasy": [1, 1, 0, 0]}


def test_unknown_invalid_actions_rule_is_refused():
    with pytest.raises(ValueError, match="invalid_actions must be one of"):
        make_env(["popgym/RepeatFirstEasy", "popgym/HigherLowerEasy"], invalid_actions="drop")
    with pytest.raises(ValueError, match="invalid_actions must be 'replace' or 'mask'"):
        TrainConfig(invalid_actions="drop").validate()


def test_random_actions_respect_a_mask_and_are_uniform_over_valid_ones():
    from gymnasium import spaces

    from amago_edu.rollout import random_actions

    mask = np.array([[1, 0, 1, 0, 0]] * 4000 + [[0, 0, 0, 0, 1]] * 10, dtype=np.float32)
    actions = random_actions(spaces.Discrete(5), len(mask), np.random.default_rng(0), mask)
    assert set(actions[:4000].tolist()) == {0, 2} and set(actions[4000:].tolist()) == {4}
    assert abs((actions[:4000] == 0).mean() - 0.5) < 0.03


def test_tiny_masked_mixture_run_trains(tmp_path):
    config = TrainConfig.preset("fast", env="popgym/RepeatFirstEasy,popgym/HigherLowerEasy", env_kwargs={},
                                invalid_actions="mask", episodes_per_trial=1, context_length=16,
                                run_dir=str(tmp_path / "run"), total_updates=6, eval_interval=6, log_interval=2)
    history = train(config)
    assert history.final_eval["update"] == 6
    assert history.train and all(math.isfinite(row["critic_loss"]) for row in history.train)


def test_task_per_env_pins_each_parallel_env_to_one_task():
    from amago_edu.train import build_env_fn, build_envs

    config = TrainConfig.preset("fast", env="popgym/RepeatFirstEasy,popgym/HigherLowerEasy", env_kwargs={},
                                num_envs=4, task_per_env=True)
    for i, expected in enumerate(["popgym/RepeatFirstEasy", "popgym/HigherLowerEasy"] * 2):
        env = build_env_fn(config, 0)(i)
        assert {env.reset()[1]["task"] for _ in range(6)} == {expected}
    with pytest.raises(ValueError, match="multiple of the 2 tasks"):
        build_envs(TrainConfig.preset("fast", env=config.env, env_kwargs={}, num_envs=3, task_per_env=True))
