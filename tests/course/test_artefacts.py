"""The committed trained agents (data/checkpoints/): export, load, what they keep, what they leave out."""

import pytest
import torch

from amago_edu.course.artefacts import CHECKPOINT_DIR, export_agent, load_trained
from amago_edu.config import TrainConfig
from amago_edu.rollout import obs_to_torch
from amago_edu.train import train, build_env_fn
from amago_edu.evaluation import load_agent

COMMITTED = sorted(CHECKPOINT_DIR.glob("*.pt"))


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    config = TrainConfig.preset("fast", run_dir=str(tmp_path_factory.mktemp("fast") / "run"), total_updates=10,
                                eval_interval=10, checkpoint_interval=10, eval_trials=4)
    train(config)
    return config


def acting_policy(agent, config, steps=12):
    """The acting policy's probabilities along one fixed walk (actions 0, 1, 2, ... whatever the agent prefers), so
    two agents are compared on the same observations; a greedy walk would part ways at the first near-tie."""
    env = build_env_fn(config, 0, evaluation=True)(0)
    obs, _ = env.reset(seed=3)
    cache, probs = agent.init_cache(1), []
    for t in range(steps):
        batch = obs_to_torch({k: v[None] for k, v in obs.items()}, torch.device("cpu"))
        with torch.no_grad():
            token = agent.encoder({k: v.unsqueeze(1) for k, v in batch.items()}).squeeze(1)
            probs.append(agent.actor(agent.transformer.step(token, torch.tensor([t]), cache))[0, -1])
        obs, _, terminated, truncated, _ = env.step(t % env.action_space.n)
        if terminated or truncated:
            break
    return torch.stack(probs)


def test_export_then_load_keeps_the_policy_in_float16(fast_run, tmp_path):
    config = fast_run
    path = export_agent(config.run_dir, tmp_path / "policy.pt", parts=("encoder", "transformer", "actor"),
                        meta={"command": "pytest", "figure": 0.5})
    data = torch.load(path, weights_only=True)
    assert data["parts"] == ["encoder", "transformer", "actor"]
    assert not any(key.startswith(("critic", "target")) for key in data["agent"])
    assert all(v.dtype == torch.float16 for v in data["agent"].values() if v.is_floating_point())
    loaded, loaded_config, meta = load_trained(path)
    original, _ = load_agent(config.run_dir)
    assert loaded_config == TrainConfig.load(f"{config.run_dir}/config.json")
    assert meta["command"] == "pytest" and meta["figure"] == 0.5 and meta["run_dir"] == config.run_dir
    assert loaded.loaded_parts == ("encoder", "transformer", "actor")
    for key, value in loaded.actor.state_dict().items():  # float16 round trip: within its relative precision
        torch.testing.assert_close(value, original.actor.state_dict()[key], rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(acting_policy(loaded, config), acting_policy(original, config), rtol=0, atol=5e-3)


def test_bad_artefacts_are_refused_with_the_fix(fast_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="data/checkpoints"):
        load_trained(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable amago_edu artefact"):
        load_trained(tmp_path / "junk.pt")
    torch.save({"agent": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="export writes them"):
        load_trained(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="parts must be"):
        export_agent(fast_run.run_dir, tmp_path / "x.pt", parts=("target_critic",))


def test_committed_artefacts_are_small():
    assert sum(path.stat().st_size for path in COMMITTED) < 5e6  # "a few MB at most in all"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_every_committed_artefact_loads_and_says_how_it_was_made(path):
    agent, config, meta = load_trained(path)
    config.validate()
    assert meta["command"] and meta["export_commit"]
    assert {"encoder", "transformer", "actor"} <= set(agent.loaded_parts)
