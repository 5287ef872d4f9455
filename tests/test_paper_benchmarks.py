"""The paper's other three benchmarks through make_env, and every paper and CPU preset training a few updates."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from amago_edu.config import PAPER_PRESETS, PRESETS, TrainConfig
from amago_edu.envs import make_env
from amago_edu.train import train

pytest.importorskip("metaworld")
pytest.importorskip("ale_py")
envpool = pytest.importorskip("envpool")

SHORT = {"metaworld": {"max_episode_steps": 6}, "atari": {"max_episode_steps": 6}, "procgen": {"max_episode_steps": 6}}


def family(spec: str) -> str:
    return spec.split("/")[0].split("-")[0]


@pytest.mark.parametrize("spec,k", [("metaworld/ML1/reach-v3", 3), ("atari/Pong", 1), ("procgen/coinrun", 2),
                                    ("procgen-easy-rescaled", 2)])
def test_make_env_builds_each_benchmark_to_the_contract(spec, k):
    env = make_env(spec, episodes_per_trial=k, seed=0, split="test", **SHORT[family(spec)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infinite / zero-width bounds of some inner spaces
        check_env(env, skip_render_check=True)
    assert env.episodes_per_trial == k


def test_rescaled_procgen_multiplies_coinrun_and_climber_only():
    env = make_env("procgen-easy-rescaled", seed=0, max_episode_steps=4)
    scales = {trial.task_name: trial.reward_scale for trial in env.envs}
    assert scales == {"procgen/coinrun": 100.0, "procgen/climber": 0.1, "procgen/jumper": 1.0, "procgen/ninja": 1.0,
                      "procgen/leaper": 1.0}
    plain = make_env("procgen-easy", seed=0, max_episode_steps=4)
    assert {trial.reward_scale for trial in plain.envs} == {1.0} and env.episodes_per_trial == 2


def test_meta_world_families_are_reported_per_family():
    env = make_env("metaworld/ML10", episodes_per_trial=2, seed=0, max_episode_steps=3)
    _, info = env.reset()
    assert info["task"] == f"metaworld/ML10/{env.unwrapped.family}"
    single = make_env("metaworld/ML1/reach-v3", seed=0, max_episode_steps=3)
    assert single.reset()[1]["task"] == "metaworld/ML1/reach-v3"  # not ".../reach-v3/reach-v3"


def shrunk(name: str, tmp_path, **extra) -> TrainConfig:
    """A preset at a size that trains a few updates in seconds; its env, trial format and losses unchanged."""
    base = PRESETS[name]
    env_kwargs = {**base.get("env_kwargs", {}), **SHORT.get(family(base["env"]), {})}
    if base["env"].startswith("babyai"):
        env_kwargs["max_steps"] = 6
    return TrainConfig.preset(
        name, run_dir=str(tmp_path / name), overwrite=True, d_model=16, n_layers=1, n_heads=2, tstep_hidden=16,
        head_hidden=16, num_critics=2, context_length=12, num_envs=2, task_per_env=False, collect_steps=4,
        updates_per_collect=1, learning_starts=1, batch_size=2, total_updates=2, max_minutes=0.0, eval_interval=2,
        eval_trials=2, checkpoint_interval=2, log_interval=1, warmup_updates=1, cnn_channels=(4, 4, 4),
        env_kwargs=env_kwargs, **extra).validate()


@pytest.mark.parametrize("name", list(PAPER_PRESETS) + ["metaworld_ml1", "metaworld_ml10", "atari_2", "procgen_easy"])
def test_each_paper_and_cpu_preset_validates_and_trains_a_few_updates_shrunk(name, tmp_path):
    TrainConfig.preset(name).validate()
    history = train(shrunk(name, tmp_path))
    assert history.final_eval["update"] == 2
    assert all(np.isfinite(row["critic_loss"]) for row in history.train)
