"""Notebook 05's experiment at full size: in-context adaptation needs a context that holds the previous attempt.

    python benchmarks/context_length.py                                # trains both agents (about 2 x 10 min on 2 cores)
    python benchmarks/context_length.py --full-run runs/main-<stamp>   # reuse `make run`'s agent as the full one
    python benchmarks/context_length.py --fast                         # a smoke test in seconds

Three agents on meta frozen lake (preset ``frozen_lake``: 4x4 maps, k = 5 attempts):

* **full context**: the preset as it is (context 81 = the whole trial);
* **short context**: ``context_length`` 4, so a few steps into an attempt nothing of the previous one is left;
  trained for as many updates as the full agent, with the same number of transitions per update (more, shorter
  windows);
* **untrained**: the full agent's architecture at its initialisation (seed 0).

Each plays ``--trials`` trials on held-out maps (``split="test"``, seeds no run used); the script prints success
by attempt with standard errors and the in-context improvement (last attempt - first), writes
``data/results/in_context_frozen_lake.json`` and exports the two trained agents to ``data/checkpoints/``
(``frozen_lake``, ``frozen_lake_short_context``), which notebook 05 shows in FAST mode.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from amago_edu.course.artefacts import export_agent
from amago_edu.config import TrainConfig
from amago_edu.metrics import History
from amago_edu.results import DATA_DIR, versions
from amago_edu.train import train
from amago_edu.evaluation import agent_for, load_agent, measure_held_out
from amago_edu.utils import atomic_path


SHORT_CONTEXT = 4
EVAL_KEYS = ("kind", "update", "env_steps", "wall_time", "success", "return", "attempt_success", "attempt_return")


def short_overrides(full: TrainConfig, context: int) -> dict:
    """The short agent's context and batch: the same transitions per update as the full agent (more windows)."""
    return dict(context_length=context, batch_size=full.batch_size * full.window // (context - 1))


def row(name: str, result: dict, updates: int | None) -> dict:
    keep = ("trials", "attempt_success", "attempt_success_se", "improvement")
    return {"agent": name, "updates": updates, **{k: result[k] for k in keep}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full-run", default=None, help="a finished frozen_lake run to use as the full agent")
    parser.add_argument("--full-run-command", default=None,
                        help="the command that made --full-run (stored with the exported agent), e.g. 'make run'")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-time budget of each training run")
    parser.add_argument("--trials", type=int, default=256, help="held-out trials per agent")
    parser.add_argument("--run-root", default="runs/context_length")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fast", action="store_true", help="the fast preset, a few updates: checks the script only")
    parser.add_argument("--out", default=None, help="results JSON (default: data/results/in_context_frozen_lake.json; "
                        "--fast: <run-root>/in_context_fast.json, and nothing is exported)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    preset, extra = ("fast", {}) if args.fast else ("frozen_lake", {"max_minutes": args.minutes})
    common = dict(overwrite=True, num_threads=args.threads, **extra)
    runs, updates = {}, {}
    if args.full_run:
        full = TrainConfig.load(Path(args.full_run) / "config.json")
        runs["full"] = Path(args.full_run)
    else:
        full = TrainConfig.preset(preset, run_dir=f"{args.run_root}/full", **common)
        runs["full"] = train(full).run_dir
    # the short agent gets as many updates as the full one had (not a wall-time budget: on a shared machine
    # the two would otherwise differ), each with as many transitions
    full_updates = History.load(runs["full"]).rows[-1]["update"]
    short = TrainConfig.preset(preset, run_dir=f"{args.run_root}/short", **{**common, "max_minutes": 0.0},
                               total_updates=full_updates, **short_overrides(full, 2 if args.fast else SHORT_CONTEXT))
    start = time.time()
    runs["short"] = train(short).run_dir
    short_wall = time.time() - start

    agents = {}
    for name in ("full", "short"):
        agents[name], _ = load_agent(runs[name])
        updates[name] = History.load(runs[name]).rows[-1]["update"]
    torch.manual_seed(0)
    agents["untrained"], updates["untrained"] = agent_for(full).eval(), 0
    labels = {"full": f"context = whole trial ({full.context_length})", "short": f"context = {short.context_length} steps",
              "untrained": "untrained"}
    rows = []
    for name, agent in agents.items():
        result = measure_held_out(agent, full if name != "short" else short, args.trials)
        rows.append(row(labels[name], result, updates[name]))
        cells = ", ".join(f"{s:.3f}+-{se:.3f}" for s, se in zip(result["attempt_success"], result["attempt_success_se"]))
        print(f"{labels[name]:>28} ({updates[name]:>6} updates): success by attempt {cells}; "
              f"improvement {result['improvement']:+.3f}")
    record = {"command": shlex.join(["python", *sys.argv]), "versions": versions(), "preset": preset,
              "full_run": str(runs["full"]), "short_run": str(runs["short"]), "short_train_wall_s": round(short_wall, 1),
              "trials": args.trials, "rows": rows}
    out = Path(args.out or (f"{args.run_root}/in_context_fast.json" if args.fast
                            else DATA_DIR / "results" / "in_context_frozen_lake.json"))
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}")
    if not args.fast:
        for name, artefact, parts in (("full", "frozen_lake", None), ("short", "frozen_lake_short_context",
                                                                         ("encoder", "transformer", "actor"))):
            made_by = args.full_run_command if name == "full" and args.full_run_command else record["command"]
            history = History.load(runs[name])
            evals = [{key: r[key] for key in EVAL_KEYS if key in r} for r in history.evals]
            meta = {"command": made_by, "measured_by": record["command"], "updates": updates[name],
                    "train_minutes": history.rows[-1]["wall_time"] / 60, "evals": evals,
                    "results": "data/results/in_context_frozen_lake.json", "held_out": rows[0 if name == "full" else 1]}
            path = export_agent(runs[name], artefact, meta=meta, **({"parts": parts} if parts else {}))
            print(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
