"""On-disk trajectory store and the random-window sampler (the authors' ``amago/loading.py``).

Every finished trial (or chunk of one) is one ``.npz`` file. Files are written under a
temporary ``.tmp-`` name and renamed, so a crash never leaves half a file; the oldest files
are deleted beyond ``capacity`` (FIFO, as AMAGO's ``dset_max_size``). The sampler picks a
uniformly random file and a uniformly random window of ``window`` transitions in it, pads on
the right with zeros and returns *explicit* boolean masks instead of AMAGO's padding sentinel
(the authors' ``amago/loading.py`` infers the mask from a padding value in the observations).

A trajectory with T transitions is a dict of numpy arrays::

    obs        {key: (T+1, ...)}   observations s_0 .. s_T (the final one included)
    actions    (T,) int64 | (T, A) float32
    rewards    (T,) float32        the optimised reward r_t (after reward scaling / warm-up zeroing)
    terminals  (T,) bool           True only where the trial really ended (no bootstrap)
    time       (T+1,) int64        step index within the trial of each observation
    task       str                 task name, for logging only

Compression: trajectories with a ``"pixels"`` observation are written with ``np.savez_compressed``,
the others with ``np.savez``: game frames shrink by one to two orders of magnitude for a few milliseconds more per
file, cheap next to collecting the trial, while a file of a few floats per step gains little and takes several
times longer to write.
``np.load`` reads both kinds.
"""

from __future__ import annotations

import bisect
import re
import time
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from .pixels import PIXEL_KEY
from .utils import atomic_path

_OBS_PREFIX = "obs/"
_ARRAY_KEYS = ("actions", "rewards", "terminals", "time")


def _task_for_filename(task: str) -> str:
    """Keep file names portable: anything but letters, digits, ``-`` and ``_`` becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", task)[:64] or "task"


def validate_trajectory(traj: dict) -> dict:
    """Check shapes and return a copy with canonical dtypes; raise ``ValueError`` naming the bad key.

    Canonical dtypes: rewards float32, terminals bool, time int64, integer actions int64,
    float actions float32; observations keep the dtype the environment gave them.
    """
    if not isinstance(traj, dict):
        raise ValueError(f"trajectory must be a dict, got {type(traj).__name__}")
    missing = [k for k in ("obs", *_ARRAY_KEYS, "task") if k not in traj]
    if missing:
        raise ValueError(
            f"trajectory is missing key(s) {missing}; expected obs, actions, rewards, terminals, time, task"
        )
    if not isinstance(traj["task"], str):
        raise ValueError(f"trajectory['task'] must be a str, got {type(traj['task']).__name__}")
    if not isinstance(traj["obs"], dict) or not traj["obs"]:
        raise ValueError("trajectory['obs'] must be a non-empty dict {key: array (T+1, ...)}")

    rewards = np.asarray(traj["rewards"], dtype=np.float32)
    if rewards.ndim != 1 or len(rewards) < 1:
        raise ValueError(f"trajectory['rewards'] must have shape (T,) with T >= 1, got {rewards.shape}")
    T = len(rewards)

    actions = np.asarray(traj["actions"])
    if actions.ndim not in (1, 2) or len(actions) != T:
        raise ValueError(f"trajectory['actions'] must have shape (T,) or (T, A) with T={T}, got {actions.shape}")
    if np.issubdtype(actions.dtype, np.integer):
        actions = actions.astype(np.int64)
    elif np.issubdtype(actions.dtype, np.floating):
        actions = actions.astype(np.float32)
    else:
        raise ValueError(f"trajectory['actions'] must be integer or float, got dtype {actions.dtype}")

    terminals = np.asarray(traj["terminals"])
    if terminals.shape != (T,):
        raise ValueError(f"trajectory['terminals'] must have shape (T,)=({T},), got {terminals.shape}")
    time_index = np.asarray(traj["time"])
    if time_index.shape != (T + 1,):
        raise ValueError(f"trajectory['time'] must have shape (T+1,)=({T + 1},), got {time_index.shape}")

    obs = {}
    for key, value in traj["obs"].items():
        value = np.asarray(value)
        if value.ndim < 1 or len(value) != T + 1:
            raise ValueError(
                f"trajectory['obs'][{key!r}] must have T+1={T + 1} rows (one per observation), got shape {value.shape}"
            )
        if value.dtype == object:
            raise ValueError(f"trajectory['obs'][{key!r}] has dtype object; store numeric arrays only")
        obs[str(key)] = value
    return {
        "obs": obs,
        "actions": actions,
        "rewards": rewards,
        "terminals": terminals.astype(bool),
        "time": time_index.astype(np.int64),
        "task": traj["task"],
    }


class TrajectoryStore:
    """A FIFO folder of trajectory files with an in-memory cache (as the authors' ``amago/loading.py``).

    File names are ``{unix_time_ns:020d}_{counter:06d}_{task}.npz``, so lexical order is age
    order and re-opening the folder (resume) recovers the FIFO order. ``.tmp-*`` files (writes
    interrupted by a crash) are ignored. A file that cannot be read is skipped with a warning
    and renamed to ``*.corrupt`` so it is never read again.

    ``cache_bytes`` bounds the memory the cache may hold (``None``: every trajectory stays in memory once read or
    written, fine for state-vector envs); beyond it the least recently used trajectories are dropped from memory
    (not from disk) and read again from their files when sampled. Pixel envs need it: one 1,000-step trial of
    84x84 RGB frames is 21 MB.
    """

    def __init__(self, directory: str | Path, capacity: int, cache_bytes: int | None = None):
        if not isinstance(capacity, (int, np.integer)) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(
                f"capacity must be an integer >= 1 (maximum number of trajectory files), got {capacity!r}"
            )
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.capacity = int(capacity)
        if cache_bytes is not None and (not isinstance(cache_bytes, (int, np.integer)) or cache_bytes < 0):
            raise ValueError(f"cache_bytes must be None or an integer >= 0, got {cache_bytes!r}")
        self.cache_bytes = cache_bytes
        self._cached_bytes = 0
        self._counter = 0
        self._last_time_ns = 0
        self._cache: OrderedDict[Path, dict] = OrderedDict()  # least recently used first
        self._paths: list[Path] = []
        self.refresh()
        self._evict()

    # ---- index -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-scan the folder (e.g. after another process wrote files)."""
        found = sorted(p for p in self.directory.glob("*.npz") if not p.name.startswith(".tmp-"))
        self._paths = found
        keep = set(found)
        for path in [p for p in self._cache if p not in keep]:
            self._uncache(path)

    def __len__(self) -> int:
        return len(self._paths)

    def paths(self) -> list[Path]:
        """Stored files, oldest first."""
        return list(self._paths)

    @property
    def total_steps(self) -> int:
        """Transitions stored. Files not yet loaded count as the mean length of loaded ones (approximate)."""
        if not self._paths:
            return 0
        lengths = [len(t["rewards"]) for t in self._cache.values()]
        if not lengths:
            return 0
        unknown = len(self._paths) - len(lengths)
        return int(sum(lengths) + unknown * (sum(lengths) / len(lengths)))

    # ---- write -------------------------------------------------------------------------------
    def add(self, traj: dict) -> Path:
        """Validate, write atomically, cache, and evict the oldest files beyond ``capacity``."""
        traj = validate_trajectory(traj)
        # Strictly increasing timestamps keep lexical order == age order even if the clock stalls.
        now = max(time.time_ns(), self._last_time_ns + 1)
        self._last_time_ns = now
        self._counter = (self._counter + 1) % 1_000_000
        path = self.directory / f"{now:020d}_{self._counter:06d}_{_task_for_filename(traj['task'])}.npz"
        arrays = {_OBS_PREFIX + k: v for k, v in traj["obs"].items()}
        arrays.update({k: traj[k] for k in _ARRAY_KEYS})
        arrays["task"] = np.array(traj["task"])
        save = np.savez_compressed if PIXEL_KEY in traj["obs"] else np.savez  # why: the module docstring
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:  # a file object, so numpy does not append another ".npz"
                save(f, **arrays)
        bisect.insort(self._paths, path)
        self._remember(path, traj)
        self._evict()
        return path

    def _evict(self) -> None:
        while len(self._paths) > self.capacity:
            oldest = self._paths.pop(0)
            self._uncache(oldest)
            oldest.unlink(missing_ok=True)

    # ---- the in-memory cache --------------------------------------------------------------------
    @staticmethod
    def _nbytes(traj: dict) -> int:
        return sum(v.nbytes for v in traj["obs"].values()) + sum(traj[k].nbytes for k in _ARRAY_KEYS)

    def _remember(self, path: Path, traj: dict) -> None:
        self._uncache(path)
        self._cache[path] = traj
        self._cached_bytes += self._nbytes(traj)
        while self.cache_bytes is not None and self._cached_bytes > self.cache_bytes and self._cache:
            self._uncache(next(iter(self._cache)))  # the least recently used

    def _uncache(self, path: Path) -> None:
        traj = self._cache.pop(path, None)
        if traj is not None:
            self._cached_bytes -= self._nbytes(traj)

    @property
    def cached_bytes(self) -> int:
        """Bytes of trajectories held in memory now."""
        return self._cached_bytes

    # ---- read --------------------------------------------------------------------------------
    @staticmethod
    def load(path: str | Path) -> dict:
        """Read one file; raise ``ValueError`` naming the file if it is corrupt or incomplete."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                obs = {k[len(_OBS_PREFIX):]: data[k] for k in data.files if k.startswith(_OBS_PREFIX)}
                traj = {"obs": obs, **{k: data[k] for k in _ARRAY_KEYS}, "task": str(data["task"])}
        except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as err:
            raise ValueError(f"trajectory file {path} is unreadable ({type(err).__name__}: {err})") from err
        return validate_trajectory(traj)

    def get(self, path: Path) -> dict | None:
        """Cached ``load``; a corrupt file is warned about, renamed ``*.corrupt`` and dropped (returns None)."""
        traj = self._cache.get(path)
        if traj is not None:
            self._cache.move_to_end(path)  # recently used
            return traj
        try:
            traj = self.load(path)
        except ValueError as err:
            self._drop_corrupt(path, err)
            return None
        if path in self._paths:  # do not cache files this store does not index
            self._remember(path, traj)
        return traj

    def _drop_corrupt(self, path: Path, err: Exception) -> None:
        if path in self._paths:
            self._paths.remove(path)
        self._uncache(path)
        try:
            path.rename(path.with_name(path.name + ".corrupt"))
            where = f"renamed to {path.name}.corrupt"
        except OSError:
            where = "left in place"
        warnings.warn(f"skipping corrupt trajectory file {path} ({where}): {err}", stacklevel=3)


def sample_batch(store: TrajectoryStore, batch_size: int, window: int, rng: np.random.Generator,
                 trim: bool = False) -> dict:
    """Sample B windows of L = ``window`` transitions (as the authors' ``amago/loading.py``).

    Each row picks a uniformly random file, then a start uniform in [0, max(0, T - L)], and copies
    transitions start .. start+n-1 (n = min(L, T - start)) and observations start .. start+n,
    right-padded with zeros. Returns numpy arrays::

        obs        {key: (B, L+1, ...)}
        actions    (B, L) int64 | (B, L, A) float32
        rewards    (B, L) float32
        terminals  (B, L) bool
        time       (B, L+1) int64
        obs_mask   (B, L+1) bool   observation s_t exists
        mask       (B, L) bool     transition t exists: a_t, r_t and s_{t+1} (the action a_t exists)
        tasks      list[str] of length B

    The rng draws the B file indices first, then one start per row, so a seed fixes the batch.
    With ``trim=True`` the time axis is cut to the longest row (L becomes max n), so a batch of short
    trials does not pay for a full window of padding (results are identical: padding is masked).
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an integer >= 1 (transitions per sequence), got {window!r}")
    B, L = int(batch_size), int(window)

    trajs = []
    while len(trajs) < B:
        paths = store.paths()
        if not paths:
            raise ValueError(f"the trajectory store at {store.directory} is empty: collect some trajectories first")
        for i in rng.integers(len(paths), size=B - len(trajs)):
            traj = store.get(paths[i])
            if traj is None:  # corrupt file, now dropped from the index: redraw the remaining rows
                break
            trajs.append(traj)

    first = trajs[0]
    obs = {k: np.zeros((B, L + 1, *v.shape[1:]), dtype=v.dtype) for k, v in first["obs"].items()}
    actions = np.zeros((B, L, *first["actions"].shape[1:]), dtype=first["actions"].dtype)
    rewards = np.zeros((B, L), dtype=np.float32)
    terminals = np.zeros((B, L), dtype=bool)
    time_index = np.zeros((B, L + 1), dtype=np.int64)
    obs_mask = np.zeros((B, L + 1), dtype=bool)
    mask = np.zeros((B, L), dtype=bool)

    for b, traj in enumerate(trajs):
        if traj["obs"].keys() != obs.keys() or traj["actions"].shape[1:] != actions.shape[2:]:
            raise ValueError(
                f"trajectories in {store.directory} have different observation keys or action shapes "
                f"({sorted(traj['obs'])} vs {sorted(obs)}); use one store per observation/action space"
            )
        T = len(traj["rewards"])
        start = int(rng.integers(0, max(0, T - L) + 1))
        n = min(L, T - start)
        for k, v in traj["obs"].items():
            obs[k][b, : n + 1] = v[start : start + n + 1]
        actions[b, :n] = traj["actions"][start : start + n]
        rewards[b, :n] = traj["rewards"][start : start + n]
        terminals[b, :n] = traj["terminals"][start : start + n]
        time_index[b, : n + 1] = traj["time"][start : start + n + 1]
        obs_mask[b, : n + 1] = True
        mask[b, :n] = True

    batch = {
        "obs": obs,
        "actions": actions,
        "rewards": rewards,
        "terminals": terminals,
        "time": time_index,
        "obs_mask": obs_mask,
        "mask": mask,
        "tasks": [t["task"] for t in trajs],
    }
    return _rows(batch, np.arange(B)) if trim else batch


#: batch keys with one entry per observation (L + 1 along time); the others (but "tasks") have one per transition (L)
_OBSERVATION_KEYS = ("obs", "time", "obs_mask")


def _rows(batch: dict, rows: np.ndarray) -> dict:
    """The batch's rows ``rows``, cut to the longest of them (observations L + 1, transitions L)."""
    L = int(batch["mask"][rows].sum(1).max())
    cut = {}
    for key, value in batch.items():
        if key == "tasks":
            cut[key] = [value[i] for i in rows]
        elif key == "obs":
            cut[key] = {k: v[rows, : L + 1] for k, v in value.items()}
        else:
            cut[key] = value[rows, : L + 1 if key in _OBSERVATION_KEYS else L]
    return cut


def sample_length_groups(store: TrajectoryStore, batch_size: int, window: int, rng: np.random.Generator,
                         groups: int) -> list[dict]:
    """``groups`` batches from one draw of ``groups x batch_size`` windows, grouped by length.

    ``sample_batch(trim=True)`` cuts a batch to its longest row, so a batch that mixes short and long
    trials is mostly padding: in a 10-minute frozen-lake run's replay the trials are 27 steps on average,
    but the longest of 24 is 58 on average. Here the windows are sorted by length and cut into ``groups``
    consecutive runs of about equal *token* count (more rows where they are short, fewer where they are
    long), each trimmed to its own longest row, and returned in a random order. Every window is drawn as
    ``sample_batch`` draws it, and each batch holds about as many valid transitions as a mixed batch of
    ``batch_size`` would, so a masked-mean loss weighs every transition about as it would there. What
    changes is which windows share an update: consecutive updates each see one band of lengths (in a
    mixture whose games differ in length, of games) instead of a mix. ``groups=1`` is
    ``[sample_batch(..., trim=True)]`` (same draws).
    """
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"groups must be an integer >= 1, got {groups!r}")
    if groups == 1:
        return [sample_batch(store, batch_size, window, rng, trim=True)]
    pool = sample_batch(store, batch_size * groups, window, rng)
    lengths = pool["mask"].sum(1)
    order = np.argsort(lengths, kind="stable")
    batches = [_rows(pool, rows) for rows in np.split(order, equal_token_cuts(lengths[order], groups))]
    return [batches[i] for i in rng.permutation(groups)]


def equal_token_cuts(sorted_lengths: np.ndarray, groups: int) -> np.ndarray:
    """Where to cut rows of ascending lengths into ``groups`` consecutive runs of about equal total length.

    Cut i falls after the row at which the running total first reaches (i + 1) / groups of the whole;
    every run keeps at least one row. Returns the ``groups - 1`` indices for ``np.split``.
    """
    n = len(sorted_lengths)
    if n < groups:
        raise ValueError(f"cannot cut {n} rows into {groups} groups")
    cumulative = np.cumsum(sorted_lengths)
    cuts = np.searchsorted(cumulative, cumulative[-1] * np.arange(1, groups) / groups) + 1
    cuts = np.clip(cuts, np.arange(1, groups), np.arange(n - groups + 1, n))  # room for a row on either side
    for i in range(1, groups - 1):  # strictly increasing, still within those bounds
        cuts[i] = max(cuts[i], cuts[i - 1] + 1)
    return cuts


def _to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if array.dtype == bool:
        dtype = torch.bool
    elif array.dtype == np.uint8:  # pixels and grid codes: 1 byte each, made float inside the encoder
        dtype = torch.uint8
    elif np.issubdtype(array.dtype, np.floating):
        dtype = torch.float32
    elif np.issubdtype(array.dtype, np.integer):
        dtype = torch.long
    else:
        raise TypeError(f"cannot convert a batch array of dtype {array.dtype} to a tensor")
    return tensor.to(device=device, dtype=dtype)


def batch_to_torch(batch: dict, device: str | torch.device = "cpu") -> dict:
    """Numpy batch from ``sample_batch`` -> tensors on ``device`` (float32 floats, long ints, bool masks;
    uint8 stays uint8, so a batch of frames is not 8x larger as int64).

    ``obs`` stays a dict of tensors; ``tasks`` (strings) is passed through unchanged.
    """
    out = {}
    for key, value in batch.items():
        if key == "obs":
            out[key] = {k: _to_tensor(v, device) for k, v in value.items()}
        elif key == "tasks":
            out[key] = list(value)
        else:
            out[key] = _to_tensor(value, device)
    return out
