"""Multi-task runs without task labels: train AMAGO-2 on ``popgym-mt`` and ``babyai-mt``, compare with random.

    OMP_NUM_THREADS=1 python benchmarks/multitask.py --sets popgym-mt babyai-mt --minutes 30
    python benchmarks/multitask.py --sets popgym-mt --minutes 60 --device cuda --context-length 401
    python benchmarks/multitask.py --fast                       # a smoke test in well under a minute

For each named set (presets ``popgym_mt`` and ``babyai_mt`` in ``amago_edu.config``): train for
``--minutes`` of wall time, then evaluate **every task separately** (``--trials-per-task`` whole trials
each, on the held-out split: BabyAI layouts, frozen-lake maps, ...) with the trained agent and with a uniform random
policy, through the same evaluation code (``amago_edu.rollout.evaluate``) and on the same seeds, and
print one table per task: trial return, normalized return (return / reward scale) and, per attempt,
return and success. "Clearly above random" is read off each table's two rows.

The agent is never told which task it plays: the mixture pads every task to one observation and
action space (AMAGO-2 Sec. 2, Problem Setting; App. B), so the policy must infer the task from its context.
``--invalid-actions mask`` masks the policy to the current game's valid actions instead of the paper's
replace-and-flag rule (``amago_edu.envs.multitask``); the mask is never a network input.

The score of a task is its **scored attempt** (the last one; ``popgym-mt``'s first attempt is a warm-up
whose reward is not optimised): mean return over ``--trials-per-task`` trials with its standard error,
for the agent and for the random policy, and whether the agent is above random by more than 2 standard
errors of the difference, sqrt(se_agent^2 + se_random^2). BabyAI also reports success per attempt.

Results also go to ``<out>/multitask_<set>.csv`` (one row per task and policy) and ``.json`` (command,
versions, wall time, and the training-time evaluations per task as ``curves``). Run folders:
``<run-root>/<set>-seed<seed>``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from amago_edu.config import TrainConfig
from amago_edu.experiments import FAST
from amago_edu.results import SCORING, per_task_curves, task_table, verdict_table, versions
from amago_edu.rollout import RandomPolicy
from amago_edu.train import train
from amago_edu.evaluation import action_space, evaluate_tasks, load_agent
from amago_edu.utils import resolve_device

#: benchmark sets and their CPU presets (amago_edu.config); the last four need the extras (README, "Benchmarks")
SETS = {"popgym-mt": "popgym_mt", "babyai-mt": "babyai_mt", "metaworld-ml1": "metaworld_ml1",
        "metaworld-ml10": "metaworld_ml10", "atari-2": "atari_2", "procgen-easy": "procgen_easy"}
#: --fast: an episode limit short enough for a smoke test
FAST_ENV_KWARGS = {"babyai-mt": {"max_steps": 8}, "metaworld-ml1": {"max_episode_steps": 8},
                   "metaworld-ml10": {"max_episode_steps": 8}, "atari-2": {"max_episode_steps": 8},
                   "procgen-easy": {"max_episode_steps": 8}}
ROOT = Path(__file__).resolve().parents[1]
#: tiny settings for --fast (tests, notebooks): seconds, learns nothing
FAST_OVERRIDES = {**FAST, "num_threads": 1}  # the registry's tiny budget: learns nothing, runs everything


def csv_rows(set_name: str, results: dict[str, dict[str, dict]]) -> list[dict]:
    """``results[policy][task]`` -> flat rows (set, task, policy, trials, return, normalized, per attempt)."""
    rows = []
    for policy, tasks in results.items():
        for task, s in tasks.items():
            row = {"set": set_name, "task": task, "policy": policy, "trials": s["trials"], "return": s["return"],
                   "return_se": s["return_se"], "normalized_return": s["normalized_return"]}
            for j, (ret, se, success, success_se) in enumerate(zip(
                    s["attempt_return"], s["attempt_return_se"], s["attempt_success"], s["attempt_success_se"]), start=1):
                row[f"attempt{j}_return"] = ret
                row[f"attempt{j}_return_se"] = se
                row[f"attempt{j}_success"] = "" if success is None else success
                row[f"attempt{j}_success_se"] = "" if success is None or success_se is None else success_se
            rows.append(row)
    return rows


def run_set(set_name: str, args) -> dict:
    overrides = dict(run_dir=str(Path(args.run_root) / f"{set_name}-seed{args.seed}"), overwrite=True, seed=args.seed,
                     device=args.device, num_threads=args.threads)
    overrides.update(FAST_OVERRIDES if args.fast else {"max_minutes": args.minutes})
    if args.fast and set_name in FAST_ENV_KWARGS:
        overrides["env_kwargs"] = FAST_ENV_KWARGS[set_name]
    if args.fast:
        overrides["task_per_env"] = False  # 2 envs cannot hold one task each
    for name in ("context_length", "invalid_actions", "lr", "length_groups", "epsilon_anneal_steps"):
        if getattr(args, name):  # 0 / None: keep the preset's
            overrides[name] = getattr(args, name)
    config = TrainConfig.preset(SETS[set_name], **overrides)
    print(f"\n=== {set_name}: k={config.episodes_per_trial}, context {config.context_length}, "
          f"budget {config.max_minutes or config.total_updates} {'min' if config.max_minutes else 'updates'}")
    start = time.time()
    history = train(config)
    train_s = time.time() - start
    agent, _ = load_agent(config.run_dir, device=resolve_device(config.device))
    trials = 2 if args.fast else args.trials_per_task
    eval_seed = 7_000 + 10_000 * args.seed  # unlike training (0..) and train-time evaluation (5000..)
    results = {"AMAGO-2": evaluate_tasks(agent, config, trials, eval_seed),
               "random": evaluate_tasks(RandomPolicy(action_space(config), args.seed), config, trials, eval_seed)}
    total_s = time.time() - start
    final = history.final_eval
    print(f"trained {final['update']} updates, {final['env_steps']} env steps in {train_s:.0f} s; "
          f"per-task evaluation on {trials} trials per task (held-out seeds)")
    for task in results["AMAGO-2"]:
        print("\n" + task_table(task, {policy: results[policy][task] for policy in results}))
    metric, attempts = SCORING[set_name]
    attempts = [a for a in attempts if -config.episodes_per_trial <= a < config.episodes_per_trial]
    verdicts, above = verdict_table(results, metric, attempts)
    print("\n" + verdicts)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = csv_rows(set_name, results)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    stem = out / f"multitask_{set_name}{args.tag}"
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    record = {"command": shlex.join([sys.executable, *sys.argv]), "versions": versions(), "set": set_name,
              "config": config.to_dict(), "updates": final["update"], "env_steps": final["env_steps"],
              "train_wall_s": round(train_s, 1), "total_wall_s": round(total_s, 1), "results": results,
              "scoring": {"metric": metric, "attempts": attempts},
              "tasks_above_random": {str(attempt % config.episodes_per_trial + 1): n for attempt, n in above.items()},
              "curves": per_task_curves(history.evals)}
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwrote {stem}.csv and {stem}.json ({total_s:.0f} s)")
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["popgym-mt", "babyai-mt"], choices=list(SETS),
                        help="benchmark sets to train (default: popgym-mt babyai-mt)")
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock training budget per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trials-per-task", type=int, default=64, help="evaluation trials of each task, per policy")
    parser.add_argument("--invalid-actions", choices=["replace", "mask"], default=None,
                        help="override the preset's rule for actions a game lacks (replace = the paper's)")
    parser.add_argument("--tag", default="", help="suffix of the result files, e.g. _mask")
    parser.add_argument("--context-length", type=int, default=0, help="override the preset's (GPU: 401 for popgym-mt)")
    parser.add_argument("--lr", type=float, default=0.0, help="override the preset's learning rate (0 = keep it)")
    parser.add_argument("--length-groups", type=int, default=0,
                        help="override the preset's length_groups (0 = keep it; see benchmarks/length_groups.py)")
    parser.add_argument("--epsilon-anneal-steps", type=int, default=0,
                        help="override the preset's epsilon_anneal_steps (steps of each parallel env over which exploration decays; 0 = keep it)")
    parser.add_argument("--device", default="auto", help='"auto", "cpu" or "cuda"')
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (acting is many tiny ops: 1 is fastest on a busy CPU; 0 = torch's default)")
    parser.add_argument("--out", default=str(ROOT / "data" / "results"), help="folder for the CSV/JSON results")
    parser.add_argument("--run-root", default="runs/multitask", help="folder for the run folders")
    parser.add_argument("--fast", action="store_true", help="tiny smoke test (seconds; learns nothing)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.threads < 0 or args.trials_per_task < 1 or args.lr < 0 or args.length_groups < 0 \
            or args.epsilon_anneal_steps < 0:
        parser.error("--minutes must be > 0, --threads >= 0, --trials-per-task >= 1, "
                     "--lr, --length-groups and --epsilon-anneal-steps >= 0")
    print(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} threads")
    for set_name in args.sets:
        run_set(set_name, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
