"""The discrete critic with the action as an input (critic_action="input", the authors' MultiTaskAgent) beside the
default output blocks: the same TD target, V(s) and losses, computed by hand on hand-built critics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from amago_edu.agent import Agent, AgentConfig

A = 6


def agent_with(critic_action: str, **overrides) -> Agent:
    settings = dict(d_model=16, n_layers=1, n_heads=2, context_length=8, tstep_hidden=16, head_hidden=16,
                    num_critics=2, gammas=(0.9, 0.99), num_bins=16, critic_action=critic_action)
    settings.update(overrides)
    torch.manual_seed(0)
    box = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
    space = spaces.Dict({"observation": box(3), "prev_action": box(A), "prev_reward": box(1), "reset": box(1)})
    return Agent(space, spaces.Discrete(A), AgentConfig(**settings))


def batch(B: int = 3, L: int = 5, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    obs = {"observation": torch.randn(B, L + 1, 3, generator=g), "prev_action": torch.zeros(B, L + 1, A),
           "prev_reward": torch.randn(B, L + 1, 1, generator=g), "reset": torch.zeros(B, L + 1, 1)}
    return {"obs": obs, "time": torch.arange(L + 1).expand(B, -1).clone(), "actions": torch.randint(A, (B, L), generator=g),
            "rewards": torch.randn(B, L, generator=g), "terminals": torch.zeros(B, L, dtype=torch.bool),
            "mask": torch.ones(B, L, dtype=torch.bool)}


def test_the_action_enters_the_first_layer_and_the_output_has_one_block():
    blocks, given = agent_with("blocks"), agent_with("input")
    assert blocks.critic.out.weight.shape[-1] == A * 2 * 16  # A blocks of G x bins
    assert given.critic.out.weight.shape[-1] == 2 * 16  # one block
    assert given.critic.layer1.weight.shape[1] == 16 + A  # [state, one-hot action]
    with pytest.raises(ValueError, match="critic_action must be one of"):
        AgentConfig(critic_action="embedding").validate()


def test_every_action_value_is_the_critic_on_each_one_hot():
    agent = agent_with("input")
    state = torch.randn(4, 16)
    by_hand = torch.stack([agent.values(agent.critic.chosen_action(agent.critic.hidden(
        state, torch.eye(A)[a].expand(4, A)))).mean(0) for a in range(A)], dim=-1)  # (N, G, A)
    torch.testing.assert_close(agent.all_action_values(None, state), by_hand)
    # Q_g(s, a_g), each gamma with its own action, is the matching entry
    actions = torch.tensor([[0, 5], [1, 1], [3, 2], [4, 0]])
    q = agent.q_per_gamma(agent.critic, state, actions).mean(0)
    torch.testing.assert_close(q, by_hand.gather(-1, actions.unsqueeze(-1)).squeeze(-1))


def test_sampled_state_value_has_the_exact_expectation():
    exact, sampled = agent_with("input", state_value="exact"), agent_with("input", state_value="sampled")
    state = torch.randn(3, 16)
    probs = torch.softmax(torch.randn(3, 2, A) * 2, dim=-1)
    by_hand = (exact.all_action_values(None, state) * probs).sum(-1)
    torch.testing.assert_close(exact.state_values(None, probs, state), by_hand)
    draws = torch.stack([sampled.state_values(None, probs, state) for _ in range(3000)])
    se = draws.std(0) / 3000 ** 0.5
    assert ((draws.mean(0) - by_hand).abs() < 4 * se + 1e-6).all()


def test_terminal_td_target_and_critic_loss_by_hand():
    """A constant mse critic outputs c for every (s, a): Q(s, a_replay) = c, the TD target of a terminal step is
    10 r, so the critic loss is the mean of (c - 10 r)^2."""
    agent = agent_with("input", critic="mse", reward_multiplier=10.0)
    with torch.no_grad():
        for critic in (agent.critic, agent.target_critic):
            critic.out.weight.zero_()
            critic.out.bias.fill_(0.7)
    b = batch()
    b["terminals"][:] = True
    torch.manual_seed(1)
    out = agent.loss(b)
    torch.testing.assert_close(out["critic_loss"], ((0.7 - 10.0 * b["rewards"]) ** 2).mean())
    torch.testing.assert_close(out["td_target_mean"], (10.0 * b["rewards"]).mean())


@pytest.mark.parametrize("critic,actor", [("two_hot", "filtered_bc"), ("popart", "max_q"), ("mse", "max_q")])
def test_losses_are_finite_and_train_the_action_columns(critic, actor):
    agent = agent_with("input", critic=critic, actor=actor)
    out = agent.loss(batch())
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    action_columns = agent.critic.layer1.weight.grad[:, 16:, :]  # (C, A, h): the one-hot's rows of the first layer
    assert action_columns.abs().sum() > 0
