"""Exact tests of PopArt (the paper's Dep. critic normalisation, App. A, Base RL Details): outputs are
preserved when the statistics move, normalised targets have the running moments, statistics are kept
per discount factor, and the agent's "popart" critic regresses in normalised space."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from amago_edu.agent import Agent, AgentConfig
from amago_edu.popart import PopArt


def test_first_update_gives_the_batch_moments_exactly():
    """beta_1 = beta / (1 - (1 - beta)) = 1: the first update replaces the initial statistics, so the
    normalised targets of that batch have mean 0 and second moment 1, per discount factor."""
    popart = PopArt(2)
    targets = torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0], [100.0, -7.0]])
    valid = torch.tensor([True, True, True, False])  # the last row is padding
    popart.update(targets, valid)
    torch.testing.assert_close(popart.mean, torch.tensor([3.0, 30.0]))
    torch.testing.assert_close(popart.sigma, torch.tensor([(8 / 3) ** 0.5, (800 / 3) ** 0.5]))
    normalized = popart.normalize(targets[valid])
    torch.testing.assert_close(normalized.mean(0), torch.zeros(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(normalized.pow(2).mean(0), torch.ones(2))


def test_second_update_follows_the_bias_corrected_moving_average():
    popart = PopArt(1, step=0.1)
    popart.update(torch.tensor([[2.0], [4.0]]), torch.ones(2, dtype=torch.bool))  # mu 3, nu 10
    popart.update(torch.tensor([[10.0]]), torch.ones(1, dtype=torch.bool))
    beta = 0.1 / (1 - 0.9 ** 2)  # 0.526315...
    mean, second = (1 - beta) * 3 + beta * 10, (1 - beta) * 10 + beta * 100
    torch.testing.assert_close(popart.mean, torch.tensor([mean]))
    torch.testing.assert_close(popart.sigma, torch.tensor([(second - mean ** 2) ** 0.5]))
    assert int(popart.updates) == 2


def test_statistics_are_per_discount_factor():
    popart = PopArt(3)
    targets = torch.stack([torch.full((5,), 1.0), torch.arange(5.0), 100 * torch.arange(5.0)], dim=1)
    popart.update(targets, torch.ones(5, dtype=torch.bool))
    torch.testing.assert_close(popart.mean, torch.tensor([1.0, 2.0, 200.0]))
    torch.testing.assert_close(popart.sigma, torch.tensor([1e-4, 2 ** 0.5, 100 * 2 ** 0.5]))  # 0 clamps to 1e-4


def test_a_statistics_update_leaves_every_output_unchanged():
    """Output-preserving rescale of the last layer: sigma' (w' h + b') + mu' = sigma (w h + b) + mu."""
    torch.manual_seed(0)
    popart = PopArt(2)
    popart.update(torch.randn(8, 2) * 5 + 3, torch.ones(8, dtype=torch.bool))
    weight, bias = torch.randn(4, 6), torch.randn(6)  # 6 outputs: (3 actions, 2 gammas), gamma = column % 2
    gamma_of_output = torch.arange(6) % 2
    h = torch.randn(10, 4)
    before = popart.denormalize((h @ weight + bias).view(10, 3, 2))
    popart.update(torch.randn(8, 2) * 50 - 20, torch.ones(8, dtype=torch.bool), layers=[(weight, bias, gamma_of_output)])
    after = popart.denormalize((h @ weight + bias).view(10, 3, 2))
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-4)


def make_agent(**overrides):
    box = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
    obs = spaces.Dict({"observation": box(3), "prev_action": box(4), "prev_reward": box(1), "reset": box(1),
                       "progress": box(1)})
    settings = dict(d_model=16, n_layers=1, n_heads=2, context_length=8, tstep_hidden=16, head_hidden=16,
                    num_critics=2, gammas=(0.9, 0.99), critic="popart", actor="max_q")
    settings.update(overrides)
    torch.manual_seed(0)
    return Agent(obs, spaces.Discrete(4), AgentConfig(**settings))


def batch(B=3, L=5, reward_scale=100.0):
    g = torch.Generator().manual_seed(0)
    obs = {"observation": torch.randn(B, L + 1, 3, generator=g), "prev_action": torch.rand(B, L + 1, 4, generator=g),
           "prev_reward": torch.randn(B, L + 1, 1, generator=g), "reset": torch.zeros(B, L + 1, 1),
           "progress": torch.zeros(B, L + 1, 1)}
    return {"obs": obs, "time": torch.arange(L + 1).expand(B, -1).clone(), "actions": torch.randint(4, (B, L), generator=g),
            "rewards": reward_scale * torch.randn(B, L, generator=g), "terminals": torch.zeros(B, L, dtype=torch.bool),
            "mask": torch.ones(B, L, dtype=torch.bool)}


def test_agent_loss_updates_the_statistics_and_keeps_critic_values():
    """A training-mode loss moves mu/sigma toward the TD targets; online and target critics' values
    (denormalised) are the same right after as right before."""
    agent = make_agent()
    states = torch.randn(7, 16)
    hidden, hidden_target = agent.critic.hidden(states), agent.target_critic.hidden(states)
    before = agent.values(agent.critic.all_actions(hidden)), agent.values(agent.target_critic.all_actions(hidden_target))
    agent.train()
    agent.loss(batch())
    assert int(agent.popart.updates) == 1 and agent.popart.sigma.min() > 10  # rewards x100 x reward_multiplier 10
    after = agent.values(agent.critic.all_actions(hidden)), agent.values(agent.target_critic.all_actions(hidden_target))
    for b, a in zip(before, after):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3)
    agent.eval()
    agent.loss(batch())
    assert int(agent.popart.updates) == 1  # evaluation-mode losses leave the statistics alone


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_popart_critic_loss_is_scale_free_at_the_start_and_max_q_is_divided_by_sigma(scale):
    """With normalised targets the regression loss does not grow with the reward scale (the critic
    starts near 0, so after the first update it is ~E[((y - mu)/sigma)^2] = 1); the max-Q term is in
    units of sigma."""
    agent = make_agent()
    agent.train()
    out = agent.loss(batch(reward_scale=scale))
    assert 0.3 < float(out["critic_loss"]) < 3.0
    assert abs(float(out["actor_loss"])) < 10.0
    ratio = make_agent(critic="mse").loss(batch(reward_scale=scale))["critic_loss"] / out["critic_loss"]
    assert float(ratio) > (scale ** 2 if scale > 1 else 1.0) * 0.5  # raw regression grows as scale^2


def test_statistics_are_saved_with_the_agent():
    agent = make_agent()
    agent.train()
    agent.loss(batch())
    state = agent.state_dict()
    assert {"popart.mean", "popart.second_moment", "popart.updates"} <= set(state)
    fresh = make_agent()
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.popart.sigma, agent.popart.sigma)
