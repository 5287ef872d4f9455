"""Tests for the filter's treatment of sampled-V(s) ties, the per-input encoder, and amago_edu.diagnostics.

Hand-built critics and policies make every expected share computable by hand; the mission task is a one-step
bandit whose right action depends on the mission alone, under a large random image.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from amago_edu.agent import Agent, AgentConfig
from amago_edu.diagnostics import filter_shares, input_sensitivity
from amago_edu.losses import binary_filter

A, G = 5, 2  # five actions: more than EXACT_VALUE_MAX_ACTIONS, so "auto" samples V(s)
POLICY = torch.tensor([0.05, 0.05, 0.8, 0.05, 0.05])  # the policy's own choice is action 2 ...
Q = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0])  # ... which the critic ranks best


def box(n: int) -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, (n,), np.float32)


def hand_built_agent(policy: torch.Tensor = POLICY, q: torch.Tensor = Q, **overrides) -> Agent:
    """mse critic with Q(s, a) = q[a] everywhere (every critic, every gamma); a policy that is ``policy`` everywhere."""
    settings = dict(d_model=16, n_layers=1, n_heads=2, context_length=16, tstep_hidden=16, head_hidden=16,
                    num_critics=2, gammas=(0.9, 0.99), critic="mse", actor="filtered_bc")
    settings.update(overrides)
    torch.manual_seed(0)
    space = spaces.Dict({"observation": box(3), "prev_action": box(A), "prev_reward": box(1), "reset": box(1)})
    agent = Agent(space, spaces.Discrete(A), AgentConfig(**settings))
    with torch.no_grad():
        agent.critic.out.weight.zero_()
        agent.critic.out.bias.copy_(q.repeat_interleave(G))  # columns laid out (action, gamma)
        last = agent.actor.net[-1]
        last.weight.zero_()
        last.bias.copy_(policy.log().repeat(G))  # columns laid out (gamma, action)
    return agent


def batch_of(actions: torch.Tensor, seed: int = 0) -> dict:
    B, L = actions.shape
    g = torch.Generator().manual_seed(seed)
    obs = {"observation": torch.randn(B, L + 1, 3, generator=g), "prev_action": torch.zeros(B, L + 1, A),
           "prev_reward": torch.zeros(B, L + 1, 1), "reset": torch.zeros(B, L + 1, 1)}
    return {"obs": obs, "time": torch.arange(L + 1).expand(B, -1).clone(), "actions": actions,
            "rewards": torch.zeros(B, L), "terminals": torch.zeros(B, L, dtype=torch.bool),
            "mask": torch.ones(B, L, dtype=torch.bool)}


def test_default_threshold_is_the_papers_and_keeps_a_zero_advantage():
    assert AgentConfig().filter_threshold == -1e-4
    assert binary_filter(torch.zeros(1), AgentConfig().filter_threshold).item()


def test_all_samples_equal_to_the_replay_action_pass_the_filter():
    """Q(s, a_replay) and V(s) from K draws of a_replay are the same numbers: A == 0 exactly, and the action is kept."""
    agent = hand_built_agent()
    assert not agent.exact_state_value  # 5 actions: "auto" samples
    hidden = agent.critic.hidden(torch.randn(6, 16))
    replay = torch.full((6,), 2)
    q_replay = agent.values(agent.critic.chosen_action(hidden, replay)).mean(0)  # (N, G)
    v = agent.sampled_state_values(hidden, torch.full((6, G, 3), 2))
    assert torch.equal(q_replay - v, torch.zeros(6, G))
    assert binary_filter(q_replay - v, agent.config.filter_threshold).all()
    assert not binary_filter(q_replay - v, 0.0).any()  # the strict filter drops every one of them


def test_sampled_and_exact_filter_keep_the_same_share():
    """Replay actions drawn from the policy. Exact V(s) = 0.8: A(2) = +0.2 is kept, A(other) = -0.8 is not, so the
    exact share is the share of 2s. Sampled V(s) draws from the policy without the replay action: for a 2 every draw
    has Q = 0, A = +1, kept; for another action A < 0 unless no draw is a 2, (0.15 / 0.95)^3 = 0.4% of the time."""
    g = torch.Generator().manual_seed(1)
    replay = torch.multinomial(POLICY, 64 * 8, replacement=True, generator=g).view(64, 8)
    batch = batch_of(replay)
    shares = filter_shares(hand_built_agent(), batch, draws=8)
    twos = float((replay == 2).float().mean())
    assert shares["exact"] == pytest.approx(twos, abs=1e-6)
    assert shares["n"] == 64 * 8 * G
    expected = twos + (0.15 / 0.95) ** 3 * (1 - twos)
    binomial_se = math.sqrt(expected * (1 - expected) / shares["n"])
    assert abs(shares["sampled"] - expected) < 4 * binomial_se
    assert abs(shares["sampled"] - shares["exact"]) < 4 * binomial_se  # they agree within sampling error
    # no tie decides it: a strict filter (threshold 0) keeps the same 2s
    strict = filter_shares(hand_built_agent(filter_threshold=0.0), batch, draws=8)
    assert strict["exact"] == pytest.approx(twos, abs=1e-6)
    assert abs(strict["sampled"] - twos) < 4 * binomial_se


def test_a_confident_policys_own_choice_is_judged_by_the_critic():
    """The policy puts 0.99 on action 2, which the critic rates 1 while the rare action 1 is worth 5: the exact
    advantage of the replayed 2 is 1 - (0.99 + 5 x 0.001) / 0.994 < 0, so the exact filter drops it. Drawing V(s)'s
    three actions from the whole policy, they are all 2 (a tie, kept) unless one is the 0.1%-likely action 1: the
    choice would be kept 99.7% of the time whatever the critic says. Drawn without the replay action (uniform over
    the other four), it is kept only when no draw is action 1: 0.75^3 = 42%."""
    confident = torch.tensor([0.001, 0.001, 0.996, 0.001, 0.001])  # clamped to 0.99 and renormalised by the actor
    agent = hand_built_agent(policy=confident, q=torch.tensor([0.0, 5.0, 1.0, 0.0, 0.0]))
    batch = batch_of(torch.full((64, 8), 2))
    shares = filter_shares(agent, batch, draws=8)
    assert shares["exact"] == 0.0
    se = math.sqrt(0.42 * 0.58 / shares["n"])
    assert abs(shares["sampled"] - 0.75 ** 3) < 4 * se
    # the draws from the whole policy, for comparison: nearly always three 2s, a tie, kept
    hidden = agent.critic.hidden(torch.randn(256, 16))
    probs = agent.actor(torch.randn(256, 16))  # (N, G, A): the same policy in every state
    torch.manual_seed(0)
    with_replay = agent.sampled_state_values(hidden, torch.multinomial(probs.reshape(-1, A), 3, replacement=True)
                                             .view(256, G, 3))
    q_replay = agent.values(agent.critic.chosen_action(hidden, torch.full((256,), 2))).mean(0)
    assert binary_filter(q_replay - with_replay, agent.config.filter_threshold).float().mean() > 0.98


def test_filter_shares_leave_the_agent_as_they_found_it():
    agent = hand_built_agent().train()
    state = torch.get_rng_state()
    filter_shares(agent, batch_of(torch.full((4, 3), 2)), draws=2)
    assert agent.training and not agent.exact_state_value
    assert torch.equal(torch.get_rng_state(), state)


# ----------------------------------------------------------------------------------------------
# The per-input encoder: a mission the policy must follow under a large, random image
# ----------------------------------------------------------------------------------------------
MISSIONS = torch.tensor([[3, 5, 0, 0], [4, 5, 0, 0]])  # two missions that differ in one word; 0 = padding
TARGET = torch.tensor([0, 1])  # the right action of each mission


def mission_space() -> spaces.Dict:
    return spaces.Dict({"image": spaces.Box(0, 10, (7, 7, 3), np.uint8), "mission": spaces.Box(0, 7, (4,), np.int64),
                        "direction": spaces.Box(0.0, 1.0, (4,), np.float32), "prev_action": box(3),
                        "prev_reward": box(1), "reset": box(1)})


def mission_batch(B: int, g: torch.Generator) -> tuple[dict, torch.Tensor]:
    """One-step trials: a random image and direction, a random mission; reward 1 for the mission's action."""
    which = torch.randint(2, (B,), generator=g)
    obs = {"image": torch.randint(0, 11, (B, 2, 7, 7, 3), generator=g).to(torch.uint8),
           "mission": MISSIONS[which].unsqueeze(1).expand(B, 2, 4).clone(),
           "direction": torch.eye(4)[torch.randint(4, (B, 2), generator=g)],
           "prev_action": torch.zeros(B, 2, 3), "prev_reward": torch.zeros(B, 2, 1), "reset": torch.zeros(B, 2, 1)}
    actions = torch.randint(3, (B, 1), generator=g)
    batch = {"obs": obs, "time": torch.arange(2).expand(B, -1).clone(), "actions": actions,
             "rewards": (actions[:, 0] == TARGET[which]).float().unsqueeze(1),
             "terminals": torch.ones(B, 1, dtype=torch.bool), "mask": torch.ones(B, 1, dtype=torch.bool)}
    return batch, which


def test_every_input_has_its_own_normalised_embedding():
    torch.manual_seed(0)
    agent = Agent(mission_space(), spaces.Discrete(3), AgentConfig(d_model=32, n_layers=1, n_heads=2, context_length=4,
                                                                 tstep_hidden=32, head_hidden=32, num_critics=2))
    batch, _ = mission_batch(8, torch.Generator().manual_seed(0))
    parts = agent.encoder.parts(batch["obs"])
    assert sorted(parts) == ["flat", "image", "mission"]
    for name, rep in parts.items():  # LayerNorm: each part has zero mean and unit variance per token, whatever its input
        torch.testing.assert_close(rep.mean(-1), torch.zeros(rep.shape[:-1]), atol=1e-5, rtol=0)
        torch.testing.assert_close(rep.var(-1, unbiased=False), torch.ones(rep.shape[:-1]), atol=1e-2, rtol=0)
    other = dict(batch["obs"], mission=MISSIONS[1 - (batch["obs"]["mission"][:, :, 0] == 4).long()])
    assert not torch.allclose(agent.encoder(other), agent.encoder(batch["obs"]))  # the mission reaches the token


def test_a_tiny_agent_learns_to_follow_the_mission():
    torch.manual_seed(0)
    config = AgentConfig(d_model=32, n_layers=1, n_heads=2, context_length=4, tstep_hidden=32, head_hidden=32,
                         num_critics=2, gammas=(0.9,), num_bins=16, reward_multiplier=10.0)
    agent = Agent(mission_space(), spaces.Discrete(3), config)
    optimizer = torch.optim.Adam(agent.trainable_parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(250):
        batch, _ = mission_batch(32, g)
        loss = agent.loss(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        agent.update_targets()
    agent.eval()
    batch, which = mission_batch(64, torch.Generator().manual_seed(99))
    with torch.no_grad():
        probs = agent.actor(agent.sequence(batch["obs"], batch["time"])[:, 0])[:, -1]  # (B, A), acting gamma
    follows = (probs.argmax(-1) == TARGET[which]).float().mean()
    assert follows >= 0.95, f"the policy picks the mission's action in {follows:.0%} of held-out states"
    sensitivity = input_sensitivity(agent, batch)
    assert sensitivity["mission"] > 0.3  # swapping the mission moves the policy a lot ...
    assert sensitivity["mission"] > 3 * sensitivity["image"]  # ... and far more than the random image does


def test_input_sensitivity_is_zero_for_an_input_that_does_not_differ():
    torch.manual_seed(0)
    agent = Agent(mission_space(), spaces.Discrete(3), AgentConfig(d_model=32, n_layers=1, n_heads=2, context_length=4,
                                                                 tstep_hidden=32, head_hidden=32, num_critics=2))
    batch, _ = mission_batch(8, torch.Generator().manual_seed(0))
    batch["obs"]["mission"][:] = MISSIONS[0]  # the same mission everywhere: swapping it changes nothing
    scores = input_sensitivity(agent, batch)
    assert scores["mission"] == 0.0 and scores["reset"] == 0.0
    assert scores["image"] > 0.0 and scores["token_spread"] > 0.0
    with pytest.raises(ValueError, match="at least 2"):
        input_sensitivity(agent, {k: (v[:1] if k != "obs" else {n: x[:1] for n, x in v.items()}) for k, v in batch.items()})


@pytest.mark.parametrize("bc_log_prob, moves", [("clamped", False), ("softmax", True)])
def test_a_saturated_policy_gets_a_bc_gradient_only_without_the_clamp(bc_log_prob, moves):
    """A policy that puts 0.999 on action 2 is clamped to 0.99: the clamped log-probability of any replay action has
    no gradient (filtered BC cannot move a saturated policy); log_softmax's always has one."""
    saturated = torch.tensor([0.00025, 0.00025, 0.999, 0.00025, 0.00025])
    agent = hand_built_agent(policy=saturated, q=torch.tensor([0.0, 5.0, 1.0, 0.0, 0.0]), bc_log_prob=bc_log_prob)
    batch = batch_of(torch.full((4, 3), 1))  # the replay action is the better, rare one: A > 0, imitated
    agent.loss(batch)["loss"].backward()
    gradient = agent.actor.net[-1].bias.grad.abs().sum()
    assert bool(gradient > 1e-3) == moves, float(gradient)


def test_learning_signal_by_hand():
    """Q(s, a) = Q everywhere: no spread across states (0), max - min across actions 1.0. The policy is POLICY
    everywhere: replay action 2 (p = 0.8) sits at no clamp bound, a policy of 0.999 on action 2 sits at the upper bound
    for action 2 and the lower one for the others. Two of the six steps are rewarded."""
    from amago_edu.diagnostics import learning_signal

    actions = torch.tensor([[2, 2, 2], [0, 2, 2]])
    batch = batch_of(actions)
    batch["rewards"] = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.5]])
    signal = learning_signal(hand_built_agent(), batch)
    assert signal["value_spread_states"] == pytest.approx(0.0, abs=1e-6)
    assert signal["value_spread_actions"] == pytest.approx(1.0, abs=1e-5)
    assert signal["rewarded_steps"] == pytest.approx(2 / 6) and signal["steps"] == 6
    assert signal["clamp_low"] == 0.0 and signal["clamp_high"] == 0.0
    saturated = hand_built_agent(policy=torch.tensor([0.00025, 0.00025, 0.999, 0.00025, 0.00025]))
    signal = learning_signal(saturated, batch)
    assert signal["clamp_high"] == pytest.approx(5 / 6) and signal["clamp_low"] == pytest.approx(1 / 6)
