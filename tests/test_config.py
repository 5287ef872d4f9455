"""Tests for amago_edu.config: every setting is validated with one clear error naming the field, presets and saved
configs load, and the command line is built from the fields (help, presets, explicit env)."""

import json
import re

import pytest

from amago_edu.config import TrainConfig, config_from_args
from amago_edu.envs import make_env

NAN, INF = float("nan"), float("inf")


CONFIG_CASES = [
    # wrong types
    (dict(batch_size="8"), "batch_size must be an integer, got '8'"),
    (dict(num_envs=True), "num_envs must be an integer, got True"),
    (dict(total_updates=1.5), "total_updates must be an integer, got 1.5"),
    (dict(lr="fast"), "lr must be a number, got 'fast'"),
    (dict(dropout="none"), "dropout must be a number, got 'none'"),
    (dict(eval_sample="yes"), "eval_sample must be true or false, got 'yes'"),
    (dict(env=5), "env must be a string, got 5"),
    (dict(env_kwargs=[("size", 3)]), r"env_kwargs must be a dict, got \[\('size', 3\)\]"),
    (dict(gammas=None), "gammas must be a list of numbers, got None"),
    (dict(value_low=None), "value_low must be a number, got None"),
    # NaN / inf
    (dict(lr=NAN), "lr must be finite, got nan"),
    (dict(max_minutes=INF), "max_minutes must be finite, got inf"),
    (dict(tau=NAN), "tau must be finite, got nan"),
    (dict(gammas=(0.9, NAN)), r"gammas must hold finite numbers, got nan in \(0.9, nan\)"),
    (dict(reward_scales=(1.0, INF)), r"reward_scales must hold finite numbers, got inf in \(1.0, inf\)"),
    # out of range
    (dict(episodes_per_trial=0), "episodes_per_trial must be >= 1, got 0"),
    (dict(length_groups=0), "length_groups must be >= 1, got 0"),
    (dict(seed=-1), "seed must be >= 0, got -1"),
    (dict(epsilon_start=1.5), r"epsilon_start must lie in \[0, 1\], got 1.5"),
    (dict(gammas=(0.9, 1.0)), r"gammas must all lie in \(0, 1\), got 1.0"),
    (dict(reward_scales=(1.0, -2.0)), "reward_scales must be finite positive numbers, got -2.0"),
    (dict(context_length=1), "context_length must be an integer >= 2, got 1"),
    (dict(n_heads=3), "n_heads must divide d_model, got d_model=64, n_heads=3"),
    (dict(value_low=10.0, value_high=1.0), "value_low must be smaller than value_high, got 10.0 >= 1.0"),
    (dict(buffer_capacity=3), r"buffer_capacity \(3\) must be >= learning_starts \(4\)"),
    # unknown names
    (dict(critic="ppo"), "critic must be one of .'two_hot', 'popart', 'mse'., got 'ppo'"),
    (dict(actor="sac"), "actor must be one of .'filtered_bc', 'max_q'., got 'sac'"),
    (dict(mixed_precision="fp16"), "mixed_precision must be 'auto', 'bf16' or 'no', got 'fp16'"),
    (dict(vector_mode="threads"), "vector_mode must be 'sync' or 'async', got 'threads'"),
    (dict(device="tpu"), "device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'tpu'"),
    # empty
    (dict(env=""), "env must name an environment"),
    (dict(env="toy/tmaze,,toy/tmaze"), "env must name an environment .or comma-separated ids."),
    (dict(run_dir=""), "run_dir must name a folder"),
    (dict(gammas=()), "gammas must be a non-empty list"),
    (dict(reward_scales=()), "reward_scales must be None or a non-empty list"),
    # contradictions
    (dict(resume=True, overwrite=True), "resume and overwrite are mutually exclusive"),
]


@pytest.mark.parametrize("overrides, message", CONFIG_CASES)
def test_train_config_rejects(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.preset("fast", **overrides).validate()


def test_train_config_unknown_names():
    with pytest.raises(ValueError, match=r"unknown preset 'huge'; choose one of \[.*'fast'.*'frozen_lake'"):
        TrainConfig.preset("huge")
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        TrainConfig(learning_rate=1e-3)


def test_train_config_load_rejects_bad_files(tmp_path):
    (tmp_path / "typo.json").write_text(json.dumps({"env": "toy/tmaze", "lr_rate": 1e-3}))
    with pytest.raises(ValueError, match=r"unknown config fields \['lr_rate'\]"):
        TrainConfig.load(tmp_path / "typo.json")
    (tmp_path / "half.json").write_text('{"env": "toy/')
    with pytest.raises(ValueError, match="cannot read a config from .*half.json"):
        TrainConfig.load(tmp_path / "half.json")


def test_every_preset_is_valid():
    from amago_edu.config import PRESETS

    for name in PRESETS:
        TrainConfig.preset(name).validate()


CLI_CASES = [
    (["--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
    (["--lr", "nan"], "lr must be finite, got nan"),
    (["--total-updates", "-5"], "total_updates must be >= 1, got -5"),
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--env-kwargs", "[1]"], "must be a JSON object"),
    (["--env-kwargs", "{size: 3}"], "not valid JSON"),
    (["--gammas"], "argument --gammas: expected at least one argument"),
    (["--batch-szie", "8"], "unrecognized arguments: --batch-szie"),
    (["--resume", "--overwrite"], "resume and overwrite are mutually exclusive"),
    (["--device", "gpu"], "device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'gpu'"),
]


@pytest.mark.parametrize("argv, message", CLI_CASES)
def test_command_line_rejects(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        config_from_args(["--preset", "fast", *argv] if "--preset" not in argv else argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and re.search(message, err), err


def test_help_lists_every_field(capsys):
    # a "%" in a field's docstring (e.g. "75%") once made argparse crash while formatting --help
    with pytest.raises(SystemExit) as exit_info:
        config_from_args(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--random-shift" in out and "last 75% of each batch" in out



def test_explicit_env_drops_the_presets_env_specific_settings(capsys):
    """``--preset fast --env popgym/CountRecallEasy``: the preset's frozen-lake {"size": 3} must not reach POPGym."""
    config = config_from_args(["--preset", "fast", "--env", "popgym/CountRecallEasy"])
    assert config.env == "popgym/CountRecallEasy" and config.env_kwargs == {}
    note = capsys.readouterr().err
    assert note.count("\n") == 1 and "the preset's env_kwargs={'size': 3} are not used" in note, note
    pytest.importorskip("popgym")
    make_env(config.env, episodes_per_trial=config.episodes_per_trial, **config.env_kwargs).close()
    # a mixture's per-task reward scales go too; the preset's own env, or explicit settings, keep them
    assert config_from_args(["--preset", "scale_ablation", "--env", "popgym/CountRecallEasy"]).reward_scales is None
    assert config_from_args(["--preset", "fast", "--env", "toy/meta_frozen_lake"]).env_kwargs == {"size": 3}
    kept = config_from_args(["--preset", "fast", "--env", "toy/tmaze", "--env-kwargs", '{"corridor_length": 5}'])
    assert kept.env_kwargs == {"corridor_length": 5}
    assert capsys.readouterr().err.count("note:") == 1  # only the scale_ablation line
