"""Crash safety of ``python -m amago_edu.train``: SIGKILL at exact places, resume, and Ctrl-C.

A kill at a random time would make these tests flaky and would rarely land inside the short
windows that matter, so the runs go through ``tests/signal_at.py``: the training CLI with a callback whose n-th
visit to a point sends a signal to the process itself. Points: ``collect`` (right after a replay file is written,
mid-collection), ``update`` (after the optimizer step, before the update is counted, logged or checkpointed) and
``checkpoint`` (the new checkpoint is in its temporary file but not yet renamed over ``latest.pt``). A SIGKILL
delivered there is the same as one from outside at that instant.
"""

import csv
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from amago_edu.config import TrainConfig
from amago_edu.replay import TrajectoryStore
from amago_edu.train import read_metrics_rows, train

ROOT = Path(__file__).resolve().parents[2]
# 40 updates, a row every 5, evaluations at 20 and 40, checkpoints every 10
SETTINGS = dict(total_updates=40, log_interval=5, eval_interval=20, checkpoint_interval=10, eval_trials=4)
ARGS = ["--preset", "fast"] + [f"--{k.replace('_', '-')}={v}" for k, v in SETTINGS.items()]
TRAIN_UPDATES = list(range(5, 41, 5))



def run_cli(run_dir: Path, *extra: str, signal_at: str | None = None) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "AMAGO_EDU_HEADLESS": "1", "PATH": os.environ["PATH"]}
    command = [str(ROOT / "tests" / "system" / "signal_at.py"), signal_at] if signal_at else ["-m", "amago_edu.train"]
    return subprocess.run([sys.executable, *command, *ARGS, f"--run-dir={run_dir}", *extra],
                          capture_output=True, text=True, env=env, timeout=300)


def checkpoint_update(run_dir: Path) -> int:
    return torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)["state"]["update"]


def kinds_and_updates(rows):
    return [(r["kind"], r["update"]) for r in rows]


def assert_intact(run_dir: Path) -> None:
    """What must hold after a kill at any moment: every file a reader sees is complete."""
    checkpoint = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert checkpoint["state"]["update"] % SETTINGS["checkpoint_interval"] == 0
    replay = [p for p in (run_dir / "replay").glob("*.npz") if not p.name.startswith(".tmp-")]
    assert replay
    for path in replay:
        TrajectoryStore.load(path)  # raises on a truncated file
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(read_metrics_rows(run_dir / "metrics.jsonl")) == len(lines)  # no half line
    with open(run_dir / "metrics.csv", newline="") as f:
        table = list(csv.reader(f))
    assert all(len(row) == len(table[0]) for row in table)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The same run, never interrupted (in-process: same code, no startup cost)."""
    run_dir = tmp_path_factory.mktemp("crash") / "uninterrupted"
    history = train(TrainConfig.preset("fast", run_dir=str(run_dir), **SETTINGS))
    return run_dir, history


def test_uninterrupted_reference(uninterrupted):
    run_dir, history = uninterrupted
    assert [r["update"] for r in history.train] == TRAIN_UPDATES
    assert checkpoint_update(run_dir) == 40


def test_sigkill_at_three_points_then_resume_matches_uninterrupted(tmp_path, uninterrupted):
    run_dir = tmp_path / "run"
    killed = -signal.SIGKILL

    # 1. killed mid-collection (its 16th replay file, of 27 in the whole run), after the first checkpoint
    result = run_cli(run_dir, signal_at="collect:16:KILL")
    assert result.returncode == killed, result.stderr
    assert_intact(run_dir)
    first = checkpoint_update(run_dir)
    assert first in (10, 20)  # the exact place depends on trial lengths (seeded, so fixed on CPU)
    replay_before = {p.name for p in (run_dir / "replay").glob("*.npz")}

    # 2. resumed, then killed during its 15th update: the checkpoint 10 updates in was written on the way
    result = run_cli(run_dir, "--resume", signal_at="update:15:KILL")
    assert result.returncode == killed, result.stderr
    assert_intact(run_dir)
    assert checkpoint_update(run_dir) == first + 10
    assert replay_before <= {p.name for p in (run_dir / "replay").glob("*.npz")}  # the first part's replay kept
    logged = [r["update"] for r in read_metrics_rows(run_dir / "metrics.jsonl") if r["kind"] == "train"]
    assert logged == list(range(5, first + 11, 5))  # each row once, none from a restart at update 0

    # 3. resumed, then killed while writing its first checkpoint: latest.pt keeps the previous one
    result = run_cli(run_dir, "--resume", signal_at="checkpoint:1:KILL")
    assert result.returncode == killed, result.stderr
    assert_intact(run_dir)
    assert checkpoint_update(run_dir) == first + 10
    assert len(list((run_dir / "checkpoints").glob(".tmp-*"))) == 1  # the unfinished write, never read
    assert read_metrics_rows(run_dir / "metrics.jsonl")[-1]["update"] == first + 20  # newer than the checkpoint
    # a kill inside a write(): half a metrics line and a half-written replay temp file
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"kind": "train", "update": 35, "env_st')
    (run_dir / "replay" / ".tmp-abc123.npz").write_bytes(b"PK\x03\x04 half a zip")

    # 4. resumed to the end
    result = run_cli(run_dir, "--resume")
    assert result.returncode == 0, result.stderr
    assert_intact(run_dir)
    assert checkpoint_update(run_dir) == checkpoint_update(uninterrupted[0]) == 40
    rows = read_metrics_rows(run_dir / "metrics.jsonl")
    assert kinds_and_updates(rows) == kinds_and_updates(uninterrupted[1].rows)  # each row once, in order
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == len(rows)  # the half line is gone
    env_steps = [r["env_steps"] for r in rows]
    assert env_steps == sorted(env_steps)
    assert not list(run_dir.rglob(".tmp-*"))  # stale temp files were removed on resume
    assert len(list(csv.reader(open(run_dir / "metrics.csv")))) == 1 + len(rows)


@pytest.mark.parametrize("point", ["update:13", "collect:12"])
def test_ctrl_c_saves_checkpoint_and_exits_130(tmp_path, point):
    run_dir = tmp_path / "run"
    result = run_cli(run_dir, signal_at=point + ":INT")
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    stopped_at = int(re.search(r"interrupted at update (\d+): checkpoint saved", result.stderr).group(1))
    if point.startswith("update"):
        assert stopped_at == 13  # the update in flight is finished and counted, no further one starts
    else:  # the collection round finishes; no block of updates_per_collect=4 updates starts after it
        assert stopped_at % 4 == 0 and stopped_at >= 4
    assert checkpoint_update(run_dir) == stopped_at
    assert not list(run_dir.rglob(".tmp-*"))
    rows = read_metrics_rows(run_dir / "metrics.jsonl")
    assert all(r["update"] <= stopped_at for r in rows)
    if point.startswith("update"):
        # the checkpoint holds a whole update: resuming logs update 15 next, not 5 again
        result = run_cli(run_dir, "--resume")
        assert result.returncode == 0, result.stderr
        rows = read_metrics_rows(run_dir / "metrics.jsonl")
        assert [r["update"] for r in rows if r["kind"] == "train"] == TRAIN_UPDATES
        assert checkpoint_update(run_dir) == 40


def test_resume_with_nothing_to_resume_is_refused(tmp_path):
    result = run_cli(tmp_path / "never_started", "--resume")
    assert result.returncode == 2
    assert "cannot resume: " in result.stderr and "latest.pt does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_one_writer_per_run_folder_and_a_killed_writer_frees_it(tmp_path):
    """A second writer is refused with the first one's process id while it runs (resume and overwrite alike), and the
    folder is free again once that process is gone, however it ended (here SIGKILL: no cleanup ran)."""
    run_dir = tmp_path / "run"
    assert run_cli(run_dir, "--total-updates=10", "--checkpoint-interval=10").returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from amago_edu.train import RunLock; RunLock(Path(sys.argv[1])); print('locked', flush=True); "
                               "time.sleep(120)", str(run_dir)], stdout=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"]})
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = sorted((p.relative_to(run_dir), p.stat().st_mtime_ns) for p in run_dir.rglob("*"))
        for extra in ("--resume", "--overwrite"):
            result = run_cli(run_dir, extra)
            assert result.returncode == 2
            assert f"is in use: process {holder.pid} on" in result.stderr and "choose another --run-dir" in result.stderr
        assert sorted((p.relative_to(run_dir), p.stat().st_mtime_ns) for p in run_dir.rglob("*")) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    result = run_cli(run_dir, "--resume")
    assert result.returncode == 0, result.stderr
    assert checkpoint_update(run_dir) == 40
