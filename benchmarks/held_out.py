"""Measure the agents of finished runs on more held-out trials than their own closing measurement.

    python benchmarks/held_out.py runs/main-<stamp> [more run folders] [--trials 256] [--greedy]

For each run folder: its last checkpoint plays ``--trials`` trials of the held-out split (``eval_split``, the
seeds ``amago_edu.evaluation.measure_held_out`` uses, so runs of one task are measured on the same trials, as the
experiment registry measures them) and the script prints success (or return) by attempt with standard errors and
the in-context improvement (last attempt minus first). ``--greedy`` plays each policy's most likely action instead of sampling it
(the run's ``eval_sample``): how much of the measured success the sampling itself costs.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from amago_edu.evaluation import load_agent, measure_held_out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run folders (each with config.json and checkpoints/latest.pt)")
    parser.add_argument("--trials", type=int, default=256, help="held-out trials per run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--greedy", action="store_true", help="act with the argmax action instead of sampling")
    args = parser.parse_args(argv)
    if args.trials < 2:
        parser.error("--trials must be >= 2")
    missing = [run for run in args.runs if not (Path(run) / "checkpoints" / "latest.pt").is_file()]
    if missing:
        parser.error(f"no checkpoints/latest.pt in {missing}: give folders of runs that trained")
    torch.set_num_threads(args.threads)
    for run in args.runs:
        agent, config = load_agent(run)
        if args.greedy:
            config = dataclasses.replace(config, eval_sample=False)
        result = measure_held_out(agent, config, args.trials)
        metric = "success" if None not in result["attempt_success"] else "return"
        means, errors = result[f"attempt_{metric}"], result[f"attempt_{metric}_se"]
        greedy = ", greedy" if args.greedy else ""
        print(f"{run} ({config.env}, {result['trials']} held-out trials{greedy}): {metric} by attempt "
              + ", ".join(f"{m:.3f}+-{se:.3f}" for m, se in zip(means, errors))
              + f"; last - first {means[-1] - means[0]:+.3f}"
              + ("" if result["improvement"] is None else f"; improvement {result['improvement']:+.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
