"""Pixel observations (amago_edu/pixels.py): the IMPALA CNN, DrQ-v2 random shift, the agent on "pixels",
uint8 kept uint8 in replay and batches, compressed pixel trajectory files, and the config fields."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gymnasium import spaces

import amago_edu.agent as agent_module
from amago_edu.agent import Agent, AgentConfig
from amago_edu.config import TrainConfig, config_from_args
from amago_edu.pixels import ImpalaCNN, pixel_shape, random_shift, scale_pixels, shift_part_of_batch
from amago_edu.replay import TrajectoryStore, batch_to_torch, sample_batch

A, SIDE = 5, 64  # Discrete(A) actions, 3 x SIDE x SIDE frames


def pixel_obs_space(side: int = SIDE) -> spaces.Dict:
    box = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
    return spaces.Dict({"pixels": spaces.Box(0, 255, (3, side, side), np.uint8), "prev_action": box(A),
                        "prev_reward": box(1), "reset": box(1), "progress": box(1)})


def make_agent(seed: int = 0, **overrides) -> Agent:
    settings = dict(d_model=32, n_layers=1, n_heads=2, context_length=16, tstep_hidden=32, head_hidden=32,
                    num_critics=2, gammas=(0.9, 0.99), num_bins=16, cnn_channels=(8, 16, 16))
    settings.update(overrides)
    torch.manual_seed(seed)
    return Agent(pixel_obs_space(), spaces.Discrete(A), AgentConfig(**settings))


def pixel_batch(B: int = 2, L: int = 4, seed: int = 0) -> dict:
    """A batch in the format of sample_batch + batch_to_torch (as tests/test_agent.py builds one), uint8 frames."""
    g = torch.Generator().manual_seed(seed)
    obs = {"pixels": torch.randint(0, 256, (B, L + 1, 3, SIDE, SIDE), generator=g, dtype=torch.uint8),
           "prev_action": torch.rand(B, L + 1, A, generator=g), "prev_reward": torch.randn(B, L + 1, 1, generator=g),
           "reset": torch.zeros(B, L + 1, 1), "progress": torch.zeros(B, L + 1, 1)}
    return {"obs": obs, "time": torch.arange(L + 1).expand(B, -1).clone(), "actions": torch.randint(A, (B, L), generator=g),
            "rewards": torch.randn(B, L, generator=g), "terminals": torch.zeros(B, L, dtype=torch.bool),
            "mask": torch.ones(B, L, dtype=torch.bool)}


# ------------------------------------------------------------------------------------------------
# The IMPALA CNN
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("side,feature_side", [(64, 8), (84, 11)])  # Procgen 64x64, Atari 84x84: ceil(n / 2) per stage
def test_impala_cnn_output_shapes(side, feature_side):
    cnn = ImpalaCNN(3, channels=(16, 32, 32), out_features=48, image_size=(side, side))
    frames = torch.randint(0, 256, (2, 3, side, side), dtype=torch.uint8)
    assert cnn.stages(scale_pixels(frames)).shape == (2, 32, feature_side, feature_side)
    out = cnn(frames)
    assert out.shape == (2, 48) and out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(cnn(scale_pixels(frames)), out)  # uint8 is scaled inside, floats are taken as scaled


def test_pixel_scaling_is_x_over_128_minus_1():
    torch.testing.assert_close(scale_pixels(torch.tensor([0, 128, 255], dtype=torch.uint8)),
                               torch.tensor([-1.0, 0.0, 127 / 128]))


def test_pixel_space_checks_name_the_problem():
    assert pixel_shape(spaces.Box(0, 255, (3, 84, 84), np.uint8)) == (3, 84, 84)
    with pytest.raises(ValueError, match="channels-last"):
        pixel_shape(spaces.Box(0, 255, (64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8 Box of shape"):
        pixel_shape(spaces.Box(0.0, 1.0, (3, 64, 64), np.float32))


# ------------------------------------------------------------------------------------------------
# DrQ-v2 random shift
# ------------------------------------------------------------------------------------------------
def test_random_shift_keeps_shape_and_dtype_and_pad_zero_is_the_identity():
    frames = torch.randint(0, 256, (6, 3, 20, 24), dtype=torch.uint8)
    shifted = random_shift(frames, pad=4)
    assert shifted.shape == frames.shape and shifted.dtype == torch.uint8
    assert torch.equal(random_shift(frames, pad=0), frames)
    with pytest.raises(ValueError, match="pad must be an integer >= 0"):
        random_shift(frames, pad=-1)


@pytest.mark.parametrize("pad", [1, 4])
def test_each_shifted_image_is_an_integer_crop_of_the_replicate_padded_image(pad):
    H, W, N = 6, 7, 300  # non-square on purpose
    image = (torch.arange(3 * H * W).view(3, H, W) % 251).to(torch.uint8)  # every pixel of a channel distinct
    images = image.expand(N, 3, H, W).contiguous()
    shifted = random_shift(images, pad=pad, generator=torch.Generator().manual_seed(0))
    padded = F.pad(image.float().unsqueeze(0), (pad,) * 4, mode="replicate")[0]  # (3, H + 2p, W + 2p)
    crops = {(dy, dx): padded[:, dy:dy + H, dx:dx + W] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)}
    seen = set()
    for n in range(N):
        matches = [offset for offset, crop in crops.items() if torch.equal(shifted[n].float(), crop)]
        assert len(matches) == 1, f"image {n} is not a crop of the padded image"
        seen.add(matches[0])
    if pad == 1:  # 9 offsets, 300 draws: every one occurs (uniform over {0, .., 2p}^2)
        assert seen == set(crops)


def test_only_the_last_75_percent_of_the_sequences_are_shifted():
    frames = torch.randint(0, 256, (8, 3, 3, 16, 16), dtype=torch.uint8)
    shifted = shift_part_of_batch(frames)
    assert shifted.shape == frames.shape and shifted.dtype == torch.uint8
    assert torch.equal(shifted[:2], frames[:2])  # ceil(8 x 0.25) = 2 clean sequences
    assert not torch.equal(shifted[2:], frames[2:])
    single = torch.randint(0, 256, (1, 2, 3, 16, 16), dtype=torch.uint8)
    assert shift_part_of_batch(single).shape == single.shape  # B = 1: the one sequence is shifted


# ------------------------------------------------------------------------------------------------
# The agent on pixels
# ------------------------------------------------------------------------------------------------
def test_agent_on_pixels_trains_the_cnn_and_shifts_only_in_training(monkeypatch):
    calls = []
    real = agent_module.shift_part_of_batch
    monkeypatch.setattr(agent_module, "shift_part_of_batch", lambda frames: calls.append(frames.shape) or real(frames))
    agent = make_agent(random_shift=True).train()
    assert agent.encoder.pixels is not None
    out = agent.loss(pixel_batch())
    assert torch.isfinite(out["loss"]) and calls == [(2, 5, 3, SIDE, SIDE)]
    out["loss"].backward()
    for stage in agent.encoder.pixels["cnn"].stages:  # gradients reach every IMPALA stage
        assert stage[0].weight.grad is not None and stage[0].weight.grad.abs().sum() > 0
    agent.eval()
    with torch.no_grad():
        agent.loss(pixel_batch())
        agent.train()  # acting never shifts, whatever the mode
        cache = agent.init_cache(2)
        agent.act({k: v[:, 0] for k, v in pixel_batch()["obs"].items()}, torch.zeros(2, dtype=torch.long), cache)
    assert len(calls) == 1


@torch.no_grad()
def test_cached_acting_on_pixels_matches_the_full_forward():
    agent = make_agent(random_shift=True).eval()
    obs = pixel_batch(B=2, L=4, seed=3)["obs"]
    time = torch.stack([torch.arange(5), torch.arange(5) + 7])
    expected = agent.actor(agent.sequence(obs, time))[:, :, -1].argmax(-1)  # (B, T), acting gamma
    cache = agent.init_cache(2)
    steps = [agent.act({k: v[:, t] for k, v in obs.items()}, time[:, t], cache, sample=False) for t in range(5)]
    torch.testing.assert_close(torch.stack(steps, dim=1), expected)


def test_pixel_settings_are_validated():
    with pytest.raises(ValueError, match="cnn_channels must be a non-empty list of positive integers"):
        make_agent(cnn_channels=())
    with pytest.raises(ValueError, match="cnn_channels must be a non-empty list of positive integers"):
        make_agent(cnn_channels=(16, 0))
    flat = spaces.Dict({"observation": spaces.Box(-1.0, 1.0, (3,), np.float32)})
    with pytest.raises(ValueError, match="random_shift=True augments a 'pixels' observation"):
        Agent(flat, spaces.Discrete(2), AgentConfig(d_model=32, n_heads=2, random_shift=True))


def test_cnn_channels_from_the_command_line_and_json(tmp_path):
    config = config_from_args(["--cnn-channels", "20", "36", "64", "--random-shift"])
    assert config.cnn_channels == (20, 36, 64) and config.random_shift is True
    path = tmp_path / "config.json"
    config.save(path)
    assert json.loads(path.read_text())["cnn_channels"] == [20, 36, 64]
    assert TrainConfig.load(path).validate().cnn_channels == (20, 36, 64)
    with pytest.raises(ValueError, match="cnn_channels must be a non-empty list of positive integers"):
        TrainConfig(cnn_channels=[16.5]).validate()


# ------------------------------------------------------------------------------------------------
# Replay: uint8 stays uint8; pixel trajectories are written compressed
# ------------------------------------------------------------------------------------------------
def pixel_trajectory(T: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"obs": {"pixels": rng.integers(0, 256, (T + 1, 3, SIDE, SIDE), dtype=np.uint8),
                    "prev_reward": rng.standard_normal((T + 1, 1)).astype(np.float32)},
            "actions": rng.integers(A, size=T), "rewards": rng.standard_normal(T), "terminals": np.arange(T) == T - 1,
            "time": np.arange(T + 1), "task": "pixels"}


def test_pixel_batches_stay_uint8_and_pixel_files_are_compressed(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=4)
    traj = pixel_trajectory(6)
    path = store.add(traj)
    with zipfile.ZipFile(path) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    np.testing.assert_array_equal(TrajectoryStore.load(path)["obs"]["pixels"], traj["obs"]["pixels"])
    batch = batch_to_torch(sample_batch(store, batch_size=3, window=4, rng=np.random.default_rng(0)))
    assert batch["obs"]["pixels"].dtype == torch.uint8 and batch["obs"]["pixels"].shape == (3, 5, 3, SIDE, SIDE)
    assert batch["obs"]["prev_reward"].dtype == torch.float32 and batch["actions"].dtype == torch.long

    flat = pixel_trajectory(3)
    del flat["obs"]["pixels"]
    with zipfile.ZipFile(store.add(flat)) as archive:  # files of envs without pixels are written as before
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
