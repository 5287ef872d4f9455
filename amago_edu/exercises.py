"""Checkers for the exercises of the notebooks: they say right or wrong, with a hint, never the answer.

Each notebook exercise puts the learner's answer in a variable and calls one ``check_*`` function::

    answer = None  # your answer
    check_full_trial_context(answer)

A checker prints one line and returns ``True`` (right), ``False`` (not yet, with a hint) or ``None``
(no answer yet: the placeholder ``None``, so a notebook run top to bottom, e.g. headless in FAST mode,
never stops at an exercise). It never raises on a malformed answer, and where it can it computes the
truth from first principles (the environment, the package's own modules, the run's files) rather than
from a stored value. Reference solutions are in :mod:`amago_edu.solutions`; try first.
"""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Callable, Sequence

__all__ = [
    # 00 quickstart
    "check_attempt_improvements", "check_full_trial_context", "check_worse_after_success",
    # 01 return-scale imbalance
    "check_equal_scale_shares", "check_actor_gradient_factor", "check_small_task_share",
    # 02 two-hot critic
    "check_tiny_return_cost", "check_coarse_bins", "check_gradient_scale_factors",
    # 03 filtered BC actor
    "check_filter_threshold", "check_sampled_baseline", "check_max_q_with_labels",
    # 04 Transformer policy
    "check_block_parameters", "check_sliding_window", "check_first_changed_step",
    # 05 in-context adaptation
    "check_trials_needed", "check_first_full_attempt",
    # 06 multi-task runs
    "check_lookalike_games", "check_layout_overlap",
    # 07 return-scale ablation
    "check_mse_loss_share",
    # 08 the paper's benchmarks
    "check_rescaled_loss_ratio",
]


# -- reporting ------------------------------------------------------------------------------------
def _not_answered(exercise: str) -> None:
    print(f"Exercise {exercise}: not answered yet. Put your answer in the variable above and run the cell again.")
    return None


def _right(exercise: str, why: str = "") -> bool:
    print(f"Exercise {exercise}: right." + (f" {why}" if why else ""))
    return True


def _wrong(exercise: str, hint: str) -> bool:
    print(f"Exercise {exercise}: not yet. Hint: {hint}")
    return False


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _numbers(value, length: int | None = None) -> list[float] | None:
    """A list of finite floats from a list, tuple, numpy array or tensor; None if it is not one."""
    try:
        values = [float(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in values) or (length is not None and len(values) != length):
        return None
    return values


def _as_bool(value) -> bool | None:
    """True/False, also from "yes"/"no" strings; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "no", "true", "false"):
        return value.strip().lower() in ("yes", "true")
    return None


def _check_true_false(exercise: str, answer, truth: bool, why: str, hint: str) -> bool | None:
    """A yes/no exercise: not answered, not a yes/no, right (with ``why``) or wrong (with ``hint``)."""
    if answer is None:
        return _not_answered(exercise)
    value = _as_bool(answer)
    if value is None:
        return _wrong(exercise, "answer True or False.")
    return _right(exercise, why) if value == truth else _wrong(exercise, hint)


def _close(value: float, truth: float, rel: float) -> bool:
    return abs(value - truth) <= rel * abs(truth)


# -- 00 quickstart --------------------------------------------------------------------------------
def check_attempt_improvements(answer, run_dir: str | Path) -> bool | None:
    """00.1: for every eval row of ``run_dir/metrics.jsonl``, last-attempt minus first-attempt success."""
    if answer is None:
        return _not_answered("00.1")
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line.strip()]
    evals = [row for row in rows if row.get("kind") == "eval"]
    values = _numbers(answer)
    if values is None:
        return _wrong("00.1", "give a list of numbers, one per evaluation row.")
    if len(values) != len(evals):
        return _wrong("00.1", f"you gave {len(values)} numbers, but the file has {len(evals)} rows with "
                              "kind == 'eval' (train rows do not count).")
    truth = [row["attempt_success"][-1] - row["attempt_success"][0] for row in evals]
    if all(abs(v - t) < 1e-9 for v, t in zip(values, truth)):
        return _right("00.1", "That is the in-context improvement the success-by-attempt plot shows.")
    if all(abs(v + t) < 1e-9 for v, t in zip(values, truth)):
        return _wrong("00.1", "check the sign: the last attempt minus the first.")
    return _wrong("00.1", "use row['attempt_success'], a list with one success rate per attempt, for the rows "
                          "in file order.")


def check_full_trial_context(answer, size: int = 5, episodes_per_trial: int = 5) -> bool | None:
    """00.2: the smallest context_length that holds a whole trial of ``size`` x ``size`` Meta-Frozen-Lake."""
    if answer is None:
        return _not_answered("00.2")
    from .envs import make_env

    env = make_env("toy/meta_frozen_lake", episodes_per_trial=episodes_per_trial, size=size)
    truth = env.max_trial_length + 1
    env.close()
    if not _is_number(answer) or float(answer) != int(answer):
        return _wrong("00.2", "give a whole number of steps.")
    answer = int(answer)
    if answer == truth:
        return _right("00.2")
    if answer == truth - 1:
        return _wrong("00.2", "one short: the context holds one observation per step *plus* the final one.")
    if answer < truth and answer <= size * size + 1:
        return _wrong("00.2", "that holds about one attempt; a trial is k attempts on the same map.")
    if answer > truth:
        return _wrong("00.2", "that is more than a trial can ever need: an attempt lasts at most n^2 steps.")
    return _wrong("00.2", "an attempt lasts at most n^2 steps, a trial k attempts, and the context holds one "
                          "observation per step plus the final one.")


def check_worse_after_success(answer, trials: Sequence[dict]) -> bool | None:
    """00.3: how many of ``trials`` reached the goal on some attempt and failed on a later one."""
    if answer is None:
        return _not_answered("00.3")
    if not _is_number(answer) or float(answer) != int(answer):
        return _wrong("00.3", "give a whole number of trials.")
    truth = 0
    for trial in trials:
        successes = [float(s) for s in trial["successes"]]
        truth += any(s == 1 and min(successes[i + 1:], default=1) == 0 for i, s in enumerate(successes))
    if int(answer) == truth:
        return _right("00.3", "Now draw one of them with lake_figure and look at where the later attempt went.")
    if int(answer) > len(trials):
        return _wrong("00.3", f"there are only {len(trials)} trials.")
    return _wrong("00.3", "look at trial['successes'] (one 0/1 per attempt): count a trial when a 1 is followed, "
                          "at any later attempt, by a 0. Count each trial once.")


# -- 01 return-scale imbalance --------------------------------------------------------------------
def check_equal_scale_shares(answer, num_tasks: int = 3) -> bool | None:
    """01.1: predicted shares of the critic gradient when every task has return scale 1."""
    if answer is None:
        return _not_answered("01.1")
    shares = _numbers(answer, num_tasks)
    if shares is None:
        return _wrong("01.1", f"give {num_tasks} numbers, one share per task.")
    if not 0.95 <= sum(shares) <= 1.05 or min(shares) < 0:
        return _wrong("01.1", "shares are fractions of the total: non-negative and summing to 1.")
    if max(shares) > 2.0 / num_tasks or min(shares) < 0.5 / num_tasks:
        return _wrong("01.1", "with equal scales nothing in the loss favours one task over another; the tasks "
                              "differ only in w_k, b_k and z_k.")
    return _right("01.1", "Run the next cell: at initialisation the shares are comparable, not exactly equal, "
                          "because the tasks' targets and contexts differ.")


def check_actor_gradient_factor(answer) -> bool | None:
    """01.2: the factor by which the small task's max-Q actor gradient grows when its rewards grow x10."""
    if answer is None:
        return _not_answered("01.2")
    if not _is_number(answer):
        return _wrong("01.2", "give one number, the ratio of the new gradient norm to the old one.")
    answer = float(answer)
    if abs(answer - 10.0) < 0.5:
        return _right("01.2", "The max-Q gradient is linear in Q, and Q is linear in the rewards.")
    if abs(answer - 100.0) < 5:
        return _wrong("01.2", "a squared law belongs to the MSE critic's *loss*; the actor's gradient "
                              "-sum_a Q(s,a) grad pi(a|s) contains Q to the first power.")
    if abs(answer - 1.0) < 0.1:
        return _wrong("01.2", "scale independence is what AMAGO-2's losses achieve; maximise-Q does not have it.")
    return _wrong("01.2", "write the gradient of -sum_a pi(a|s) Q(s,a) with respect to theta and see how it "
                          "changes when every Q of the task is multiplied by the same constant.")


_SMALL_TASK_CHOICES = {  # the options of notebook 01's exercise 3, for reference
    "a": "the small task's targets grow as training goes on, so its error and gradient grow with them; "
         "they stay below the large task's, so it stays behind",
    "b": "the large task's |Q - y| shrinks as it is learned, so the small task's share rises; but MSE only "
         "evens out absolute errors, and an even absolute error is still larger than the small task's "
         "returns",
    "c": "Adam rescales each task's gradient by its own running size, which lifts the small task's share; "
         "but too slowly to catch up within the training run",
    "d": "the large task's loss reaches exactly 0, so only the small task still pushes the trunk; but by "
         "then the shared features suit the large task only",
}


def check_small_task_share(answer) -> bool | None:
    """01.3, multiple choice (the letters of notebook 01's exercise 3): why the small task's share grows,
    and why that does not rescue it."""
    if answer is None:
        return _not_answered("01.3")
    choice = str(answer).strip().lower().strip("()")
    if choice not in _SMALL_TASK_CHOICES:
        return _wrong("01.3", f"answer with one letter: {', '.join(sorted(_SMALL_TASK_CHOICES))}.")
    if choice == "b":
        return _right("01.3")
    hints = {
        "a": "the targets are c_k sin(w_k x + b_k): fixed, whatever the network does.",
        "c": "Adam's step sizes are per *parameter*, not per task, and the trunk's parameters are shared by "
             "every task.",
        "d": "the large task's loss never reaches exactly 0 (the share of the small task stays far below 1).",
    }
    return _wrong("01.3", hints[choice] + " The share is proportional to |Q - y|.")


# -- 02 two-hot critic ----------------------------------------------------------------------------
def _tiny_return_cost(twohot, value: float = 0.01) -> float:
    import torch

    label = twohot.encode(torch.tensor(value, dtype=torch.float32))
    support = label > 0
    guess = torch.zeros_like(label)
    guess[support] = 1.0 / int(support.sum())  # spread evenly over the same bins
    return float((label[support] * (label[support] / guess[support]).log()).sum())


def check_tiny_return_cost(answer, twohot) -> bool | None:
    """02.1: KL(two-hot label of y = +0.01 || 0.5/0.5 on the same two bins), in nats, for ``twohot``'s bins."""
    if answer is None:
        return _not_answered("02.1")
    if not _is_number(answer):
        return _wrong("02.1", "give one number of nats.")
    truth = _tiny_return_cost(twohot)
    answer = float(answer)
    if _close(answer, truth, 0.2):
        return _right("02.1", "A few thousandths of a nat: the cross-entropy barely notices whether a +-0.01 "
                              "return is predicted with the right sign, so without a reward multiplier the "
                              "x0.01 task is not learned.")
    if answer < 0:
        return _wrong("02.1", "a KL divergence is never negative.")
    if answer > 10 * truth:
        return _wrong("02.1", "much smaller: the label of +0.01 is itself close to 0.5 / 0.5, because the bins "
                              "next to 0 are about 0.18 wide in symlog units.")
    return _wrong("02.1", "KL(l || q) = sum_i l_i ln(l_i / q_i) over the two bins where the label l is non-zero, "
                          "with q_i = 0.5; get l from twohot.encode(torch.tensor(0.01)).")


def check_coarse_bins(answer) -> bool | None:
    """02.2: (cross-entropy of a uniform prediction, bin spacing in symlog units) for ``TwoHot(64)``."""
    if answer is None:
        return _not_answered("02.2")
    values = _numbers(answer, 2)
    if values is None:
        return _wrong("02.2", "give two numbers: (uniform loss in nats, bin spacing).")
    loss, spacing = values
    n, top = 64, math.log1p(1e5)
    hints = []
    if not _close(loss, math.log(n), 1e-3):
        hints.append("the loss: a uniform prediction gives every bin probability 1/N, and the label sums to 1"
                     + (" (that is the value for N = 128)" if _close(loss, math.log(128), 1e-3) else ""))
    if not _close(spacing, 2 * top / (n - 1), 1e-3):
        if _close(spacing, 2 * top / n, 1e-3):
            hints.append("the spacing: N bins have N - 1 gaps between them")
        elif _close(spacing, 2 * top / 127, 1e-3):
            hints.append("the spacing: that is the value for 128 bins")
        else:
            hints.append("the spacing: the bins span symlog(-1e5) .. symlog(1e5) evenly")
    if hints:
        return _wrong("02.2", "; ".join(hints) + ".")
    return _right("02.2", "Halving the bins doubles the spacing and lowers the starting loss by ln 2.")


def check_gradient_scale_factors(answer) -> bool | None:
    """02.3: (two-hot factor, MSE factor) by which ||dL/d output|| changes when the targets are x1000."""
    if answer is None:
        return _not_answered("02.3")
    values = _numbers(answer, 2)
    if values is None:
        return _wrong("02.3", "give two numbers: (two-hot factor, MSE factor).")
    two_hot, mse = values
    hints = []
    if not 0.5 <= two_hot <= 2.0:
        hints.append("two-hot: every component of p - label lies in [-1, 1] whatever the target, so the norm "
                     "cannot grow with the scale")
    if not _close(mse, 1000.0, 0.01):
        hints.append("MSE: " + ("a squared law is the loss's; its gradient 2(Q - y) is linear in y"
                                if _close(mse, 1e6, 0.01) else "the gradient is 2(Q - y) with Q = 0"))
    if hints:
        return _wrong("02.3", "; ".join(hints) + ".")
    return _right("02.3", "Run the next cell to measure both.")


# -- 03 filtered BC actor -------------------------------------------------------------------------
def check_filter_threshold(answer, advantages, threshold: float = -1e-4) -> bool | None:
    """03.1: which ``advantages`` pass the binary filter 1[A > threshold] (a list of bools)."""
    if answer is None:
        return _not_answered("03.1")
    values = [float(a) for a in (advantages.tolist() if hasattr(advantages, "tolist") else advantages)]
    try:
        given = [_as_bool(b) for b in answer]
    except TypeError:
        given = None
    if given is None or None in given or len(given) != len(values):
        return _wrong("03.1", f"give a list of {len(values)} bools, one per advantage.")
    truth = [a > threshold for a in values]
    if given == truth:
        return _right("03.1", "With tau slightly below 0, actions the critic cannot tell from the policy's "
                              "average (A = 0) are imitated too.")
    if given == [a > 0 for a in values]:
        return _wrong("03.1", "that is the filter for tau = 0; here tau is slightly negative.")
    if given == [a >= threshold for a in values]:
        return _wrong("03.1", "the comparison is strict: A > tau.")
    return _wrong("03.1", "compare each advantage with tau = -1e-4 = -0.0001: which of them are larger?")


def check_sampled_baseline(answer) -> bool | None:
    """03.2: is filtered-BC training with a K-sample V(s) still identical after rescaling one task? (bool)"""
    return _check_true_false(
        "03.2", answer, True,
        "The sampled actions depend on pi and the random stream only, and a positive rescaling keeps the sign of "
        "Q(s, a) - mean_k Q(s, a_k). Run the next cell.",
        "which actions are sampled does not depend on the rewards, and sign(cQ - c mean) = sign(Q - mean) for c > 0.")


def check_max_q_with_labels(answer) -> bool | None:
    """03.3: with per-task normalised Q_k / c_k (needs labels), does max-Q learn the former x0.01 bandit? (bool)"""
    return _check_true_false(
        "03.3", answer, True,
        "At equal scales no bandit dominates the shared network. But normalising needed the label k, which a "
        "meta-RL agent does not have. Run the next cell.",
        "after dividing by c_k every bandit has unit scale: what was stopping the x0.01 bandit before?")


# -- 04 Transformer policy ------------------------------------------------------------------------
def _block_parameters(d: int) -> int:
    from .transformer import Block

    return sum(p.numel() for p in Block(d, n_heads=4, d_ff=4 * d, dropout=0.0).parameters())


def check_block_parameters(answer: Callable[[int], int] | None) -> bool | None:
    """04.1: a function d -> number of parameters of one Transformer block (d_ff = 4d, with biases)."""
    if answer is None:
        return _not_answered("04.1")
    if not callable(answer):
        return _wrong("04.1", "give a function of d, e.g. lambda d: 12 * d**2 + ...")
    widths = (8, 16, 64, 256)
    try:
        given = [answer(d) for d in widths]
    except Exception as err:  # the learner's function may raise anything
        return _wrong("04.1", f"your function raised {type(err).__name__}: {err}")
    if not all(_is_number(g) for g in given):
        return _wrong("04.1", "your function must return a number.")
    errors = [g - _block_parameters(d) for g, d in zip(given, widths)]
    if all(e == 0 for e in errors):
        return _right("04.1", "The d^2 terms are the weight matrices; the linear ones are biases and LayerNorm "
                              "gains and shifts.")
    if all(abs(e * widths[0] - errors[0] * d) < 1e-6 for e, d in zip(errors, widths)):
        return _wrong("04.1", "the d^2 part is right; the linear part is not: count the biases of the four "
                              "linear layers and the weight and bias of both LayerNorms.")
    if all(abs(e - errors[0]) < 1e-6 for e in errors):
        return _wrong("04.1", "off by a constant: every term of the count is proportional to d or d^2.")
    return _wrong("04.1", "the d^2 part is off: the fused QKV projection is d x 3d, the output projection d x d, "
                          "and the feed-forward layer d x 4d then 4d x d.")


_SLIDING_WINDOW_CHOICES = ("both", "exact_window only", "neither")


def check_sliding_window(answer) -> bool | None:
    """04.2: which caches equal a forward pass over the last W steps: "both", "exact_window only" or "neither"."""
    if answer is None:
        return _not_answered("04.2")
    choice = str(answer).strip().lower()
    if choice not in _SLIDING_WINDOW_CHOICES:
        return _wrong("04.2", f"answer one of {', '.join(repr(c) for c in _SLIDING_WINDOW_CHOICES)}.")
    if choice == "exact_window only":
        return _right("04.2", "Rolled keys and values of the upper blocks still carry information from steps that "
                              "left the window. Run the next cell to see the size of the difference.")
    if choice == "both":
        return _wrong("04.2", "in block 2, the key of step j was computed from block 1's output at j, which "
                              "attended to steps that have since left the window.")
    return _wrong("04.2", "recomputing the window from its tokens is exactly what a forward pass over those "
                          "tokens does.")


def check_first_changed_step(answer, changed_step: int = 10) -> bool | None:
    """04.3: the first step whose Transformer state changes when the observation at ``changed_step`` changes."""
    if answer is None:
        return _not_answered("04.3")
    if not _is_number(answer) or float(answer) != int(answer):
        return _wrong("04.3", "give a step index (a whole number).")
    answer = int(answer)
    if answer == changed_step:
        return _right("04.3", "Every step from there on may change, none before it. Run the next cell.")
    if answer < changed_step:
        return _wrong("04.3", "causal attention: can step t read a step after t?")
    if answer == changed_step + 1:
        return _wrong("04.3", "the state h_t reads the token of step t itself, not only the earlier ones.")
    return _wrong("04.3", "which is the first state that reads the changed token?")


# -- 05 in-context adaptation ---------------------------------------------------------------------
def check_trials_needed(answer, difference: float = 0.1, rate: float = 0.45) -> bool | None:
    """05.1: the smallest N with difference >= 2 * sqrt(2 * rate * (1 - rate) / N)."""
    if answer is None:
        return _not_answered("05.1")
    if not _is_number(answer) or float(answer) != int(answer) or answer < 1:
        return _wrong("05.1", "give a whole number of trials.")
    answer = int(answer)

    def enough(n: int) -> bool:
        return difference >= 2 * math.sqrt(2 * rate * (1 - rate) / n) - 1e-12

    if enough(answer) and not enough(answer - 1):
        return _right("05.1", "Hundreds of trials per measurement: that is why the notebook plays EVAL_TRIALS "
                              "held-out trials instead of the few of an evaluation during training.")
    if enough(answer):
        return _wrong("05.1", "that many is enough, but it is not the smallest: solve for N and round up.")
    if enough(2 * answer):
        return _wrong("05.1", "too few: the difference of two independent estimates has twice the variance of one.")
    if enough(4 * answer):
        return _wrong("05.1", "too few: the difference must be *two* standard errors, not one.")
    return _wrong("05.1", "too few: square both sides of 0.1 = 2 sqrt(2 * 0.45 * 0.55 / N), then solve for N.")


def check_first_full_attempt(answer, attempt_length: int = 16, choices: Sequence[int] = (9, 17, 33, 81)) -> bool | None:
    """05.2: the smallest of ``choices`` whose context holds a whole previous attempt and the current step."""
    if answer is None:
        return _not_answered("05.2")
    if not _is_number(answer) or int(answer) not in choices:
        return _wrong("05.2", f"answer one of {', '.join(str(c) for c in choices)}.")
    fits = [c for c in choices if c >= attempt_length + 1]
    if int(answer) == min(fits):
        return _right("05.2")
    if int(answer) in fits:
        return _wrong("05.2", "that holds a whole attempt, but so does a smaller choice.")
    return _wrong("05.2", f"an attempt is up to {attempt_length} steps, and the step the agent acts at needs a "
                          "slot of its own.")


# -- 06 multi-task runs ---------------------------------------------------------------------------
def _observation_entries(env_id: str = "popgym-mt", trials: int = 3, seed: int = 0) -> dict[str, tuple[int, ...]]:
    """{task: the entries of the padded observation it ever sets} over a few random trials of each task."""
    import numpy as np

    from .envs import make_env

    probe = make_env(env_id, seed=seed)
    names, size = probe.task_names, probe.observation_space["observation"].shape[0]
    probe.close()
    entries = {}
    for name in names:
        env = make_env(env_id, seed=seed, task=name)
        used = np.zeros(size, dtype=bool)
        for _ in range(trials):
            obs, _ = env.reset()
            done = False
            while not done:
                used |= obs["observation"] != 0
                obs, _, done, _, _ = env.step(env.action_space.sample())
        used[-1] = False  # the invalid-action flag (the last entry) is set by actions, not by the game
        entries[name] = tuple(int(i) for i in np.flatnonzero(used))
        env.close()
    return entries


def lookalike_games(entries: dict[str, tuple[int, ...]]) -> set[str]:
    """The tasks that share their set of observation entries with another task."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for name, used in entries.items():
        groups.setdefault(used, []).append(name)
    return {name for names in groups.values() if len(names) > 1 for name in names}


def check_lookalike_games(answer, entries: dict[str, tuple[int, ...]] | None = None) -> bool | None:
    """06.1: the popgym-mt games whose observations use exactly the same entries as another game's."""
    if answer is None:
        return _not_answered("06.1")
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        return _wrong("06.1", "give a set of task names, e.g. {\"popgym/RepeatFirstEasy\", ...}.")
    truth = lookalike_games(entries if entries is not None else _observation_entries())
    chosen = {str(name) if str(name).startswith("popgym/") else f"popgym/{name}" for name in answer}
    if chosen == truth:
        return _right("06.1", "Only the rewards (and what the agent does) can tell these games apart.")
    if chosen < truth:
        return _wrong("06.1", "some lookalikes are missing: a game is a lookalike when *another* game sets the "
                              "same entries; list both of each pair.")
    return _wrong("06.1", "compare the printed groups: a game in a group of its own is told apart by its "
                          "observation alone.")


def check_layout_overlap(answer, train_seeds: tuple[int, int] | None = None,
                         eval_seeds: tuple[int, int] | None = None) -> bool | None:
    """06.2: can the held-out BabyAI layouts (level seeds eval_seeds) include a training one (train_seeds)?"""
    if train_seeds is None or eval_seeds is None:
        from .envs.babyai import EVAL_SEEDS, TRAIN_SEEDS

        train_seeds, eval_seeds = train_seeds or TRAIN_SEEDS, eval_seeds or EVAL_SEEDS
    overlap = max(train_seeds[0], eval_seeds[0]) < min(train_seeds[1], eval_seeds[1])
    return _check_true_false(
        "06.2", answer, overlap, "Held-out layouts measure what generalises, not what was memorised.",
        "both ranges are half-open [low, high): compare the end of one with the start of the other.")


# -- 07 return-scale ablation ---------------------------------------------------------------------
def check_mse_loss_share(answer, scales: Sequence[float]) -> bool | None:
    """07.1: the share of the total MSE critic loss that comes from the smallest-scale task, when every
    task's error is the same fraction of its own returns (so task k's loss grows as c_k^2)."""
    if answer is None:
        return _not_answered("07.1")
    if not _is_number(answer) or not 0.0 <= float(answer) <= 1.0:
        return _wrong("07.1", "give one number in [0, 1], a fraction of the total loss.")
    squares = [float(c) ** 2 for c in scales]
    truth = min(squares) / sum(squares)
    linear = min(scales) / sum(scales)
    if _close(float(answer), truth, 0.05):
        return _right("07.1", "Invisible: the MSE critic will spend its capacity on the large-scale games.")
    if _close(float(answer), linear, 0.05):
        return _wrong("07.1", "that is the share of the *gradient* (linear in the error); the loss is squared.")
    return _wrong("07.1", "task k's loss is proportional to c_k^2: divide the smallest c_k^2 by the sum over tasks.")


# -- 08 the paper's benchmarks ------------------------------------------------------------------------
def check_rescaled_loss_ratio(answer, scales: dict[str, float] | None = None) -> bool | None:
    """08.1: in the rescaled Procgen mixture, the ratio of the largest game's MSE critic loss to the smallest's,
    for errors that are the same fraction of each game's returns (so a game's loss grows as its scale squared)."""
    if answer is None:
        return _not_answered("08.1")
    if scales is None:
        from .envs.procgen import PROCGEN_EASY_RESCALED as scales  # plain module: no envpool needed
    if not _is_number(answer) or float(answer) <= 0:
        return _wrong("08.1", "give one positive number: the largest game's loss divided by the smallest's.")
    largest, smallest = max(scales.values()), min(scales.values())
    if _close(float(answer), (largest / smallest) ** 2, 0.02):
        return _right("08.1", "A regression critic spends essentially all its loss on the x100 game; a two-hot "
                      "critic's cross-entropy is the same size for every game.")
    if _close(float(answer), largest / smallest, 0.02):
        return _wrong("08.1", "that is the ratio of the errors; the MSE loss squares them.")
    return _wrong("08.1", "read the two scales from PROCGEN_EASY_RESCALED, divide the larger by the smaller, then square.")
