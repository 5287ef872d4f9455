"""Check that a change of the package left the update's computation alone: the same losses and gradients.

    python benchmarks/same_update.py --against <commit>

For every loss variant (critic two_hot / popart / mse x actor filtered_bc / max_q), discrete (sampled and exact
V(s)) and continuous actions: the package at ``<commit>`` (extracted with ``git archive``, as
``benchmarks/update_speed.py --against``) and today's build the same agent with the same weights, compute the loss
on the same batch from the same random state, and the script prints the largest difference of every returned
value and of every gradient. Exit status 1 when any differs by more than ``--tolerance``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from gymnasium import spaces

from amago_edu.agent import Agent, AgentConfig
from amago_edu.benchmarking import reference_package

VARIANTS = [(c, a) for c in ("two_hot", "popart", "mse") for a in ("filtered_bc", "max_q")]


def cases():
    box = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
    for kind, actions, state_value in (("discrete", 6, "sampled"), ("discrete", 3, "exact"), ("continuous", 2, "auto")):
        space = spaces.Dict({"observation": box(5), "prev_action": box(actions), "prev_reward": box(1), "reset": box(1)})
        action_space = spaces.Discrete(actions) if kind == "discrete" else spaces.Box(-1.0, 1.0, (actions,), np.float32)
        for critic, actor in VARIANTS:
            yield f"{kind:<10} A={actions} {state_value:<7} {critic:<8} {actor:<11}", space, action_space, dict(
                critic=critic, actor=actor, state_value=state_value)


def batch_for(space, action_space, B=4, L=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = {k: torch.randn(B, L + 1, *v.shape, generator=g) for k, v in space.spaces.items()}
    if isinstance(action_space, spaces.Discrete):
        actions = torch.randint(int(action_space.n), (B, L), generator=g)
    else:
        actions = torch.rand(B, L, action_space.shape[0], generator=g) * 1.8 - 0.9
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[0, 4:] = False
    return {"obs": obs, "time": torch.arange(L + 1).expand(B, -1).clone(), "actions": actions,
            "rewards": torch.randn(B, L, generator=g), "terminals": torch.rand(B, L, generator=g) < 0.2, "mask": mask}


def run(agent, batch):
    torch.manual_seed(1)
    agent.zero_grad(set_to_none=True)
    out = agent.loss(batch)
    out["loss"].backward()
    grads = {n: p.grad.clone() for n, p in agent.named_parameters() if p.grad is not None}
    return {k: v.detach().clone() for k, v in out.items()}, grads


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, metavar="REF", help="the git commit to compare with")
    parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args(argv)
    old_agent_module, _ = reference_package(args.against)
    worst = 0.0
    print(f"largest |today - {args.against}| of the returned values and of the gradients:")
    for name, space, action_space, settings in cases():
        config = dict(d_model=16, n_layers=1, n_heads=2, context_length=8, tstep_hidden=16, head_hidden=16,
                      num_critics=3, gammas=(0.9, 0.99), num_bins=16, **settings)
        torch.manual_seed(0)
        new = Agent(space, action_space, AgentConfig(**config)).train()
        fields = old_agent_module.AgentConfig.__dataclass_fields__
        old = old_agent_module.Agent(space, action_space, old_agent_module.AgentConfig(
            **{k: v for k, v in config.items() if k in fields})).train()
        old.load_state_dict(new.state_dict())
        batch = batch_for(space, action_space)
        (out_new, g_new), (out_old, g_old) = run(new, batch), run(old, batch)
        values = max(float((out_new[k] - out_old[k]).abs().max()) for k in out_old)
        grads = max(float((g_new[k] - g_old[k]).abs().max()) for k in g_old)
        assert set(g_new) == set(g_old), f"{name}: different parameters receive gradients"
        worst = max(worst, values, grads)
        print(f"  {name}  values {values:.1e}  gradients {grads:.1e}")
    print(f"largest difference {worst:.1e} (tolerance {args.tolerance:g}): {'same' if worst <= args.tolerance else 'DIFFERENT'}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    raise SystemExit(main())
