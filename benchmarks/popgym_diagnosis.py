"""What stops ``popgym-mt`` from learning? Controlled runs of the eight games at one budget.

    OMP_NUM_THREADS=1 python benchmarks/popgym_diagnosis.py --jobs 2            # every group, ~25 min on 2 cores
    python benchmarks/popgym_diagnosis.py --groups mixture --updates 3000 --jobs 2
    python benchmarks/popgym_diagnosis.py --fast --out /tmp/diagnosis          # a smoke test (seconds)

Every run uses the ``popgym_mt`` preset's network, learning rate and replay settings (AMAGO-2 losses, V(s) sampled
in every run) and
the same number of gradient updates (``--updates``), one torch thread per run, and is scored per game
on its **scored attempt** (the last one; with a warm-up attempt, the second) over ``--trials-per-task``
held-out trials, with the standard error, against a uniform random policy on the same seeds. Groups:

| group | runs | question |
|---|---|---|
| ``alone`` | each game on its own, its own action space, k = 1 | can the agent learn the game at all at this budget? |
| ``padded`` | each game on its own inside the mixture's 27 actions, replace-and-flag | does the padded action space block it? |
| ``mixture`` | the 8 games: with and without the warm-up attempt; without CountRecall (16 actions); with ``invalid_actions="mask"`` (k = 1 and k = 2) | do the mixture, the warm-up format or the rule block it? |

Writes ``<out>/popgym_diagnosis.csv`` (one row per run and game: agent and random scored-attempt mean and
standard error, above random by > 2 standard errors) and ``.json`` (command, versions, settings, wall
times), and prints the table. Each run's result is also kept in its run folder as soon as it is scored; a rerun
with the same ``--run-root`` reuses finished runs (scoring again those whose score was not written).
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
from pathlib import Path


from amago_edu.experiments import FAST
from amago_edu.config import TrainConfig
from amago_edu.envs.popgym import POPGYM_MT
from amago_edu.metrics import History
from amago_edu.results import above_random, versions
from amago_edu.rollout import RandomPolicy
from amago_edu.train import train
from amago_edu.evaluation import action_space, evaluate_tasks, load_agent
from amago_edu.utils import map_calls

ROOT = Path(__file__).resolve().parents[1]
MIXTURE = ",".join(f"popgym/{game}" for game in POPGYM_MT)
SHARED_ACTIONS = 27  # the mixture's shared action count: CountRecallEasy has Discrete(27)


def runs_of(groups: list[str]) -> list[tuple[str, str, dict]]:
    """(group, label, config overrides) of every run in ``groups``."""
    runs = []
    if "alone" in groups:
        runs += [("alone", game, dict(env=f"popgym/{game}", episodes_per_trial=1)) for game in POPGYM_MT]
    if "padded" in groups:
        runs += [("padded", game, dict(env=f"popgym/{game},", episodes_per_trial=1, shared_actions=SHARED_ACTIONS))
                 for game in POPGYM_MT]
    if "mixture" in groups:
        without_27 = ",".join(f"popgym/{game}" for game in POPGYM_MT if game != "CountRecallEasy")
        runs += [("mixture", "8 games, warm-up attempt (k=2, the paper's format)", dict(env="popgym-mt")),
                 ("mixture", "8 games, no warm-up (k=1)", dict(env=MIXTURE, episodes_per_trial=1)),
                 ("mixture", "7 games without CountRecall (16 actions), k=1", dict(env=without_27, episodes_per_trial=1)),
                 ("mixture", "8 games, k=1, invalid_actions=mask", dict(env=MIXTURE, episodes_per_trial=1,
                                                                         invalid_actions="mask")),
                 ("mixture", "8 games, warm-up attempt, invalid_actions=mask", dict(env="popgym-mt",
                                                                                    invalid_actions="mask"))]
    return runs


def config_of(index: int, overrides: dict, args) -> TrainConfig:
    # every run samples V(s) (the mixture's 27 actions must): a game alone in its own 2-4 actions would otherwise
    # take the exact V(s), and the "alone" vs "padded" comparison would change two things at once
    settings = dict(run_dir=str(Path(args.run_root) / f"run{index:02d}"), overwrite=True, seed=args.seed,
                    num_threads=1, total_updates=args.updates, max_minutes=args.max_minutes,
                    eval_interval=args.updates, checkpoint_interval=args.updates, eval_trials=16,
                    state_value="sampled")
    settings.update(overrides)
    if args.fast:
        settings.update({**FAST, "num_threads": 1})
    return TrainConfig.preset("popgym_mt", **settings)


def train_and_score(index: int, group: str, label: str, overrides: dict, args) -> dict:
    """Train one run (unless its folder already holds a finished one), then score the agent and a random
    policy on every game of the run, per game. The result is written to ``<run_dir>/diagnosis_result.json``
    at once, so a crash of another run loses nothing and a rerun only does what is missing."""
    config = config_of(index, overrides, args)
    result_path = Path(config.run_dir) / "diagnosis_result.json"
    if result_path.exists() and not args.fast:
        saved = json.loads(result_path.read_text())
        if saved.get("overrides") == overrides and saved.get("updates") == args.updates:
            return saved
    finished = History.load(config.run_dir).final_eval if (Path(config.run_dir) / "metrics.jsonl").exists() else None
    start = time.time()
    if finished is None or finished["update"] < args.updates or args.fast:
        finished = train(config).final_eval
    train_s = time.time() - start
    agent, _ = load_agent(config.run_dir)
    trials = 2 if args.fast else args.trials_per_task
    seed = 7_000 + 10_000 * args.seed
    results = {"AMAGO-2": evaluate_tasks(agent, config, trials, seed),
               "random": evaluate_tasks(RandomPolicy(action_space(config), args.seed), config, trials, seed)}
    record = {"index": index, "group": group, "label": label, "overrides": overrides, "updates": finished["update"],
              "env_steps": finished["env_steps"], "train_wall_s": round(finished["wall_time"], 1),
              "results": results}
    result_path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"run {index} ({group}: {label}) scored, trained {train_s:.0f} s in this call", flush=True)
    return record


def rows_of(run: dict) -> list[dict]:
    rows = []
    for task, agent in run["results"]["AMAGO-2"].items():
        random = run["results"]["random"][task]
        rows.append({"group": run["group"], "run": run["label"], "task": task.removeprefix("popgym/"),
                     "updates": run["updates"], "env_steps": run["env_steps"], "train_wall_s": run["train_wall_s"],
                     "trials": agent["trials"], "agent": agent["attempt_return"][-1],
                     "agent_se": agent["attempt_return_se"][-1], "random": random["attempt_return"][-1],
                     "random_se": random["attempt_return_se"][-1], "above_random": above_random(agent, random, "return", -1)})
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'group':<8} {'run':<52} {'game':<26} {'agent':>15} {'random':>15}  above"]
    for r in rows:
        lines.append(f"{r['group']:<8} {r['run'][:52]:<52} {r['task']:<26} {r['agent']:+.3f} +- {r['agent_se']:.3f} "
                     f"{r['random']:+.3f} +- {r['random_se']:.3f}  {'yes' if r['above_random'] else 'no'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", nargs="+", default=["alone", "padded", "mixture"],
                        choices=["alone", "padded", "mixture"])
    parser.add_argument("--updates", type=int, default=1000, help="gradient updates of every run (the one budget)")
    parser.add_argument("--max-minutes", type=float, default=20.0, help="wall-time safety cap per run")
    parser.add_argument("--trials-per-task", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once (one process each)")
    parser.add_argument("--out", default=str(ROOT / "data" / "results"))
    parser.add_argument("--run-root", default="runs/popgym_diagnosis")
    parser.add_argument("--fast", action="store_true", help="tiny smoke test (seconds; learns nothing)")
    args = parser.parse_args(argv)
    if args.updates < 1 or args.jobs < 1 or args.trials_per_task < 1 or args.max_minutes < 0:
        parser.error("--updates, --jobs and --trials-per-task must be >= 1 and --max-minutes >= 0")
    runs = runs_of(args.groups)
    if args.fast:
        runs = runs[:2]
    start = time.time()
    done = map_calls(train_and_score, [(i, g, label, o, args) for i, (g, label, o) in enumerate(runs)], args.jobs)
    rows = [row for run in sorted(done, key=lambda r: r["index"]) for row in rows_of(run)]
    print(format_table(rows))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "popgym_diagnosis.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    record = {"command": shlex.join([sys.executable, *sys.argv]), "versions": versions(), "updates": args.updates,
              "trials_per_task": args.trials_per_task, "seed": args.seed, "total_wall_s": round(time.time() - start, 1),
              "preset": TrainConfig.preset("popgym_mt").to_dict(), "runs": sorted(done, key=lambda r: r["index"])}
    (out / "popgym_diagnosis.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwrote {out}/popgym_diagnosis.csv and .json ({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
