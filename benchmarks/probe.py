"""Probe a trained agent: which replay actions its filter keeps, and which inputs move its policy.

    python benchmarks/probe.py runs/main-<stamp>              # a run folder (its last checkpoint)
    python benchmarks/probe.py babyai-mt                      # a committed artefact (data/checkpoints/<name>.pt)
    python benchmarks/probe.py runs/main-<stamp> --windows 64 --draws 16
    python benchmarks/probe.py babyai-mt --out data/results/probes/babyai-mt.json   # kept: RESULTS.md shows it

The agent plays fresh trials of its training split (exploring with the run's ``epsilon_end``, as late replay
does) and the probes read windows of them (``amago_edu.diagnostics``):

- filter share: the share of replay (state, gamma) pairs with A > filter_threshold, with the sampled V(s)
  (mean of K policy samples, the authors' estimate) and with the exact V(s) = sum_a pi(a|s) Q(s, a); they should
  agree within sampling error. Needs the critic (artefacts of the "policy" parts have none: skipped).
- input sensitivity: for each observation key, the mean total-variation change of the policy when that key alone
  is swapped with another window's; and the token spread (std of the encoder's tokens across steps / their norm).
- learning signal: how much the critic's values vary across states and actions, the share of rewarded steps, and
  the share of replay actions at a bound of the actor's probability clamp. Needs the critic.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from amago_edu.course.artefacts import artefact_path, load_trained
from amago_edu.diagnostics import filter_shares, input_sensitivity, learning_signal, play_batch
from amago_edu.results import provenance
from amago_edu.evaluation import load_agent


def load(source: str):
    """(agent, config, whether it has a critic) of a run folder or an artefact name/path."""
    if (Path(source) / "config.json").is_file():
        if not (Path(source) / "checkpoints" / "latest.pt").is_file():
            raise ValueError(f"{source} has no checkpoints/latest.pt: give the folder of a run that trained")
        agent, config = load_agent(source)
        return agent, config, True
    if not artefact_path(source).is_file():
        raise ValueError(f"{source!r} is neither a run folder (with config.json) nor an artefact "
                         f"({artefact_path(source)} does not exist)")
    agent, config, _ = load_trained(source)
    return agent, config, "critic" in agent.loaded_parts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a run folder or a committed artefact's name (data/checkpoints/<name>.pt)")
    parser.add_argument("--trials", type=int, default=32, help="trials to play for the probes' windows")
    parser.add_argument("--windows", type=int, default=48, help="windows per batch")
    parser.add_argument("--draws", type=int, default=16, help="samplings of V(s) averaged for the sampled share")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="also write the figures (with their provenance) to this JSON file")
    args = parser.parse_args(argv)
    for name in ("trials", "windows", "draws"):
        if getattr(args, name) < 2:
            parser.error(f"--{name} must be >= 2")
    try:
        agent, config, has_critic = load(args.source)
    except ValueError as err:
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    batch = play_batch(agent, config, trajectories=args.trials, batch_size=args.windows, seed=args.seed)
    steps = int(batch["mask"].sum())
    print(f"{args.source}: {config.env}, {args.trials} trials played, {args.windows} windows, {steps} transitions")
    shares = signal = None
    if has_critic and agent.discrete:
        shares = filter_shares(agent, batch, draws=args.draws, seed=args.seed)
        print(f"filter keeps (A > {agent.config.filter_threshold:g}): sampled V(s) {shares['sampled']:.3f} "
              f"+- {shares['sampled_se']:.3f}, exact V(s) {shares['exact']:.3f} ({shares['n']} state-gamma pairs)")
        signal = learning_signal(agent, batch)
        print(f"critic (acting gamma): max_a Q varies by {signal['value_spread_states']:.3f} (std) across states, "
              f"max_a Q - min_a Q is {signal['value_spread_actions']:.3f} on average; {signal['rewarded_steps']:.3f} of "
              f"steps rewarded; replay actions at the clamp's bounds: {signal['clamp_low']:.3f} low, "
              f"{signal['clamp_high']:.3f} high")
    else:
        print("filter share: skipped (" + ("no critic in this artefact" if agent.discrete else "continuous actions")
              + ")")
    scores = input_sensitivity(agent, batch, seed=args.seed)
    if args.out:
        record = {"source": args.source, "env": config.env, "trials": args.trials, "windows": args.windows,
                  "transitions": steps, "filter_shares": shares, "learning_signal": signal,
                  "input_sensitivity": scores, "command": shlex.join(["python", "benchmarks/probe.py", *sys.argv[1:]]),
                  "provenance": provenance()}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    scores = dict(scores)
    spread = scores.pop("token_spread")
    print("policy change (total variation) when one input is swapped between windows:")
    for key, value in sorted(scores.items(), key=lambda item: -item[1]):
        print(f"  {key:<14} {value:.4f}")
    print(f"token spread across steps: {spread:.3f} of the token norm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
