"""Pixel observations: the IMPALA CNN, pixel scaling and DrQ-v2 random-shift augmentation.

The paper's pixel benchmarks (Multi-Game Atari, Multi-Game Procgen) encode each frame with the IMPALA
CNN (AMAGO-2 App. A, Model Architectures; channels per stage in Table 2: [16, 32, 32] for Procgen-easy
and Atari, [20, 36, 64] for Procgen memory-hard), the residual network of Espeholt et al. 2018
("IMPALA", arXiv 1802.01561, Fig. 3 right). The authors' code is ``IMPALAishCNN`` in
``amago/nets/cnn.py``, used by ``CNNTstepEncoder`` in ``amago/nets/tstep_encoders.py``.

Pixels arrive channels-first as uint8 in [0, 255], under the observation key ``"pixels"``: a
``Box(0, 255, (C, H, W), uint8)``. They stay uint8 in replay and in batches (a quarter of the memory
of float32, an eighth of int64) and become floats only here, inside the encoder:
``x / 128 - 1`` maps [0, 255] to [-1, 0.99] as the authors' ``CNN.forward`` does.

Where we differ from the authors' code, and why:
- Max-pooling pads by 1 as in Espeholt et al. (TensorFlow's "same"), so each stage halves the side
  exactly (64 -> 32 -> 16 -> 8; 84 -> 42 -> 21 -> 11); ``IMPALAishCNN`` pools without padding (64 -> 31 -> 15 -> 7).
- No GroupNorm after the residual blocks (``IMPALAishCNN`` adds ``GroupNorm(4, depth)`` by default);
  the token the encoder makes ends in a LayerNorm anyway.
- ``random_shift`` gathers pixels at clamped integer indices instead of ``grid_sample`` on a padded
  float copy: the same images (an integer shift of the replicate-padded frame), exact, on uint8, with
  no padded copy and no float conversion of the whole batch before the crop.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

#: observation key of a channels-first uint8 frame (C, H, W); the timestep encoder gives it the IMPALA CNN
PIXEL_KEY = "pixels"
#: the part of each training batch that random_shift augments: the last 75% of its sequences, as the
#: authors' ``CNNTstepEncoder(aug_pct_of_batch=0.75)``
AUGMENTED_FRACTION = 0.75
#: DrQ-v2's pad (Yarats et al. 2021, Sec. 3.1): shifts of up to 4 pixels either way
SHIFT_PAD = 4


def is_pixel_space(space: spaces.Space) -> bool:
    """A uint8 Box with three dimensions (a frame)."""
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def pixel_shape(space: spaces.Space, key: str = PIXEL_KEY) -> tuple[int, int, int]:
    """(C, H, W) of a pixel observation space; a ValueError that says what to do for anything else."""
    if not is_pixel_space(space):
        raise ValueError(f"observation key {key!r} must be a uint8 Box of shape (C, H, W) (channels-first frames "
                         f"in [0, 255]), got {space}")
    C, H, W = (int(n) for n in space.shape)
    if C > 4 and W <= 4:
        raise ValueError(f"observation key {key!r} looks channels-last {space.shape}; the encoder wants (C, H, W): "
                         "transpose frames in the env adapter (np.moveaxis(frame, -1, 0))")
    if C > 16:
        raise ValueError(f"observation key {key!r} has {C} channels ({space.shape}); expected (C, H, W) frames with "
                         "C <= 16 (3 for RGB, more for stacked frames)")
    return C, H, W


def scale_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 0.99]: x / 128 - 1 (the authors' ``CNN.forward`` in ``amago/nets/cnn.py``)."""
    return images.float() / 128.0 - 1.0


def random_shift(images: torch.Tensor, pad: int = SHIFT_PAD, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ-v2 augmentation (Yarats et al. 2021, "Mastering Visual Continuous Control", Sec. 3.1): pad each
    image by ``pad`` pixels replicating its border, then crop it back to (H, W) at an integer offset
    (dy, dx) drawn uniformly from {0, ..., 2 pad} per image.

    images (N, C, H, W), any dtype (uint8 here) -> (N, C, H, W), same dtype; ``pad=0`` returns the input.

    Replicate padding followed by a crop at (dy, dx) reads the source pixel
    ``(clamp(i + dy - pad, 0, H - 1), clamp(j + dx - pad, 0, W - 1))`` for output pixel (i, j), so the
    padded copy is never built: one ``gather`` at clamped integer indices does the whole batch, exact
    and on the original dtype (the authors' ``DrQv2Aug`` samples a padded float copy with ``grid_sample``).
    Images need not be square.
    """
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise ValueError(f"pad must be an integer >= 0, got {pad!r}")
    if images.ndim != 4:
        raise ValueError(f"random_shift expects images of shape (N, C, H, W), got {tuple(images.shape)}")
    if pad == 0:
        return images
    N, C, H, W = images.shape
    device = images.device
    shift = torch.randint(0, 2 * pad + 1, (N, 2), device=device, generator=generator) - pad  # (N, 2): (dy, dx)
    rows = (torch.arange(H, device=device) + shift[:, :1]).clamp_(0, H - 1)  # (N, H)
    cols = (torch.arange(W, device=device) + shift[:, 1:]).clamp_(0, W - 1)  # (N, W)
    index = (rows[:, :, None] * W + cols[:, None, :]).view(N, 1, H * W).expand(N, C, H * W)
    return images.reshape(N, C, H * W).gather(2, index).view(N, C, H, W)


def shift_part_of_batch(frames: torch.Tensor, fraction: float = AUGMENTED_FRACTION, pad: int = SHIFT_PAD) -> torch.Tensor:
    """random_shift on the last ``fraction`` of the sequences of a batch, every frame its own shift.

    frames (B, T, C, H, W) -> same shape and dtype. The first ceil(B (1 - fraction)) sequences are left
    as they are (capped so at least one sequence is shifted), as the authors' ``CNNTstepEncoder``: the
    network keeps seeing some frames exactly as it sees them when acting (acting never shifts).
    Each frame of a sequence gets its own offset (as ``DrQv2Aug``, which shifts every image of (B L)).
    """
    B, T = frames.shape[:2]
    clean = max(min(math.ceil(B * (1.0 - fraction)), B - 1), 0)
    shifted = random_shift(frames[clean:].reshape(-1, *frames.shape[2:]), pad).view_as(frames[clean:])
    return torch.cat([frames[:clean], shifted], dim=0)


def impala_side(side: int, stages: int) -> int:
    """Side of the feature map after ``stages`` IMPALA stages (each max-pool 3x3, stride 2, pad 1: ceil(n / 2))."""
    for _ in range(stages):
        side = (side - 1) // 2 + 1
    return side


class ResidualBlock(nn.Module):
    """x + conv(relu(conv(relu(x)))), 3x3 convolutions that keep the shape (Espeholt et al. 2018, Fig. 3)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class ImpalaStage(nn.Sequential):
    """conv 3x3 -> max-pool 3x3 stride 2 -> two residual blocks: (N, C_in, H, W) -> (N, C, ceil(H/2), ceil(W/2))."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__(nn.Conv2d(in_channels, channels, 3, padding=1), nn.MaxPool2d(3, stride=2, padding=1),
                         ResidualBlock(channels), ResidualBlock(channels))


class ImpalaCNN(nn.Module):
    """The IMPALA CNN (Espeholt et al. 2018; AMAGO-2 App. A, Model Architectures, and Table 2).

    One stage per entry of ``channels`` (paper: [16, 32, 32] for Procgen-easy and Atari, [20, 36, 64] for
    Procgen memory-hard), then relu, flatten and a linear layer to ``out_features``.

    images (N, C, H, W): uint8 in [0, 255] (scaled here by ``scale_pixels``) or float already scaled
    -> features (N, out_features). ``image_size`` (H, W) sizes the linear layer.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...] = (16, 32, 32), out_features: int = 256,
                 image_size: tuple[int, int] = (64, 64)):
        super().__init__()
        if not channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in channels):
            raise ValueError(f"channels must be a non-empty list of positive integers, got {channels!r}")
        widths = (in_channels, *channels)
        self.stages = nn.Sequential(*(ImpalaStage(a, b) for a, b in zip(widths, widths[1:])))
        H, W = (impala_side(n, len(channels)) for n in image_size)
        self.out = nn.Linear(channels[-1] * H * W, out_features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = scale_pixels(images) if images.dtype == torch.uint8 else images
        x = self.stages(x)  # (N, channels[-1], H / 2^S, W / 2^S)
        return self.out(torch.flatten(F.relu(x), 1))
