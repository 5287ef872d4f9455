"""Held-out splits: every env family keeps the variants it evaluates on apart from those it trains on.

``make_env(spec, split="train" | "test")`` passes the split to the family, and the training loop
evaluates on ``TrainConfig.eval_split`` ("test" by default). What a split means is the family's own:

| family | "train" | "test" |
|---|---|---|
| ``toy/meta_frozen_lake`` | maps with holes whose layout hash is not 0 mod 4 | the other quarter of them (the map without holes: both) |
| ``toy/tmaze`` | no variants beyond the cue, which every trial redraws | the same |
| ``popgym/...`` | no levels: the games differ only by their seeds | the same |
| ``babyai/...`` | level seeds ``TRAIN_SEEDS`` = [0, 5000) | ``EVAL_SEEDS`` = [5000, 10**6) |
| ``metaworld/...`` | ML1: training variants; ML10/ML45: training families | held-out variants / families |
| ``atari/...`` | no held-out levels: seeds and sticky actions differ | the same |
| ``procgen/...`` | training level seeds | unseen level seeds |
"""

from __future__ import annotations

SPLITS = ("train", "test")


def check_split(split) -> str:
    """``split`` itself if it is one of :data:`SPLITS`, else a ValueError naming the choices."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} (training variants or held-out ones), got {split!r}")
    return split
