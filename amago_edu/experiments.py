"""The experiment registry: every committed learning result is a named entry, run by one command.

    python -m amago_edu.experiments list
    python -m amago_edu.experiments run frozen_lake --seed 0 [--threads 1]     # train, score, write the result
    python -m amago_edu.experiments score frozen_lake --seed 0 --run runs/fl   # score a run the entry's settings made
    python -m amago_edu.experiments report                  # RESULTS.md, README's tables and figures from data/results/
    python -m amago_edu.experiments export tmaze --seed 0 --artefact tmaze     # a notebook's committed agent

An entry names a preset, its overrides, the seeds a claim rests on and how a trained agent is scored:

- ``"held_out"``: success (or return) by attempt on ``trials`` held-out trials (``train.measure_held_out``), the
  in-context improvement (last attempt - first) and the training-time evaluation curve;
- ``"per_task"``: each task of a mixture against a uniform random policy on the same held-out seeds
  (``train.evaluate_tasks``), which tasks are above random by more than 2 standard errors (``results.above_random``).

``run`` writes ``data/results/<name>/seed<S>.json`` with the config, the scores and where they came from (commit,
date, machine, torch; ``results.provenance``). ``report`` rewrites RESULTS.md from those files, so a figure in the
repository is always one that a committed command printed. ``--fast`` runs an entry at a tiny budget into a
scratch folder (the suite does this for every entry).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import TrainConfig
from .metrics import History
from .results import DATA_DIR, SCORING, above_random, per_task_curves, provenance
from .utils import atomic_path

RESULTS_DIR = DATA_DIR / "results"
RESULTS_MD = DATA_DIR.parent / "RESULTS.md"
#: a tiny budget (seconds on a CPU) that exercises an entry end to end; it learns nothing
FAST = dict(d_model=32, n_layers=1, n_heads=2, tstep_hidden=32, head_hidden=32, num_critics=2, context_length=16,
            num_envs=2, collect_steps=8, updates_per_collect=2, learning_starts=1, batch_size=4, total_updates=4,
            eval_interval=4, eval_trials=2, log_interval=2, checkpoint_interval=4, warmup_updates=2, max_minutes=0.0,
            length_groups=1, task_per_env=False)


@dataclass(frozen=True)
class Experiment:
    """One named experiment: what to train, how often, and how to score it."""

    preset: str
    description: str
    overrides: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = (0, 1, 2)
    scoring: str = "held_out"  # or "per_task"
    trials: int = 256  # held_out: trials; per_task: trials per task
    target: str = ""
    fast_env_kwargs: dict | None = None
    verdict: str = ""  # the target as a rule :func:`target_met` applies: "adapts", "holds", "tasks:N" or ""

    def config(self, seed: int, run_dir: str, threads: int = 0, fast: bool = False) -> TrainConfig:
        settings = {**self.overrides, "seed": seed, "run_dir": run_dir, "num_threads": threads, "overwrite": True}
        if fast:
            settings.update(FAST)
            if self.fast_env_kwargs is not None:
                settings["env_kwargs"] = self.fast_env_kwargs
        return TrainConfig.preset(self.preset, **settings).validate()


_FROZEN_LAKE = TrainConfig.preset("frozen_lake")
_ADAPTS = "last attempt >= 0.75 and >= first + 0.25 on 256 held-out trials, every seed"
_HOLDS = "after first reaching 0.95, every later evaluation >= 0.95"
_SHORT_CONTEXT = 4
REGISTRY: dict[str, Experiment] = {
    "frozen_lake": Experiment(
        "frozen_lake", "`make run`: AMAGO-2 on meta frozen lake, 4x4 held-out maps, k = 5 attempts",
        target=_ADAPTS, verdict="adapts"),
    "frozen_lake_critic_input": Experiment(
        "frozen_lake", "`make run` with the critic reading the action as an input (the authors' MultiTaskAgent)",
        overrides={"critic_action": "input"}, target=_ADAPTS, verdict="adapts"),
    "frozen_lake_softmax_bc": Experiment(
        "frozen_lake", "`make run` with the BC log-probability taken from log_softmax (no gradient lost to the clamp)",
        overrides={"bc_log_prob": "softmax"}, seeds=(0,)),
    # notebook 05's control: the same agent with a 4-step context, so a few steps into an attempt nothing of the
    # previous one is left; as many transitions per update as the whole-trial agent (more, shorter windows)
    "frozen_lake_short_context": Experiment(
        "frozen_lake", "`make run` with a 4-step context: cannot hold the previous attempt (notebook 05's control)",
        overrides={"context_length": _SHORT_CONTEXT,
                   "batch_size": _FROZEN_LAKE.batch_size * _FROZEN_LAKE.window // (_SHORT_CONTEXT - 1)}),
    "tmaze": Experiment(
        "tmaze", "T-maze, 30-step corridor: recall the cue at the junction", trials=64,
        target=_HOLDS, verdict="holds"),
    # the authors' optimiser and network defaults (amago/experiment.py: lr 1e-4, 500 warm-up updates;
    # TformerTrajEncoder: dropout 0.05 on embeddings and feed-forward) against the preset's 3e-4, 100 and 0
    "tmaze_authors_optim": Experiment(
        "tmaze", "T-maze at the authors' lr 1e-4, 500 warm-up updates and dropout 0.05", trials=64,
        overrides={"lr": 1e-4, "warmup_updates": 500, "dropout": 0.05},
        target=_HOLDS, verdict="holds"),
    "babyai_mt": Experiment(
        "babyai_mt", "8 BabyAI levels, k = 2 on one layout, 8,000 updates", scoring="per_task", trials=32,
        fast_env_kwargs={"max_steps": 8}, target=">= 5 of 8 levels above random in each attempt (mean of the seeds)",
        verdict="tasks:5:door"),
    "popgym_mt_mask": Experiment(
        "popgym_mt", "8 POPGym games (warm-up attempt), invalid actions masked, 10,000 updates", scoring="per_task",
        overrides={"invalid_actions": "mask"}, trials=32, target=">= 6 of 8 games above random", verdict="tasks:6"),
    "popgym_mt_rule": Experiment(
        "popgym_mt", "8 POPGym games (warm-up attempt), the paper's replace-and-flag rule, 10,000 updates",
        scoring="per_task", trials=32, target=">= 4 of 8 games above random", verdict="tasks:4"),
}

#: the return-scale ablation (Sec. 3, Eqs. 1-4; notebook 07): the 2x2 of critic and actor losses and the paper's
#: Dep./Dep. baseline, on three POPGym games rescaled x0.1, x1 and x100, and, as the control that tells "scale
#: imbalance" apart from "this loss does not learn these games in 4,000 updates", on the same games at x1 each
ABLATION_VARIANTS = (("two_hot", "filtered_bc"), ("two_hot", "max_q"), ("mse", "filtered_bc"), ("mse", "max_q"),
                     ("popart", "max_q"))
for _critic, _actor in ABLATION_VARIANTS:
    for _scales, _prefix, _what in (((0.1, 1.0, 100.0), "ablation", "rescaled x0.1 / x1 / x100"),
                                    ((1.0, 1.0, 1.0), "ablation_equal", "at equal scales (x1 each), the control")):
        REGISTRY[f"{_prefix}_{_critic}_{_actor}"] = Experiment(
            "scale_ablation", f"return-scale ablation: {_critic} critic + {_actor} actor, 3 POPGym games {_what}, "
            "4,000 updates", scoring="per_task", overrides={"critic": _critic, "actor": _actor, "reward_scales": _scales},
            trials=32)


def ablation_rows(prefix: str = "ablation", root: Path = RESULTS_DIR) -> list[dict]:
    """The return-scale ablation's committed results as rows (notebook 07's bars, ``plotting.variant_bars``): per
    variant ``critic+actor`` and game, the normalized return (return / reward scale) as mean and standard deviation
    over the seeds, and ``above_random``, in how many of the ``seeds`` the variant beat a uniform random policy by
    more than 2 standard errors on that game; then the random policy's rows (one per game). ``prefix``: "ablation"
    (rescaled games) or "ablation_equal" (the control). [] when nothing is committed."""
    def row(variant: str, task: str, scale: float, values: list[float], above: int) -> dict:
        return {"variant": variant, "task": task, "reward_scale": scale, "seeds": len(values),
                "normalized_return_mean": float(np.mean(values)),
                "normalized_return_std": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
                "above_random": above}

    rows, random = [], {}  # random: {task: (scale, {seed: normalized return})}
    for critic, actor in ABLATION_VARIANTS:
        records = load_results(f"{prefix}_{critic}_{actor}", root)
        if not records:
            continue
        scales = dict(zip(records[0]["config"]["env"].split(","), records[0]["config"]["reward_scales"]))
        for task in records[0]["results"]["AMAGO-2"]:
            rows.append(row(f"{critic}+{actor}", task, scales[task],
                            [r["results"]["AMAGO-2"][task]["normalized_return"] for r in records],
                            sum(task in r["above_random"]["1"] for r in records)))
            for r in records:  # the same evaluation seeds for every variant: one random score per (seed, game)
                random.setdefault(task, (scales[task], {}))[1][r["seed"]] = r["results"]["random"][task]["normalized_return"]
    rows += [row("random", task, scale, list(by_seed.values()), 0) for task, (scale, by_seed) in random.items()]
    return rows


#: the README's "laptop CPU or GPU" table: per benchmark, the registry entries that run it on a CPU and the paper
#: preset for a GPU (App. A, Tables 1-2), with the paper's headline result (Sec. 4)
BENCHMARK_ROWS = (
    ("Meta frozen lake (k = 5)", ("frozen_lake",), "-", "- (the authors' example task)"),
    ("T-maze memory", ("tmaze",), "-", "- (the authors' example task)"),
    ("POPGym, 8 games", ("popgym_mt_mask", "popgym_mt_rule"), "paper_popgym", "27 games: 85% normalised return (Fig. 5)"),
    ("BabyAI, 8 levels", ("babyai_mt",), "paper_babyai", "50 levels: two-episode return 1.61 (Fig. 10)"),
    ("Meta-World", (), "paper_metaworld_ml45", "ML45: 88.8% success (Fig. 4)"),
    ("Multi-game Atari", (), "paper_atari", "10 games (Fig. 9)"),
    ("Multi-game Procgen", (), "paper_procgen_easy", "easy, 275M steps (Figs. 6-7)"),
)
README_MARKERS = ("<!-- registry:cpu-gpu:start -->", "<!-- registry:cpu-gpu:end -->")
HERO_MARKERS = ("<!-- registry:hero:start -->", "<!-- registry:hero:end -->")


def hero_caption(root: Path = RESULTS_DIR) -> str:
    """The README figure's caption, with the figures of the committed `make run` results."""
    records = load_results("frozen_lake", root)
    if not records:
        return "*`make run`'s agent has no committed result yet (`python -m amago_edu.experiments run frozen_lake`).*"
    means = np.array([r["attempt"] for r in records]).mean(0)
    commits = sorted({t["commit"] for r in records for t in r.get("trained_by", []) if t.get("commit")}
                     or {r["provenance"]["commit"] for r in records})
    short = load_results("frozen_lake_short_context", root)
    beside = (f"a 4-step-context agent (`frozen_lake_short_context`, {len(short)} seeds) and an untrained one"
              if short else "an untrained one")
    return (f"*Success by attempt on {records[0]['trials']} held-out 4x4 maps. `make run`'s agent (whole trial in "
            f"context; mean of {len(records)} seeds, {records[0]['updates']:,} updates, trained at {', '.join(commits)}): "
            f"{means[0]:.2f} in attempt 1, {means[-1]:.2f} in attempt {len(means)}. Beside it: {beside}, "
            f"and the authors' code run on a CPU "
            f"(their default, AMAGO-1 `Agent`). Error bars: standard errors. All figures: [RESULTS.md](RESULTS.md).*")


def cpu_gpu_table(root: Path = RESULTS_DIR) -> str:
    """Markdown: what a laptop CPU reproduces (the registry's committed results) and what needs a GPU."""
    lines = ["| benchmark | on a laptop CPU (committed runs, `RESULTS.md`) | on a GPU: preset | the paper |",
             "|---|---|---|---|"]
    for benchmark, names, preset, paper in BENCHMARK_ROWS:
        cells = [f"`{n}`: {summary_line(load_results(n, root))}" for n in names] or [
            "a small run exists (`benchmarks/multitask.py`; docs/benchmarks.md), no CPU result is claimed"]
        lines.append(f"| {benchmark} | {'<br>'.join(cells)} | {'`' + preset + '`' if preset != '-' else '-'} | {paper} |")
    return "\n".join(lines)


def update_readme(readme: Path, root: Path = RESULTS_DIR) -> bool:
    """Replace the text between README_MARKERS with :func:`cpu_gpu_table` and between HERO_MARKERS with
    :func:`hero_caption`; False when the README has neither pair of markers."""
    text, found = readme.read_text(), False
    for (start, end), block in ((README_MARKERS, cpu_gpu_table(root)), (HERO_MARKERS, hero_caption(root))):
        if start in text and end in text:
            head, rest = text.split(start, 1)
            text, found = f"{head}{start}\n{block}\n{end}{rest.split(end, 1)[1]}", True
    if found:
        with atomic_path(readme) as tmp:
            tmp.write_text(text)
    return found


def _get(name: str) -> Experiment:
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; the registry has {sorted(REGISTRY)}")
    return REGISTRY[name]


def _curve(history: History) -> list[dict]:
    keep = ("kind", "update", "env_steps", "wall_time", "success", "return", "attempt_success", "attempt_success_se",
            "attempt_return", "trials")
    return [{k: row[k] for k in keep if k in row} for row in history.evals]


def score(name: str, seed: int, run_dir: str | Path, fast: bool = False) -> dict:
    """Score the trained run in ``run_dir`` as entry ``name`` says; its config must be the entry's (seed and
    bookkeeping fields aside), so a result cannot come from other settings than the registry's."""
    from .rollout import RandomPolicy
    from .evaluation import action_space, agent_for, evaluate_tasks, load_agent, measure_held_out

    entry = _get(name)
    agent, config = load_agent(run_dir)
    expected = entry.config(seed, str(run_dir), fast=fast).to_dict()
    bookkeeping = {"run_dir", "num_threads", "overwrite", "resume", "device"}
    saved = config.to_dict()  # TrainConfig.load turns the JSON's lists back into tuples: a plain comparison holds
    differ = sorted(k for k, v in expected.items() if k not in bookkeeping and saved.get(k) != v)
    if differ:
        raise ValueError(f"{run_dir} was not trained with {name!r}'s settings (differs in {differ}); "
                         f"train it with `python -m amago_edu.experiments run {name} --seed {seed}`")
    history = History.load(run_dir)
    trained = Path(run_dir) / "provenance.jsonl"
    trained_by = [json.loads(line) for line in trained.read_text().splitlines()] if trained.is_file() else []
    final = history.final_eval or history.evals[-1]
    trials = 4 if fast else entry.trials
    record = {"experiment": name, "description": entry.description, "seed": seed, "preset": entry.preset,
              "overrides": entry.overrides, "scoring": entry.scoring, "updates": final["update"],
              "env_steps": final["env_steps"], "train_wall_s": round(final["wall_time"], 1),
              "curve": _curve(history), "config": config.to_dict(), "trained_by": trained_by}
    if entry.scoring == "held_out":
        measured = measure_held_out(agent, config, trials)
        metric = "success" if None not in measured["attempt_success"] else "return"
        means = measured[f"attempt_{metric}"]
        record.update(metric=metric, trials=measured["trials"], attempt=means, attempt_se=measured[f"attempt_{metric}_se"],
                      last_minus_first=means[-1] - means[0])
        torch.manual_seed(seed)  # the baseline: the same architecture at its initialisation, on the same trials
        untrained = measure_held_out(agent_for(config).eval(), config, trials)
        record["untrained"] = {"attempt": untrained[f"attempt_{metric}"], "attempt_se": untrained[f"attempt_{metric}_se"]}
    else:
        eval_seed = 7_000 + 10_000 * seed  # unlike training (0..) and train-time evaluation (5000..)
        results = {"AMAGO-2": evaluate_tasks(agent, config, trials, eval_seed),
                   "random": evaluate_tasks(RandomPolicy(action_space(config), seed), config, trials, eval_seed)}
        metric, attempts = SCORING["babyai-mt" if config.env.startswith("babyai") else "popgym-mt"]
        attempts = [a % config.episodes_per_trial for a in attempts if -config.episodes_per_trial <= a < config.episodes_per_trial]
        record.update(set=config.env, metric=metric, trials_per_task=trials, results=results,
                      curves=per_task_curves(history.evals), above_random={
            str(a + 1): sorted(t for t in results["AMAGO-2"] if above_random(results["AMAGO-2"][t], results["random"][t],
                                                                             metric, a)) for a in attempts})
    return record


def run(name: str, seed: int, threads: int = 0, fast: bool = False, run_root: str = "runs/registry",
        out: str | Path | None = None) -> Path:
    """Train entry ``name`` with ``seed``, score it and write the result (atomically); returns the file's path."""
    from .train import train

    entry = _get(name)
    run_dir = Path(run_root) / f"{name}-seed{seed}"
    start = time.time()
    train(entry.config(seed, str(run_dir), threads, fast))
    record = score(name, seed, run_dir, fast)
    return write(record, seed, out, wall_s=time.time() - start)


def write(record: dict, seed: int, out: str | Path | None = None, wall_s: float | None = None) -> Path:
    record = {**record, "command": shlex.join(["python", "-m", "amago_edu.experiments", *sys.argv[1:]]),
              "provenance": provenance(), **({"total_wall_s": round(wall_s, 1)} if wall_s is not None else {})}
    path = Path(out) if out else RESULTS_DIR / record["experiment"] / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    return path


def export(name: str, seed: int, artefact: str, run_root: str = "runs/registry", parts=None,
           root: Path = RESULTS_DIR) -> Path:
    """Commit the agent of a registry run as a notebook artefact (``data/checkpoints/<artefact>.pt``), with the
    figures of its result file as ``meta``: the command, updates, training minutes, evaluations, the held-out
    measurement or the per-task verdict."""
    from .course.artefacts import PARTS, export_agent

    results = {r["seed"]: r for r in load_results(name, root)}
    if seed not in results:
        raise ValueError(f"no data/results/{name}/seed{seed}.json: run the experiment first")
    record = results[seed]
    evals = record["curve"]
    meta = {"command": f"python -m amago_edu.experiments run {name} --seed {seed}", "results": f"data/results/{name}/seed{seed}.json",
            "updates": record["updates"], "train_minutes": record["train_wall_s"] / 60, "evals": evals,
            "final_eval": evals[-1] if evals else None, "target": _get(name).target}
    if record["scoring"] == "held_out":
        meta["held_out"] = {"trials": record["trials"], "attempt_success": record["attempt"],
                            "attempt_success_se": record["attempt_se"]}
    else:
        meta["above_random"] = record["above_random"]
    return export_agent(Path(run_root) / f"{name}-seed{seed}", artefact, parts=tuple(parts or PARTS), meta=meta)


def load_results(name: str, root: Path = RESULTS_DIR) -> list[dict]:
    """Every seed's result of entry ``name`` (sorted by seed); [] when none is committed."""
    return [json.loads(p.read_text()) for p in sorted((root / name).glob("seed*.json"),
                                                      key=lambda p: int(p.stem[4:]))]


def _last_attempt_curve(curve: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training-time evaluations' last-attempt success, its standard error and trial count (arrays of the
    evaluations that have one)."""
    rows = [e for e in curve if e.get("attempt_success") and e["attempt_success"][-1] is not None]
    return (np.array([e["attempt_success"][-1] for e in rows], dtype=float),
            np.array([(e.get("attempt_success_se") or [0.0])[-1] or 0.0 for e in rows], dtype=float),
            np.array([e.get("trials", 0) for e in rows], dtype=float))


def _largest_falls(x: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Curves (D, k) of values and standard errors -> (D,): each curve's largest drop below its best so far, in
    standard errors of the difference (0 for a curve that never falls)."""
    worst = np.zeros(len(x))
    if x.shape[1] == 0:
        return worst
    best, best_se = x[:, 0].copy(), se[:, 0].copy()
    for j in range(1, x.shape[1]):
        fall = (best - x[:, j]) / np.maximum(np.hypot(best_se, se[:, j]), 1e-9)
        worst = np.where(best > x[:, j], np.maximum(worst, fall), worst)
        up = x[:, j] > best
        best, best_se = np.where(up, x[:, j], best), np.where(up, se[:, j], best_se)
    return worst


def _largest_fall(curve: list[dict]) -> float:
    """The largest drop of the last attempt's evaluated success below its best so far, in standard errors of the
    difference (0 for a curve that never falls)."""
    x, se, _ = _last_attempt_curve(curve)
    return float(_largest_falls(x[None], se[None])[0])


def non_decreasing_fit(values, weights) -> np.ndarray:
    """The weighted least-squares fit of ``values`` by a non-decreasing sequence (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for value, weight in zip(values, weights):
        blocks.append([float(value), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, w2, n2), (m1, w1, n1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.array([mean for mean, _, length in blocks for _ in range(length)])


def fall_by_chance(curve: list[dict], draws: int = 4000, seed: int = 0) -> float | None:
    """How often an agent that never gets worse would show a fall as large as this curve's largest one.

    The 32-trial evaluations are noisy, and the largest of ~50 of them is an upward-biased best: a flat curve of
    success 0.75 shows a largest fall above 2 SE in nearly every run. The null here is the closest non-decreasing
    curve to the observed one (weighted by trials); each evaluation is redrawn as Binomial(trials, p) / trials with
    its standard error computed as ``rollout.evaluate`` does (ddof 1), and the result is the share of draws whose
    largest fall is at least the observed one. Below 0.05: the curve fell by more than noise explains, so the agent
    lost something it had learned. None when the evaluations do not record their trial counts."""
    x, se, n = _last_attempt_curve(curve)
    if len(x) == 0 or (n < 2).any():
        return None
    observed = _largest_falls(x[None], se[None])[0]
    p = np.clip(non_decreasing_fit(x, n), 0.0, 1.0)
    rng = np.random.default_rng(seed)
    sims = rng.binomial(n.astype(int), p, size=(draws, len(p))) / n
    sims_se = np.sqrt(sims * (1 - sims) / (n - 1))
    return float((_largest_falls(sims, sims_se) >= observed - 1e-9).mean())


def target_met(entry: Experiment, records: list[dict]) -> str:
    """Whether the committed seeds meet the entry's target, and the figure that decides it."""
    if not records or not entry.verdict:
        return "-"
    if entry.verdict == "adapts":  # every seed: last >= 0.75, last - first >= 0.25, no fall > 2 SE from the best
        lasts = [r["attempt"][-1] for r in records]
        gains = [r["last_minus_first"] for r in records]
        falls = [_largest_fall(r["curve"]) for r in records]
        chance = [fall_by_chance(r["curve"]) for r in records]
        met = all(last >= 0.75 for last in lasts) and all(g >= 0.25 for g in gains) and all(f <= 2 for f in falls)
        return (f"{'met' if met else 'NOT met'}: last attempt " + ", ".join(f"{x:.2f}" for x in lasts)
                + "; last - first " + ", ".join(f"{g:+.2f}" for g in gains)
                + "; largest fall of the curve below its best so far " + ", ".join(f"{f:.1f} SE" for f in falls)
                + ("" if None in chance else " (an agent that never gets worse falls as far by chance in "
                   + ", ".join(f"{c:.1%}" for c in chance) + " of draws; `experiments.fall_by_chance`)"))
    if entry.verdict == "holds":  # every seed: once an evaluation reaches 0.95, none after it falls below
        held = []
        for r in records:
            success = [e["attempt_success"][-1] for e in r["curve"] if e.get("attempt_success")]
            first = next((i for i, x in enumerate(success) if x >= 0.95), None)
            held.append("never reached" if first is None else
                        "held" if min(success[first:]) >= 0.95 else f"fell to {min(success[first:]):.2f}")
        met = all(h == "held" for h in held)
        return f"{'met' if met else 'NOT met'}: " + ", ".join(f"seed {r['seed']} {h}" for r, h in zip(records, held))
    _, needed, *door = entry.verdict.split(":")
    needed = int(needed)
    means = {a: float(np.mean([len(r["above_random"][a]) for r in records])) for a in records[0]["above_random"]}
    met = all(m >= needed for m in means.values())
    text = ", ".join(f"attempt {a} {m:.1f}" for a, m in means.items()) + f" (needs {needed})"
    if door:  # BabyAI: a level that needs a door opened or a key among them, in some seed
        doors = sorted({t for r in records for tasks in r["above_random"].values() for t in tasks
                        if any(word in t for word in ("Door", "Unlock", "Key"))})
        met = met and bool(doors)
        text += "; door or key levels above random: " + (", ".join(doors) or "none")
    return f"{'met' if met else 'NOT met'}: mean tasks above random {text}"


def summary_line(records: list[dict]) -> str:
    """One line per experiment for RESULTS.md's overview."""
    if not records:
        return "not run yet"
    if records[0]["scoring"] == "held_out":
        attempts = np.array([r["attempt"] for r in records])
        mean = attempts.mean(0)
        return (f"{records[0]['metric']} by attempt, mean of {len(records)} seeds: "
                + " / ".join(f"{m:.2f}" for m in mean) + f"; last - first {mean[-1] - mean[0]:+.2f}")
    counts = {a: [len(r["above_random"][a]) for r in records] for a in records[0]["above_random"]}
    tasks = len(records[0]["results"]["AMAGO-2"])
    return "; ".join(f"attempt {a}: " + ", ".join(map(str, c)) + f" of {tasks} tasks above random (seeds "
                     + ", ".join(str(r["seed"]) for r in records) + ")" for a, c in counts.items())


def report(root: Path = RESULTS_DIR, out: Path = RESULTS_MD) -> str:
    """RESULTS.md from the registry's result files: an overview, then each seed's figures and provenance."""
    lines = ["# Results", "",
             "Generated by `python -m amago_edu.experiments report` from `data/results/<experiment>/seed<S>.json`; "
             "each file is written by `python -m amago_edu.experiments run <experiment> --seed <S>` and names the "
             "commit, date and machine that made it. Do not edit by hand.", "",
             "| experiment | what | target | result | target met? |", "|---|---|---|---|---|"]
    for name, entry in REGISTRY.items():
        records = load_results(name, root)
        lines.append(f"| `{name}` | {entry.description} | {entry.target or '-'} | {summary_line(records)} | "
                     f"{target_met(entry, records)} |")
    for name, entry in REGISTRY.items():
        records = load_results(name, root)
        if not records:
            continue
        lines += ["", f"## `{name}`", "", entry.description + ".", ""]
        for r in records:
            p = r["provenance"]
            trained = ", ".join(dict.fromkeys(t["commit"] or "?" for t in r.get("trained_by", []))) or "not recorded"
            where = (f"trained at {trained}, scored at {p['commit']} on {p['date']}; {p['machine']}, torch {p['torch']} "
                     f"({p['torch_threads']} threads)")
            if r["scoring"] == "held_out":
                cells = ", ".join(f"{m:.2f} +- {se:.2f}" for m, se in zip(r["attempt"], r["attempt_se"]))
                best = max(r["curve"], key=lambda e: e["attempt_success"][-1] if e.get("attempt_success") and
                           e["attempt_success"][-1] is not None else -math.inf)
                lines.append(f"- seed {r['seed']}: {r['updates']:,} updates; {r['metric']} by attempt on {r['trials']} "
                             f"held-out trials {cells}; last - first {r['last_minus_first']:+.2f}; best training-time "
                             f"evaluation (last attempt) at update {best['update']:,}. {where}.")
            else:
                above = "; ".join(f"attempt {a}: {len(t)} ({', '.join(t) or 'none'})" for a, t in r["above_random"].items())
                lines.append(f"- seed {r['seed']}: {r['updates']:,} updates; above random by > 2 SE: {above}. {where}.")
    probes = sorted((root / "probes").glob("*.json"))
    if probes:
        lines += ["", "## Probes of trained agents", "",
                  "`benchmarks/probe.py`: the share of replay actions the filter keeps with the sampled and the exact V(s), "
                  "and how far the policy moves (total variation) when one input alone is swapped between two windows.", ""]
        for path in probes:
            r = json.loads(path.read_text())
            shares = r["filter_shares"]
            kept = ("" if not shares else f"filter keeps {shares['sampled']:.3f} +- {shares['sampled_se']:.3f} (sampled V(s)) "
                    f"vs {shares['exact']:.3f} (exact V(s)) of {shares['n']:,} state-gamma pairs; ")
            moved = ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["input_sensitivity"].items(), key=lambda kv: -kv[1])
                              if k != "token_spread")
            signal = r.get("learning_signal")
            kept += ("" if not signal else f"critic values vary by {signal['value_spread_states']:.3f} across states and "
                     f"{signal['value_spread_actions']:.3f} across actions, {signal['rewarded_steps']:.3f} of steps rewarded; ")
            lines.append(f"- `{r['source']}` ({r['env']}): {kept}policy change when swapping {moved}; token spread "
                         f"{r['input_sensitivity']['token_spread']:.2f}. `{r['command']}`, commit {r['provenance']['commit']}.")
    text = "\n".join(lines) + "\n"
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amago_edu.experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the registry's entries")
    for command in ("run", "score"):
        p = sub.add_parser(command)
        p.add_argument("name", choices=sorted(REGISTRY))
        p.add_argument("--seed", type=int, required=True)
        p.add_argument("--fast", action="store_true", help="a tiny budget into a scratch folder (learns nothing)")
        p.add_argument("--out", default=None, help="result file (default data/results/<name>/seed<S>.json)")
        if command == "run":
            p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
            p.add_argument("--run-root", default="runs/registry")
        else:
            p.add_argument("--run", required=True, help="the run folder to score")
    sub.add_parser("report", help="rewrite RESULTS.md, the README's tables and data/figures/ from data/results/")
    p = sub.add_parser("export", help="commit a registry run's agent as a notebook artefact (data/checkpoints/)")
    p.add_argument("name", choices=sorted(REGISTRY))
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--artefact", required=True, help="artefact name, e.g. frozen_lake")
    p.add_argument("--parts", nargs="+", default=None, help="agent parts to keep (default: all)")
    p.add_argument("--run-root", default="runs/registry")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, entry in REGISTRY.items():
            print(f"{name:<26} preset {entry.preset:<12} seeds {list(entry.seeds)}  {entry.description}")
        return 0
    if args.command == "report":
        from .figures import render_all

        report()
        readme = RESULTS_MD.with_name("README.md")
        print(f"wrote {RESULTS_MD}" + (f" and the CPU/GPU table of {readme}" if update_readme(readme) else ""))
        render_all()
        return 0
    if args.command == "export":
        try:
            path = export(args.name, args.seed, args.artefact, args.run_root, args.parts)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"wrote {path}")
        return 0
    if args.fast and args.out is None:
        parser.error("--fast results go to a scratch file: pass --out")
    try:
        if args.command == "run":
            path = run(args.name, args.seed, args.threads, args.fast, args.run_root, args.out)
        else:
            path = write(score(args.name, args.seed, args.run, args.fast), args.seed, args.out)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    print(summary_line([json.loads(Path(path).read_text())]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
