"""Tests for amago_edu.grouped, the critic's speed path: the grouped outputs equal "every action's outputs, then
gather" (values and gradients), for one action per row, per gamma, and through the whole update."""

from __future__ import annotations

import pytest
import torch

from amago_edu.agent import CriticEnsemble
from amago_edu.grouped import permute_rows
from helpers import make_agent, random_batch, seeded_loss


@pytest.mark.parametrize("grouped", [True, False])
def test_chosen_action_outputs_equal_the_all_actions_outputs(grouped):
    """Q(s, a_replay) and Q_g(s', a'_g) per gamma must equal picking those actions out of the all-actions output."""
    torch.manual_seed(0)
    critic = CriticEnsemble(16, 5, True, ensemble=4, hidden=32, num_gammas=3, out_per_gamma=8, grouped=grouped)
    hidden = critic.hidden(torch.randn(50, 16))
    every = critic.all_actions(hidden)  # (C, N, A, G, K)
    actions, per_gamma = torch.randint(5, (50,)), torch.randint(5, (50, 3))
    rows = torch.arange(50)
    torch.testing.assert_close(critic.chosen_action(hidden, actions), every[:, rows, actions])
    expected = torch.stack([every[:, rows, per_gamma[:, g], g] for g in range(3)], dim=2)
    torch.testing.assert_close(critic.chosen_action_per_gamma(hidden, per_gamma), expected)


@pytest.mark.parametrize("grouped", [True, False])
def test_outputs_with_several_actions_per_gamma(grouped):
    """(N, M, G) actions: output (n, m, g) is Q_g(s_n, a_nmg) (M actions per gamma in one pass)."""
    torch.manual_seed(1)
    critic = CriticEnsemble(16, 7, True, ensemble=2, hidden=8, num_gammas=3, out_per_gamma=5, grouped=grouped)
    hidden = critic.hidden(torch.randn(10, 16))
    every = critic.all_actions(hidden)  # (C, N, A, G, K)
    actions = torch.randint(7, (10, 4, 3))
    out = critic.chosen_action_per_gamma(hidden, actions)
    assert out.shape == (2, 10, 4, 3, 5)
    for n, m, g in [(0, 0, 0), (3, 2, 1), (9, 3, 2)]:
        torch.testing.assert_close(out[:, n, m, g], every[:, n, actions[n, m, g], g])


def test_permute_rows_gradient_is_the_inverse_gather():
    x = torch.arange(12.0).view(2, 3, 2).requires_grad_()
    perm = torch.tensor([2, 0, 1])
    inverse = torch.tensor([1, 2, 0])  # inverse[perm] = [0, 1, 2]
    y = permute_rows(x, perm, inverse)
    torch.testing.assert_close(y, x.detach()[:, [2, 0, 1]])
    weights = torch.tensor([1.0, 10.0, 100.0]).view(1, 3, 1)  # row r of y gets weight 10^r
    (y * weights).sum().backward()
    # y row 0 is x row 2, y row 1 is x row 0, y row 2 is x row 1: x rows get 10, 100, 1
    torch.testing.assert_close(x.grad, torch.tensor([10.0, 100.0, 1.0]).view(1, 3, 1).expand(2, 3, 2))


@pytest.mark.parametrize("critic,actor,state_value", [("two_hot", "filtered_bc", "sampled"),
                                                       ("two_hot", "filtered_bc", "exact"),
                                                       ("popart", "max_q", "auto"), ("mse", "filtered_bc", "sampled")])
def test_the_update_is_the_same_with_grouped_or_gathered_outputs(critic, actor, state_value):
    """The whole loss and every parameter's gradient: the speed path changes the cost, not the update."""
    results = []
    for outputs in ("grouped", "gather"):
        agent = make_agent(seed=5, critic=critic, actor=actor, state_value=state_value, critic_outputs=outputs)
        out = seeded_loss(agent, random_batch(B=4, L=7, seed=2))
        out["loss"].backward()
        results.append((out, {n: p.grad.clone() for n, p in agent.named_parameters() if p.grad is not None}))
    (grouped, grads_grouped), (gathered, grads_gathered) = results
    for key in ("loss", "critic_loss", "actor_loss", "q_mean", "td_target_mean", "advantage_positive"):
        torch.testing.assert_close(grouped[key], gathered[key], rtol=1e-6, atol=1e-6)
    assert grads_grouped.keys() == grads_gathered.keys() and grads_grouped
    for name in grads_grouped:
        torch.testing.assert_close(grads_grouped[name], grads_gathered[name], rtol=1e-5, atol=1e-6, msg=name)
