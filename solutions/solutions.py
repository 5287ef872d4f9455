"""Reference solutions to the exercises of the notebooks. Try the exercise first.

They live outside the package (``pip install`` does not ship them), so a learner has to come here on purpose.

One function per checker in :mod:`amago_edu.course.exercises` (same name without ``check_``), taking the same
context arguments and returning an answer that checker accepts; the docstring says why. The tests
(``tests/course/test_exercises.py``) run every checker on these answers and on plausible wrong ones.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence


# -- 00 quickstart --------------------------------------------------------------------------------
def attempt_improvements(run_dir: str | Path) -> list[float]:
    """00.1: read ``metrics.jsonl`` line by line, keep the eval rows, subtract first from last attempt."""
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [row["attempt_success"][-1] - row["attempt_success"][0] for row in rows if row["kind"] == "eval"]


def full_trial_context(size: int = 5, episodes_per_trial: int = 5) -> int:
    """00.2: an attempt lasts at most n^2 steps, so a trial at most k n^2 transitions; the context holds
    one observation per transition plus the final one: k n^2 + 1 (126 for 5x5 maps and k = 5)."""
    return episodes_per_trial * size * size + 1


def worse_after_success(trials: Sequence[dict]) -> int:
    """00.3: a trial counts when a success (1) is followed by a failure (0) at some later attempt.

    Causes worth thinking about: evaluation *samples* actions (``eval_sample=True``), so an unlucky
    sample can walk into a hole it knows about; and a short run's policy may not yet read its context
    reliably. Replaying with ``eval_sample=False`` separates the two.
    """
    count = 0
    for trial in trials:
        successes = list(trial["successes"])
        count += any(s == 1 and 0 in successes[i + 1:] for i, s in enumerate(successes))
    return count


# -- 01 return-scale imbalance --------------------------------------------------------------------
def equal_scale_shares(num_tasks: int = 3) -> list[float]:
    """01.1: with equal return scales no task is favoured: about 1 / K each (the measurement is only
    roughly even, because the tasks' targets and contexts differ)."""
    return [1.0 / num_tasks] * num_tasks


def actor_gradient_factor() -> float:
    """01.2: grad(-sum_a pi(a|s) Q(s,a)) = -sum_a Q(s,a) grad pi(a|s) is linear in Q, so x10 rewards give
    a x10 gradient. (The critic's factor is not as clean at initialisation because its error Q - y
    contains the untrained network's own output, which does not scale with the rewards.)"""
    return 10.0


def small_task_share() -> str:
    """01.3: (b). The share is proportional to |Q - y|; as the large task is learned its error falls, so
    the small task's share rises. But MSE balances *absolute* errors: training stops favouring the large
    task once its |Q - y| is as small as the others', which for the x0.01 task is still a relative error
    far above 1."""
    return "b"


# -- 02 two-hot critic ----------------------------------------------------------------------------
def tiny_return_cost(twohot) -> float:
    """02.1: KL(label(+0.01) || 0.5/0.5 on bins 63 and 64) for 128 bins over +-1e5: about 0.006 nats.

    The label of +0.01 puts ~0.555 on bin 64 and ~0.445 on bin 63 (bins next to 0 are ~0.18 wide in
    symlog units), so predicting 0.5 / 0.5, i.e. ignoring the sign, costs almost nothing.
    """
    import torch

    label = twohot.encode(torch.tensor(0.01))
    support = label > 0
    return float((label[support] * (label[support] / 0.5).log()).sum())


def coarse_bins() -> tuple[float, float]:
    """02.2: uniform prediction -> cross-entropy ln N = ln 64; spacing 2 ln(1 + 1e5) / (N - 1)."""
    return math.log(64), 2 * math.log1p(1e5) / 63


def gradient_scale_factors() -> tuple[float, float]:
    """02.3: two-hot: about 1 (p - label is bounded, only which bins hold the label changes); MSE: 1000
    (2(Q - y) is linear in y)."""
    return 1.0, 1000.0


def two_hot_encode(values, bins):
    """02.4: s = symlog(y) clipped to [b_0, b_{N-1}]; k = the bin at or below s (at most N - 2, so that k + 1 is
    a bin); the upper neighbour gets (s - b_k) / (b_{k+1} - b_k), the lower one the rest. Then the label's mean
    sum_i label_i b_i is s exactly (App. A, Eqs. 5-7)."""
    import torch

    s = (torch.sign(values) * torch.log1p(values.abs())).clamp(bins[0], bins[-1])
    below = (torch.searchsorted(bins, s, right=True) - 1).clamp(0, len(bins) - 2)
    weight_above = (s - bins[below]) / (bins[below + 1] - bins[below])
    label = torch.zeros(*s.shape, len(bins))
    label.scatter_(-1, below.unsqueeze(-1), (1 - weight_above).unsqueeze(-1))
    label.scatter_(-1, below.unsqueeze(-1) + 1, weight_above.unsqueeze(-1))
    return label


# -- 03 filtered BC actor -------------------------------------------------------------------------
def filter_threshold(advantages, threshold: float = -1e-4) -> list[bool]:
    """03.1: 1[A > tau] with tau = -1e-4: [0.3, 0.0, -5e-5, -2e-4] -> [True, True, True, False]."""
    values = advantages.tolist() if hasattr(advantages, "tolist") else list(advantages)
    return [float(a) > threshold for a in values]


def sampled_baseline() -> bool:
    """03.2: True. The K sampled actions depend on pi and the random stream, not on the rewards, and
    sign(cQ - c mean_k Q_k) = sign(Q - mean_k Q_k) for c > 0: the same filter, the same updates."""
    return True


def max_q_with_labels() -> bool:
    """03.3: True: at unit scale for every bandit none dominates the shared network. The catch is that
    dividing by c_k needs the task label k."""
    return True


def filtered_bc_loss(log_prob, advantage, mask, threshold):
    """03.4: Eq. 4, -1[A > tau] log pi(a|s), averaged over the valid steps; filtered-out steps count as 0.
    The filter is built from the detached advantage (a 0/1 weight carries no gradient anyway, but detaching
    says so), and an all-padding batch gives 0 instead of 0 / 0."""
    import torch

    weight = (advantage.detach() > threshold).to(log_prob.dtype)
    per_step = torch.where(mask, -weight * log_prob, torch.zeros_like(log_prob))
    return per_step.sum() / mask.sum().clamp(min=1)


# -- 04 Transformer policy ------------------------------------------------------------------------
def block_parameters(d: int) -> int:
    """04.1: two LayerNorms 2 x 2d; QKV d x 3d + 3d; output d x d + d; feed-forward d x 4d + 4d and
    4d x d + d. Total 12 d^2 + 13 d."""
    return 12 * d * d + 13 * d


def sliding_window() -> str:
    """04.2: "exact_window only". Recomputing the window from its tokens is a forward pass over them; the
    rolled cache keeps keys and values of upper blocks that were computed while older steps (now
    dropped) were still visible to the block below."""
    return "exact_window only"


def first_changed_step(changed_step: int = 10) -> int:
    """04.3: the changed step itself: h_t reads tokens <= t, so states before it cannot change and every
    state from it on may. The TD target y_t uses h_{t+1}, which reads tokens <= t + 1 only."""
    return changed_step


def causal_mask(T: int):
    """04.5: query t (row) may read key j (column) when j <= t: the lower triangle, diagonal included."""
    import torch

    return torch.ones(T, T, dtype=torch.bool).tril()


def kv_cache_step(q, k_cache, v_cache, k_new, v_new):
    """04.6: the new key and value join the cache, then one softmax row over all t + 1 keys, scaled by
    1/sqrt(d_h). No mask: every cached step is in the new step's past."""
    import torch

    keys, values = torch.cat([k_cache, k_new], dim=2), torch.cat([v_cache, v_new], dim=2)  # (B, nh, t + 1, hs)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, nh, 1, t + 1)
    return scores.softmax(-1) @ values  # (B, nh, 1, hs)


def td_target(rewards, not_done, q_next, gammas, reward_multiplier):
    """04.7: y[n, g] = R r_n + gamma_g (1 - d_n) Q_next[n, g]: the step's vectors as a column, gammas as a row.
    The multiplier scales the reward only; Q_next is already in multiplied units."""
    return reward_multiplier * rewards[:, None] + gammas[None, :] * not_done[:, None] * q_next


# -- 05 in-context adaptation ---------------------------------------------------------------------
def trials_needed(difference: float = 0.1, rate: float = 0.45) -> int:
    """05.1: 0.1 >= 2 sqrt(2 p (1 - p) / N)  <=>  N >= 8 p (1 - p) / 0.1^2 = 198 for p = 0.45."""
    return math.ceil(8 * rate * (1 - rate) / difference**2 - 1e-9)


# -- 06 multi-task runs ---------------------------------------------------------------------------
def lookalike_games(entries: dict | None = None) -> set[str]:
    """06.1: group the games by the observation entries they set; every game in a group of two or more is a
    lookalike (RepeatFirstEasy and RepeatPreviousEasy both show one of 4 cards in the same 4 entries)."""
    from amago_edu.course.exercises import _observation_entries, lookalike_games as group

    return group(entries if entries is not None else _observation_entries())


# -- 07 return-scale ablation ---------------------------------------------------------------------
def popart_rescale(w, b, mu_old, sigma_old, mu_new, sigma_new):
    """07.7: sigma_new (h w' + b') + mu_new = sigma_old (h w + b) + mu_old for every h: the terms in h give
    w' = w sigma_old / sigma_new, the constants b' = (sigma_old b + mu_old - mu_new) / sigma_new (App. A; van
    Hasselt et al. 2016). The statistics are per output column, so they broadcast over w's last dimension."""
    return w * sigma_old / sigma_new, (sigma_old * b + mu_old - mu_new) / sigma_new


# -- 08 the paper's benchmarks ------------------------------------------------------------------------
