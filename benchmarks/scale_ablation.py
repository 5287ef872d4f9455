"""Return-scale ablation: one mixture whose tasks' rewards differ by 10^4, four critic/actor losses.

    OMP_NUM_THREADS=1 python benchmarks/scale_ablation.py                  # 4 variants x 3 seeds x 2000 updates
    python benchmarks/scale_ablation.py --seeds 0 1 2 3 4 --updates 10000 --device cuda --threads 0
    python benchmarks/scale_ablation.py --games RepeatFirstEasy HigherLowerEasy --scales 0.01 100
    python benchmarks/scale_ablation.py --fast --out /tmp/ablation         # 2 variants, 1 seed, < 1 minute

The mixture (preset ``scale_ablation``): POPGym Easy games, by default RepeatFirstEasy x0.01,
RepeatPreviousEasy x1 and HigherLowerEasy x100, played without task labels (the agent tells them apart
from its context). Every variant of the 2x2 of brief C.3 trains on the same backbone (the preset's
sizes), the same seeds and the same budget: ``--updates`` gradient updates (so the same amount of data,
as collection and updates alternate at a fixed ratio), with ``--minutes`` of wall time as a safety cap:

| variant | critic | actor | |
|---|---|---|---|
| two_hot+filtered_bc | two-hot classification | filtered BC | AMAGO-2 (Ind/Ind) |
| two_hot+max_q | two-hot classification | maximise Q | |
| mse+filtered_bc | MSE regression | filtered BC | |
| mse+max_q | MSE regression | maximise Q | AMAGO-1-style (Dep/Dep) |

After training, every task is evaluated separately (``--trials-per-task`` trials, held-out seeds), and so
is a uniform random policy on the same games. The score is the **normalized return** = return / reward
scale, i.e. the task's own POPGym return in [-1, 1], so the tasks can be compared. Expected (brief A.3,
H.5): the scale-independent losses learn every task; the MSE critic and the max-Q actor favour the x100
task and starve the x0.01 one.

Writes ``<out>/scale_ablation.csv`` (variant x task: mean and std over seeds) and
``<out>/scale_ablation.json`` (exact command, versions, settings, per-run wall time, updates and results,
total wall time), and prints the table. Cost on 2 busy CPU cores with one torch thread: about 3-7
updates/s for the two-hot variants (the critic scores 64 bins x 7 discounts x every action) and 8-15
for the MSE ones, so the default 12 runs take roughly 1 to 1.5 hours. On a GPU add ``--device cuda
--threads 0`` and raise ``--updates``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package: share multitask.py
from multitask import FAST_OVERRIDES as MULTITASK_FAST_OVERRIDES  # noqa: E402
from multitask import RandomPolicy, action_space, evaluate_tasks, versions  # noqa: E402

from amago_edu.config import PRESETS, TrainConfig  # noqa: E402
from amago_edu.train import load_agent, train  # noqa: E402
from amago_edu.utils import resolve_device  # noqa: E402

VARIANTS = {
    "two_hot+filtered_bc": ("two_hot", "filtered_bc"),  # AMAGO-2
    "two_hot+max_q": ("two_hot", "max_q"),
    "mse+filtered_bc": ("mse", "filtered_bc"),
    "mse+max_q": ("mse", "max_q"),  # AMAGO-1-style
}
FAST_VARIANTS = ["two_hot+filtered_bc", "mse+max_q"]
DEFAULT_GAMES = [part.removeprefix("popgym/") for part in PRESETS["scale_ablation"]["env"].split(",")]
DEFAULT_SCALES = list(PRESETS["scale_ablation"]["reward_scales"])
ROOT = Path(__file__).resolve().parents[1]
#: tiny settings for --fast (tests, notebook 07): seconds per run, learns nothing
FAST_OVERRIDES = {**MULTITASK_FAST_OVERRIDES, "eval_trials": 3}
CSV_COLUMNS = ["variant", "critic", "actor", "task", "reward_scale", "seeds", "normalized_return_mean",
               "normalized_return_std", "return_mean", "return_std"]


def variant_config(variant: str, games: list[str], scales: list[float], seed: int, run_dir: Path,
                   minutes: float, updates: int, device: str, fast: bool, threads: int = 1) -> TrainConfig:
    """The preset ``scale_ablation`` with this variant's losses, games, scales, seed and budget."""
    critic, actor = VARIANTS[variant]
    overrides = dict(critic=critic, actor=actor, env=",".join(f"popgym/{g}" for g in games),
                     reward_scales=tuple(scales), seed=seed, run_dir=str(run_dir), overwrite=True, device=device,
                     max_minutes=minutes, total_updates=updates or 10**9, num_threads=threads)
    if fast:
        overrides.update(FAST_OVERRIDES)
    return TrainConfig.preset("scale_ablation", **overrides).validate()


def summarise(runs: list[dict]) -> list[dict]:
    """Per-run results -> one row per (variant, task): mean and sample std (ddof=1; NaN for 1 seed) over seeds.

    Each run is ``{"variant", "critic", "actor", "seed", "tasks": {task: {"reward_scale", "return",
    "normalized_return"}}}``; rows keep the order of first appearance.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        for task, result in run["tasks"].items():
            groups.setdefault((run["variant"], task), []).append({**result, "critic": run["critic"],
                                                                  "actor": run["actor"], "seed": run["seed"]})
    rows = []
    for (variant, task), results in groups.items():
        row = {"variant": variant, "critic": results[0]["critic"], "actor": results[0]["actor"], "task": task,
               "reward_scale": results[0]["reward_scale"], "seeds": len(results)}
        for key in ("normalized_return", "return"):
            values = np.array([r[key] for r in results], dtype=np.float64)
            row[f"{key}_mean"] = float(values.mean())
            row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """Variants as rows, tasks as columns: "mean +- std" of the normalized return."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    cell = {(r["variant"], r["task"]): r for r in rows}
    scale = {r["task"]: r["reward_scale"] for r in rows}

    def text(r):
        if r is None:
            return "-"
        std = "" if math.isnan(r["normalized_return_std"]) else f" +- {r['normalized_return_std']:.2f}"
        return f"{r['normalized_return_mean']:+.2f}{std}"

    header = ["variant"] + [f"{t.removeprefix('popgym/')} (x{scale[t]:g})" for t in tasks]
    body = [[v] + [text(cell.get((v, t))) for t in tasks] for v in variants]
    widths = [max(len(line[c]) for line in [header] + body) for c in range(len(header))]
    lines = ["  ".join(x.ljust(w) if c == 0 else x.rjust(w) for c, (x, w) in enumerate(zip(line, widths)))
             for line in [header] + body]
    seeds = sorted({r["seeds"] for r in rows if r["variant"] != "random"})
    return "\n".join([f"normalized return (return / scale, in [-1, 1]); mean +- std over {seeds} seeds"] + lines)


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def run_variant(variant: str, seed: int, args) -> dict:
    """Train one (variant, seed), then evaluate each task separately from its final checkpoint."""
    run_dir = Path(args.run_root) / f"{variant}-seed{seed}"
    config = variant_config(variant, args.games, args.scales, seed, run_dir, args.minutes, args.updates,
                            args.device, args.fast, args.threads)
    start = time.time()
    history = train(config)
    agent, _ = load_agent(run_dir, device=resolve_device(config.device))
    tasks = evaluate_tasks(agent, config, args.trials_per_task, seed=9_000 + 10_000 * seed)
    wall = time.time() - start
    final = history.final_eval
    print(f"{variant} seed {seed}: {final['update']} updates, {final['env_steps']} env steps, {wall:.0f} s; "
          + ", ".join(f"{t.removeprefix('popgym/')} {s['normalized_return']:+.2f}" for t, s in tasks.items()))
    critic, actor = VARIANTS[variant]
    return {"variant": variant, "critic": critic, "actor": actor, "seed": seed, "wall_s": round(wall, 1),
            "updates": final["update"], "env_steps": final["env_steps"], "run_dir": str(run_dir),
            # the --minutes cap ended it before --updates: its budget differs from the other runs'
            "stopped_early": final["update"] < config.total_updates and config.total_updates < 10**9,
            "tasks": {t: {"reward_scale": _scale_of(t, args), "return": s["return"],
                          "normalized_return": s["normalized_return"], "trials": s["trials"]} for t, s in tasks.items()}}


def _scale_of(task: str, args) -> float:
    """The reward scale given to ``task`` ("popgym/<game>") on the command line."""
    return float(args.scales[[f"popgym/{g}" for g in args.games].index(task)])


def random_baseline(seed: int, args) -> dict:
    """A uniform random policy through the same per-task evaluation (its own row, critic/actor "-")."""
    config = variant_config(FAST_VARIANTS[0], args.games, args.scales, seed, Path(args.run_root) / "random",
                            args.minutes, args.updates, args.device, args.fast)
    tasks = evaluate_tasks(RandomPolicy(action_space(config), seed), config, args.trials_per_task,
                           seed=9_000 + 10_000 * seed)
    return {"variant": "random", "critic": "-", "actor": "-", "seed": seed,
            "tasks": {t: {"reward_scale": _scale_of(t, args), "return": s["return"],
                          "normalized_return": s["normalized_return"], "trials": s["trials"]}
                      for t, s in tasks.items()}}


def _json_safe(row: dict) -> dict:
    """NaN (std of one seed) -> None, so the file is strict JSON."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--updates", type=int, default=PRESETS["scale_ablation"]["total_updates"],
                        help="gradient updates per run, the same for every variant (0 = no limit)")
    parser.add_argument("--minutes", type=float, default=PRESETS["scale_ablation"]["max_minutes"],
                        help="wall-clock cap per run (0 = none); a run it stops early is flagged in the output")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--games", nargs="+", default=DEFAULT_GAMES, help="POPGym games (names without popgym/)")
    parser.add_argument("--scales", type=float, nargs="+", default=DEFAULT_SCALES, help="one reward scale per game")
    parser.add_argument("--trials-per-task", type=int, default=32, help="final evaluation trials of each task")
    parser.add_argument("--device", default="auto", help='"auto", "cpu" or "cuda"')
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (acting is many tiny ops: 1 is fastest on a busy CPU; 0 = torch's default)")
    parser.add_argument("--out", default=str(ROOT / "data" / "results"), help="folder for the CSV and JSON")
    parser.add_argument("--run-root", default="runs/scale_ablation", help="folder for the run folders")
    parser.add_argument("--fast", action="store_true",
                        help=f"tiny smoke test: variants {FAST_VARIANTS}, seed 0, tiny networks (< 1 minute)")
    args = parser.parse_args(argv)
    if len(args.scales) != len(args.games):
        parser.error(f"--scales needs one number per game: {len(args.games)} games, {len(args.scales)} scales")
    if any(not (math.isfinite(s) and s > 0) for s in args.scales):
        parser.error(f"--scales must be finite positive numbers, got {args.scales}")
    if args.minutes < 0 or args.updates < 0 or args.threads < 0 or args.trials_per_task < 1:
        parser.error("--minutes, --updates and --threads must be >= 0 and --trials-per-task >= 1")
    if args.minutes == 0 and args.updates == 0 and not args.fast:
        parser.error("give a budget: --minutes > 0 or --updates > 0")
    if args.fast:
        args.variants, args.seeds, args.trials_per_task = FAST_VARIANTS, [0], 3
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.time()
    print(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} threads; {len(args.variants)} variants x "
          f"{len(args.seeds)} seeds; games {args.games} x scales {args.scales}")
    runs = [run_variant(variant, seed, args) for variant in args.variants for seed in args.seeds]
    baselines = [random_baseline(seed, args) for seed in args.seeds]
    rows = summarise(runs + baselines)
    total = time.time() - start
    out = Path(args.out)
    write_csv(rows, out / "scale_ablation.csv")
    command = [sys.executable, *sys.argv] if argv is None else ["python", "benchmarks/scale_ablation.py", *argv]
    record = {"command": shlex.join(command), "cwd": str(Path.cwd()), "versions": versions(), "settings": vars(args),
              # the first run's full config; the others differ only in critic, actor, seed and run_dir
              "config": TrainConfig.load(Path(runs[0]["run_dir"]) / "config.json").to_dict(),
              "runs": runs, "random": baselines, "table": [_json_safe(r) for r in rows],
              "total_wall_s": round(total, 1)}
    (out / "scale_ablation.json").write_text(json.dumps(record, indent=2) + "\n")
    print("\n" + format_table(rows))
    early = [f"{r['variant']} seed {r['seed']} ({r['updates']} updates)" for r in runs if r["stopped_early"]]
    if early:
        print(f"WARNING: the --minutes cap stopped {', '.join(early)} before --updates {args.updates}: "
              "unequal budgets; rerun with a larger --minutes")
    print(f"\nwrote {out / 'scale_ablation.csv'} and {out / 'scale_ablation.json'}; total wall time {total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
