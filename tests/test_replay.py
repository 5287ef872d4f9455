"""Trajectory store and window sampler (amago_edu/replay.py; the authors' amago/loading.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from amago_edu.replay import (TrajectoryStore, batch_to_torch, equal_token_cuts, sample_batch, sample_length_groups,
                              validate_trajectory)


def make_traj(T: int, task: str = "toy", offset: int = 0, continuous: bool = False) -> dict:
    """A trajectory whose observation ``state[t] = [offset + t, 10 * (offset + t)]`` identifies t."""
    steps = offset + np.arange(T + 1)
    actions = np.stack([steps[:T], -steps[:T]], axis=1).astype(np.float32) if continuous else steps[:T] % 3
    return {
        "obs": {
            "state": np.stack([steps, 10 * steps], axis=1).astype(np.float32),
            "image": np.full((T + 1, 2, 2), 7, dtype=np.uint8),
        },
        "actions": actions,
        "rewards": 0.5 * steps[:T],  # float64 on purpose: the store converts to float32
        "terminals": np.arange(T) == T - 1,
        "time": steps.copy(),
        "task": task,
    }


def test_round_trip_keeps_values_and_canonical_dtypes(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=10)
    path = store.add(make_traj(4, task="Go To/Red Ball"))
    assert re.fullmatch(r"\d{20}_\d{6}_Go_To_Red_Ball\.npz", path.name)
    loaded = TrajectoryStore.load(path)
    assert set(loaded) == {"obs", "actions", "rewards", "terminals", "time", "task"}
    assert loaded["task"] == "Go To/Red Ball"
    np.testing.assert_array_equal(loaded["obs"]["state"][:, 0], [0, 1, 2, 3, 4])
    assert loaded["obs"]["state"].dtype == np.float32 and loaded["obs"]["image"].dtype == np.uint8
    np.testing.assert_array_equal(loaded["actions"], [0, 1, 2, 0])
    assert loaded["actions"].dtype == np.int64
    np.testing.assert_array_equal(loaded["rewards"], [0.0, 0.5, 1.0, 1.5])
    assert loaded["rewards"].dtype == np.float32
    np.testing.assert_array_equal(loaded["terminals"], [False, False, False, True])
    assert loaded["time"].dtype == np.int64
    cont = TrajectoryStore.load(store.add(make_traj(3, continuous=True)))
    assert cont["actions"].dtype == np.float32 and cont["actions"].shape == (3, 2)
    assert len(store) == 2 and store.total_steps == 7


def test_short_trajectory_is_right_padded_with_exact_masks(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=10)
    store.add(make_traj(3, task="short", offset=100))
    batch = sample_batch(store, batch_size=2, window=5, rng=np.random.default_rng(0))
    assert batch["obs"]["state"].shape == (2, 6, 2) and batch["obs"]["image"].shape == (2, 6, 2, 2)
    assert batch["tasks"] == ["short", "short"]
    for b in range(2):  # T=3 < L=5: the only start is 0
        np.testing.assert_array_equal(batch["time"][b], [100, 101, 102, 103, 0, 0])
        np.testing.assert_array_equal(batch["obs"]["state"][b, :, 1], [1000, 1010, 1020, 1030, 0, 0])
        np.testing.assert_array_equal(batch["obs"]["image"][b, :, 0, 0], [7, 7, 7, 7, 0, 0])
        np.testing.assert_array_equal(batch["obs_mask"][b], [True, True, True, True, False, False])
        np.testing.assert_array_equal(batch["mask"][b], [True, True, True, False, False])
        np.testing.assert_array_equal(batch["actions"][b], [1, 2, 0, 0, 0])  # (100, 101, 102) % 3
        np.testing.assert_array_equal(batch["rewards"][b], [50.0, 50.5, 51.0, 0, 0])
        np.testing.assert_array_equal(batch["terminals"][b], [False, False, True, False, False])


def test_long_trajectory_windows_are_contiguous_and_follow_the_rng(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=10)
    store.add(make_traj(10))
    B, L = 64, 4
    batch = sample_batch(store, batch_size=B, window=L, rng=np.random.default_rng(3))
    # Documented draw order: B file indices, then one start per row in [0, T - L].
    replay_rng = np.random.default_rng(3)
    replay_rng.integers(1, size=B)
    starts = np.array([replay_rng.integers(0, 10 - L + 1) for _ in range(B)])
    assert set(starts) == set(range(7))  # every start 0..6 occurs, including both edges
    expected_time = starts[:, None] + np.arange(L + 1)
    np.testing.assert_array_equal(batch["time"], expected_time)
    np.testing.assert_array_equal(batch["obs"]["state"][..., 0], expected_time)  # obs[t+1] follows obs[t]
    np.testing.assert_array_equal(batch["actions"], expected_time[:, :L] % 3)
    np.testing.assert_array_equal(batch["terminals"], expected_time[:, :L] == 9)
    assert batch["mask"].all() and batch["obs_mask"].all()


def test_continuous_actions_and_torch_conversion(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=10)
    store.add(make_traj(2, continuous=True))
    batch = sample_batch(store, batch_size=1, window=3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(batch["actions"][0], [[0, 0], [1, -1], [0, 0]])
    tensors = batch_to_torch(batch, "cpu")
    assert tensors["actions"].dtype == torch.float32 and tensors["actions"].shape == (1, 3, 2)
    assert tensors["obs"]["state"].dtype == torch.float32
    assert tensors["obs"]["image"].dtype == torch.uint8  # uint8 stays uint8 (pixels: 1/8 of int64's memory)
    assert tensors["time"].dtype == torch.long
    assert tensors["mask"].dtype == torch.bool and tensors["mask"].tolist() == [[True, True, False]]
    assert tensors["obs_mask"].tolist() == [[True, True, True, False]]
    assert tensors["tasks"] == ["toy"]


def test_capacity_evicts_the_oldest_files_and_reopen_resumes(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=3)
    paths = [store.add(make_traj(2, task=f"t{i}")) for i in range(5)]
    assert len(store) == 3 and store.paths() == paths[2:]
    assert not paths[0].exists() and not paths[1].exists()
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in paths[2:]}

    reopened = TrajectoryStore(tmp_path, capacity=3)
    assert reopened.paths() == paths[2:]
    batch = sample_batch(reopened, batch_size=8, window=2, rng=np.random.default_rng(0))
    assert set(batch["tasks"]) <= {"t2", "t3", "t4"}
    assert reopened.total_steps == 6
    new = reopened.add(make_traj(2, task="t5"))  # resumed store keeps FIFO order
    assert reopened.paths() == [paths[3], paths[4], new]

    smaller = TrajectoryStore(tmp_path, capacity=1)
    assert smaller.paths() == [new]


def test_corrupt_files_are_skipped_with_a_warning(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=10)
    good = store.add(make_traj(3, task="good"))
    (tmp_path / "00000000000000000001_000000_garbage.npz").write_bytes(b"not a zip file")
    truncated = tmp_path / "00000000000000000002_000000_truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    store = TrajectoryStore(tmp_path, capacity=10)
    assert len(store) == 3
    with pytest.warns(UserWarning, match="corrupt trajectory file") as record:
        batch = sample_batch(store, batch_size=16, window=2, rng=np.random.default_rng(0))
    assert batch["tasks"] == ["good"] * 16
    assert store.paths() == [good]
    messages = " ".join(str(w.message) for w in record)
    assert "garbage.npz" in messages and "truncated.npz" in messages
    assert (tmp_path / "00000000000000000001_000000_garbage.npz.corrupt").exists()
    with pytest.raises(ValueError, match="garbage.npz"):
        TrajectoryStore.load(tmp_path / "00000000000000000001_000000_garbage.npz.corrupt")


def test_leftover_tmp_file_is_ignored_and_empty_store_raises(tmp_path):
    (tmp_path / ".tmp-abc123.npz").write_bytes(b"half a file")
    store = TrajectoryStore(tmp_path, capacity=10)
    assert len(store) == 0 and store.total_steps == 0
    with pytest.raises(ValueError, match="collect some trajectories first"):
        sample_batch(store, batch_size=2, window=4, rng=np.random.default_rng(0))
    store.add(make_traj(2))
    assert len(store) == 1 and (tmp_path / ".tmp-abc123.npz").exists()


@pytest.mark.parametrize(
    "key, bad_value",
    [
        ("actions", np.zeros(4, dtype=np.int64)),
        ("rewards", np.zeros((3, 1), dtype=np.float32)),
        ("terminals", np.zeros(2, dtype=bool)),
        ("time", np.arange(3)),
    ],
)
def test_mismatched_lengths_raise_naming_the_key(tmp_path, key, bad_value):
    store = TrajectoryStore(tmp_path, capacity=10)
    traj = make_traj(3)
    traj[key] = bad_value
    with pytest.raises(ValueError, match=rf"trajectory\['{key}'\]"):
        store.add(traj)
    assert len(store) == 0 and list(tmp_path.iterdir()) == []


def test_bad_observations_and_arguments_raise(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=10)
    traj = make_traj(3)
    traj["obs"]["image"] = traj["obs"]["image"][:3]
    with pytest.raises(ValueError, match=r"\['obs'\]\['image'\]"):
        store.add(traj)
    traj = make_traj(3)
    del traj["time"]
    with pytest.raises(ValueError, match="missing key.*time"):
        store.add(traj)
    with pytest.raises(ValueError, match="capacity"):
        TrajectoryStore(tmp_path, capacity=0)
    store.add(make_traj(3))
    with pytest.raises(ValueError, match="window"):
        sample_batch(store, batch_size=2, window=0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size"):
        sample_batch(store, batch_size=0, window=2, rng=np.random.default_rng(0))


def test_trim_cuts_the_window_to_the_longest_row(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=10)
    store.add(make_traj(3))
    store.add(make_traj(5))
    full = sample_batch(store, 6, window=9, rng=np.random.default_rng(1))
    trimmed = sample_batch(store, 6, window=9, rng=np.random.default_rng(1), trim=True)
    L = int(full["mask"].sum(1).max())
    assert L == 5 and trimmed["mask"].shape == (6, 5) and trimmed["time"].shape == (6, 6)
    np.testing.assert_array_equal(trimmed["actions"], full["actions"][:, :L])
    for key in full["obs"]:
        np.testing.assert_array_equal(trimmed["obs"][key], full["obs"][key][:, : L + 1])
    assert not full["mask"][:, L:].any()


def test_equal_token_cuts_hand_computed():
    # running totals 1 2 3 4 11 18: half (9) is first reached at the 5th row, thirds (6, 12) at the 5th and 6th,
    # which would leave the last third empty, so the cuts move left: 4 | 7 | 7
    np.testing.assert_array_equal(equal_token_cuts(np.array([1, 1, 1, 1, 7, 7]), 2), [5])
    np.testing.assert_array_equal(equal_token_cuts(np.array([1, 1, 1, 1, 7, 7]), 3), [4, 5])
    np.testing.assert_array_equal(equal_token_cuts(np.array([3] * 8), 2), [4])
    np.testing.assert_array_equal(equal_token_cuts(np.array([2] * 4), 4), [1, 2, 3])
    np.testing.assert_array_equal(equal_token_cuts(np.array([1, 80]), 2), [1])
    with pytest.raises(ValueError, match="3 rows into 4 groups"):
        equal_token_cuts(np.array([1, 2, 3]), 4)


def test_length_groups_use_the_same_windows_sorted_by_length_each_trimmed(tmp_path):
    store = TrajectoryStore(tmp_path, capacity=10)
    for T in (1, 2, 3, 8, 9):
        store.add(make_traj(T, offset=100 * T))  # state[0, 0] = 100 T names the trajectory
    single = sample_length_groups(store, 5, window=9, rng=np.random.default_rng(4), groups=1)
    reference = sample_batch(store, 5, window=9, rng=np.random.default_rng(4), trim=True)
    assert len(single) == 1 and single[0].keys() == reference.keys() and single[0]["tasks"] == reference["tasks"]
    for key in ("actions", "rewards", "terminals", "time", "obs_mask", "mask"):
        np.testing.assert_array_equal(single[0][key], reference[key])
    for key in reference["obs"]:
        np.testing.assert_array_equal(single[0]["obs"][key], reference["obs"][key])

    pool = sample_batch(store, 4 * 3, window=9, rng=np.random.default_rng(5))
    batches = sample_length_groups(store, 4, window=9, rng=np.random.default_rng(5), groups=3)
    assert len(batches) == 3
    key = lambda b, i: (int(b["obs"]["state"][i, 0, 0]), int(b["mask"][i].sum()))  # noqa: E731
    drawn = sorted(key(pool, i) for i in range(12))
    assert sorted(key(b, i) for b in batches for i in range(len(b["mask"]))) == drawn  # the same 12 windows
    runs = sorted(batches, key=lambda b: b["mask"].sum(1).min())
    for shorter, longer in zip(runs, runs[1:]):
        assert shorter["mask"].sum(1).max() <= longer["mask"].sum(1).min()  # consecutive runs of lengths
    lengths = np.array([n for _, n in drawn])
    expected = [part.sum() for part in np.split(lengths, equal_token_cuts(lengths, 3))]
    assert sorted(int(b["mask"].sum()) for b in runs) == sorted(int(x) for x in expected)
    by_window = {key(pool, i): i for i in range(12)}  # rows of the pool, found again in the batches
    for b in batches:
        L = int(b["mask"].sum(1).max())
        assert b.keys() == pool.keys() and b["obs"].keys() == pool["obs"].keys() and len(b["tasks"]) == len(b["mask"])
        for row in range(len(b["mask"])):
            i = by_window[key(b, row)]
            for name in ("actions", "rewards", "terminals", "mask"):
                np.testing.assert_array_equal(b[name][row], pool[name][i, :L])
            for name in ("time", "obs_mask"):
                np.testing.assert_array_equal(b[name][row], pool[name][i, : L + 1])
            for name in pool["obs"]:
                np.testing.assert_array_equal(b["obs"][name][row], pool["obs"][name][i, : L + 1])
            assert b["tasks"][row] == pool["tasks"][i]
        assert not pool["mask"][[by_window[key(b, row)] for row in range(len(b["mask"]))], L:].any()  # cut padding only
    with pytest.raises(ValueError, match="groups must be an integer >= 1"):
        sample_length_groups(store, 4, window=9, rng=np.random.default_rng(0), groups=0)


def test_cache_bytes_bound_memory_and_dropped_trajectories_are_read_back(tmp_path):
    one = TrajectoryStore._nbytes(validate_trajectory(make_traj(10)))
    store = TrajectoryStore(tmp_path, capacity=10, cache_bytes=2 * one)  # room for two 10-step trajectories
    paths = [store.add(make_traj(10, offset=i)) for i in range(4)]
    assert store.cached_bytes == 2 * one and list(store._cache) == paths[2:]  # the two most recent
    first = store.get(paths[0])  # read from disk, now the most recently used: paths[2] leaves memory
    np.testing.assert_array_equal(first["rewards"], validate_trajectory(make_traj(10, offset=0))["rewards"])
    assert list(store._cache) == [paths[3], paths[0]] and store.cached_bytes == 2 * one
    store.get(paths[3])
    assert list(store._cache) == [paths[0], paths[3]]  # a hit moves to the recent end
    nothing = TrajectoryStore(tmp_path / "none", capacity=10, cache_bytes=0)
    nothing.add(make_traj(5))
    assert nothing.cached_bytes == 0 and len(nothing) == 1
    with pytest.raises(ValueError, match="cache_bytes"):
        TrajectoryStore(tmp_path / "bad", capacity=10, cache_bytes=-1)
