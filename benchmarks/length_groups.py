"""How much of an update is padding, and what ``length_groups`` saves, on a run's own replay.

    python benchmarks/length_groups.py runs/main-<date-time>             # a make run folder (frozen lake)
    python benchmarks/length_groups.py RUN --groups 1 4 8 --repeats 40

Loads the run's agent (its last checkpoint) and replay files, and times ``update_step`` on batches drawn as
training draws them: ``length_groups=1`` (each update its own batch of ``batch_size`` windows, trimmed to its
longest row) against each G given (G updates from one draw of G x batch_size windows, sorted by length and
cut into G batches of about equal token count; ``amago_edu.replay.sample_length_groups``). The variants are
timed interleaved (one update of each in turn, repeated), each on its own copy of the agent and optimizer, so
machine noise hits them alike. Prints per variant: median ms per update, padded tokens per update (rows x
trimmed length, what the networks compute on), valid transitions per update, and the time as a ratio to G=1.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from amago_edu.learning import make_optimizer, update_step
from amago_edu.replay import TrajectoryStore, batch_to_torch, sample_length_groups
from amago_edu.evaluation import load_agent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run folder with config.json, checkpoints/ and replay/")
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 8], help="length_groups values (first = reference)")
    parser.add_argument("--repeats", type=int, default=40, help="timed updates per variant")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if any(g < 1 for g in args.groups) or args.repeats < 2:
        parser.error("--groups must be >= 1 and --repeats >= 2")
    replay = Path(args.run) / "replay"
    if not replay.is_dir() or not any(replay.glob("*.npz")):
        parser.error(f"{replay} has no trajectory files: give the folder of a run that trained (e.g. make run's)")
    torch.set_num_threads(args.threads)
    agent, config = load_agent(args.run)
    store = TrajectoryStore(replay, capacity=len(list(replay.glob("*.npz"))))  # as many as there are: none evicted
    trajectories = [store.get(path) for path in store.paths()]  # None for a file that cannot be read
    lengths = np.array([len(traj["rewards"]) for traj in trajectories if traj is not None])
    print(f"{args.run}: {len(store)} trajectories of {lengths.mean():.1f} transitions on average (median "
          f"{np.median(lengths):.0f}, 90th percentile {np.percentile(lengths, 90):.0f}); batch_size {config.batch_size}, "
          f"window {config.window}; torch {torch.__version__}, {args.threads} threads")

    variants = {}
    for g in args.groups:
        copy_ = copy.deepcopy(agent).train()
        optimizer, scheduler = make_optimizer(copy_, lr=config.lr, weight_decay=config.weight_decay, warmup_updates=1)
        variants[g] = dict(agent=copy_, optimizer=optimizer, scheduler=scheduler, rng=np.random.default_rng(g),
                           queue=[], seconds=[], tokens=[], valid=[])
    for repeat in range(args.repeats + 2):  # the first two rounds warm up
        for g, v in variants.items():
            if not v["queue"]:
                v["queue"] = sample_length_groups(store, config.batch_size, config.window, v["rng"], g)
            batch = v["queue"].pop()
            mask = batch["mask"]
            tensors = batch_to_torch(batch)
            start = time.perf_counter()
            update_step(v["agent"], v["optimizer"], v["scheduler"], tensors, config.grad_clip)
            if repeat >= 2:
                v["seconds"].append(time.perf_counter() - start)
                v["tokens"].append(mask.size)
                v["valid"].append(int(mask.sum()))

    reference = statistics.median(variants[args.groups[0]]["seconds"])
    print(f"\n{'length_groups':>13} {'ms/update':>10} {'padded tokens':>14} {'valid':>7} {'time ratio':>11}")
    for g, v in variants.items():
        ms = statistics.median(v["seconds"])
        print(f"{g:>13} {1000 * ms:>10.1f} {np.mean(v['tokens']):>14.0f} {np.mean(v['valid']):>7.0f} "
              f"{ms / reference:>11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
