"""Reading the committed results of the full benchmark runs (``data/results/``) and scoring them.

The notebooks show these in FAST mode next to their tiny live runs, so a reader sees what the full
settings gave without training for half an hour. ``benchmarks/multitask.py`` and
``benchmarks/popgym_diagnosis.py`` use the same scoring when they write the files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

#: the repository's ``data/`` folder (the notebooks and benchmarks read and write it)
DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def git_commit() -> str | None:
    """The repository's commit (short), with "+changes" when tracked files differ from it; None outside git."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=DATA_DIR.parent, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=DATA_DIR.parent, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+changes" if dirty else "")) or None


def provenance() -> dict:
    """What made a result: commit, date (UTC), machine, Python and torch versions, torch's thread count."""
    import platform
    import time

    import torch

    return {"commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs"
                       + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def per_task_curves(evals: list[dict]) -> list[dict]:
    """Training-time evaluations, per task: ``[{update, env_steps, tasks: {task: {trials, normalized_return,
    attempt_return, attempt_success}}}]`` (``eval_trials`` over the whole mixture, so a few trials per task)."""
    keep = ("trials", "normalized_return", "attempt_return", "attempt_success")
    return [{"update": row["update"], "env_steps": row["env_steps"],
             "tasks": {task: {k: t[k] for k in keep if k in t} for task, t in row.get("tasks", {}).items()}}
            for row in evals]


def load_result(name: str) -> dict:
    """``data/results/<name>`` parsed as JSON; a clear error naming the command that makes it if it is missing."""
    path = DATA_DIR / "results" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is not there; the benchmarks in benchmarks/ write it (see data/README.md)")
    return json.loads(path.read_text())


#: how each set of benchmarks/multitask.py is scored: (metric, attempts). popgym-mt: the return of the scored (second)
#: attempt, the first being a warm-up whose reward is not optimised; babyai-mt: success in each attempt (both scored)
SCORING = {"popgym-mt": ("return", [-1]), "babyai-mt": ("success", [0, 1]),
           # Meta-World: success in each of the k = 3 attempts (Fig. 4); Atari: the one episode's return (Fig. 9);
           # Procgen: the return of each of the two attempts at one level (Figs. 6-7)
           "metaworld-ml1": ("success", [0, 1, 2]), "metaworld-ml10": ("success", [0, 1, 2]),
           "atari-2": ("return", [-1]), "procgen-easy": ("return", [0, 1])}


def attempt_score(summary: dict, metric: str, attempt: int) -> tuple[float, float]:
    """(mean, standard error) over trials of ``metric`` ("return" or "success") in one attempt (a standard error
    of 0 where the summary has none: results written before the benchmarks recorded them)."""
    means = summary[f"attempt_{metric}"]
    mean, se = means[attempt], (summary.get(f"attempt_{metric}_se") or [None] * len(means))[attempt]
    return (math.nan if mean is None else mean), (se or 0.0)


def above_random(agent: dict, random: dict, metric: str = "return", attempt: int = -1, z: float = 2.0) -> bool:
    """Whether the agent beats random in ``attempt`` by more than ``z`` standard errors of the difference,
    sqrt(se_agent^2 + se_random^2)."""
    (mean_a, se_a), (mean_r, se_r) = attempt_score(agent, metric, attempt), attempt_score(random, metric, attempt)
    return bool(mean_a - mean_r > z * math.hypot(se_a, se_r))


def verdict_table(results: dict[str, dict[str, dict]], metric: str = "return", attempts=(-1,),
                  agent: str = "AMAGO-2") -> tuple[str, dict[int, int]]:
    """Per task and scored attempt: the agent's and random's mean +- standard error, the difference in
    standard errors (z) and whether it exceeds 2; and per attempt, how many tasks are above random."""
    lines = [f"{metric} of the scored attempt(s), mean +- standard error over trials; z = difference / its standard error",
             f"{'task':<28} {'attempt':>7} {agent:>17} {'random':>17} {'z':>6}  above random by > 2 SE?"]
    counts = {}
    for attempt in attempts:
        counts[attempt] = 0
        for task, summary in results[agent].items():
            (mean_a, se_a), (mean_r, se_r) = attempt_score(summary, metric, attempt), attempt_score(
                results["random"][task], metric, attempt)
            z = (mean_a - mean_r) / math.hypot(se_a, se_r) if math.hypot(se_a, se_r) > 0 else math.nan
            above = above_random(summary, results["random"][task], metric, attempt)
            counts[attempt] += above
            number = attempt % len(summary[f"attempt_{metric}"]) + 1
            lines.append(f"{task:<28} {number:>7} {mean_a:>+9.3f} +- {se_a:.3f} {mean_r:>+9.3f} +- {se_r:.3f} "
                         f"{z:>6.1f}  {'yes' if above else 'no'}")
    for attempt, count in counts.items():
        number = attempt % len(next(iter(results[agent].values()))[f"attempt_{metric}"]) + 1
        lines.append(f"attempt {number}: {count} of {len(results[agent])} tasks above random by more than 2 standard errors")
    return "\n".join(lines), counts




#: the paper's headline result for each benchmark, to print beside the CPU runs (Sec. 4; figures as cited)
PAPER_RESULTS = {
    "popgym": "27 games, 100M steps: mean return normalised between random (0%) and the best single-task result "
              "(100%): AMAGO-2 85%, Dep./Dep. 70% (Fig. 5)",
    "babyai": "50 levels, ~130M steps: two-episode return on held-out layouts 1.61 (AMAGO-2) vs 1.07 (Dep./Dep.) "
              "at 100M (Fig. 10)",
    "metaworld": "ML45, 100M steps: success on the 45 training families 88.8% (AMAGO-2), 60.5% (Dep./Dep.); "
                 "RL2-PPO 42.0% (Fig. 4)",
    "atari": "10 games, ~21M steps each: human-normalised score AMAGO-2 vs Dep./Dep., e.g. Pong 0.47 vs 0.00, "
             "MsPacman 0.40 vs 0.02, Breakout 3.37 vs 0.00 (Fig. 9)",
    "procgen": "easy, 275M steps: return over 2 attempts, AMAGO-2 (default / rescaled) e.g. coinrun 17.8 / 16.0, "
               "climber 21.9 / 16.7; Dep./Dep. climber 17.3 / 3.4 (Figs. 6-7)",
}
#: which benchmarks/multitask.py set and paper preset stand for each benchmark
#: and which committed result file is the benchmark's CPU result (``load_result`` names)
BENCHMARKS = {
    "popgym": {"cpu_set": "popgym-mt", "paper_preset": "paper_popgym", "result": "popgym_mt_mask/seed0.json"},
    "babyai": {"cpu_set": "babyai-mt", "paper_preset": "paper_babyai", "result": "babyai_mt/seed0.json"},
    "metaworld": {"cpu_set": "metaworld-ml1", "paper_preset": "paper_metaworld_ml45",
                  "result": "multitask_metaworld-ml1.json"},
    "atari": {"cpu_set": "atari-2", "paper_preset": "paper_atari", "result": "multitask_atari-2.json"},
    "procgen": {"cpu_set": "procgen-easy", "paper_preset": "paper_procgen_easy", "result": "multitask_procgen-easy.json"},
}


def above_random_counts(record: dict) -> dict[str, int]:
    """{attempt: tasks above random} of a per-task result: benchmarks/multitask.py's or the registry's."""
    if "tasks_above_random" in record:
        return record["tasks_above_random"]
    return {attempt: len(tasks) for attempt, tasks in record["above_random"].items()}


def versions() -> dict:
    """Package versions and the machine, for the results file."""
    import importlib.metadata
    import platform

    import gymnasium
    import minigrid
    import torch

    return {**provenance(), "numpy": np.__version__,
            "gymnasium": gymnasium.__version__, "popgym": importlib.metadata.version("popgym"),
            "minigrid": minigrid.__version__, "platform": platform.platform(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _cells(values, digits: int) -> str:
    return " / ".join("-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"
                      for v in values)


def task_table(task: str, by_policy: dict[str, dict]) -> str:
    """One task's plain-text table: a row per policy with return, normalized return and per-attempt values."""
    header = ["policy", "trials", "return", "normalized", "return by attempt", "success by attempt"]
    rows = [[policy, str(s["trials"]), f"{s['return']:.3f}", f"{s['normalized_return']:.3f}",
             _cells(s["attempt_return"], 3), _cells(s["attempt_success"], 2)] for policy, s in by_policy.items()]
    widths = [max(len(r[c]) for r in [header] + rows) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths)))
             for r in [header] + rows]
    return "\n".join([task] + lines)
