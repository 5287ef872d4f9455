"""The README's main job: train the default agent headless and show what it learned.

    python -m amago_edu.main                   # AMAGO-2 on meta frozen lake (preset "frozen_lake")
    python -m amago_edu.main --minutes 3       # stop after 3 minutes (the summary says it stopped early)
    python -m amago_edu.main --notebooks       # instead, execute every notebook (FAST) into a run folder

The preset's budget is a number of updates (with a time cap as a safety net), so what the run learns does not
depend on the machine's speed. Prints the success by attempt within a trial (the in-context adaptation table),
measures the trained agent on 256 more held-out trials (with standard errors), probes its filter (the share of
replay actions it imitates with the sampled and with the exact V(s)), writes ``results.html`` (learning curve and
success by attempt) and says where the run folder is; a run stopped before its budget says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
HELD_OUT_TRIALS = 256  # the closing measurement of the trained agent, on maps no evaluation during training played


def run_notebooks(out_dir: Path) -> int:
    """Execute every notebook headless with papermill in FAST mode; executed copies go to out_dir."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    failed = []
    for notebook in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        print(f"executing {notebook.name} ...", flush=True)
        params = pm.inspect_notebook(str(notebook))
        parameters = {"FAST": True, **({"OUT_DIR": str(out_dir / notebook.stem)} if "OUT_DIR" in params else {})}
        try:
            pm.execute_notebook(str(notebook), str(out_dir / notebook.name), parameters=parameters,
                                kernel_name="python3", cwd=str(NOTEBOOK_DIR), progress_bar=False)
        except Exception as err:  # noqa: BLE001 - report every failing notebook, then exit non-zero
            failed.append(notebook.name)
            print(f"  FAILED: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    print(f"executed notebooks are in {out_dir}")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amago_edu.main", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="frozen_lake", help="training preset (see amago_edu.config.PRESETS)")
    parser.add_argument("--minutes", type=float, default=None, help="time cap in minutes (default: the preset's; the budget is its updates)")
    parser.add_argument("--run-dir", default=None, help="run folder (default: runs/main-<date-time>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--notebooks", action="store_true", help="execute the notebooks instead of training")
    args = parser.parse_args(argv)
    os.environ["AMAGO_EDU_HEADLESS"] = "1"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if args.notebooks:
        return run_notebooks(Path(args.run_dir or f"runs/notebooks-{stamp}"))

    from .config import TrainConfig
    from .diagnostics import filter_shares, play_batch
    from .course.plotting import attempt_plot, learning_curve, summary_table
    from .train import NonFiniteLossError, train
    from .evaluation import load_agent, measure_held_out

    overrides = {"run_dir": args.run_dir or f"runs/main-{stamp}", "seed": args.seed}
    if args.minutes is not None:
        overrides["max_minutes"] = args.minutes
    try:
        config = TrainConfig.preset(args.preset, **overrides).validate()
        print(f"training AMAGO-2 on {config.env} (k={config.episodes_per_trial} attempts per trial) for at most "
              f"{config.total_updates} updates / {config.max_minutes or 'unlimited'} minutes; "
              f"metrics stream to {config.run_dir}/metrics.jsonl", flush=True)
        start = time.time()
        history = train(config)
    except (ValueError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # train() saved a checkpoint and said how to resume
        return 130
    final = history.final_eval
    print(f"\nfinished in {(time.time() - start) / 60:.1f} min: {final['update']} of {config.total_updates} updates, "
          f"{final['env_steps']} env steps")
    stopped_early = final["update"] < config.total_updates
    if stopped_early:
        print(f"NOTE: the run stopped after {final['update']} of its {config.total_updates} updates (time cap of "
              f"{config.max_minutes:g} minutes, or Ctrl-C). The figures below are of an agent trained for less than "
              f"the preset's budget and may show little or no in-context adaptation; continue it with\n"
              f"  python -m amago_edu.train --preset {args.preset} --seed {args.seed} --run-dir {config.run_dir} "
              f"--resume --max-minutes 0")
    print("\nEvaluation after training (held-out maps; success rate by attempt within a trial):")
    print(summary_table(final))
    evals = history.evals
    if len(evals) > 1:
        first = evals[0]["attempt_success"]
        print(f"\nat the first evaluation (update {evals[0]['update']}): {[round(x, 2) if x is not None else None for x in first]}")
    agent, _ = load_agent(history.run_dir)
    measured = measure_held_out(agent, config, HELD_OUT_TRIALS)
    metric = "success" if None not in measured["attempt_success"] else "return"  # tasks without a success notion
    means, errors = measured[f"attempt_{metric}"], measured[f"attempt_{metric}_se"]
    print(f"\n{measured['trials']} more held-out trials (fresh seeds), {metric} by attempt +- standard error: "
          + ", ".join(f"{m:.2f}+-{se:.2f}" for m, se in zip(means, errors))
          + f"; last attempt - first = {means[-1] - means[0]:+.2f}")
    if agent.discrete:
        shares = filter_shares(agent, play_batch(agent, config, trajectories=32, batch_size=48), draws=8)
        print(f"filtered BC imitates {shares['sampled']:.0%} of replay actions with the sampled V(s) "
              f"(exact V(s): {shares['exact']:.0%}; benchmarks/probe.py probes further)")
    if stopped_early:
        print(f"(stopped early: {final['update']} of {config.total_updates} updates)")
    report = history.run_dir / "results.html"
    with open(report, "w") as f:
        f.write(learning_curve(evals, metric="success").to_html(full_html=False, include_plotlyjs=True))
        f.write(attempt_plot(evals, metric="success").to_html(full_html=False, include_plotlyjs=False))
    print(f"\nrun folder: {history.run_dir}  (plots: {report})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
