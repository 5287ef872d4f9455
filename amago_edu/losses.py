"""Critic and actor losses, scale-dependent (AMAGO-1 style) and scale-independent (AMAGO-2).

Every loss here takes per-timestep tensors shaped (B, T, ...) and a boolean ``mask`` (B, T)
(True = a real step, False = padding). The mask broadcasts over the trailing dimensions (ensemble
members, discount factors, ...) and each loss is the mean over valid entries,

    L = sum(mask * l) / max(count(mask), 1),

so padded steps contribute exactly 0 and an all-padding batch gives 0, not NaN.

| loss                       | AMAGO-2 name    | scales with returns multiplied by c |
|----------------------------|-----------------|-------------------------------------|
| ``mse_critic_loss``        | L_Critic-Dep    | loss x c^2, gradient x c            |
| ``two_hot_critic_loss``    | L_Critic-Ind    | no (only through bin placement)     |
| ``max_q_actor_loss``       | L_Actor-Dep     | loss and gradient x c               |
| ``filtered_bc_actor_loss`` | L_Actor-Ind     | no (only the sign of A is used)     |
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from .twohot import TwoHot


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` (B, T, ...) over entries whose step is valid in ``mask`` (B, T) bool -> ().

    Padded entries are selected away with ``torch.where`` (not multiplied by 0), so NaN or inf
    garbage in padding cannot leak into the loss or its gradient.
    """
    mask = _broadcast_mask(mask, values, "values").expand(values.shape)
    total = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device)).sum()
    return total / mask.sum().clamp(min=1)


def two_hot_critic_loss(
    logits: torch.Tensor, targets: torch.Tensor, twohot: TwoHot, mask: torch.Tensor
) -> torch.Tensor:
    """Soft-label cross-entropy of critic logits against two-hot TD targets (AMAGO-2 Eq. 3; App. A, Eqs. 5-6).

        L = -sum_i twohot(y)_i * log softmax(logits)_i

    Args:
        logits: (B, T, ..., num_bins) critic outputs (any float dtype; computed in float32).
        targets: (B, T, ...) scalar TD targets y, broadcastable to ``logits.shape[:-1]`` (e.g. one
            target shared by every ensemble member). No gradient flows into them. Values at padded
            steps are ignored (they may be NaN); valid ones must be finite.
        twohot: the :class:`TwoHot` that defines the bins (on the same device as ``logits``).
        mask: (B, T) bool.

    Returns a scalar. Its gradient w.r.t. the logits is softmax(logits) - label, every component
    in [-1, 1] whatever the return scale. With uniform logits the loss is ln(num_bins).
    """
    if logits.dim() < 3 or logits.shape[-1] != twohot.num_bins:
        raise ValueError(
            f"logits must be (B, T, ..., num_bins={twohot.num_bins}), got shape {tuple(logits.shape)}"
        )
    value_shape = logits.shape[:-1]
    _check_broadcast("targets", targets, value_shape)
    valid = _broadcast_mask(mask, targets, "targets")
    # padding may hold garbage; encode a harmless 0 there (it is masked out below anyway)
    targets = torch.where(valid, targets.detach().float(), torch.zeros((), device=targets.device))
    index_below, weight_above = twohot.neighbour_bins(targets)
    index_below = index_below.expand(value_shape).unsqueeze(-1)
    weight_above = weight_above.expand(value_shape)
    log_probs = F.log_softmax(logits.float(), dim=-1)
    # -sum_i label_i log p_i has only two non-zero terms; gathering them (in one gather, whose backward is
    # one scatter) avoids building the dense (..., num_bins) label tensor, which costs as much as the log-softmax
    log_p = log_probs.gather(-1, torch.cat([index_below, index_below + 1], dim=-1))  # (..., 2): below, above
    cross_entropy = -((1.0 - weight_above) * log_p[..., 0] + weight_above * log_p[..., 1])
    return masked_mean(cross_entropy, mask)


def mse_critic_loss(values: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Squared Bellman error, the scale-dependent critic loss (AMAGO-1; AMAGO-2 Eq. 1).

        L = (Q - y)^2          (plain squared error, no 1/2 factor: the gradient is 2 (Q - y))

    Args:
        values: (B, T, ...) predicted Q.
        targets: (B, T, ...) TD targets y, broadcastable to ``values``; detached. Padded steps are
            ignored (they may be NaN).
        mask: (B, T) bool.

    Multiplying Q and y by c multiplies the loss by c^2 and its gradient by c.
    """
    _check_broadcast("targets", targets, values.shape)
    valid = _broadcast_mask(mask, targets, "targets")
    zero = torch.zeros((), dtype=targets.dtype, device=targets.device)
    targets = torch.where(valid, targets.detach(), zero)
    return masked_mean((values - targets).pow(2), mask)


def binary_filter(advantages: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """The filtered-BC weight w = 1[A > threshold]: (...) -> (...) bool (AMAGO-2 Eq. 4).

    Only the sign of ``A - threshold`` matters, so multiplying every advantage by c > 0 (with
    threshold 0) leaves w unchanged. ``A == threshold`` gives False. The reference code defaults to
    0; the paper's runs often used -1e-4, which keeps actions whose two-hot advantage is ~0.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite real number, got {threshold!r}")
    return advantages > threshold


def filtered_bc_actor_loss(
    log_prob_replay_actions: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    threshold: float = 0.0,
) -> torch.Tensor:
    """Binary-filtered behaviour cloning, the scale-independent actor loss (AMAGO-2 Eq. 4).

        L = -1[A(s, a) > threshold] * log pi(a | s),   a = the replay buffer's action

    Args:
        log_prob_replay_actions: (B, T, ...) log pi(a_t | s_t) of the actions stored in replay.
        advantages: (B, T, ...) A = Q(s, a) - V(s), broadcastable to the log-probs; used only
            through :func:`binary_filter`, so no gradient flows into it.
        mask: (B, T) bool.
        threshold: filter threshold (default 0).

    Averaged over all valid entries, filtered-out ones counting as 0. The loss and its gradient
    do not change when every advantage is multiplied by a positive constant.
    """
    _check_broadcast("advantages", advantages, log_prob_replay_actions.shape)
    weight = binary_filter(advantages.detach(), threshold).to(log_prob_replay_actions.dtype)
    return masked_mean(-weight * log_prob_replay_actions, mask)


def max_q_actor_loss(q_of_policy_actions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Maximise-Q actor loss, the scale-dependent actor loss (AMAGO-1 / DPG; AMAGO-2 Eq. 2).

        L = -Q(s, pi(s))

    Args:
        q_of_policy_actions: (B, T, ...) Q of the policy's actions, differentiable w.r.t. the
            policy (e.g. sum_a pi(a|s) Q(s, a) for discrete actions, or Q(s, rsample())).
        mask: (B, T) bool.

    Multiplying Q by c multiplies the loss and its gradient by c.
    """
    return masked_mean(-q_of_policy_actions, mask)


def _broadcast_mask(mask: torch.Tensor, like: torch.Tensor, name: str) -> torch.Tensor:
    """Check ``mask`` is (B, T) bool matching ``like``'s first two dims; return it viewed as
    (B, T, 1, ..., 1) so it broadcasts over ``like``'s trailing dims."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        kind = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a bool tensor (True = real step), got {kind}; use mask.bool()")
    if mask.dim() != 2 or like.dim() < 2 or tuple(like.shape[:2]) != tuple(mask.shape):
        raise ValueError(
            f"mask must be (B, T) matching the first two dims of {name}; "
            f"got mask {tuple(mask.shape)} and {name} {tuple(like.shape)}"
        )
    return mask.reshape(*mask.shape, *([1] * (like.dim() - 2)))


def _check_broadcast(name: str, tensor: torch.Tensor, shape: torch.Size) -> None:
    try:
        broadcast = torch.broadcast_shapes(tensor.shape, shape)
    except RuntimeError:
        broadcast = None
    if broadcast != torch.Size(shape):
        raise ValueError(f"{name} of shape {tuple(tensor.shape)} must broadcast to {tuple(shape)}")
