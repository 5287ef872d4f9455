"""Checkers for the exercises of the notebooks: they say right or wrong, with a hint, never the answer.

Each notebook exercise puts the learner's answer in a variable and calls one ``check_*`` function::

    answer = None  # your answer
    check_full_trial_context(answer)

A checker prints one line and returns ``True`` (right), ``False`` (not yet, with a hint) or ``None``
(no answer yet: the placeholder ``None``, so a notebook run top to bottom, e.g. headless in FAST mode,
never stops at an exercise). It never raises on a malformed answer, and where it can it computes the
truth from first principles (the environment, the package's own modules, the run's files) rather than
from a stored value. Reference solutions are in ``solutions/solutions.py`` (outside the package); try first.

Some exercises ask for a *function* that implements a piece of AMAGO-2 (the two-hot label, the filtered-BC
loss, the causal mask, one key/value-cache step, the multi-gamma TD target, PopArt's rescale)::

    def encode(values, bins):
        return None  # your code here

    check_two_hot_encode(encode)

Their checkers run the function on random inputs (fixed seeds) and edge cases and compare it with the
package; a function that returns None is "not answered yet", one that raises gets its error as the hint.
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
    "check_tiny_return_cost", "check_coarse_bins", "check_gradient_scale_factors", "check_two_hot_encode",
    # 03 filtered BC actor
    "check_filter_threshold", "check_sampled_baseline", "check_max_q_with_labels", "check_filtered_bc_loss",
    # 04 Transformer policy
    "check_block_parameters", "check_sliding_window", "check_first_changed_step",
    "check_causal_mask", "check_kv_cache_step", "check_td_target",
    # 05 in-context adaptation
    "check_trials_needed",
    # 06 multi-task runs
    "check_lookalike_games",
    # 07 return-scale ablation
    "check_popart_rescale",
]


# -- reporting ------------------------------------------------------------------------------------
def _not_answered(exercise: str, what: str = "Put your answer in the variable above and run the cell again.") -> None:
    print(f"Exercise {exercise}: not answered yet. {what}")
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


# -- exercises that ask for a function ------------------------------------------------------------
# The learner writes a function; the checker runs it on random inputs (fixed seeds) and edge cases and
# compares it with the package. A stub that returns None counts as "not answered yet".
_WRITE_IT = "Write the function above (the stub returns None) and run the cell again."
_GO_ON = object()  # what the helpers below return when the checker should carry on


def _call(fn: Callable, *args, copy: bool = True):
    """``fn(*args)``, tensors passed as copies: (result, None), or (None, a one-line message) if it raised."""
    import torch

    if copy:
        args = tuple(a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        return fn(*args), None
    except Exception as err:  # the learner's code may raise anything
        text = " ".join(str(err).split())
        text = text if len(text) <= 160 else text[:157] + "..."
        return None, f"your function raised {type(err).__name__}: {text}."


def _start(exercise: str, fn, name: str):
    """``_GO_ON`` for a function; else the verdict: not answered (None) or not a function."""
    if fn is None:
        return _not_answered(exercise, _WRITE_IT)
    if not callable(fn):
        return _wrong(exercise, f"give the function itself, `{name}`, without calling it.")
    return _GO_ON


def _returned(exercise: str, index: int, result, error: str | None, extra: str = ""):
    """``_GO_ON`` for a result; else the verdict for an exception, or for None (on the first case: not answered)."""
    if error is not None:
        return _wrong(exercise, error + (f" {extra}" if extra else ""))
    if result is None:
        if index == 0:
            return _not_answered(exercise, _WRITE_IT)
        return _wrong(exercise, "your function returned None on some inputs: every path must end in a return.")
    return _GO_ON


def _as_tensor(value):
    """A tensor from a tensor, numpy array or nested list; None if it is not one."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        return torch.as_tensor(value)
    except Exception:  # whatever the learner returned, a checker never raises
        return None


def _matches(value, truth, atol: float = 1e-5, rtol: float = 1e-5) -> bool:
    """``value`` has ``truth``'s shape and numbers (NaN never matches)."""
    import torch

    value = _as_tensor(value)
    if value is None or tuple(value.shape) != tuple(truth.shape) or value.dtype == torch.bool:
        return False
    return bool(torch.allclose(value.double(), truth.double(), atol=atol, rtol=rtol))


def _a(value) -> str:
    """ "a float", "an int": the type of ``value`` with its article."""
    name = type(value).__name__
    return ("an " if name[0].lower() in "aeiou" else "a ") + name


def _shape_of(value) -> str:
    """How a result is shaped, for a hint: "(2, 3)", "a float", "a list of shape (4,)"."""
    if hasattr(value, "shape"):
        return str(tuple(value.shape))
    tensor = _as_tensor(value)
    return _a(value) + (f" of shape {tuple(tensor.shape)}" if tensor is not None and tensor.dim() else "")


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
    from ..envs import make_env

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


def _two_hot_cases():
    """[(values (V,), TwoHot)]: in-range values for three bin layouts, values on bins and 0; then (from
    index ``_TWO_HOT_EDGE``) the range's edges and values beyond them, which must be clipped."""
    import torch

    from ..twohot import TwoHot, symexp

    generator = torch.Generator().manual_seed(0)
    cases = []
    for twohot in (TwoHot(128, -1e5, 1e5), TwoHot(64, -1e5, 1e5), TwoHot(21, -10.0, 1000.0)):
        low, high = twohot.bins[0].item(), twohot.bins[-1].item()
        s = low + (high - low) * (0.002 + 0.996 * torch.rand(200, generator=generator))
        cases.append((symexp(s), twohot))
    first = cases[0][1]
    cases.append((torch.cat([torch.tensor([0.0, 0.5, -1.0, 10.0]), symexp(first.bins[[5, 63, 64, 100]])]), first))
    cases.append((torch.tensor([1e5, -1e5, 1e6, -1e6, 3e7, -3e7]), first))
    cases.append((torch.tensor([-10.0, 1000.0, -50.0, 5000.0, 0.25]), cases[2][1]))
    return cases


_TWO_HOT_EDGE = 4  # the cases from here on test clipping


def check_two_hot_encode(fn: Callable | None) -> bool | None:
    """02.4: ``fn(values (V,), bins (N,)) -> (V, N)`` two-hot labels, compared with ``TwoHot.encode``."""
    import torch

    from ..twohot import symlog

    exercise = "02.4"
    verdict = _start(exercise, fn, "encode")
    if verdict is not _GO_ON:
        return verdict
    for index, (values, twohot) in enumerate(_two_hot_cases()):
        bins = twohot.bins
        edge = index >= _TWO_HOT_EDGE
        result, error = _call(fn, values, bins)
        clip = "Values at or beyond the edge bins must be clipped first." if edge else ""
        verdict = _returned(exercise, index, result, error, clip)
        if verdict is not _GO_ON:
            return verdict
        truth = twohot.encode(values)
        if _matches(result, truth, atol=1e-4, rtol=0):
            continue
        label = _as_tensor(result)
        if label is None or not label.is_floating_point():
            return _wrong(exercise, "return a float tensor of probabilities, one row per value.")
        if tuple(label.shape) != tuple(truth.shape):
            return _wrong(exercise, f"return one row of N probabilities per value: shape {tuple(truth.shape)} for "
                                    f"{len(values)} values and {len(bins)} bins; yours is {tuple(label.shape)}.")
        # the likely mistakes, each built from the package's own pieces
        spacing = bins[1] - bins[0]
        raw = values.clamp(bins[0], bins[-1])[:, None]
        no_symlog = (1 - (raw - bins).abs() / spacing).clamp(min=0)
        below, above = twohot.neighbour_bins(values)
        swapped = torch.zeros_like(truth)
        swapped.scatter_(-1, below[:, None], above[:, None])
        swapped.scatter_(-1, below[:, None] + 1, 1 - above[:, None])
        if _matches(label, no_symlog, atol=1e-4, rtol=0):
            return _wrong(exercise, "the bins are spaced in symlog space: locate s = symlog(y), not y itself, "
                                    "between two bins.")
        if _matches(label, swapped, atol=1e-4, rtol=0):
            return _wrong(exercise, "the mass is on the right two bins but on the wrong neighbour: the bin closer "
                                    "to s must get the larger share (its weights are swapped).")
        if edge:
            return _wrong(exercise, "right inside the range, wrong at or beyond its edges: clip s = symlog(y) to "
                                    "[b_0, b_{N-1}] first, so such values put all their mass on the edge bin (and "
                                    "the lower neighbour stays at most b_{N-2}).")
        if not torch.allclose(label.double().sum(-1), torch.ones(len(values), dtype=torch.float64), atol=1e-4):
            return _wrong(exercise, "each row is a probability vector: its entries must sum to 1.")
        if bool(((label.abs() > 1e-6).sum(-1) > 2).any()):
            return _wrong(exercise, "put mass on two neighbouring bins only, the ones either side of s.")
        if not _matches(symlog(values).clamp(bins[0], bins[-1]), label.double() @ bins.double(), atol=1e-3, rtol=0):
            return _wrong(exercise, "the label's mean must be s: sum_i label_i b_i = symlog(y). Check the two "
                                    "weights against the Two-hot label equation above.")
        return _wrong(exercise, "compare your labels with the Two-hot label equation above on a few values.")
    return _right(exercise, "Your labels equal TwoHot.encode's, edges included. The critic's cross-entropy (Eq. 3) "
                            "uses exactly these labels as targets.")


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


def _filtered_bc_cases():
    """[(log_prob (B, T), advantage (B, T), mask (B, T) bool, threshold)]: random batches with padded rows
    and advantages exactly at the threshold; then every step filtered out, then a batch of padding only."""
    import torch

    generator = torch.Generator().manual_seed(1)
    cases = []
    for B, T, threshold in ((3, 6, 0.0), (4, 9, -1e-4), (2, 5, 0.0), (5, 3, -1e-4)):
        log_prob = torch.rand(B, T, generator=generator).clamp(min=1e-3).log()
        advantage = torch.randn(B, T, generator=generator)
        advantage[0, :2] = threshold  # ties: A == tau, at real steps (row 0 is never padded)
        mask = torch.ones(B, T, dtype=torch.bool)
        for row in range(1, B):
            mask[row, int(torch.randint(1, T + 1, (1,), generator=generator)):] = False
        mask[1, -1] = False  # at least one padded step
        cases.append((log_prob, advantage, mask, threshold))
    log_prob, _, mask, _ = cases[0]
    cases.append((log_prob, -1.0 - torch.rand(log_prob.shape, generator=generator), mask, 0.0))  # none kept
    cases.append((log_prob, torch.randn(log_prob.shape, generator=generator), torch.zeros_like(mask), 0.0))
    return cases


def check_filtered_bc_loss(fn: Callable | None) -> bool | None:
    """03.4: ``fn(log_prob, advantage, mask, threshold) -> ()``, the filtered-BC actor loss (Eq. 4), compared
    with ``losses.filtered_bc_actor_loss``: its value, its gradient, and no gradient into the advantage."""
    import torch

    from ..losses import filtered_bc_actor_loss

    exercise = "03.4"
    verdict = _start(exercise, fn, "loss")
    if verdict is not _GO_ON:
        return verdict
    cases = _filtered_bc_cases()
    for index, (log_prob, advantage, mask, threshold) in enumerate(cases):
        log_prob_in = log_prob.clone().requires_grad_(True)
        advantage_in = advantage.clone().requires_grad_(True)
        result, error = _call(fn, log_prob_in, advantage_in, mask.clone(), threshold, copy=False)
        verdict = _returned(exercise, index, result, error)
        if verdict is not _GO_ON:
            return verdict
        if not isinstance(result, torch.Tensor) or result.numel() != 1:
            given = f"shape {tuple(result.shape)}" if isinstance(result, torch.Tensor) else _a(result)
            return _wrong(exercise, f"return the loss as a one-number tensor (it is back-propagated), not {given}.")
        truth_in = log_prob.clone().requires_grad_(True)
        truth = filtered_bc_actor_loss(truth_in, advantage, mask, threshold)
        (truth_grad,) = torch.autograd.grad(truth, [truth_in])
        grad_log_prob = grad_advantage = None
        if result.requires_grad:
            grad_log_prob, grad_advantage = torch.autograd.grad(result.sum(), [log_prob_in, advantage_in],
                                                                allow_unused=True)
        elif bool((truth_grad != 0).any()):
            return _wrong(exercise, "the loss must stay differentiable with respect to log_prob: no .item(), "
                                    ".detach() or torch.no_grad() on its path.")
        if grad_advantage is not None and bool((grad_advantage != 0).any()):
            return _wrong(exercise, "a gradient flows into the advantage: Eq. 4 uses A only through the 0/1 "
                                    "filter, so detach the advantage before using it.")
        value = result.detach().reshape(())
        if _matches(value, truth.detach()):
            if _matches(torch.zeros_like(truth_grad) if grad_log_prob is None else grad_log_prob, truth_grad):
                continue
            return _wrong(exercise, "the value is right but not its gradient with respect to log_prob: build the "
                                    "loss from log_prob with tensor operations only.")
        if index == len(cases) - 1:
            return _wrong(exercise, "a batch of padding only must give 0, not NaN: divide by the number of valid "
                                    "steps, but by at least 1.")
        valid = mask.double()
        kept = (advantage > threshold).double()
        nll = -log_prob.double()
        mistakes = [
            ((valid * kept * nll).sum() / (valid * kept).sum(),
             "you averaged over the kept steps only: filtered-out steps count as 0 in a mean over all valid steps."),
            ((valid * (advantage >= threshold).double() * nll).sum() / valid.sum().clamp(min=1),
             "steps with A exactly equal to tau must be filtered out: the comparison is strict."),
            ((kept * nll).mean(),
             "padded steps (mask False) count in your mean: average over the valid steps only."),
            ((kept * nll).sum() / kept.sum(),
             "padded steps (mask False) count in your mean, and filtered-out steps must count as 0 in it."),
            (-truth.detach().double(), "check the sign: a loss to minimise is minus the log-probability."),
        ]
        for wrong_value, hint in mistakes:
            if _matches(value, wrong_value):
                return _wrong(exercise, hint)
        if index == len(cases) - 2 and not bool(torch.isfinite(value)):
            return _wrong(exercise, "when every step is filtered out the loss is 0, not NaN.")
        return _wrong(exercise, "L = -1[A > tau] log pi(a|s), averaged over the valid steps of the mask "
                                "(Eq. 4); compare yours on a small batch by hand.")
    return _right(exercise, "Same value and gradient as filtered_bc_actor_loss, and no gradient into A: only "
                            "the sign of A - tau matters, whatever the return scale.")


# -- 04 Transformer policy ------------------------------------------------------------------------
def _block_parameters(d: int) -> int:
    from ..transformer import Block

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


def _attended(T: int):
    """(T, T) bool: which key j each query t of a causal Block reads, measured by running PyTorch's attention
    as ``transformer.Block`` calls it (``is_causal=True``) with equal scores and one-hot values."""
    import torch
    import torch.nn.functional as F

    zeros = torch.zeros(1, 1, T, 1)
    weights = F.scaled_dot_product_attention(zeros, zeros, torch.eye(T).view(1, 1, T, T), is_causal=True)
    return weights[0, 0] > 0


def check_causal_mask(fn: Callable | None) -> bool | None:
    """04.5: ``fn(T) -> (T, T)`` bool, True where query step t (row) may attend to key step j (column),
    compared with the attention pattern of ``transformer.Block``."""
    import torch

    exercise = "04.5"
    verdict = _start(exercise, fn, "causal_mask")
    if verdict is not _GO_ON:
        return verdict
    for index, T in enumerate((5, 1, 2, 16, 33)):
        result, error = _call(fn, T)
        verdict = _returned(exercise, index, result, error)
        if verdict is not _GO_ON:
            return verdict
        truth = _attended(T)
        mask = _as_tensor(result)
        if mask is None or mask.dtype != torch.bool:
            return _wrong(exercise, "return a bool tensor (True = may attend): PyTorch reads a float mask as "
                                    "numbers to add to the scores, not as yes/no.")
        if tuple(mask.shape) != (T, T):
            return _wrong(exercise, f"return a (T, T) mask, rows = query steps, columns = key steps; for T = {T} "
                                    f"yours is {tuple(mask.shape)}.")
        if torch.equal(mask, truth):
            continue
        diagonal = torch.eye(T, dtype=torch.bool)
        if torch.equal(mask, truth.T):
            return _wrong(exercise, "rows are queries t and columns keys j: your mask is transposed (step 0 "
                                    "would read the whole trial).")
        if torch.equal(mask, truth & ~diagonal):
            return _wrong(exercise, "a step must attend to itself too: key j = t is allowed (h_t reads the token of "
                                    "step t).")
        if torch.equal(mask, ~truth):
            return _wrong(exercise, "True must mean *may attend* (PyTorch's convention for a bool attn_mask); "
                                    "yours marks the steps to hide.")
        return _wrong(exercise, "query t may attend to key j exactly when key j is not in t's future.")
    return _right(exercise, "This is the pattern is_causal=True gives in transformer.py's Block.")


def _kv_step_cases():
    """[(q, k_cache, v_cache, k_new, v_new, truth)]: the last query of random full-sequence causal attention,
    with the earlier keys and values as the cache; shapes (B, nh, t, hs), the last one with an empty cache."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(2)
    cases = []
    for B, nh, t, hs in ((2, 4, 7, 8), (1, 2, 1, 16), (3, 1, 12, 5), (2, 2, 0, 4)):
        q, k, v = torch.randn(3, B, nh, t + 1, hs, generator=generator)
        truth = F.scaled_dot_product_attention(q, k, v, is_causal=True)[:, :, -1:]  # (B, nh, 1, hs)
        cases.append((q[:, :, -1:], k[:, :, :-1], v[:, :, :-1], k[:, :, -1:], v[:, :, -1:], truth))
    return cases


def check_kv_cache_step(fn: Callable | None) -> bool | None:
    """04.6: ``fn(q, k_cache, v_cache, k_new, v_new) -> (B, nh, 1, hs)``, one query attending over the cached
    keys and values plus its own, compared with the last row of full causal attention."""
    import torch
    import torch.nn.functional as F

    exercise = "04.6"
    verdict = _start(exercise, fn, "attend_new_step")
    if verdict is not _GO_ON:
        return verdict
    for index, (q, k_cache, v_cache, k_new, v_new, truth) in enumerate(_kv_step_cases()):
        result, error = _call(fn, q, k_cache, v_cache, k_new, v_new)
        verdict = _returned(exercise, index, result, error)
        if verdict is not _GO_ON:
            return verdict
        if _matches(result, truth, atol=1e-5, rtol=1e-4):
            continue
        out = _as_tensor(result)
        if out is None or tuple(out.shape) != tuple(truth.shape):
            return _wrong(exercise, f"return one output per batch row and head, shaped like q: {tuple(truth.shape)}; "
                                    f"yours is {_shape_of(result)}.")
        if k_cache.shape[2] == 0:
            return _wrong(exercise, "with an empty cache (the first step of a trial) the query attends to its own "
                                    "key only, so the output is v_new.")
        keys, values = torch.cat([k_cache, k_new], dim=2), torch.cat([v_cache, v_new], dim=2)
        hs = q.shape[-1]
        mistakes = [
            (F.scaled_dot_product_attention(q, k_cache, v_cache),
             "the new step must attend to itself too: append k_new and v_new to the cache before the softmax."),
            (F.scaled_dot_product_attention(q, keys, values, is_causal=True),
             ("with one query and t + 1 keys, is_causal=True aligns the mask top-left, so the query sees key 0 "
              "only; the newest step may read every cached step: no mask is needed here.")),
        ] + [(F.scaled_dot_product_attention(q, keys, values, scale=scale),
              "scale the scores q.k by 1/sqrt(d_h), with d_h the head size (the last dimension of q).")
             for scale in (1.0, 1.0 / hs, 1.0 / math.sqrt(q.shape[1] * hs), math.sqrt(hs))]
        for wrong_value, hint in mistakes:
            if _matches(out, wrong_value, atol=1e-5, rtol=1e-4):
                return _wrong(exercise, hint)
        return _wrong(exercise, "softmax over the t + 1 keys of q.k_j / sqrt(d_h), then the weighted sum of the "
                                "values: compare yours with the last row of the full causal attention.")
    return _right(exercise, "The last row of full causal attention, in O(t) instead of O(t^2): what "
                            "CausalTransformer.step does in every block.")


def _td_target_cases():
    """[(rewards (N,), not_done (N,), q_next (N, G), gammas (G,), reward_multiplier)]; the first is square
    (N = G), so that a vector broadcast along the wrong axis gives wrong numbers instead of an error."""
    import torch

    generator = torch.Generator().manual_seed(3)
    cases = []
    for N, gammas, multiplier, done in (
            (7, (0.1, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999), 10.0, 0.3),  # the agent's default gammas
            (32, (0.9, 0.99, 0.999), 100.0, 0.2),
            (1, (0.99,), 1.0, 0.0),
            (5, (0.9, 0.99), 10.0, 1.0),  # every step terminal
            (6, (0.5, 0.9, 0.99, 0.999), 0.5, 0.0)):  # no step terminal
        rewards = torch.randn(N, generator=generator)
        not_done = (torch.rand(N, generator=generator) >= done).float()
        if 0.0 < done < 1.0:
            not_done[:2] = torch.tensor([0.0, 1.0])  # at least one terminal and one non-terminal step
        q_next = 10 * torch.randn(N, len(gammas), generator=generator)
        cases.append((rewards, not_done, q_next, torch.tensor(gammas), multiplier))
    return cases


_AXES_HINT = ("rewards and not_done run along the rows n (shape (N,)), gammas along the columns g (shape (G,)): "
              "give each vector the right axis ([:, None] or [None, :]) so that they broadcast to (N, G).")


def check_td_target(fn: Callable | None) -> bool | None:
    """04.7: ``fn(rewards, not_done, q_next, gammas, reward_multiplier) -> (N, G)`` TD targets, one per step and
    discount factor, y = R r + gamma_g (1 - d) Q_next[:, g], as the agent's loss computes them."""
    import itertools

    exercise = "04.7"
    verdict = _start(exercise, fn, "td_target")
    if verdict is not _GO_ON:
        return verdict
    for index, (rewards, not_done, q_next, gammas, multiplier) in enumerate(_td_target_cases()):
        N, G = q_next.shape
        result, error = _call(fn, rewards, not_done, q_next, gammas, multiplier)
        shapes = error is not None and any(word in error for word in ("size of tensor", "broadcast", "shape"))
        verdict = _returned(exercise, index, result, error, _AXES_HINT if shapes else "")
        if verdict is not _GO_ON:
            return verdict
        r, alive, g = rewards.double(), not_done.double(), gammas.double()
        q = q_next.double()
        truth = multiplier * r[:, None] + g[None, :] * alive[:, None] * q
        if _matches(result, truth):
            continue
        y = _as_tensor(result)
        if y is None or tuple(y.shape) != (N, G):
            return _wrong(exercise, f"return one target per step and discount factor, shape (N, G) = ({N}, {G}); "
                                    f"yours is {_shape_of(result)}.")
        mistakes = [
            (multiplier * (r[:, None] + g[None, :] * alive[:, None] * q),
             "the reward multiplier scales the reward only: Q_next is already in multiplied units."),
            (multiplier * r[:, None] + g[None, :] * q,
             "a terminal step has no next state to bootstrap from: multiply the bootstrap term by not_done."),
            (multiplier * r[:, None] + g[None, :] * (1 - alive[:, None]) * q,
             "not_done is already 1 - d: it is 1 where the episode goes on."),
        ]
        if N == G:  # a transposed result, and every way of putting the three vectors on an axis
            mistakes.append((truth.T, "rows are the steps n and columns the discount factors g, shape (N, G): "
                                      "your targets are transposed."))
            rows, columns = (lambda x: x[:, None]), (lambda x: x[None, :])
            for on_r, on_alive, on_g in itertools.product((rows, columns), repeat=3):
                mistakes.append((multiplier * on_r(r) + on_g(g) * on_alive(alive) * q, _AXES_HINT))
        for wrong_value, hint in mistakes:
            if _matches(y, wrong_value):
                return _wrong(exercise, hint)
        return _wrong(exercise, "y[n, g] = R r_n + gamma_g (1 - d_n) Q_next[n, g]: check each term on a small example.")
    return _right(exercise, "One target per discount factor from the same transition: the agent's critic learns "
                            "every horizon at once.")


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


# -- 06 multi-task runs ---------------------------------------------------------------------------
def _observation_entries(env_id: str = "popgym-mt", trials: int = 3, seed: int = 0) -> dict[str, tuple[int, ...]]:
    """{task: the entries of the padded observation it ever sets} over a few random trials of each task."""
    import numpy as np

    from ..envs import make_env

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


# -- 07 return-scale ablation ---------------------------------------------------------------------
def _popart_cases():
    """[(w (H, G), b (G,), mu_old, sigma_old, mu_new, sigma_new (G,) each, w' and b' of ``PopArt.update``)].

    The statistics are those of a real :class:`PopArt` before and after one update with step 1 (which sets
    them to the batch's moments); the last case leaves them where they were."""
    import torch

    from ..popart import PopArt

    generator = torch.Generator().manual_seed(4)
    cases = []
    for H, G, moves in ((16, 3, True), (4, 1, True), (8, 7, True), (5, 2, False)):
        w = torch.randn(H, G, generator=generator) / math.sqrt(H)
        b = 0.5 * torch.randn(G, generator=generator)
        mu, sigma = 3 * torch.randn(G, generator=generator), 0.5 + 10 * torch.rand(G, generator=generator)
        popart = PopArt(G, step=1.0)
        popart.mean.copy_(mu)
        popart.second_moment.copy_(sigma ** 2 + mu ** 2)
        mu_old, sigma_old = popart.mean.clone(), popart.sigma.clone()
        if moves:
            mu = mu + torch.randn(G, generator=generator)
            sigma = sigma * torch.exp(0.5 * torch.randn(G, generator=generator))
        targets = torch.stack([mu - sigma, mu + sigma])  # (2, G): mean mu, standard deviation sigma
        w_new, b_new = w.clone(), b.clone()
        popart.update(targets, torch.ones(2, dtype=torch.bool), layers=[(w_new, b_new, torch.arange(G))])
        cases.append((w, b, mu_old, sigma_old, popart.mean.clone(), popart.sigma.clone(), w_new, b_new))
    return cases


def check_popart_rescale(fn: Callable | None) -> bool | None:
    """07.7: ``fn(w, b, mu_old, sigma_old, mu_new, sigma_new) -> (w', b')`` for a last layer x = h @ w + b read
    as Q = sigma x + mu, such that every Q is unchanged; compared with what ``PopArt.update`` does."""
    exercise = "07.7"
    verdict = _start(exercise, fn, "rescale")
    if verdict is not _GO_ON:
        return verdict
    for index, (w, b, mu_old, sigma_old, mu_new, sigma_new, w_true, b_true) in enumerate(_popart_cases()):
        result, error = _call(fn, w, b, mu_old, sigma_old, mu_new, sigma_new)
        verdict = _returned(exercise, index, result, error)
        if verdict is not _GO_ON:
            return verdict
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return _wrong(exercise, "return a pair (w_new, b_new).")
        w_new, b_new = (_as_tensor(part) for part in result)
        if w_new is None or b_new is None or w_new.shape != w.shape or b_new.shape != b.shape:
            return _wrong(exercise, f"w_new must be shaped like w {tuple(w.shape)} and b_new like b {tuple(b.shape)}; "
                                    f"yours are {_shape_of(result[0])} and {_shape_of(result[1])}.")
        w_right = _matches(w_new, w_true, atol=1e-5, rtol=1e-4)
        b_right = _matches(b_new, b_true, atol=1e-5, rtol=1e-4)
        if w_right and b_right:
            continue
        if w_right and _matches(b_new, b):
            return _wrong(exercise, "you left the bias as it was: the bias must absorb the change of sigma and the "
                                    "change of mu too.")
        if w_right and _matches(b_new, b * sigma_old / sigma_new, atol=1e-5, rtol=1e-4):
            return _wrong(exercise, "the bias is rescaled but not shifted: it must also absorb the change of the "
                                    "mean, mu_old - mu_new.")
        if w_right and _matches(b_new, b + (mu_old - mu_new) / sigma_new, atol=1e-5, rtol=1e-4):
            return _wrong(exercise, "the bias is shifted but not rescaled: like w, it must absorb the change of "
                                    "sigma too.")
        swapped_w = w * sigma_new / sigma_old
        swapped_b = (sigma_new * b + mu_new - mu_old) / sigma_old
        if ((not w_right and _matches(w_new, swapped_w, atol=1e-5, rtol=1e-4))
                or (w_right and _matches(b_new, swapped_b, atol=1e-5, rtol=1e-4))):
            return _wrong(exercise, "old and new are swapped: the new layer read with the *new* statistics must "
                                    "give the outputs the old layer gave with the old ones.")
        return _wrong(exercise, "write sigma_new (h w' + b') + mu_new = sigma_old (h w + b) + mu_old, then match the "
                                "terms in h and the constant terms.")
    return _right(exercise, "The outputs Q are preserved exactly, as PopArt.update does for the critic's last layer "
                            "(and its target copy) whenever mu and sigma move.")


# -- 08 the paper's benchmarks ------------------------------------------------------------------------
