"""Data-parallel training under torchrun (gloo on CPU): two processes, weights stay identical."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

TORCHRUN = Path(sys.executable).with_name("torchrun")


def test_torchrun_two_processes_keep_identical_parameters(tmp_path):
    run_dir = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AMAGO_EDU_HEADLESS": "1", "PYTHONPATH": str(ROOT)}
    command = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", "-m", "amago_edu.train", "--preset", "fast",
               "--total-updates", "12", "--eval-interval", "12", "--checkpoint-interval", "6", "--log-interval", "6",
               "--run-dir", str(run_dir)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    [sync] = [r for r in rows if r["kind"] == "distributed"]
    assert sync == {**sync, "world_size": 2, "params_in_sync": True, "update": 12}
    assert [r["update"] for r in rows if r["kind"] == "train"] == [6, 12]  # rank 0 alone writes metrics
    # each process collected its own experience into its own replay folder
    assert list((run_dir / "replay").glob("*.npz")) and list((run_dir / "replay-rank1").glob("*.npz"))
    assert (run_dir / "checkpoints" / "latest.pt").exists()
