"""Exact tests of the critic / actor losses: hand-computed values, scale (in)dependence, masking."""

import math

import pytest
import torch

from amago_edu.losses import (
    binary_filter,
    filtered_bc_actor_loss,
    masked_mean,
    max_q_actor_loss,
    mse_critic_loss,
    two_hot_critic_loss,
)
from amago_edu.twohot import TwoHot


def all_valid(batch: int, time: int) -> torch.Tensor:
    return torch.ones(batch, time, dtype=torch.bool)


# ----------------------------------------------------------------------------- masked_mean


def test_masked_mean_counts_trailing_entries():
    values = torch.arange(12.0).reshape(2, 2, 3)  # (B, T, C)
    mask = torch.tensor([[True, False], [False, True]])
    # valid entries: [0, 1, 2] and [9, 10, 11]
    assert masked_mean(values, mask).item() == pytest.approx(33 / 6)


def test_all_false_mask_gives_zero_loss_and_zero_gradient():
    twohot = TwoHot(16, -10.0, 10.0)
    mask = torch.zeros(2, 3, dtype=torch.bool)
    logits = torch.randn(2, 3, 16, requires_grad=True)
    values = torch.randn(2, 3, requires_grad=True)
    losses = [
        two_hot_critic_loss(logits, torch.randn(2, 3), twohot, mask),
        mse_critic_loss(values, torch.randn(2, 3), mask),
        filtered_bc_actor_loss(values, torch.randn(2, 3), mask),
        max_q_actor_loss(values, mask),
    ]
    for loss in losses:
        assert loss.item() == 0.0
    sum(losses).backward()
    assert (logits.grad == 0).all() and (values.grad == 0).all()


# ----------------------------------------------------------------------------- two-hot critic


def test_two_hot_loss_of_uniform_logits_is_log_num_bins():
    twohot = TwoHot()
    targets = torch.tensor([[0.0, 1.0, -3.0], [250.0, 1e6, 10.0]])
    loss = two_hot_critic_loss(torch.zeros(2, 3, 128), targets, twohot, all_valid(2, 3))
    assert loss.item() == pytest.approx(math.log(128), abs=1e-5)  # 4.852030


def test_two_hot_loss_equals_dense_soft_label_cross_entropy():
    torch.manual_seed(0)
    twohot = TwoHot(32, -100.0, 100.0)
    logits = torch.randn(2, 4, 3, 32)  # (B, T, ensemble, bins)
    targets = torch.randn(2, 4, 1) * 30  # one target shared by the 3 critics
    labels = twohot.encode(targets).expand(2, 4, 3, 32)
    dense = -(labels * torch.log_softmax(logits, -1)).sum(-1).mean()
    loss = two_hot_critic_loss(logits, targets, twohot, all_valid(2, 4))
    torch.testing.assert_close(loss, dense)


def test_two_hot_loss_minimum_is_label_entropy():
    twohot = TwoHot()
    logits = torch.full((1, 1, 128), -1e4)
    logits[..., 63] = logits[..., 64] = 0.0  # predicts the label of 0.0 exactly (0.5 / 0.5)
    loss = two_hot_critic_loss(logits, torch.zeros(1, 1), twohot, all_valid(1, 1))
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)


def test_two_hot_gradient_is_softmax_minus_label_and_targets_get_none():
    twohot = TwoHot(8, -10.0, 10.0)
    logits = torch.randn(1, 2, 8, requires_grad=True)
    targets = torch.tensor([[2.0, -7.0]], requires_grad=True)
    two_hot_critic_loss(logits, targets, twohot, all_valid(1, 2)).backward()
    expected = (torch.softmax(logits.detach(), -1) - twohot.encode(targets.detach())) / 2
    torch.testing.assert_close(logits.grad, expected)
    assert targets.grad is None


def test_two_hot_gradient_is_bounded_whatever_the_return_scale():
    twohot = TwoHot()
    for scale in (1e-2, 1.0, 1e2, 1e4):
        logits = torch.zeros(1, 4, 128, requires_grad=True)
        targets = torch.tensor([[1.0, -2.0, 3.0, 5.0]]) * scale
        two_hot_critic_loss(logits, targets, twohot, all_valid(1, 4)).backward()
        # each per-step gradient (times the 4 steps averaged over) lies in [-1, 1]
        assert (logits.grad.abs() * 4 <= 1.0).all()


def test_two_hot_loss_rejects_wrong_shapes():
    twohot = TwoHot(16, -1.0, 1.0)
    with pytest.raises(ValueError, match="num_bins=16"):
        two_hot_critic_loss(torch.zeros(2, 3, 8), torch.zeros(2, 3), twohot, all_valid(2, 3))
    with pytest.raises(ValueError, match="targets"):
        two_hot_critic_loss(torch.zeros(2, 3, 4, 16), torch.zeros(2, 3, 5), twohot, all_valid(2, 3))


# ----------------------------------------------------------------------------- MSE critic


def test_mse_loss_hand_computed():
    values = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    targets = torch.tensor([[0.0, 4.0], [0.0, 2.0]])
    # (1 + 4 + 0 + 9) / 4, plain squared error (no 1/2)
    assert mse_critic_loss(values, targets, all_valid(2, 2)).item() == pytest.approx(3.5)


def test_mse_loss_scales_with_square_of_return_scale_and_detaches_targets():
    torch.manual_seed(0)
    values, targets = torch.randn(3, 4), torch.randn(3, 4)
    base = mse_critic_loss(values, targets, all_valid(3, 4))
    for scale in (1e-2, 10.0, 1e3):
        scaled_values = (values * scale).requires_grad_()
        scaled_targets = (targets * scale).requires_grad_()
        loss = mse_critic_loss(scaled_values, scaled_targets, all_valid(3, 4))
        torch.testing.assert_close(loss, base * scale**2)
        loss.backward()
        torch.testing.assert_close(scaled_values.grad, 2 * (values - targets) / 12 * scale)
        assert scaled_targets.grad is None


# ----------------------------------------------------------------------------- filtered BC actor


def test_binary_filter_uses_strict_inequality():
    advantages = torch.tensor([1.0, -1.0, 0.0, 2e-5])
    assert binary_filter(advantages).tolist() == [True, False, False, True]
    assert binary_filter(advantages, threshold=-1e-4).tolist() == [True, False, True, True]
    assert binary_filter(advantages).dtype == torch.bool


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), "0", True])
def test_binary_filter_rejects_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        binary_filter(torch.zeros(3), threshold)


def test_filtered_bc_loss_hand_computed():
    log_probs = torch.tensor([[-1.0, -2.0, -3.0, -4.0]])
    advantages = torch.tensor([[1.0, -1.0, 0.0, 2.0]])
    # weights [1, 0, 0, 1] -> (1 + 4) / 4 ; with threshold -1e-4 -> [1, 0, 1, 1] -> (1 + 3 + 4) / 4
    assert filtered_bc_actor_loss(log_probs, advantages, all_valid(1, 4)).item() == pytest.approx(1.25)
    loss = filtered_bc_actor_loss(log_probs, advantages, all_valid(1, 4), threshold=-1e-4)
    assert loss.item() == pytest.approx(2.0)


def test_filtered_bc_is_identical_under_positive_advantage_scaling():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 4)  # (B, T, actions)
    actions = torch.randint(0, 4, (2, 5, 1))
    advantages = torch.randn(2, 5)

    def loss_and_grad(scale):
        actor_logits = logits.clone().requires_grad_()
        log_probs = torch.log_softmax(actor_logits, -1).gather(-1, actions).squeeze(-1)
        scaled = (advantages * scale).requires_grad_()
        loss = filtered_bc_actor_loss(log_probs, scaled, all_valid(2, 5))
        loss.backward()
        assert scaled.grad is None  # no gradient through the advantage
        return loss, actor_logits.grad

    base_loss, base_grad = loss_and_grad(1.0)
    for scale in (1e-3, 7.0, 1e3, 1e6):
        loss, grad = loss_and_grad(scale)
        assert torch.equal(loss, base_loss) and torch.equal(grad, base_grad)


# ----------------------------------------------------------------------------- max-Q actor


def test_max_q_gradients_scale_linearly():
    torch.manual_seed(0)
    q_values = torch.randn(2, 3, 4)  # Q(s, a) for 4 actions
    policy_logits = torch.randn(2, 3, 4)

    def grad(scale):
        logits = policy_logits.clone().requires_grad_()
        q_of_policy = (torch.softmax(logits, -1) * q_values * scale).sum(-1)  # sum_a pi(a|s) Q(s,a)
        loss = max_q_actor_loss(q_of_policy, all_valid(2, 3))
        loss.backward()
        return loss, logits.grad

    base_loss, base_grad = grad(1.0)
    expected = -(torch.softmax(policy_logits, -1) * q_values).sum(-1).mean()
    assert base_loss.item() == pytest.approx(expected.item())
    for scale in (1e-2, 1e3):
        loss, g = grad(scale)
        torch.testing.assert_close(loss, base_loss * scale)
        torch.testing.assert_close(g, base_grad * scale)


# ----------------------------------------------------------------------------- masks


def test_padded_batch_equals_unpadded_shorter_batch():
    torch.manual_seed(0)
    twohot = TwoHot(16, -50.0, 50.0)
    lengths = [3, 5]
    B, T = 2, 6
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)
    logits = torch.randn(B, T, 2, 16)
    values, targets, log_probs, advantages = (torch.randn(B, T, 2) for _ in range(4))
    # padding holds garbage that must not leak
    targets = targets.masked_fill(~mask[..., None], float("nan"))
    log_probs = log_probs.masked_fill(~mask[..., None], -float("inf"))
    values = values.masked_fill(~mask[..., None], 1e30)

    def unpadded(x):  # the valid steps only, as one (1, sum(lengths), ...) batch
        return x[mask].unsqueeze(0)

    short = all_valid(1, sum(lengths))
    pairs = [
        (two_hot_critic_loss(logits, targets, twohot, mask),
         two_hot_critic_loss(unpadded(logits), unpadded(targets), twohot, short)),
        (mse_critic_loss(values, targets, mask), mse_critic_loss(unpadded(values), unpadded(targets), short)),
        (filtered_bc_actor_loss(log_probs, advantages, mask),
         filtered_bc_actor_loss(unpadded(log_probs), unpadded(advantages), short)),
        (max_q_actor_loss(values, mask), max_q_actor_loss(unpadded(values), short)),
    ]
    for padded_loss, short_loss in pairs:
        assert torch.isfinite(padded_loss)
        torch.testing.assert_close(padded_loss, short_loss)

    # the first row alone, cut at its length, gives the same loss as the padded row
    torch.testing.assert_close(
        mse_critic_loss(values[:1], targets[:1], mask[:1]),
        mse_critic_loss(values[:1, :3], targets[:1, :3], all_valid(1, 3)),
    )


def test_padded_steps_get_zero_gradient():
    twohot = TwoHot(16, -50.0, 50.0)
    mask = torch.tensor([[True, True, False]])
    logits = torch.randn(1, 3, 16, requires_grad=True)
    two_hot_critic_loss(logits, torch.tensor([[1.0, 2.0, float("nan")]]), twohot, mask).backward()
    assert (logits.grad[0, 2] == 0).all() and (logits.grad[0, :2] != 0).any()


def test_bad_masks_are_rejected():
    values = torch.zeros(2, 3)
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        max_q_actor_loss(values, torch.ones(2, 3))
    with pytest.raises(ValueError, match="mask must be \\(B, T\\)"):
        max_q_actor_loss(values, torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be \\(B, T\\)"):
        max_q_actor_loss(values, torch.ones(2, 3, 1, dtype=torch.bool))
