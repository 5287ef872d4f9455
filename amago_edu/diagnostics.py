"""Probes of a trained agent: which replay actions the filter keeps, and which inputs move the policy.

- :func:`filter_shares`: the share of replay actions filtered BC imitates (A > threshold, Eq. 4) with the sampled
  V(s) (the authors' K = 3 policy samples) and with the exact V(s) = sum_a pi(a|s) Q(s, a), read from the agent's
  own loss. A sampled estimate that ties with Q(s, a_replay) must not drop the policy's own actions.
- :func:`input_sensitivity`: for each input of the timestep encoder, how far the policy moves (total variation)
  when that input alone is swapped between two trajectories; and how much the tokens vary across steps. A policy
  that ignores its mission, or a token that does not change with the state, shows up here.
- :func:`learning_signal`: whether the losses have anything to learn from: how much the critic's values vary across
  states and across actions (a flat critic gives filtered BC only noise to filter), how many rewards the batch holds,
  and how many replay actions sit at a bound of the actor's probability clamp (no BC gradient passes there).
- :func:`play_batch`: a batch of windows from fresh play with the agent, for any of the probes.
"""

from __future__ import annotations

import tempfile

import numpy as np
import torch

from .agent import ACTION_MASK_KEY, Agent
from .replay import TrajectoryStore, batch_to_torch, sample_batch
from .rollout import Collector, make_vector_env
from .train import build_env_fn


def play_batch(agent: Agent, config, trajectories: int = 16, batch_size: int = 32, seed: int = 0,
               epsilon: float | None = None) -> dict:
    """Play ``trajectories`` trials with ``agent`` on the training split (exploring with ``epsilon``, default the
    config's ``epsilon_end``, as late replay does) and return a torch batch of ``batch_size`` windows."""
    if trajectories < 1 or batch_size < 1:
        raise ValueError(f"trajectories and batch_size must be >= 1, got {trajectories} and {batch_size}")
    epsilon = config.epsilon_end if epsilon is None else epsilon
    envs = make_vector_env(build_env_fn(config, 700_000), min(config.num_envs, trajectories))
    with tempfile.TemporaryDirectory() as folder:
        store = TrajectoryStore(folder, capacity=trajectories + envs.num_envs)
        try:
            collector = Collector(envs, agent, seed=seed, on_trajectory=store.add)
            while len(store) < trajectories:
                collector.collect(16, epsilon)
        finally:
            envs.close()
        batch = sample_batch(store, batch_size, config.window, np.random.default_rng(seed), trim=True)
    return batch_to_torch(batch, next(agent.parameters()).device)


@torch.no_grad()
def filter_shares(agent: Agent, batch: dict, draws: int = 8, seed: int = 0) -> dict[str, float]:
    """Share of valid replay (state, gamma) pairs with A > ``filter_threshold``, as the loss computes it:
    "sampled" (mean over ``draws`` samplings of V(s)) and "exact"; "sampled_se" is the spread of the sampled share
    over the draws divided by sqrt(draws), and "n" the number of (state, gamma) pairs each share is taken over."""
    if not agent.discrete:
        raise ValueError("filter_shares compares the sampled and the exact V(s), which exists for discrete actions only")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    was_exact, was_training = agent.exact_state_value, agent.training
    agent.eval()  # no dropout, and PopArt's statistics stay put
    generator_state = torch.get_rng_state()
    try:
        torch.manual_seed(seed)
        agent.exact_state_value = True
        exact = float(agent.loss(batch)["advantage_positive"])
        agent.exact_state_value = False
        sampled = np.array([float(agent.loss(batch)["advantage_positive"]) for _ in range(draws)])
    finally:
        agent.exact_state_value = was_exact
        agent.train(was_training)
        torch.set_rng_state(generator_state)
    n = int(batch["mask"].sum()) * len(agent.config.gammas)
    return {"sampled": float(sampled.mean()), "exact": exact,
            "sampled_se": float(sampled.std() / np.sqrt(draws)), "n": n}


@torch.no_grad()
def input_sensitivity(agent: Agent, batch: dict, seed: int = 0) -> dict[str, float]:
    """{input: mean total-variation change of the acting policy when that input alone is swapped}, plus
    "token_spread": the spread of the encoder's tokens across valid steps relative to their norm.

    Inputs are the observation keys (the valid-action mask excepted: it is never a network input). Key k of
    window b is replaced by key k of window perm(b) at every step, the rest kept; the policy is read at steps
    valid in both windows. A policy that does not use an input scores 0 for it."""
    obs, time, mask = batch["obs"], batch["time"], batch["mask"]
    B = mask.shape[0]
    if B < 2:
        raise ValueError("input_sensitivity swaps inputs between windows: the batch needs at least 2")
    was_training = agent.training
    agent.eval()
    try:
        perm = torch.roll(torch.arange(B), 1)  # every window gets another's input
        both = (mask & mask[perm])  # (B, L): steps valid in both windows
        if not both.any():
            raise ValueError("no step is valid in both swapped windows: use longer windows")

        def policy(o):
            states = agent.sequence(o, time)[:, :-1]
            if agent.discrete:
                return agent.actor(states, agent.action_mask(o)[:, :-1] if ACTION_MASK_KEY in o else None)[..., -1, :]
            mean, _ = agent.actor(states)
            return torch.tanh(mean[..., -1, :])

        base = policy(obs)
        scores = {}
        for key in sorted(k for k in obs if k != ACTION_MASK_KEY):
            swapped = dict(obs, **{key: obs[key][perm]})
            moved = policy(swapped)
            change = 0.5 * (moved - base).abs().sum(-1) if agent.discrete else (moved - base).abs().mean(-1)
            scores[key] = float(change[both].mean())
        tokens = agent.encoder(obs)[:, :-1][mask]  # (valid steps, d)
        scores["token_spread"] = float(tokens.std(0).norm() / tokens.norm(dim=-1).mean().clamp(min=1e-8))
    finally:
        agent.train(was_training)
    return scores


@torch.no_grad()
def learning_signal(agent: Agent, batch: dict) -> dict[str, float]:
    """On valid steps of ``batch``, for the acting (last) discount factor: "value_spread_states", the standard deviation
    across states of max_a Q(s, a); "value_spread_actions", the mean over states of max_a Q - min_a Q (a critic that
    cannot tell states or actions apart leaves filtered BC nothing but noise); "rewarded_steps", the share of steps
    with a positive reward; "clamp_low" and "clamp_high", the shares of replay actions whose clamped probability sits
    at the actor's bound 0.001 or near 0.99 (no BC gradient passes the clamp there). Discrete actions only."""
    if not agent.discrete:
        raise ValueError("learning_signal reads Q of every action and the clamped probabilities: discrete actions only")
    was_training = agent.training
    agent.eval()
    try:
        step = agent.unpack(batch)
        valid = step["mask"].reshape(-1)
        q = agent.all_action_values(agent.critic.hidden(step["s"]), step["s"])[valid][:, -1]  # (n, A)
        if step["valid_now"] is not None:  # a game's invalid actions are no choice: leave them out of the spread
            allowed = step["valid_now"][valid]
            top, bottom = q.masked_fill(~allowed, -np.inf).max(-1).values, q.masked_fill(~allowed, np.inf).min(-1).values
        else:
            top, bottom = q.max(-1).values, q.min(-1).values
        probs = agent.actor(step["s"], step["valid_now"])[valid][:, -1]  # (n, A), the acting gamma
        chosen = probs.gather(-1, step["actions"][valid].view(-1, 1)).squeeze(-1)
    finally:
        agent.train(was_training)
    return {"value_spread_states": float(top.std()), "value_spread_actions": float((top - bottom).mean()),
            "rewarded_steps": float((batch["rewards"][batch["mask"]] > 0).float().mean()),
            "clamp_low": float((chosen <= 0.0011).float().mean()), "clamp_high": float((chosen >= 0.989).float().mean()),
            "steps": int(valid.sum())}
