"""Learning targets on this CPU: train AMAGO-2 on three small tasks and print the evaluation curves.

    python benchmarks/learn.py                       # all three tasks (about 15 minutes on 2 cores)
    python benchmarks/learn.py --tasks tmaze --seed 1
    python benchmarks/learn.py --tasks tmaze --export   # also write data/checkpoints/tmaze.pt (notebook 04)

| task | preset | target (issue #4) |
|---|---|---|
| popgym/RepeatPreviousEasy | popgym | return >= 0.9 within 2.5 min |
| toy/tmaze (30-step corridor) | tmaze | success >= 0.95 within 2.5 min |
| toy/meta_frozen_lake (4x4, 5 attempts) | frozen_lake | last attempt >= 0.75 and >= first + 0.3 within 10 min |

Wall time counts from the start of each run (environment and agent construction included) and includes the
periodic evaluations. Each run folder keeps its metrics (runs/learn/<task>).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import torch

from amago_edu.course.artefacts import export_agent
from amago_edu.config import TrainConfig
from amago_edu.train import train

TASKS = {
    "repeat_previous": dict(preset="popgym", minutes=2.5, metric="return",
                            met=lambda row: row["return"] >= 0.9, target="return >= 0.9"),
    "tmaze": dict(preset="tmaze", minutes=2.5, metric="success",
                  met=lambda row: row["success"] >= 0.95, target="success >= 0.95"),
    "frozen_lake": dict(preset="frozen_lake", minutes=10.0, metric="attempt_success",
                        met=lambda row: row["attempt_success"][-1] >= 0.75
                        and row["attempt_success"][-1] >= row["attempt_success"][0] + 0.3,
                        target="last attempt >= 0.75 and >= first attempt + 0.3"),
}


def fmt(value):
    if isinstance(value, list):
        return "/".join("-" if v is None else f"{v:.2f}" for v in value)
    return "-" if value is None else f"{value:.3f}"


def run_task(name: str, seed: int, eval_interval: int | None) -> dict:
    spec = TASKS[name]
    overrides = dict(run_dir=f"runs/learn/{name}-seed{seed}", overwrite=True, seed=seed, max_minutes=spec["minutes"],
                     total_updates=10**6)
    if eval_interval:
        overrides["eval_interval"] = eval_interval
    config = TrainConfig.preset(spec["preset"], **overrides)
    print(f"\n=== {name}: {config.env}, k={config.episodes_per_trial}, budget {spec['minutes']} min, target: {spec['target']}")
    start = time.time()
    history = train(config)
    total = time.time() - start
    print(f"{'wall s':>8} {'updates':>8} {'env steps':>10}  {spec['metric']}")
    first_met = None
    for row in history.evals:
        met = spec["met"](row)
        if met and first_met is None:
            first_met = row
        print(f"{row['wall_time']:8.1f} {row['update']:8d} {row['env_steps']:10d}  {fmt(row[spec['metric']])}{'  <- target met' if met and row is first_met else ''}")
    final = history.final_eval
    if first_met:
        print(f"target first met after {first_met['wall_time']:.1f} s ({first_met['wall_time'] / 60:.2f} min), "
              f"{first_met['update']} updates, {first_met['env_steps']} env steps")
    else:
        print(f"target NOT met within {spec['minutes']} min; final {spec['metric']} = {fmt(final[spec['metric']])}")
    print(f"run wall time {total:.1f} s")
    return {"task": name, "met": first_met is not None, "final": final, "run_dir": history.run_dir,
            "updates": final["update"], "wall_s": round(total, 1),
            "first_met": None if first_met is None else {k: first_met[k] for k in ("wall_time", "update", "env_steps")}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-interval", type=int, default=None, help="override the presets' eval interval")
    parser.add_argument("--export", action="store_true",
                        help="write each trained agent to data/checkpoints/<task>.pt (notebook 04 shows the T-maze one)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    results = [run_task(name, args.seed, args.eval_interval) for name in args.tasks]
    print("\nsummary: " + ", ".join(f"{r['task']}: {'met' if r['met'] else 'NOT met'}" for r in results))
    if args.export:
        command = shlex.join(["python", *sys.argv])
        for r in results:
            final = {k: r["final"][k] for k in ("update", "env_steps", "return", "success", "attempt_success")}
            path = export_agent(r["run_dir"], r["task"], meta={"command": command, "target": TASKS[r["task"]]["target"],
                                "met": r["met"], "first_met": r["first_met"], "final_eval": final, "wall_s": r["wall_s"]})
            print(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
