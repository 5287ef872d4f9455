"""User mistakes get one clear error naming the problem, and a failed start changes nothing on disk.

Covers ``make_env``, the training command line (``main``), checkpoint loading and the run folder (the settings
themselves: tests/test_config.py). Each case asserts on the message text; an exception of another type
(a stack trace from deep inside torch) fails the test.
"""

import hashlib
import fractions
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from amago_edu.agent import Agent
from amago_edu.config import TrainConfig
from amago_edu.envs import make_env
from amago_edu.learning import make_optimizer
from amago_edu.train import check_run_dir, load_checkpoint, main, save_checkpoint, train

ROOT = Path(__file__).resolve().parents[2]
NAN, INF = float("nan"), float("inf")


MAKE_ENV_CASES = [
    (("toy/nope",), {}, ValueError, "unknown env id 'toy/nope'. Known families"),
    (("gym/CartPole-v1",), {}, ValueError, "unknown env id 'gym/CartPole-v1'"),
    (("babyai/NoSuchLevel",), {}, ValueError, "unknown BabyAI level 'NoSuchLevel'"),
    (([],), {}, ValueError, "spec must be an env id, a non-empty list of ids"),
    ((["toy/tmaze", 7],), {}, TypeError, "env ids must be strings like 'toy/tmaze', got 7"),
    (("toy/meta_frozen_lake",), {"sise": 3}, TypeError, "unexpected keyword argument 'sise'"),
    (("toy/meta_frozen_lake",), {"size": 1}, ValueError, "size must be an integer >= 2"),
    (("toy/meta_frozen_lake",), {"episodes_per_trial": 0}, ValueError, "episodes_per_trial must be an integer >= 1"),
    (("toy/meta_frozen_lake",), {"reward_scales": NAN}, ValueError, "every reward scale must be a finite number > 0"),
    ((["toy/tmaze", "toy/tmaze"],), {"reward_scales": [1.0]}, ValueError, "reward_scales must be a list of 2"),
]


@pytest.mark.parametrize("args, kwargs, error, message", MAKE_ENV_CASES)
def test_make_env_rejects(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        make_env(*args, **kwargs)


# -- checkpoints -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A finished 5-update FAST run: config.json, metrics, replay and checkpoints/latest.pt."""
    run_dir = tmp_path_factory.mktemp("bad_input") / "run"
    train(TrainConfig.preset("fast", run_dir=str(run_dir), total_updates=5, log_interval=5, eval_interval=5,
                             checkpoint_interval=5, eval_trials=4))
    return run_dir


def fresh_agent(**overrides):
    config = TrainConfig.preset("fast", **overrides)
    env = make_env(config.env, episodes_per_trial=config.episodes_per_trial, **config.env_kwargs)
    agent = Agent(env.observation_space, env.action_space, config)
    return (agent, *make_optimizer(agent))


def test_checkpoint_round_trip(tmp_path):
    agent, optimizer, scheduler = fresh_agent()
    state = {"update": 7, "env_steps": 70, "wall_time": 1.5, "eval_round": 2}
    save_checkpoint(tmp_path / "latest.pt", agent, optimizer, scheduler, state)
    other, other_optimizer, other_scheduler = fresh_agent(seed=1)
    assert load_checkpoint(tmp_path / "latest.pt", other, other_optimizer, other_scheduler) == state
    for a, b in zip(agent.state_dict().values(), other.state_dict().values()):
        torch.testing.assert_close(a, b)


def _write_foreign(path: Path, kind: str, run_folder: Path) -> None:
    real = (run_folder / "checkpoints" / "latest.pt").read_bytes()
    if kind == "text":
        path.write_text("this is not a checkpoint\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(real[: len(real) // 2])
    elif kind == "tensor":
        torch.save(torch.zeros(3), path)
    elif kind == "dict without state":
        torch.save({"agent": {}, "optimizer": {}}, path)
    elif kind == "pickled object":
        torch.save({"agent": fractions.Fraction(1, 3)}, path)  # weights_only refuses arbitrary classes


CHECKPOINT_CASES = [
    ("text", "is not a readable amago_edu checkpoint"),
    ("empty", "is not a readable amago_edu checkpoint"),
    ("truncated", "is not a readable amago_edu checkpoint"),
    ("tensor", r"is not an amago_edu checkpoint \(missing \['agent'"),
    ("dict without state", r"is not an amago_edu checkpoint \(missing \['scheduler', 'state', 'torch_rng'\]\)"),
    ("pickled object", "is not a readable amago_edu checkpoint"),
]


@pytest.mark.parametrize("kind, message", CHECKPOINT_CASES)
def test_load_checkpoint_rejects_foreign_files(tmp_path, run_folder, kind, message):
    path = tmp_path / "latest.pt"
    _write_foreign(path, kind, run_folder)
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path, *fresh_agent())


@pytest.mark.parametrize("overrides, message", [
    (dict(d_model=32, n_heads=4), "different architecture .*d_model: checkpoint 64, config 32"),
    (dict(critic="mse"), "different architecture .*critic: checkpoint 'two_hot', config 'mse'"),
    (dict(env="toy/tmaze", env_kwargs={}), "different architecture .*env spaces differ"),
])
def test_load_checkpoint_rejects_other_architecture(run_folder, overrides, message):
    with pytest.raises(ValueError, match=message):
        load_checkpoint(run_folder / "checkpoints" / "latest.pt", *fresh_agent(**overrides))


# -- failed starts leave the run folder byte-identical ----------------------------------------------
def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def corrupt_checkpoint(run_dir: Path) -> None:
    (run_dir / "checkpoints" / "latest.pt").write_text("garbage")


FAILED_START_CASES = [
    # (argv after --preset fast --run-dir DIR, prepare the folder, expected message)
    ([], None, "is not empty; pass --resume to continue it, --overwrite to delete it"),
    (["--overwrite", "--env", "toy/nope"], None, "unknown env id 'toy/nope'"),
    (["--overwrite", "--env-kwargs", '{"sise": 3}'], None, "env_kwargs {'sise': 3} do not fit env"),
    (["--resume", "--d-model", "32"], None, "different architecture .*d_model: checkpoint 64, config 32"),
    (["--resume"], corrupt_checkpoint, "is not a readable amago_edu checkpoint"),
    (["--resume", "--reward-scales", "1", "2"], None, "reward_scales must be a list of 1 positive numbers"),
]


@pytest.mark.parametrize("argv, prepare, message", FAILED_START_CASES)
def test_failed_start_leaves_run_folder_untouched(tmp_path, run_folder, argv, prepare, message, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(run_folder, run_dir)
    if prepare is not None:
        prepare(run_dir)
    before = snapshot(run_dir)
    assert main(["--preset", "fast", "--run-dir", str(run_dir), *argv]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("note: ")]  # e.g. --env drops env_kwargs
    assert lines[0].startswith("error: ") and re.search(message, err), err
    assert snapshot(run_dir) == before


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path):
    folder = tmp_path / "my_notes"
    folder.mkdir()
    (folder / "thesis.tex").write_text("months of work")
    config = TrainConfig.preset("fast", run_dir=str(folder), overwrite=True)
    with pytest.raises(ValueError, match="refusing to --overwrite .*my_notes: it is not empty and holds no amago_edu"):
        train(config)
    (folder / "config.json").write_text('{"name": "some other tool"}')  # a config.json, but not ours
    with pytest.raises(ValueError, match="refusing to --overwrite"):
        train(config)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "thesis.tex"]


def test_run_folder_rules(tmp_path, run_folder):
    check_run_dir(TrainConfig.preset("fast", run_dir=str(tmp_path / "new")))  # missing: fine
    (tmp_path / "empty").mkdir()
    check_run_dir(TrainConfig.preset("fast", run_dir=str(tmp_path / "empty"), overwrite=True))  # empty: fine
    check_run_dir(TrainConfig.preset("fast", run_dir=str(run_folder), overwrite=True))  # a run folder: fine
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        check_run_dir(TrainConfig.preset("fast", run_dir=str(tmp_path / "file")))
    with pytest.raises(ValueError, match="cannot resume: .*latest.pt does not exist"):
        check_run_dir(TrainConfig.preset("fast", run_dir=str(tmp_path / "empty"), resume=True))


def test_cli_subprocess_prints_one_error_line(tmp_path):
    """The real ``python -m amago_edu.train``: a user mistake is one line on stderr and exit code 2."""
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "amago_edu.train", "--preset", "fast", "--run-dir",
                             str(tmp_path / "run"), "--env", "toy/nope"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "unknown env id 'toy/nope'" in errors[0], result.stderr
    assert not (tmp_path / "run").exists()
