"""Looking at one frozen-lake trial (notebooks 00 and 05): record what the agent did in each attempt, pick a trial
that adapted in context, and count what it did after each outcome."""

from __future__ import annotations

import numpy as np
import torch

from ..envs import make_env
from ..envs.toy import MetaFrozenLake
from ..rollout import obs_to_torch
from ..utils import seeded_torch


def play_frozen_lake_trial(agent, config, seed: int, device) -> dict:
    """One ``toy/meta_frozen_lake`` trial on the (held-out, ``config.eval_split``) map ``seed`` draws, acting as
    evaluation does (fresh context, no exploration), recorded for plotting (notebooks 00 and 05). ``seed`` also
    seeds the sampling of the agent's actions (torch's random state is restored after), so a trial replays the same.

    Returns {"seed", "map" (rows of S/F/H/G, row index = y), "paths" (per attempt, the (x, y) cells from the
    start to where it ended), "outcomes" (per attempt: goal / hole / out of time), "successes" (k,),
    "obs" {key: (T, ...)} (the T observations the agent acted on), "time" (T,)}.
    """
    with seeded_torch(seed, device):
        return _record_frozen_lake_trial(agent, config, seed, device)


@torch.no_grad()
def _record_frozen_lake_trial(agent, config, seed: int, device) -> dict:
    env = make_env(config.env, episodes_per_trial=config.episodes_per_trial, seed=seed, split=config.eval_split,
                   **config.env_kwargs)
    lake = env.unwrapped  # the MetaFrozenLake inside the trial wrapper: it knows the map
    obs, _ = env.reset()
    cache = agent.init_cache(1, device)
    seen, paths, done = [], [[(0, 0)]], False
    while not done:
        batch = {key: value[None] for key, value in obs_to_torch(obs, device).items()}  # (1, ...)
        step = torch.tensor([len(seen)], device=device)  # position = step within the trial
        action = int(agent.act(batch, step, cache, sample=config.eval_sample)[0])
        seen.append(obs)
        x, y = paths[-1][-1]
        dx, dy = MetaFrozenLake.MOVES[action]
        paths[-1].append((min(max(x + dx, 0), lake.size - 1), min(max(y + dy, 0), lake.size - 1)))
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        if obs["reset"][0] == 1.0:
            paths.append([(0, 0)])  # soft reset: same map, next attempt, the context goes on
        else:  # the lake does not slip, so replaying the moves must land where the env says we are
            assert np.allclose(obs["observation"] * lake.size, paths[-1][-1]), (obs, paths[-1])
    outcomes = {"G": "goal", "H": "hole"}
    return {
        "seed": seed,
        "map": list(lake.map),
        "paths": paths,
        "outcomes": [outcomes.get(lake.map[y][x], "out of time") for x, y in (path[-1] for path in paths)],
        "successes": np.asarray(info["attempt_successes"]),
        "obs": {key: np.stack([o[key] for o in seen]) for key in seen[0]},
        "time": np.arange(len(seen)),
    }


def pick_adapted_trial(trials: list[dict]) -> dict:
    """The first trial that failed attempt 1 and succeeded later (in-context adaptation), else the first."""
    adapted = [t for t in trials if t["successes"][0] == 0 and t["successes"][1:].max() == 1]
    print(f"{len(adapted)} of {len(trials)} held-out trials failed attempt 1 and reached the goal later")
    return adapted[0] if adapted else trials[0]


def after_each_outcome(trials: list[dict]) -> dict[str, tuple[float | None, int]]:
    """What recorded frozen-lake trials (``play_frozen_lake_trial``) did on the attempt after each outcome.

    Over every pair of consecutive attempts (j, j + 1) of every trial, returns {name: (rate, pairs)}:

    * ``"goal after goal"``: success on j + 1 when attempt j reached the goal (1.0 = the path is kept);
    * ``"goal after a failure"``: success on j + 1 when attempt j fell into a hole or ran out of time;
    * ``"same hole again"``: attempt j + 1 ends in the very hole attempt j fell into (0.0 = every hole found
      is remembered; the hole is never observed, only the cell before it and the move that followed).

    ``rate`` is None where there is no such pair.
    """
    counts = {"goal after goal": [0, 0], "goal after a failure": [0, 0], "same hole again": [0, 0]}
    for trial in trials:
        outcomes, ends = trial["outcomes"], [path[-1] for path in trial["paths"]]
        for j in range(len(outcomes) - 1):
            key = "goal after goal" if outcomes[j] == "goal" else "goal after a failure"
            counts[key][0] += outcomes[j + 1] == "goal"
            counts[key][1] += 1
            if outcomes[j] == "hole":
                counts["same hole again"][0] += outcomes[j + 1] == "hole" and ends[j + 1] == ends[j]
                counts["same hole again"][1] += 1
    return {name: (hits / pairs if pairs else None, pairs) for name, (hits, pairs) in counts.items()}
