"""Metrics of a run: ``metrics.jsonl`` (one JSON row per line), ``metrics.csv`` and ``History``.

Rows are dicts with ``kind`` ("train", "eval" or "nonfinite"), ``update``, ``env_steps``, ``wall_time``
and the diagnostics or evaluation results (see ``amago_edu.train``).
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .utils import atomic_path


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """Rows of ``<run_dir>/metrics.jsonl`` (or of the ``.jsonl`` file given directly), in order.

    A run killed mid-write can leave a half-written last line: it is skipped with a warning. A
    malformed line anywhere else means the file is corrupt and raises ``ValueError``.
    """
    path = Path(run_dir)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"run_dir={str(run_dir)!r}: no metrics file at {str(path)!r}; pass a run folder "
                                "written by amago_edu.train (or the metrics.jsonl file itself)")
    lines = path.read_text().splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):
                warnings.warn(f"{path}: skipping the truncated last line {number} (the run was probably "
                              "interrupted while writing it)", RuntimeWarning, stacklevel=2)
                continue
            raise ValueError(f"{path}: line {number} is not valid JSON ({err.msg}); the file is corrupt") from err
    return rows


@dataclass
class History:
    """What a run produced: its folder and every metrics row (train, eval and nonfinite)."""

    run_dir: Path
    rows: list[dict] = field(default_factory=list)

    @property
    def evals(self) -> list[dict]:
        return [r for r in self.rows if r["kind"] == "eval"]

    @property
    def train(self) -> list[dict]:
        return [r for r in self.rows if r["kind"] == "train"]

    @property
    def final_eval(self) -> dict | None:
        return self.evals[-1] if self.evals else None

    @classmethod
    def load(cls, run_dir: str | Path) -> "History":
        return cls(Path(run_dir), read_metrics_rows(Path(run_dir) / "metrics.jsonl"))


def read_metrics_rows(path: Path) -> list[dict]:
    """Like :func:`read_metrics`, but a missing file gives no rows and only metrics rows are kept."""
    path = Path(path)
    if not path.exists():
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a half last line after a kill is expected here
        rows = read_metrics(path)
    return [r for r in rows if isinstance(r, dict) and "kind" in r and "update" in r]


class MetricsWriter:
    """Appends rows to metrics.jsonl (one flushed line each) and rewrites metrics.csv from them."""

    def __init__(self, run_dir: Path, rows: list[dict]):
        self.jsonl, self.csv = run_dir / "metrics.jsonl", run_dir / "metrics.csv"
        self.rows = rows

    def write(self, row: dict) -> None:
        self.rows.append(row)
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()

    def rewrite(self) -> None:
        """Replace metrics.jsonl by exactly ``self.rows`` (resume: drops rows newer than the checkpoint)."""
        with atomic_path(self.jsonl) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in self.rows))
        self.write_csv()

    def write_csv(self) -> None:
        flat = [_flatten(r) for r in self.rows]
        columns = list(dict.fromkeys(k for r in flat for k in r))
        with atomic_path(self.csv) as tmp:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(flat)


def _flatten(row: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "/"))
        elif isinstance(value, list):
            out.update({f"{name}/{i}": v for i, v in enumerate(value)})
        else:
            out[name] = value
    return out
