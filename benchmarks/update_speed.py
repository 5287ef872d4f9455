"""Time one full training update at the reference size and count its FLOPs.

    python benchmarks/update_speed.py [--repeats 10] [--variants amago2 amago1]
    python benchmarks/update_speed.py --action-counts 4 27 [--state-values sampled exact] [--critic-actions blocks input]

Reference size (issue #3): batch 24 sequences x 128 timesteps, d_model 128, 2 layers, 8 heads,
4 critics, 7 discount factors, 64 bins, Discrete(8) actions. Prints, from one run: median update
time and tokens/s; FLOPs per update (torch.utils.flop_counter) split into timestep encoder,
Transformer and heads; the fp32 matmul peak measured now with the same thread count; the
model-FLOPs utilisation (MFU) of the full update and of the plain Transformer forward+backward;
and the cost of one cached acting step at context 32 and 512.

``--action-counts`` instead measures how the update's cost grows with the size of a discrete action
space, at the ``popgym_mt`` preset's network size (24 sequences x 129 tokens, d_model 64, 2 layers,
3 discount factors, 64 bins, 4 critics, AMAGO-2 losses): one agent per (action count, state_value),
timed *interleaved* (one update of each in turn, repeated) so machine noise hits all alike; FLOPs
per update (deterministic) and time, each as a ratio to the first agent, and the time split into
the loss's named parts (sequence model, TD target, critic loss, actor loss with V(s)), backward and
the optimizer step, from torch's profiler.

``--against REF`` (with ``--action-counts``) also times the same agents in the package as it was at git
commit REF (extracted with ``git archive`` into a temporary folder and imported beside this one), with
the same weights and batch, interleaved with today's, and prints today's time as a ratio to REF's:

    python benchmarks/update_speed.py --action-counts 5 27 --state-values sampled --against HEAD~3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from gymnasium import spaces
from torch.utils.flop_counter import FlopCounterMode

from amago_edu.agent import Agent, AgentConfig
from amago_edu.benchmarking import reference_package
from amago_edu.learning import make_optimizer, update_step

B, T, OBS, ACTIONS = 24, 128, 16, 8


def obs_space():
    box = lambda n, lo=-np.inf: spaces.Box(lo, np.inf, (n,), np.float32)  # noqa: E731
    return spaces.Dict({"observation": box(OBS), "prev_action": box(ACTIONS), "prev_reward": box(1),
                        "reset": box(1), "progress": box(1)})


def random_batch(batch=B, tokens=T):
    L = tokens - 1
    obs = {"observation": torch.randn(batch, tokens, OBS), "prev_action": torch.rand(batch, tokens, ACTIONS),
           "prev_reward": torch.randn(batch, tokens, 1), "reset": torch.zeros(batch, tokens, 1),
           "progress": torch.zeros(batch, tokens, 1)}
    return {"obs": obs, "time": torch.arange(tokens).expand(batch, -1), "actions": torch.randint(ACTIONS, (batch, L)),
            "rewards": torch.randn(batch, L), "terminals": torch.zeros(batch, L, dtype=torch.bool),
            "mask": torch.ones(batch, L, dtype=torch.bool)}


def median_seconds(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(repeats=10, n=2048):
    """Best-of-``repeats`` fp32 square matmul rate (FLOP/s) with the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(median_seconds(lambda: torch.mm(a, b), 1, warmup=0) for _ in range(repeats))
    return 2 * n**3 / best


def count_flops(fn):
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def part_flops(agent, batch):
    """Forward+backward FLOPs of the timestep encoder and of the Transformer on this batch.

    (FlopCounterMode's per-module attribution mixes up backward ops, so each part is counted on
    its own; heads + losses = full update - these two.)"""
    encoder = count_flops(lambda: agent.encoder(batch["obs"]).sum().backward())
    tokens = torch.randn(B, T, agent.config.d_model, requires_grad=True)
    transformer = count_flops(lambda: agent.transformer(tokens, batch["time"]).sum().backward())
    agent.zero_grad(set_to_none=True)
    return encoder, transformer


def bench_variant(name, critic, actor, repeats, peak):
    torch.manual_seed(0)
    config = AgentConfig(critic=critic, actor=actor, d_model=128, n_layers=2, n_heads=8, context_length=T,
                         num_critics=4, num_bins=64)
    agent = Agent(obs_space(), spaces.Discrete(ACTIONS), config)
    optimizer, scheduler = make_optimizer(agent, warmup_updates=1)
    batch = random_batch()
    step = lambda: update_step(agent, optimizer, scheduler, batch)  # noqa: E731
    total = count_flops(step)
    encoder, transformer = part_flops(agent, batch)
    seconds = median_seconds(step, repeats)
    print(f"\n[{name}] critic={critic} actor={actor}  parameters={sum(p.numel() for p in agent.trainable_parameters()):,}")
    print(f"  median update time     {seconds * 1e3:8.1f} ms   ({B * T / seconds:,.0f} tokens/s)")
    print(f"  FLOPs per update       {total / 1e9:8.2f} GFLOP")
    print(f"    timestep encoder     {encoder / 1e9:8.2f} GFLOP")
    print(f"    Transformer          {transformer / 1e9:8.2f} GFLOP")
    print(f"    heads + losses       {(total - encoder - transformer) / 1e9:8.2f} GFLOP")
    print(f"  achieved               {total / seconds / 1e9:8.1f} GFLOP/s   MFU {100 * total / seconds / peak:5.1f}%")
    return agent


def bench_transformer(agent, repeats, peak):
    x = torch.randn(B, T, agent.config.d_model, requires_grad=True)
    positions = torch.arange(T).expand(B, -1)

    def fwd_bwd():
        agent.transformer(x, positions).sum().backward()

    total = count_flops(fwd_bwd)
    seconds = median_seconds(fwd_bwd, repeats)
    print(f"\n[plain Transformer forward+backward] {total / 1e9:.2f} GFLOP, {seconds * 1e3:.1f} ms, "
          f"MFU {100 * total / seconds / peak:.1f}%")


@torch.no_grad()
def bench_acting(repeats, envs=8):
    print(f"\n[acting: one cached step, {envs} envs, d_model 128, 2 layers]")
    for context in (32, 512):
        config = AgentConfig(d_model=128, n_layers=2, n_heads=8, context_length=context)
        agent = Agent(obs_space(), spaces.Discrete(ACTIONS), config).eval()
        cache = agent.init_cache(envs)
        obs = {k: v[:, 0] for k, v in random_batch(envs, 2)["obs"].items()}
        filled = context - repeats - 1
        for t in range(filled):  # fill the context so the timed steps attend to ~context keys
            agent.act(obs, torch.full((envs,), t), cache)
        steps = iter(range(filled, context))
        seconds = median_seconds(lambda: agent.act(obs, torch.full((envs,), next(steps)), cache), repeats, 0)
        print(f"  context {context:4d}: {seconds * 1e3:6.2f} ms per step (cache holding ~{context} steps)")


def popgym_mt_agent(actions: int, state_value: str, critic_action: str = "blocks"):
    """An agent at the ``popgym_mt`` preset's size for Discrete(actions), and a random batch for it."""
    from amago_edu.config import TrainConfig

    preset = TrainConfig.preset("popgym_mt")
    fields = {f: getattr(preset, f) for f in AgentConfig.__dataclass_fields__}
    torch.manual_seed(0)
    config = AgentConfig(**{**fields, "state_value": state_value, "critic_action": critic_action})
    box = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
    space = spaces.Dict({"observation": box(OBS), "prev_action": box(actions), "prev_reward": box(1),
                         "reset": box(1), "progress": box(1)})
    agent = Agent(space, spaces.Discrete(actions), config)
    batch = random_batch(preset.batch_size, config.context_length)
    batch["obs"]["prev_action"] = torch.rand(preset.batch_size, config.context_length, actions)
    batch["actions"] = torch.randint(actions, batch["actions"].shape)
    return agent, batch


PARTS = ("sequence_model", "td_target", "critic_loss", "actor_loss")


def profile_parts(step, repeats: int = 3) -> dict[str, float]:
    """Mean seconds per update in each named part of the loss, in backward and in the optimizer step."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(repeats):
            step()
    totals = dict.fromkeys((*PARTS, "backward", "optimizer"), 0.0)
    for event in prof.key_averages():
        name = event.key
        if name in PARTS:
            totals[name] += event.cpu_time_total
        elif name.startswith("autograd::engine::evaluate_function"):
            totals["backward"] += event.cpu_time_total
        elif name.startswith("Optimizer.step"):
            totals["optimizer"] += event.cpu_time_total
    return {k: v / 1e6 / repeats for k, v in totals.items()}


def reference_step(agent: Agent, batch: dict, package):
    """An update step of ``package``'s agent with ``agent``'s settings and weights."""
    agent_module, learning_module = package
    fields = agent_module.AgentConfig.__dataclass_fields__
    config = agent_module.AgentConfig(**{f: getattr(agent.config, f) for f in fields if hasattr(agent.config, f)})
    reference = agent_module.Agent(agent.obs_space, agent.action_space, config)
    reference.load_state_dict(agent.state_dict())
    optimizer, scheduler = learning_module.make_optimizer(reference, warmup_updates=1)
    return lambda: learning_module.update_step(reference, optimizer, scheduler, batch)


def bench_action_counts(action_counts, state_values, repeats, against: str | None = None,
                        critic_actions=("blocks",)):
    runs = []
    package = reference_package(against) if against else None
    for actions, state_value, critic_action in ((a, v, c) for c in critic_actions for a in action_counts
                                                for v in state_values):
        agent, batch = popgym_mt_agent(actions, state_value, critic_action)
        optimizer, scheduler = make_optimizer(agent, warmup_updates=1)
        step = lambda a=agent, o=optimizer, s=scheduler, b=batch: update_step(a, o, s, b)  # noqa: E731
        if package is not None:  # before today's step changes the weights
            old = reference_step(agent, batch, package)
            runs.append({"name": f"A={actions} {state_value} @{against}", "step": old, "flops": count_flops(old),
                         "times": []})
        runs.append({"name": f"A={actions} {state_value}" + (f" {critic_action}" if len(critic_actions) > 1 else ""),
                     "step": step, "flops": count_flops(step), "times": []})
    for run in runs:  # warm-up
        run["step"]()
    for _ in range(repeats):  # interleaved: one update of each agent in turn
        for run in runs:
            start = time.perf_counter()
            run["step"]()
            run["times"].append(time.perf_counter() - start)
    first = runs[0]
    base_time = statistics.median(first["times"])
    print(f"\n[update cost vs action count, popgym_mt preset size, {repeats} interleaved repeats]")
    print(f"  {'agent':<24} {'GFLOP':>7} {'x FLOPs':>8} {'ms':>8} {'x time':>7}   split (ms): "
          + " / ".join((*PARTS, "backward", "optimizer")))
    for run in runs:
        seconds = statistics.median(run["times"])
        parts = profile_parts(run["step"])
        print(f"  {run['name']:<24} {run['flops'] / 1e9:7.2f} {run['flops'] / first['flops']:8.2f} "
              f"{seconds * 1e3:8.1f} {seconds / base_time:7.2f}   "
              + " / ".join(f"{v * 1e3:.0f}" for v in parts.values()))
    if package is not None:
        print(f"\n  today's time / {against}'s (same agent, weights and batch, interleaved):")
        for old, new in zip(runs[::2], runs[1::2]):
            ratio = statistics.median(new["times"]) / statistics.median(old["times"])
            print(f"  {new['name']:<24} x{ratio:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--variants", nargs="+", default=["amago2", "amago1"], choices=["amago2", "amago1"])
    parser.add_argument("--action-counts", type=int, nargs="+", default=None,
                        help="measure the update's cost against the discrete action count instead (e.g. 4 27)")
    parser.add_argument("--state-values", nargs="+", default=["auto"], choices=["auto", "exact", "sampled"],
                        help="with --action-counts: the V(s) settings to compare")
    parser.add_argument("--against", default=None, metavar="REF",
                        help="with --action-counts: also time the package as it was at git commit REF")
    parser.add_argument("--critic-actions", nargs="+", default=["blocks"], choices=["blocks", "input"],
                        help="with --action-counts: how the discrete critic reads the action (AgentConfig.critic_action)")
    args = parser.parse_args()
    if args.against and not args.action_counts:
        parser.error("--against needs --action-counts (it compares the action-count agents)")
    if args.action_counts:
        if min(args.action_counts) < 2 or args.repeats < 1:
            parser.error("--action-counts must be >= 2 and --repeats >= 1")
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
        bench_action_counts(args.action_counts, args.state_values, args.repeats, args.against, args.critic_actions)
        return
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {B} x {T} tokens")
    peak = matmul_peak()
    print(f"fp32 matmul peak (2048^3 torch.mm, same threads): {peak / 1e9:.1f} GFLOP/s")
    agent = None
    for variant in args.variants:
        critic, actor = ("two_hot", "filtered_bc") if variant == "amago2" else ("mse", "max_q")
        agent = bench_variant(variant, critic, actor, args.repeats, peak)
    bench_transformer(agent, args.repeats, peak)
    bench_acting(args.repeats)


if __name__ == "__main__":
    main()
