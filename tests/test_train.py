"""The training system end to end on the FAST preset: files, determinism, resume, bf16, numerical guard."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch

import amago_edu.train as train_module
from amago_edu.agent import Agent
from amago_edu.config import TrainConfig
from amago_edu.replay import TrajectoryStore, sample_length_groups
from amago_edu.course.recording import play_frozen_lake_trial
from amago_edu.evaluation import kept_checkpoints, load_agent
from amago_edu.train import History, NonFiniteLossError, Progress, read_metrics_rows, train
from conftest import ROOT
from helpers import small_config


def without_wall_time(rows):
    return [{k: v for k, v in row.items() if k != "wall_time"} for row in rows]


def test_fast_run_writes_every_file(fast_run):
    config, history = fast_run
    run_dir = history.run_dir
    assert TrainConfig.load(run_dir / "config.json") == config
    rows = read_metrics_rows(run_dir / "metrics.jsonl")
    assert rows == history.rows
    assert [r["update"] for r in history.train] == [5, 10, 15, 20]
    assert [r["update"] for r in history.evals] == [10, 20]
    for row in history.train:
        assert math.isfinite(row["critic_loss"]) and math.isfinite(row["actor_loss"]) and row["skipped"] == 0
    assert all(r["trials"] >= config.eval_trials for r in history.evals)
    csv_lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(rows) and "critic_loss" in csv_lines[0].split(",")
    checkpoint = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert checkpoint["state"]["update"] == 20
    assert checkpoint["state"]["env_steps"] == history.evals[-1]["env_steps"] > 0
    replay = sorted((run_dir / "replay").glob("*.npz"))
    assert len(replay) >= config.learning_starts
    for path in replay:
        assert TrajectoryStore.load(path)["rewards"].ndim == 1
    assert History.load(run_dir).final_eval == history.final_eval


def test_same_seed_same_metrics_other_seed_differs(fast_run, tmp_path):
    _, first = fast_run
    again = train(small_config(tmp_path / "again"))
    assert without_wall_time(again.rows) == without_wall_time(first.rows)
    other = train(small_config(tmp_path / "other", seed=1, total_updates=5, eval_interval=5))
    assert other.train[0]["critic_loss"] != first.train[0]["critic_loss"]


class StopAt:
    """A callback that interrupts the run (as an exception would) when a given update is logged."""

    def __init__(self, update: int):
        self.update = update

    def on_train_log(self, row):
        if row["update"] == self.update:
            raise KeyboardInterrupt


def test_resume_continues_from_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(small_config(run_dir), callbacks=[StopAt(15)])  # last checkpoint: update 10
    checkpoint = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)["state"]
    assert checkpoint["update"] == 10
    first_part = {p.name for p in (run_dir / "replay").glob("*.npz")}
    assert [r["update"] for r in read_metrics_rows(run_dir / "metrics.jsonl") if r["kind"] == "train"] == [5, 10, 15]

    history = train(small_config(run_dir, resume=True, total_updates=30))
    # update 15 is logged once (the stale row from the first part was dropped), nothing restarts at 5
    assert [r["update"] for r in history.train] == [5, 10, 15, 20, 25, 30]
    assert [r["update"] for r in history.evals] == [10, 20, 30]
    resumed = history.train[2]
    assert resumed["env_steps"] > checkpoint["env_steps"]
    assert first_part <= {p.name for p in (run_dir / "replay").glob("*.npz")}
    assert torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)["state"]["update"] == 30
    assert read_metrics_rows(run_dir / "metrics.jsonl") == history.rows


def test_resume_after_finished_run_extends_it(fast_run, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(fast_run[1].run_dir, run_dir)
    history = train(small_config(run_dir, resume=True, total_updates=30))
    assert [r["update"] for r in history.train] == [5, 10, 15, 20, 25, 30]
    assert without_wall_time(history.rows[:6]) == without_wall_time(fast_run[1].rows)  # the first 20 updates kept


def test_keep_checkpoints_keeps_every_snapshot(tmp_path):
    run_dir = tmp_path / "run"
    train(small_config(run_dir, keep_checkpoints=True))
    kept = kept_checkpoints(run_dir)
    assert list(kept) == [10, 20]  # the periodic ones; the final one (20) is the same snapshot
    for update, path in kept.items():
        assert torch.load(path, weights_only=True)["state"]["update"] == update
    latest = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)["agent"]
    at_10 = load_agent(run_dir, update=10)[0].state_dict()
    at_20 = load_agent(run_dir, update=20)[0].state_dict()
    assert all(torch.equal(at_20[k], latest[k]) for k in latest)
    assert not all(torch.equal(at_10[k], latest[k]) for k in latest)  # ten updates moved the weights
    with pytest.raises(ValueError, match=r"no checkpoint at update 15; kept: \[10, 20\]"):
        load_agent(run_dir, update=15)
    # a run without the option keeps only latest.pt
    train(small_config(tmp_path / "plain"))
    assert kept_checkpoints(tmp_path / "plain") == {}


def test_bf16_autocast_on_cpu_gives_finite_losses(tmp_path, monkeypatch):
    autocast_seen = []
    original = Agent.loss

    def loss(self, batch):
        autocast_seen.append(torch.is_autocast_enabled("cpu"))
        return original(self, batch)

    monkeypatch.setattr(Agent, "loss", loss)
    history = train(small_config(tmp_path / "bf16", mixed_precision="bf16", total_updates=4, log_interval=2,
                                 eval_interval=4, checkpoint_interval=4))
    assert autocast_seen == [True] * 4  # the bf16 path really ran, once per update
    assert len(history.train) == 2
    for row in history.train:
        assert math.isfinite(row["critic_loss"]) and math.isfinite(row["actor_loss"])


def nan_critic_on(calls: set):
    """Agent.loss that returns a NaN critic loss on the given (1-based) calls."""
    original, count = Agent.loss, [0]

    def loss(self, batch):
        out = original(self, batch)
        count[0] += 1
        if count[0] in calls:
            nan = torch.tensor(float("nan"))
            out = {**out, "critic_loss": nan, "loss": out["loss"] + nan}
        return out

    return loss


def test_nonfinite_loss_is_skipped_and_logged(tmp_path, monkeypatch):
    monkeypatch.setattr(Agent, "loss", nan_critic_on({3, 4}))
    history = train(small_config(tmp_path / "run", total_updates=10))
    skips = [r for r in history.rows if r["kind"] == "nonfinite"]
    # calls 1, 2 are updates 1, 2; calls 3, 4 were both attempts at update 3
    assert [(r["update"], r["terms"], r["in_a_row"]) for r in skips] == [(3, "critic_loss", 1), (3, "critic_loss", 2)]
    assert [(r["update"], r["skipped"]) for r in history.train] == [(5, 2), (10, 0)]
    assert history.train[-1]["update"] == 10  # skipped updates are not counted
    assert read_metrics_rows(tmp_path / "run" / "metrics.jsonl") == history.rows


def test_nonfinite_losses_in_a_row_stop_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(Agent, "loss", nan_critic_on(set(range(3, 100))))
    with pytest.raises(NonFiniteLossError, match="3 non-finite losses in a row .last: critic_loss"):
        train(small_config(tmp_path / "run", max_nonfinite_updates=3))
    rows = read_metrics_rows(tmp_path / "run" / "metrics.jsonl")
    assert [(r["kind"], r["update"], r.get("in_a_row")) for r in rows] == [
        ("nonfinite", 3, 1), ("nonfinite", 3, 2), ("nonfinite", 3, 3)]


@pytest.mark.parametrize("overrides, message", [
    (dict(env="toy/no_such_task"), "unknown env id 'toy/no_such_task'"),
    (dict(env="popgym/NoSuchGame"), "unknown env id 'popgym/NoSuchGame'"),
    (dict(env="toy/meta_frozen_lake,,toy/tmaze"), "env must name an environment"),  # "id," is a mixture of one
    (dict(env_kwargs={"sise": 3}), "env_kwargs {'sise': 3} do not fit env 'toy/meta_frozen_lake'"),
    (dict(reward_scales=(1.0, 2.0)), "reward_scales must be a list of 1 positive numbers"),
    (dict(lr=float("nan")), "lr must be finite"),
    (dict(total_updates=0), "total_updates must be >= 1"),
    (dict(batch_size=8.0), "batch_size must be an integer"),
    (dict(mixed_precision="fp16"), "mixed_precision must be 'auto', 'bf16' or 'no'"),
    (dict(n_heads=3), "n_heads must divide d_model"),
    (dict(buffer_capacity=2), r"buffer_capacity \(2\) must be >= learning_starts \(4\)"),
    (dict(device="cuda:0" if not torch.cuda.is_available() else "tpu"), "device"),
])
def test_bad_config_or_env_raises_before_writing(tmp_path, overrides, message):
    run_dir = tmp_path / "run"
    with pytest.raises(ValueError, match=message):
        train(small_config(run_dir, **overrides))
    assert not run_dir.exists()


def test_mixture_from_comma_separated_ids(tmp_path):
    config = small_config(tmp_path / "mix", env="toy/meta_frozen_lake, toy/meta_frozen_lake", total_updates=5,
                          eval_interval=5, reward_scales=(1.0, 10.0))
    history = train(config)
    assert history.final_eval["update"] == 5
    assert json.loads((tmp_path / "mix" / "config.json").read_text())["reward_scales"] == [1.0, 10.0]


def test_progress_bar_of_a_time_capped_run_shows_the_time_budget():
    """A 10-minute run stops on time long before total_updates: its bar runs over minutes, not updates."""
    timed = Progress(TrainConfig.preset("fast", max_minutes=10.0, total_updates=20000), 0, 0.0, disable=False)
    timed.advance(1234, 300.0, critic="1.000")
    shown = str(timed.bar)
    assert timed.bar.total == 10.0 and timed.bar.n == 5.0 and " 50%" in shown
    assert "5.0/10 min" in shown and "update=1,234/20,000" in shown and "critic=1.000" in shown, shown
    timed.advance(5000, 700.0)  # the final evaluation runs past the limit: the bar stays full
    assert timed.bar.n == 10.0
    timed.close()
    untimed = Progress(TrainConfig.preset("fast", max_minutes=0.0), 3, 0.0, disable=False)
    untimed.advance(7, 1.0)
    assert untimed.bar.total == 40 and untimed.bar.n == 7 and "min" not in str(untimed.bar)
    untimed.close()


@pytest.fixture
def keep_torch_threads():
    """The benchmarks set torch's thread count for the process: put it back for the tests after."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def benchmark(script: str, *args: str) -> subprocess.CompletedProcess:
    """A benchmark script through its command line (scripts are not a package: tests never import them)."""
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_length_groups_train_and_the_benchmark_times_them_on_the_runs_replay(tmp_path, capsys, monkeypatch,
                                                                              keep_torch_threads):
    draws = []

    def counted(*args):
        draws.append(args[-1])
        return sample_length_groups(*args)

    monkeypatch.setattr(train_module, "sample_length_groups", counted)
    # 4 updates per collection round and groups of 3: 10 updates use 4 draws, the batches carry over between rounds
    history = train(small_config(tmp_path / "grouped", length_groups=3, total_updates=10, eval_interval=10))
    assert history.final_eval["update"] == 10 and math.isfinite(history.train[-1]["critic_loss"])
    assert draws == [3, 3, 3, 3]
    files = sorted((tmp_path / "grouped" / "replay").glob("*.npz"))
    done = benchmark("length_groups.py", str(tmp_path / "grouped"), "--groups", "1", "3", "--repeats", "2", "--threads", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout.splitlines()[-2:]
    assert [line.split()[0] for line in table] == ["1", "3"]
    assert all(float(line.split()[1]) > 0 and int(line.split()[3]) > 0 for line in table)  # ms/update, valid transitions
    assert sorted((tmp_path / "grouped" / "replay").glob("*.npz")) == files  # the benchmark removed nothing


def test_held_out_benchmark_prints_each_runs_success_by_attempt(fast_run, capsys, tmp_path, keep_torch_threads):
    config, history = fast_run
    done = benchmark("held_out.py", str(history.run_dir), "--trials", "4")
    assert done.returncode == 0, done.stderr[-2000:]
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith(f"{history.run_dir} (toy/meta_frozen_lake, ") and line.count("+-") == config.episodes_per_trial
    done = benchmark("held_out.py", str(history.run_dir), "--trials", "4", "--greedy")
    assert "held-out trials, greedy): success by attempt" in done.stdout
    done = benchmark("held_out.py", str(tmp_path / "no_run"))
    assert done.returncode != 0 and "no checkpoints/latest.pt" in done.stderr


def test_a_recorded_frozen_lake_trial_replays_the_same_for_its_seed(fast_run):
    config, history = fast_run
    agent, _ = load_agent(history.run_dir)
    state = torch.get_rng_state()
    first = [play_frozen_lake_trial(agent, config, seed=s, device="cpu") for s in (3, 4)]
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(3)
    again = [play_frozen_lake_trial(agent, config, seed=s, device="cpu") for s in (4, 3)][::-1]  # order does not matter
    assert [t["paths"] for t in again] == [t["paths"] for t in first]
    assert [t["outcomes"] for t in again] == [t["outcomes"] for t in first]
