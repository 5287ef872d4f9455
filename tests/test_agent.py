"""Tests for amago_edu.agent: masks, gradient paths, Polyak targets, exact TD targets and actor losses,
a two-hot critic that learns a bandit at any return scale, cached acting, and hand-computed
checks of the policy heads, the critic ensemble, the TD target's critic pairs and the loss weighting.

Everything runs on a tiny agent (d_model 32, one layer) so the whole file takes seconds on a CPU.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

import amago_edu.agent as agent_module
from amago_edu.agent import Agent, AgentConfig
from amago_edu.learning import make_optimizer, update_step
from helpers import A, D, OBS, make_agent, obs_space, random_batch, seeded_loss

VARIANTS = [("two_hot", "filtered_bc"), ("two_hot", "max_q"), ("popart", "filtered_bc"), ("popart", "max_q"),
            ("mse", "filtered_bc"), ("mse", "max_q")]
ACTION_KINDS = ["discrete", "continuous"]



# ------------------------------------------------------------------------------------------------
# Padding
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ACTION_KINDS)
@pytest.mark.parametrize("critic,actor", VARIANTS)
def test_padding_contributes_nothing_to_either_loss(kind, critic, actor):
    agent = make_agent(kind, critic=critic, actor=actor)
    batch = random_batch(kind, B=3, L=6)
    batch["mask"][1, 3:] = False  # row 1: 3 real transitions (observations 0..3), then padding

    def fill_padding(seed):
        g = torch.Generator().manual_seed(seed)
        padded = copy.deepcopy(batch)
        for key, value in padded["obs"].items():  # observations 4.. of row 1 do not exist
            value[1, 4:] = 1e3 * torch.randn(value[1, 4:].shape, generator=g)
        padded["time"][1, 4:] = torch.randint(0, 10**6, (3,), generator=g)
        if kind == "discrete":
            padded["actions"][1, 3:] = torch.randint(A, (3,), generator=g)
        else:
            padded["actions"][1, 3:] = 50 * torch.randn(3, D, generator=g)
        padded["rewards"][1, 3:] = 1e4 * torch.randn(3, generator=g)
        padded["terminals"][1, 3:] = torch.rand(3, generator=g) > 0.5
        return padded

    first, second = seeded_loss(agent, fill_padding(1)), seeded_loss(agent, fill_padding(2))
    for key in ("critic_loss", "actor_loss", "loss"):
        torch.testing.assert_close(first[key], second[key], rtol=1e-5, atol=1e-6, msg=key)

    # the same change to a *valid* step does change the loss (so the check above can fail)
    changed = fill_padding(1)
    changed["rewards"][1, 2] += 5.0
    assert not torch.allclose(seeded_loss(agent, changed)["critic_loss"], first["critic_loss"])


# ------------------------------------------------------------------------------------------------
# Gradient paths and target heads
# ------------------------------------------------------------------------------------------------
def capture_loss_terms(monkeypatch) -> dict:
    """Wrap the loss functions agent.py calls so the undetached actor and critic terms are kept."""
    captured = {}
    for name, term in [("two_hot_critic_loss", "critic"), ("mse_critic_loss", "critic"),
                       ("filtered_bc_actor_loss", "actor"), ("max_q_actor_loss", "actor")]:
        original = getattr(agent_module, name)

        def wrapper(*args, _original=original, _term=term, **kwargs):
            captured[_term] = _original(*args, **kwargs)
            return captured[_term]

        monkeypatch.setattr(agent_module, name, wrapper)
    return captured


def gradient_norm(loss: torch.Tensor, module: torch.nn.Module) -> float:
    """Total gradient norm of ``loss`` on ``module``'s parameters; 0 where no path exists."""
    grads = torch.autograd.grad(loss, list(module.parameters()), retain_graph=True, allow_unused=True)
    return sum(float(g.norm()) for g in grads if g is not None)


@pytest.mark.parametrize("kind", ACTION_KINDS)
@pytest.mark.parametrize("critic,actor", VARIANTS)
def test_both_losses_train_the_shared_sequence_model(kind, critic, actor, monkeypatch):
    # threshold -1e6: every replay action is imitated, so the filtered-BC term is never all-zero
    agent = make_agent(kind, critic=critic, actor=actor, filter_threshold=-1e6)
    captured = capture_loss_terms(monkeypatch)
    seeded_loss(agent, random_batch(kind))
    assert set(captured) == {"critic", "actor"}
    for term in ("critic", "actor"):  # paper Fig. 2: both losses shape the shared representation
        assert gradient_norm(captured[term], agent.transformer) > 0, term
        assert gradient_norm(captured[term], agent.encoder) > 0, term
    # each head is trained by its own loss only; a max-Q actor must not move the critic (the authors' amago/agent.py)
    assert gradient_norm(captured["critic"], agent.critic) > 0
    assert gradient_norm(captured["critic"], agent.actor) == 0
    assert gradient_norm(captured["actor"], agent.actor) > 0
    assert gradient_norm(captured["actor"], agent.critic) == 0


def test_target_heads_move_only_by_polyak_averaging():
    tau = 0.25
    agent = make_agent(tau=tau)
    optimizer, scheduler = make_optimizer(agent, lr=1e-3, warmup_updates=1)
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    targets = list(agent.target_actor.parameters()) + list(agent.target_critic.parameters())
    assert targets and not any(p.requires_grad or id(p) in optimised for p in targets)

    old_targets = [p.detach().clone() for p in targets]
    stats = update_step(agent, optimizer, scheduler, random_batch())
    assert stats["skipped"] == 0.0
    assert all(p.grad is None for p in targets)
    online = list(agent.actor.parameters()) + list(agent.critic.parameters())
    for old, new, theta in zip(old_targets, targets, online):  # online already took its AdamW step
        torch.testing.assert_close(new, (1 - tau) * old + tau * theta.detach())

    # by hand on one tensor: 1 + 0.25 * (3 - 1) = 1.5
    with torch.no_grad():
        agent.target_critic.out.bias.fill_(1.0)
        agent.critic.out.bias.fill_(3.0)
    agent.update_targets()
    assert torch.equal(agent.target_critic.out.bias, torch.full_like(agent.target_critic.out.bias, 1.5))


# ------------------------------------------------------------------------------------------------
# Exact TD targets and actor losses on a critic made constant
# ------------------------------------------------------------------------------------------------
def make_critic_constant(critic_module, bias) -> None:
    """Zero the last layer's weight so every critic outputs ``bias`` (tiled over actions and gammas)."""
    with torch.no_grad():
        critic_module.out.weight.zero_()
        bias = torch.as_tensor(bias, dtype=torch.float32)
        critic_module.out.bias.copy_(bias.repeat(critic_module.out.bias.shape[-1] // bias.numel()))


def partly_padded_batch(terminal: bool) -> dict:
    batch = random_batch(B=3, L=5, seed=7)
    batch["rewards"] = torch.tensor([[0.5, -1.0, 2.0, 0.0, 3.0], [1.0, 1.0, -2.0, 4.0, 0.25],
                                     [-0.5, 0.1, 0.2, 9.0, 9.0]])
    batch["terminals"][:] = terminal
    batch["mask"][2, 3:] = False
    return batch


def test_terminal_td_target_is_scaled_reward_for_mse_critic():
    agent = make_agent(critic="mse", actor="filtered_bc", reward_multiplier=10.0)
    make_critic_constant(agent.critic, 0.7)
    batch = partly_padded_batch(terminal=True)
    expected = ((0.7 - 10.0 * batch["rewards"][batch["mask"]]) ** 2).mean()
    torch.testing.assert_close(seeded_loss(agent, batch)["critic_loss"], expected)


def test_bootstrapped_td_target_uses_each_discount_factor():
    # y_g = R * r + gamma_g * Q_target with every target critic outputting 2.0 (so any pair averages to 2.0)
    agent = make_agent(critic="mse", actor="filtered_bc", reward_multiplier=10.0, gammas=(0.5, 0.9))
    make_critic_constant(agent.critic, 0.7)
    make_critic_constant(agent.target_critic, 2.0)
    batch = partly_padded_batch(terminal=False)
    rewards = batch["rewards"][batch["mask"]].unsqueeze(-1)  # (N, 1)
    targets = 10.0 * rewards + torch.tensor([0.5, 0.9]) * 2.0  # (N, G)
    expected = ((0.7 - targets) ** 2).mean()
    torch.testing.assert_close(seeded_loss(agent, batch)["critic_loss"], expected)


def test_terminal_td_target_is_scaled_reward_for_two_hot_critic():
    agent = make_agent(critic="two_hot", actor="filtered_bc", reward_multiplier=10.0, num_bins=16)
    logits = torch.linspace(-1.0, 1.0, 16) ** 2  # any fixed logits, shared by every action and gamma
    make_critic_constant(agent.critic, logits)
    batch = partly_padded_batch(terminal=True)
    label = agent.twohot.encode(10.0 * batch["rewards"][batch["mask"]])  # (N, num_bins)
    expected = -(label * torch.log_softmax(logits, -1)).sum(-1).mean()
    torch.testing.assert_close(seeded_loss(agent, batch)["critic_loss"], expected)


def test_filtered_bc_with_zero_advantages():
    # A zero critic makes Q(s, a) = V(s) = 0, so every advantage is exactly 0.
    def loss_with_threshold(threshold):
        agent = make_agent(critic="mse", actor="filtered_bc", filter_threshold=threshold)
        make_critic_constant(agent.critic, 0.0)
        return agent, seeded_loss(agent, batch)

    batch = partly_padded_batch(terminal=True)
    _, strict = loss_with_threshold(0.0)  # 1[0 > 0] = 0: nothing is imitated
    assert strict["actor_loss"].item() == 0.0
    assert strict["advantage_positive"].item() == 0.0

    agent, loose = loss_with_threshold(-1.0)  # 1[0 > -1] = 1: plain BC, mean -log pi(a_replay)
    with torch.no_grad():
        probs = agent.actor(agent.sequence(batch["obs"], batch["time"])[:, :-1])  # (B, L, G, A)
        log_pi = probs.gather(-1, batch["actions"][..., None, None].expand(-1, -1, 2, 1)).squeeze(-1).log()
    torch.testing.assert_close(loose["actor_loss"], -log_pi[batch["mask"]].mean())
    assert loose["advantage_positive"].item() == 1.0


def test_max_q_with_constant_critic_is_minus_that_constant():
    agent = make_agent(critic="mse", actor="max_q")
    make_critic_constant(agent.critic, 1.25)  # sum_a pi(a|s) * 1.25 = 1.25 at every step
    torch.testing.assert_close(seeded_loss(agent, partly_padded_batch(True))["actor_loss"], torch.tensor(-1.25))


# ------------------------------------------------------------------------------------------------
# The two-hot critic learns a bandit whatever the reward scale
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [0.01, 100.0])
def test_two_hot_critic_learns_bandit_values_at_any_scale(scale):
    # One-step bandit: a single observation, every transition terminal, reward = scale * (a + 1).
    # Terminal => y = reward_multiplier * r = r, whatever gamma; the decoded Q must reach it.
    agent = make_agent(critic="two_hot", actor="filtered_bc", context_length=2, num_bins=64,
                       reward_multiplier=1.0)
    B = 3 * A
    actions = torch.arange(B) % A
    rewards = scale * (actions + 1).float()
    obs = {key: torch.zeros(B, 2, *space.shape) for key, space in obs_space().spaces.items()}
    obs["reset"][:, 0] = 1.0
    batch = {"obs": obs, "time": torch.arange(2).expand(B, -1), "actions": actions[:, None],
             "rewards": rewards[:, None], "terminals": torch.ones(B, 1, dtype=torch.bool),
             "mask": torch.ones(B, 1, dtype=torch.bool)}
    optimizer, scheduler = make_optimizer(agent, lr=1e-3, warmup_updates=1)
    for _ in range(300):
        update_step(agent, optimizer, scheduler, batch)
    with torch.no_grad():
        state = agent.sequence(obs, batch["time"])[:1, 0]  # (1, d): the only state
        q = agent.values(agent.critic.all_actions(agent.critic.hidden(state))).mean(0)[0]  # (A, G)
    true_q = scale * torch.arange(1, A + 1).float()
    torch.testing.assert_close(q, true_q[:, None].expand_as(q), rtol=0.05, atol=0.0)


# ------------------------------------------------------------------------------------------------
# Every variant runs
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ACTION_KINDS)
@pytest.mark.parametrize("critic,actor", VARIANTS)
def test_every_variant_gives_finite_losses_and_updates(kind, critic, actor):
    agent = make_agent(kind, critic=critic, actor=actor)
    batch = random_batch(kind)
    out = seeded_loss(agent, batch)
    for key, value in out.items():
        assert value.shape == () and torch.isfinite(value), key
    optimizer, scheduler = make_optimizer(agent, lr=1e-3, warmup_updates=1)
    before = [p.detach().clone() for p in agent.trainable_parameters()]
    stats = update_step(agent, optimizer, scheduler, batch)
    assert stats["skipped"] == 0.0 and np.isfinite(stats["grad_norm"]) and stats["grad_norm"] > 0
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.trainable_parameters()))


def test_same_seed_gives_same_loss():
    first = seeded_loss(make_agent(seed=3), random_batch())
    second = seeded_loss(make_agent(seed=3), random_batch())
    assert torch.equal(first["loss"], second["loss"])
    assert not torch.equal(first["loss"], seeded_loss(make_agent(seed=4), random_batch())["loss"])


# ------------------------------------------------------------------------------------------------
# Invalid settings
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides,message", [
    ({"critic": "c51"}, r"critic must be one of \('two_hot', 'popart', 'mse'\)"),
    ({"actor": "ppo"}, r"actor must be one of \('filtered_bc', 'max_q'\)"),
    ({"gammas": ()}, r"gammas must be a non-empty"),
    ({"gammas": (0.9, 1.0)}, r"gammas must all lie in \(0, 1\)"),
    ({"gammas": (0.0,)}, r"gammas must all lie in \(0, 1\)"),
    ({"gammas": (1.5, 0.9)}, r"gammas must all lie in \(0, 1\)"),
    ({"num_critics": 1}, r"num_critics must be an integer >= 2"),
    ({"n_heads": 3}, r"n_heads must divide d_model"),
    ({"critic_outputs": "loop"}, r"critic_outputs must be one of \('grouped', 'gather'\)"),
])
def test_invalid_settings_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        make_agent(**overrides)


# ------------------------------------------------------------------------------------------------
# Acting with the key/value cache
# ------------------------------------------------------------------------------------------------
@torch.no_grad()
@pytest.mark.parametrize("kind", ACTION_KINDS)
def test_cached_acting_matches_full_forward(kind):
    agent = make_agent(kind, context_length=8).eval()
    batch = random_batch(kind, B=3, L=5, seed=11)
    obs = batch["obs"]
    time = torch.stack([torch.arange(6) + offset for offset in (0, 3, 40)])  # envs at different trial steps
    policy = agent.actor(agent.sequence(obs, time))  # acting uses the last gamma head
    if kind == "discrete":
        expected = policy[:, :, -1].argmax(-1)  # (B, T)
    else:
        expected = torch.tanh(policy[0][:, :, -1])  # (B, T, D)
    cache = agent.init_cache(3)
    steps = [agent.act({k: v[:, t] for k, v in obs.items()}, time[:, t], cache, sample=False) for t in range(6)]
    torch.testing.assert_close(torch.stack(steps, dim=1), expected, atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# V(s): exact sum over actions and the authors' K-sample estimate
# ------------------------------------------------------------------------------------------------
def test_sampled_state_value_agrees_with_the_exact_sum_in_expectation():
    """Hand-built case: 6 actions, 2 gammas. The sampled V(s) (K = 3) averaged over many draws must
    match sum_a pi(a|s) Q(s, a) within sampling error, and the exact setting must equal that sum."""
    torch.manual_seed(0)
    settings = dict(d_model=16, n_layers=1, n_heads=2, context_length=8, tstep_hidden=16, head_hidden=16,
                    num_critics=2, gammas=(0.9, 0.99), num_bins=16)
    space = spaces.Discrete(6)
    sampled = Agent(obs_space(6), space, AgentConfig(state_value="sampled", **settings))
    exact = Agent(obs_space(6), space, AgentConfig(state_value="exact", **settings))
    exact.load_state_dict(sampled.state_dict())
    assert sampled.exact_state_value is False and exact.exact_state_value is True
    with torch.no_grad():  # a critic whose Q values differ a lot between actions
        sampled.critic.out.bias.copy_(torch.randn_like(sampled.critic.out.bias) * 3)
        exact.critic.out.bias.copy_(sampled.critic.out.bias)
    hidden = sampled.critic.hidden(torch.randn(4, 16))  # 4 states
    probs = torch.softmax(torch.randn(4, 2, 6) * 2, dim=-1)
    q_all = sampled.values(sampled.critic.all_actions(hidden)).mean(0).transpose(1, 2)  # (N, G, A)
    by_hand = (q_all * probs).sum(-1)
    torch.testing.assert_close(exact.state_values(hidden, probs), by_hand)
    draws = torch.stack([sampled.state_values(hidden, probs) for _ in range(4000)])  # (draws, N, G)
    standard_error = draws.std(0) / 4000 ** 0.5
    assert ((draws.mean(0) - by_hand).abs() < 4 * standard_error + 1e-6).all()
    assert (draws.std(0) > 0).all()  # it really samples


def test_sampled_state_value_scores_each_distinct_draw_once_with_its_count():
    """Given the draws, V(s) is the mean of Q over all K of them, even though repeated draws are scored once."""
    torch.manual_seed(2)
    settings = dict(d_model=16, n_layers=1, n_heads=2, context_length=8, tstep_hidden=16, head_hidden=16,
                    num_critics=3, gammas=(0.9, 0.99), num_bins=16, state_value="sampled")
    agent = Agent(obs_space(5), spaces.Discrete(5), AgentConfig(**settings))
    hidden = agent.critic.hidden(torch.randn(6, 16))
    samples = torch.randint(5, (6, 2, 3))  # (N, G, K)
    samples[0, 0] = torch.tensor([4, 4, 4])  # one action drawn 3 times
    samples[1, 1] = torch.tensor([0, 2, 0])  # one twice, one once
    every = agent.values(agent.critic.all_actions(hidden)).mean(0)  # (N, A, G), mean of the critics
    by_hand = torch.stack([torch.stack([every[n, samples[n, g], g].mean() for g in range(2)]) for n in range(6)])
    torch.testing.assert_close(agent.sampled_state_values(hidden, samples), by_hand)
    assert agent.sampled_state_values(hidden, samples)[0, 0] == pytest.approx(float(every[0, 4, 0]))


def test_auto_state_value_is_exact_for_few_actions_and_sampled_for_many():
    settings = dict(d_model=16, n_layers=1, n_heads=2, context_length=8, tstep_hidden=16, head_hidden=16,
                    num_critics=2, gammas=(0.9,), num_bins=8)
    assert Agent(obs_space(4), spaces.Discrete(4), AgentConfig(**settings)).exact_state_value is True
    assert Agent(obs_space(27), spaces.Discrete(27), AgentConfig(**settings)).exact_state_value is False


def test_update_flops_hardly_grow_with_the_action_count():
    """With sampled V(s) the filtered-BC update at 27 actions costs about what it costs at 4 (FLOPs are
    deterministic; the loose bound is the issue's x1.25 target)."""
    from torch.utils.flop_counter import FlopCounterMode

    def update_flops(actions: int) -> int:
        torch.manual_seed(0)
        config = AgentConfig(d_model=32, n_layers=1, n_heads=2, context_length=16, tstep_hidden=32, head_hidden=32,
                             num_critics=4, gammas=(0.9, 0.99, 0.999), num_bins=64, state_value="sampled")
        agent = Agent(obs_space(actions), spaces.Discrete(actions), config)
        batch = random_batch("discrete", B=4, L=15)
        batch["obs"]["prev_action"] = torch.rand(4, 16, actions)
        batch["actions"] = torch.randint(actions, (4, 15))
        with FlopCounterMode(display=False) as counter:
            agent.loss(batch)["loss"].backward()
        return counter.get_total_flops()

    assert update_flops(27) <= 1.25 * update_flops(4)


# ------------------------------------------------------------------------------------------------
# The valid-action mask (multi-task mixtures with invalid_actions="mask")
# ------------------------------------------------------------------------------------------------
def masked_obs_space(actions: int = A) -> spaces.Dict:
    space = dict(obs_space(actions).spaces)
    space["action_mask"] = spaces.Box(0.0, 1.0, (actions,), np.float32)
    return spaces.Dict(space)


def test_masked_actions_get_zero_probability_and_are_never_chosen():
    torch.manual_seed(0)
    agent = Agent(masked_obs_space(), spaces.Discrete(A), AgentConfig(d_model=16, n_layers=1, n_heads=2,
                  context_length=8, tstep_hidden=16, head_hidden=16, num_critics=2, gammas=(0.9, 0.99), num_bins=8))
    valid = torch.tensor([[True, False, True, False], [False, False, False, True]])
    probs = agent.actor(torch.randn(2, 16), valid)  # (N, G, A)
    assert (probs[~valid.unsqueeze(1).expand_as(probs)] == 0).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 2))
    obs = {"observation": torch.randn(2, OBS), "prev_action": torch.zeros(2, A), "prev_reward": torch.zeros(2, 1),
           "reset": torch.ones(2, 1), "progress": torch.zeros(2, 1), "action_mask": valid.float()}
    for _ in range(50):
        cache = agent.init_cache(2)
        chosen = agent.act(obs, torch.zeros(2, dtype=torch.long), cache)
        assert valid[torch.arange(2), chosen].all()


def test_the_action_mask_never_reaches_the_network():
    torch.manual_seed(0)
    agent = Agent(masked_obs_space(), spaces.Discrete(A), AgentConfig(d_model=16, n_layers=1, n_heads=2,
                  context_length=8, tstep_hidden=16, head_hidden=16, num_critics=2, gammas=(0.9,), num_bins=8))
    assert "action_mask" not in agent.encoder.flat_keys
    batch = random_batch("discrete")
    batch["obs"]["action_mask"] = torch.ones(3, 7, A)
    first = agent.sequence(batch["obs"], batch["time"])
    batch["obs"]["action_mask"] = torch.zeros(3, 7, A)
    batch["obs"]["action_mask"][..., 0] = 1.0
    torch.testing.assert_close(agent.sequence(batch["obs"], batch["time"]), first)


def test_masked_loss_is_finite_and_its_td_target_only_uses_valid_next_actions(monkeypatch):
    torch.manual_seed(0)
    agent = Agent(masked_obs_space(), spaces.Discrete(A), AgentConfig(d_model=16, n_layers=1, n_heads=2,
                  context_length=8, tstep_hidden=16, head_hidden=16, num_critics=2, gammas=(0.9, 0.99), num_bins=8))
    batch = random_batch("discrete")
    batch["actions"] = torch.randint(2, (3, 6))  # replay actions are valid: only actions 0 and 1 exist
    batch["obs"]["action_mask"] = torch.zeros(3, 7, A)
    batch["obs"]["action_mask"][..., :2] = 1.0
    seen = []
    original = agent.target_critic.chosen_action_per_gamma
    monkeypatch.setattr(agent.target_critic, "chosen_action_per_gamma",
                        lambda hidden, actions, **kw: seen.append(actions) or original(hidden, actions, **kw))
    batch["obs"]["action_mask"][0, 4:] = 0.0  # padding after a trajectory's end holds an all-zero mask
    batch["mask"][0, 4:] = False
    out = agent.loss(batch)
    assert torch.isfinite(out["loss"]) and torch.isfinite(out["entropy"])
    has_valid_next = batch["obs"]["action_mask"][:, 1:].reshape(-1, A).any(-1)  # (N,): False at padding
    assert seen and (seen[0][has_valid_next] < 2).all()  # a'_g of real steps: only valid actions


# ------------------------------------------------------------------------------------------------
# Fidelity rows (docs/fidelity.md): hand-computed checks of the policy heads, the critic network,
# the TD ensemble reduction and the loss weighting
# ------------------------------------------------------------------------------------------------
def set_actor_output(actor, bias) -> None:
    """Zero the actor's last weight so its raw output is ``bias`` (G x A logits, or G x 2D mean/raw log std)."""
    with torch.no_grad():
        actor.net[-1].weight.zero_()
        actor.net[-1].bias.copy_(torch.tensor(bias, dtype=torch.float32).flatten())


def test_discrete_policy_clamps_probabilities_to_0_001_and_0_99_then_renormalises():
    agent = make_agent("discrete")  # A = 4 actions, gammas (0.9, 0.99)
    # gamma 0: logits (10, 0, 0, 0): softmax (e^10, 1, 1, 1) / (e^10 + 3) = (0.99986, 4.5e-5 x 3),
    #   clamped to (0.99, 0.001, 0.001, 0.001), sum 0.993
    # gamma 1: logits log(0.5, 0.3, 0.1995, 0.0005): softmax exactly those (they sum to 1); only the last is
    #   clamped up to 0.001, sum 1.0005
    set_actor_output(agent.actor, [[10.0, 0.0, 0.0, 0.0], [math.log(0.5), math.log(0.3), math.log(0.1995),
                                                          math.log(0.0005)]])
    probs = agent.actor(torch.randn(5, 32))  # (5, G, A): the same for every state
    assert math.exp(10) / (math.exp(10) + 3) > 0.99 and 1 / (math.exp(10) + 3) < 0.001  # the case is what it claims
    expected = torch.tensor([[0.99 / 0.993, 0.001 / 0.993, 0.001 / 0.993, 0.001 / 0.993],
                             [0.5 / 1.0005, 0.3 / 1.0005, 0.1995 / 1.0005, 0.001 / 1.0005]])
    torch.testing.assert_close(probs, expected.expand(5, 2, 4), rtol=1e-5, atol=1e-7)
    # inside [0.001, 0.99] nothing changes: equal logits give exactly 1/4
    set_actor_output(agent.actor, [[0.0] * 4, [1.0] * 4])
    torch.testing.assert_close(agent.actor(torch.randn(1, 32)), torch.full((1, 2, 4), 0.25))


def test_continuous_policy_maps_log_std_into_minus_5_to_2():
    agent = make_agent("continuous")  # D = 2, gammas (0.9, 0.99); per gamma the outputs are (mean_1, mean_2, raw_1, raw_2)
    # log std = -5 + 3.5 (tanh(raw) + 1): raw 0 -> -1.5; raw 20 -> 2 (tanh = 1); raw -20 -> -5; raw atanh(0.5) -> 0.25
    set_actor_output(agent.actor, [[0.3, -0.2, 0.0, 20.0], [0.0, 1.0, -20.0, math.atanh(0.5)]])
    mean, std = agent.actor(torch.randn(3, 32))  # (3, G, D) each
    torch.testing.assert_close(mean, torch.tensor([[0.3, -0.2], [0.0, 1.0]]).expand(3, 2, 2))
    expected_std = torch.tensor([[math.exp(-1.5), math.exp(2.0)], [math.exp(-5.0), math.exp(0.25)]])
    torch.testing.assert_close(std, expected_std.expand(3, 2, 2), rtol=1e-5, atol=1e-8)


def test_tanh_gaussian_log_prob_hand_computed():
    def by_hand(mean, std, action):  # one action dimension, in plain floats
        a = min(max(action, -0.995), 0.995)  # actions clipped to +-0.995 before atanh
        z = 0.5 * math.log((1 + a) / (1 - a))  # atanh(a)
        gaussian = -((z - mean) ** 2) / (2 * std ** 2) - math.log(std) - 0.5 * math.log(2 * math.pi)
        return gaussian - math.log(1 - a * a + 1e-6)

    # a = (0.5, -0.999): the second is clipped to -0.995; the sum over dimensions is log pi(a)
    mean, std, action = (0.1, -2.0), (0.5, 1.0), (0.5, -0.999)
    expected = sum(by_hand(m, s, a) for m, s, a in zip(mean, std, action))
    got = agent_module.tanh_gaussian_log_prob(torch.tensor(mean), torch.tensor(std), torch.tensor(action))
    assert got.shape == ()
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # a narrow Gaussian far from the action: by hand about -2.4e4, clamped to -1e3
    assert by_hand(0.0, math.exp(-5.0), 0.9) < -2e4
    got = agent_module.tanh_gaussian_log_prob(torch.tensor([0.0]), torch.tensor([math.exp(-5.0)]), torch.tensor([0.9]))
    assert got.item() == -1000.0


def test_critic_ensemble_shapes_leaky_relu_layers_and_zero_output_bias():
    C, d, h, A_, G, K = 4, 5, 7, 3, 2, 6
    critic = agent_module.CriticEnsemble(d, A_, discrete=True, ensemble=C, hidden=h, num_gammas=G, out_per_gamma=K)
    shapes = {name: tuple(p.shape) for name, p in critic.named_parameters()}
    assert shapes == {"layer1.weight": (C, d, h), "layer1.bias": (C, 1, h), "layer2.weight": (C, h, h),
                      "layer2.bias": (C, 1, h), "out.weight": (C, h, A_ * G * K), "out.bias": (C, 1, A_ * G * K)}
    assert sum(p.numel() for p in critic.parameters()) == 4 * ((5 * 7 + 7) + (7 * 7 + 7) + (7 * 36 + 36))  # 1544
    assert torch.equal(critic.out.bias, torch.zeros(C, 1, A_ * G * K))
    # continuous: the action joins the state in the first layer, one output block
    cont = agent_module.CriticEnsemble(d, 2, discrete=False, ensemble=C, hidden=h, num_gammas=G, out_per_gamma=1)
    assert tuple(cont.layer1.weight.shape) == (C, d + 2, h) and tuple(cont.out.weight.shape) == (C, h, G)

    # two hidden leaky-ReLU layers (slope 0.01), by hand: 1 input, 2 hidden units, 1 output, two critics
    tiny = agent_module.CriticEnsemble(1, 1, discrete=True, ensemble=2, hidden=2, num_gammas=1, out_per_gamma=1)
    with torch.no_grad():
        tiny.layer1.weight.copy_(torch.tensor([[[1.0, -1.0]], [[2.0, 1.0]]]))  # critic 0: x -> (x, -x); critic 1: (2x, x)
        tiny.layer2.weight.copy_(torch.eye(2).expand(2, 2, 2))
        tiny.out.weight.copy_(torch.ones(2, 2, 1))
        for layer in (tiny.layer1, tiny.layer2):
            layer.bias.zero_()
    out = tiny.all_actions(tiny.hidden(torch.tensor([[2.0]])))  # (C, N, A, G, K)
    # critic 0: (2, -2) -> (2, -0.02) -> (2, -0.0002) -> 1.9998; critic 1: (4, 2) -> (4, 2) -> 6
    torch.testing.assert_close(out.flatten(), torch.tensor([1.9998, 6.0]))


def test_critics_of_the_ensemble_are_independent():
    torch.manual_seed(0)
    critic = agent_module.CriticEnsemble(5, 3, discrete=True, ensemble=4, hidden=7, num_gammas=2, out_per_gamma=6)
    state = torch.randn(10, 5)
    before = critic.all_actions(critic.hidden(state)).detach()  # (C, N, A, G, K)
    with torch.no_grad():
        for p in critic.parameters():
            p[0] += 0.1  # critic 0's slice of every layer
    after = critic.all_actions(critic.hidden(state)).detach()
    assert (after[0] - before[0]).abs().min() > 0  # every output of critic 0 moved
    assert torch.equal(after[1:], before[1:])  # the others are bit-for-bit unchanged
    # and gradients do not cross: a loss on critic 2 only reaches critic 2's slices
    critic.all_actions(critic.hidden(state))[2].sum().backward()
    for name, p in critic.named_parameters():
        assert p.grad[2].abs().sum() > 0, name
        assert torch.equal(p.grad[[0, 1, 3]], torch.zeros_like(p.grad[[0, 1, 3]])), name


def target_critics_of_values(agent, values) -> None:
    """Every target critic c outputs the constant values[c] (for every action and gamma)."""
    with torch.no_grad():
        agent.target_critic.out.weight.zero_()
        agent.target_critic.out.bias.copy_(torch.tensor(values).view(-1, 1, 1).expand_as(agent.target_critic.out.bias))


def td_step(N: int, rewards, not_done) -> dict:
    return {"s_next": torch.randn(N, 32), "valid_next": None, "rewards": torch.tensor(rewards).view(N, 1),
            "not_done": torch.tensor(not_done).view(N, 1)}


def test_td_target_averages_a_pair_of_target_critics_drawn_with_replacement(monkeypatch):
    agent = make_agent(critic="mse", num_critics=4, num_critics_td=2, gammas=(0.5, 0.9), reward_multiplier=10.0)
    target_critics_of_values(agent, [1.0, 2.0, 4.0, 8.0])
    step = td_step(3, [0.1, -0.2, 0.3], [1.0, 1.0, 0.0])  # the last row is terminal
    # the drawn critics, (num_critics_td, N, G): one pair per (row, gamma), repeats allowed
    pick = torch.tensor([[[0, 3], [1, 2], [2, 0]],
                         [[0, 1], [3, 2], [1, 1]]])
    calls = []
    monkeypatch.setattr(torch, "randint", lambda high, size, **kw: calls.append((high, tuple(size))) or pick)
    y = agent.td_target(step)
    assert calls == [(4, (2, 3, 2))]
    # pair means: row 0 (c0, c0) = 1, (c3, c1) = 5; row 1 (c1, c3) = 5, (c2, c2) = 4; row 2 terminal
    expected = torch.tensor([[10 * 0.1 + 0.5 * 1.0, 10 * 0.1 + 0.9 * 5.0],
                             [10 * -0.2 + 0.5 * 5.0, 10 * -0.2 + 0.9 * 4.0],
                             [10 * 0.3, 10 * 0.3]])
    torch.testing.assert_close(y, expected)


def test_td_target_draws_each_rows_pair_uniformly_with_replacement():
    # with critics 1, 2, 4, 8 each pair mean names its unordered pair: a same-critic pair has probability 1/16,
    # a mixed one 2/16, for every (row, gamma) alike
    agent = make_agent(critic="mse", num_critics=4, num_critics_td=2, gammas=(0.5, 0.9), reward_multiplier=1.0)
    target_critics_of_values(agent, [1.0, 2.0, 4.0, 8.0])
    N = 8000
    torch.manual_seed(0)
    y = agent.td_target(td_step(N, [0.0] * N, [1.0] * N))  # y = gamma * pair mean
    means = y / torch.tensor([0.5, 0.9])
    values = [1.0, 2.0, 4.0, 8.0]
    for i in range(4):
        for j in range(i, 4):
            share = (means - (values[i] + values[j]) / 2).abs().lt(1e-4).float().mean(0)  # per gamma
            torch.testing.assert_close(share, torch.full((2,), (1 if i == j else 2) / 16), atol=0.012, rtol=0)
    assert not torch.equal(means[:, 0], means[:, 1])  # each gamma draws its own pair


@pytest.mark.parametrize("weight", [10.0, 2.5])
def test_total_loss_is_actor_plus_weighted_critic_loss(weight):
    # constant critic (0.7 everywhere) and uniform actor (zero logits): terminal rows give
    # critic loss = mean (0.7 - 10 r)^2, A = Q - V = 0 > -1e-4 so every step is imitated: actor loss = log 4
    agent = make_agent(critic="mse", actor="filtered_bc", reward_multiplier=10.0, critic_loss_weight=weight)
    assert AgentConfig().critic_loss_weight == 10.0
    make_critic_constant(agent.critic, 0.7)
    set_actor_output(agent.actor, [[0.0] * A, [0.0] * A])
    batch = partly_padded_batch(terminal=True)
    out = seeded_loss(agent, batch)
    critic = ((0.7 - 10.0 * batch["rewards"][batch["mask"]]) ** 2).mean()
    torch.testing.assert_close(out["critic_loss"], critic)
    torch.testing.assert_close(out["actor_loss"], torch.tensor(math.log(4.0)))
    torch.testing.assert_close(out["loss"], math.log(4.0) + weight * critic)
