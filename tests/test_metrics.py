"""Tests for amago_edu.metrics: reading a run's metrics.jsonl back."""

import json

import pytest

from amago_edu.metrics import read_metrics
from helpers import ROWS


def test_read_metrics_round_trip_and_truncated_last_line(tmp_path):
    text = "\n".join(json.dumps(row) for row in ROWS) + "\n"
    (tmp_path / "metrics.jsonl").write_text(text + '{"kind": "eval", "upd')  # killed mid-write
    with pytest.warns(RuntimeWarning, match="truncated last line 5"):
        rows = read_metrics(tmp_path)
    assert rows == ROWS
    with pytest.warns(RuntimeWarning, match="truncated"):
        assert read_metrics(tmp_path / "metrics.jsonl") == ROWS


def test_read_metrics_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="run_dir"):
        read_metrics(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"kind": "tr\n{"kind": "eval"}\n')
    with pytest.raises(ValueError, match="line 1 is not valid JSON"):
        read_metrics(tmp_path)
