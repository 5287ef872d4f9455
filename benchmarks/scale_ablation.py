"""Return-scale ablation: one mixture whose tasks' rewards differ by 10^3, five critic/actor losses.

    OMP_NUM_THREADS=1 python benchmarks/scale_ablation.py --jobs 2          # 5 variants x 3 seeds x 4000 updates
    python benchmarks/scale_ablation.py --games RepeatPreviousEasy --scales 0.01 --reward-multiplier 1000
    python benchmarks/scale_ablation.py --seeds 0 1 2 3 4 --updates 10000 --device cuda --threads 1
    python benchmarks/scale_ablation.py --fast --out /tmp/ablation         # 5 variants, 1 seed, tiny, < 1 minute

The mixture (preset ``scale_ablation``): POPGym Easy games, by default HigherLowerEasy x0.1 and
RepeatPreviousEasy x100, played without task labels (the agent tells them apart from what it sees: 13
cards and 2 actions, or 4 suits and 4 actions). Every variant (the 2x2 of Sec. 3's losses, Eqs. 1-4, and the
paper's baseline with global PopArt, App. A) trains on the same
backbone (the preset's sizes), the same seeds and the same budget, ``--updates`` gradient updates (so the
same amount of data, as collection and updates alternate at a fixed ratio), with ``--minutes`` of wall
time as a safety cap:

| variant | critic | actor | |
|---|---|---|---|
| two_hot+filtered_bc | two-hot classification | filtered BC | AMAGO-2 (Ind/Ind) |
| two_hot+max_q | two-hot classification | maximise Q | |
| mse+filtered_bc | MSE regression | filtered BC | |
| mse+max_q | MSE regression, raw | maximise Q | no normalisation at all (a teaching variant) |
| popart+max_q | regression on PopArt-normalised targets | maximise Q / sigma | the paper's Dep./Dep. baseline |

Runs keep a checkpoint every ``checkpoint_interval`` updates; every run is evaluated with its checkpoint at
the largest update all runs reached (the budget itself, unless the cap stopped some), each task separately
(``--trials-per-task`` trials, held-out seeds), and so is a uniform random policy on the same games. The
score is the **normalized return** = return / reward scale, i.e. the task's own POPGym return in [-1, 1],
so the tasks can be compared. Expected (Sec. 3 and Fig. 7, the rescaled Procgen games): the
scale-independent losses learn every task;
the MSE critic and the max-Q actor favour the x100 task and starve the x0.1 one. The two-hot critic is
scale independent only above about one bin: with the POPGym multiplier (100) a x0.01 task's rewards are a
20th of a bin and no variant learns it (notebook 07).

Writes ``<out>/scale_ablation.csv`` (variant x task: mean and std over seeds), ``<out>/scale_ablation.json``
(exact command, versions, settings, per-run wall time, updates and results, total wall time) and
``<out>/scale_ablation_curves.csv`` (every run's training-time evaluations, per task), and prints the table.
``--jobs N`` trains N runs at a time in separate processes (one per core; on one GPU several processes are
time-sliced, each slower: see the README).
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
from multitask import versions  # noqa: E402

from amago_edu.config import TrainConfig  # noqa: E402
from amago_edu.envs.popgym import popgym_games  # noqa: E402
from amago_edu.metrics import History  # noqa: E402
from amago_edu.rollout import RandomPolicy  # noqa: E402
from amago_edu.train import train
from amago_edu.evaluation import action_space, evaluate_tasks, kept_checkpoints, load_agent  # noqa: E402
from amago_edu.utils import map_calls, resolve_device  # noqa: E402

VARIANTS = {
    "two_hot+filtered_bc": ("two_hot", "filtered_bc"),  # AMAGO-2 (Ind./Ind.)
    "two_hot+max_q": ("two_hot", "max_q"),
    "mse+filtered_bc": ("mse", "filtered_bc"),
    "mse+max_q": ("mse", "max_q"),  # raw regression, no normalisation: the bare scale dependence
    "popart+max_q": ("popart", "max_q"),  # the paper's Dep./Dep. baseline
}
FAST_VARIANTS = list(VARIANTS)
PRESET = TrainConfig.preset("scale_ablation")
DEFAULT_GAMES = [part.removeprefix("popgym/") for part in PRESET.env.split(",")]
DEFAULT_SCALES = list(PRESET.reward_scales)
ROOT = Path(__file__).resolve().parents[1]
#: tiny settings for --fast (tests, notebook 07): seconds per run, learns nothing
FAST_OVERRIDES = {**MULTITASK_FAST_OVERRIDES, "eval_trials": 3}
CSV_COLUMNS = ["variant", "critic", "actor", "task", "reward_scale", "seeds", "normalized_return_mean",
               "normalized_return_std", "return_mean", "return_std"]
CURVE_COLUMNS = ["variant", "seed", "update", "env_steps", "task", "trials", "normalized_return"]


def variant_config(variant: str, seed: int, run_dir: Path, args) -> TrainConfig:
    """The preset ``scale_ablation`` with this variant's losses and the command line's games, scales, reward
    multiplier, bins, seed and budget."""
    critic, actor = VARIANTS[variant]
    overrides = dict(critic=critic, actor=actor, env=",".join(f"popgym/{g}" for g in args.games),
                     reward_scales=tuple(args.scales), reward_multiplier=args.reward_multiplier,
                     num_bins=args.num_bins, seed=seed, run_dir=str(run_dir), overwrite=True, device=args.device,
                     max_minutes=args.minutes, total_updates=args.updates or 10**9, num_threads=args.threads,
                     keep_checkpoints=True)
    if args.fast:
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


def curve_rows(runs: list[dict]) -> list[dict]:
    """Each run's training-time evaluations (``eval_trials`` over the whole mixture, so a few per task):
    one row per (variant, seed, update, task) with the normalized return, for learning curves."""
    rows = []
    for run in runs:
        for row in History.load(run["run_dir"]).evals:
            for task, s in row["tasks"].items():
                rows.append({"variant": run["variant"], "seed": run["seed"], "update": row["update"],
                             "env_steps": row["env_steps"], "task": task, "trials": s["trials"],
                             "normalized_return": s["normalized_return"]})
    return rows


def write_csv(rows: list[dict], path: Path, columns: list[str] = CSV_COLUMNS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def train_variant(variant: str, seed: int, args) -> dict:
    """Train one (variant, seed), keeping a checkpoint every ``checkpoint_interval`` updates."""
    run_dir = Path(args.run_root) / f"{variant}-seed{seed}"
    config = variant_config(variant, seed, run_dir, args)
    start = time.time()
    final = train(config).final_eval
    train_s = time.time() - start
    print(f"{variant} seed {seed}: trained {final['update']} updates, {final['env_steps']} env steps in "
          f"{train_s:.0f} s", flush=True)
    critic, actor = VARIANTS[variant]
    return {"variant": variant, "critic": critic, "actor": actor, "seed": seed, "train_s": round(train_s, 1),
            "updates": final["update"], "env_steps": final["env_steps"], "run_dir": str(run_dir)}


def evaluate_variant(run: dict, update: int, args) -> dict:
    """Evaluate each task separately with the run's checkpoint at ``update`` (the same for every run)."""
    start = time.time()
    agent, config = load_agent(run["run_dir"], device=resolve_device(args.device), update=update)
    tasks = evaluate_tasks(agent, config, args.trials_per_task, seed=9_000 + 10_000 * run["seed"])
    print(f"{run['variant']} seed {run['seed']} at update {update}: "
          + ", ".join(f"{t.removeprefix('popgym/')} {s['normalized_return']:+.2f}" for t, s in tasks.items()), flush=True)
    return {**run, "evaluated_at_update": update, "eval_s": round(time.time() - start, 1),
            "tasks": _task_results(tasks, args)}


def common_update(runs: list[dict]) -> int:
    """The largest update at which every run kept a checkpoint: all variants are compared there."""
    common = set.intersection(*(set(kept_checkpoints(run["run_dir"])) for run in runs))
    if not common:
        raise RuntimeError("the runs share no kept checkpoint: raise --minutes or lower checkpoint_interval")
    return max(common)


def _task_results(tasks: dict[str, dict], args) -> dict[str, dict]:
    """``evaluate_tasks``' summaries -> what the results keep per task, with the scale given on the command line."""
    names = [f"popgym/{g}" for g in args.games]
    return {t: {"reward_scale": float(args.scales[names.index(t)]), "return": s["return"],
                "normalized_return": s["normalized_return"], "trials": s["trials"]} for t, s in tasks.items()}


def random_baseline(seed: int, args) -> dict:
    """A uniform random policy through the same per-task evaluation (its own row, critic/actor "-")."""
    config = variant_config(FAST_VARIANTS[0], seed, Path(args.run_root) / "random", args)
    tasks = evaluate_tasks(RandomPolicy(action_space(config), seed), config, args.trials_per_task,
                           seed=9_000 + 10_000 * seed)
    return {"variant": "random", "critic": "-", "actor": "-", "seed": seed, "tasks": _task_results(tasks, args)}


def _json_safe(row: dict) -> dict:
    """NaN (std of one seed) -> None, so the file is strict JSON."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--updates", type=int, default=PRESET.total_updates,
                        help="gradient updates per run, the same for every variant (0 = no limit)")
    parser.add_argument("--minutes", type=float, default=PRESET.max_minutes,
                        help="wall-clock cap per run (0 = none); if it stops some runs early, all runs are compared at "
                             "the largest update every run reached")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--games", nargs="+", default=DEFAULT_GAMES, help="POPGym games (names without popgym/)")
    parser.add_argument("--scales", type=float, nargs="+", default=DEFAULT_SCALES, help="one reward scale per game")
    parser.add_argument("--reward-multiplier", type=float, default=PRESET.reward_multiplier,
                        help="rewards x this inside the losses, every task alike (the two-hot critic resolves "
                             "values only to about one bin near 0: see notebook 07)")
    parser.add_argument("--num-bins", type=int, default=PRESET.num_bins,
                        help="two-hot critic bins over value_low..value_high")
    parser.add_argument("--trials-per-task", type=int, default=32, help="final evaluation trials of each task")
    parser.add_argument("--device", default="auto", help='"auto", "cpu" or "cuda"')
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (acting is many tiny ops: 1 is fastest on a busy CPU; 0 = torch's default)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at the same time, each in its own process (a GPU or many cores)")
    parser.add_argument("--out", default=str(ROOT / "data" / "results"), help="folder for the CSV and JSON")
    parser.add_argument("--run-root", default="runs/scale_ablation", help="folder for the run folders")
    parser.add_argument("--fast", action="store_true",
                        help=f"tiny smoke test: variants {FAST_VARIANTS}, seed 0, tiny networks (< 1 minute)")
    args = parser.parse_args(argv)
    unknown = [g for g in args.games if g not in popgym_games()]
    if unknown:
        parser.error(f"--games: unknown POPGym games {unknown}; e.g. {', '.join(sorted(popgym_games())[:4])}, ... "
                     "(names without popgym/)")
    if len(args.scales) != len(args.games):
        parser.error(f"--scales needs one number per game: {len(args.games)} games, {len(args.scales)} scales")
    if any(not (math.isfinite(s) and s > 0) for s in args.scales):
        parser.error(f"--scales must be finite positive numbers, got {args.scales}")
    if args.minutes < 0 or args.updates < 0 or args.threads < 0 or args.trials_per_task < 1 or args.jobs < 1:
        parser.error("--minutes, --updates and --threads must be >= 0, --trials-per-task and --jobs >= 1")
    if args.minutes == 0 and args.updates == 0 and not args.fast:
        parser.error("give a budget: --minutes > 0 or --updates > 0")
    if args.fast:
        args.variants, args.seeds, args.trials_per_task = FAST_VARIANTS, [0], 3
    try:  # bad settings (--num-bins 1, --reward-multiplier 0, unknown games) fail here, not in a worker
        variant_config(args.variants[0], args.seeds[0], Path(args.run_root) / "unused", args)
    except ValueError as err:
        parser.error(str(err))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.time()
    print(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} threads, {args.jobs} jobs; "
          f"{len(args.variants)} variants x {len(args.seeds)} seeds; games {args.games} x scales {args.scales}")
    trained = map_calls(train_variant, [(v, s, args) for v in args.variants for s in args.seeds], args.jobs)
    update = common_update(trained)
    runs = map_calls(evaluate_variant, [(run, update, args) for run in trained], args.jobs)
    baselines = map_calls(random_baseline, [(s, args) for s in args.seeds], args.jobs)
    rows = summarise(runs + baselines)
    total = time.time() - start
    out = Path(args.out)
    write_csv(rows, out / "scale_ablation.csv")
    write_csv(curve_rows(runs), out / "scale_ablation_curves.csv", CURVE_COLUMNS)
    command = [sys.executable, *sys.argv] if argv is None else ["python", "benchmarks/scale_ablation.py", *argv]
    record = {"command": shlex.join(command), "cwd": str(Path.cwd()), "versions": versions(), "settings": vars(args),
              # the first run's full config; the others differ only in critic, actor, seed and run_dir
              "config": TrainConfig.load(Path(runs[0]["run_dir"]) / "config.json").to_dict(),
              "evaluated_at_update": update, "runs": runs, "random": baselines,
              "table": [_json_safe(r) for r in rows], "total_wall_s": round(total, 1)}
    (out / "scale_ablation.json").write_text(json.dumps(record, indent=2) + "\n")
    print("\n" + format_table(rows))
    trained_to = sorted({r["updates"] for r in runs})
    print(f"every run evaluated with its checkpoint at update {update}"
          + (f" (runs trained {trained_to[0]}-{trained_to[-1]} updates: the --minutes cap stopped some "
             "before --updates)" if trained_to != [update] else ""))
    print(f"\nwrote {out / 'scale_ablation.csv'}, {out / 'scale_ablation.json'} and the training-time evaluations "
          f"{out / 'scale_ablation_curves.csv'}; total wall time {total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
