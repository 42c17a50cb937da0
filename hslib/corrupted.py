"""Corrupted datasets for corruption training, cached on disk in the RobustBench layout.

For a split of a dataset, `<cache>/corrupted/<dataset>-<split>-<hash>/<name>.npy` holds the whole split under
one corruption, uint8 NHWC, severities 1…6 stacked (rows s·N … (s+1)·N − 1 are severity s + 1; the real
CIFAR-10-C / CIFAR-100-C files stack 1…5 the same way), with `labels.npy` and `provenance.json` beside it.

Corruption training (docs/design.md#corruptions) gives every image ONE corruption drawn from the run's set with a fixed
seed (per split, independent of the run seed), at the run's severity, for train, val and test alike. When
the real CIFAR-10-C / CIFAR-100-C folder is under the data root, the test split is taken from it instead
(`corruption_source` = "real ..."), the same draw deciding which corruption each test image gets.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from . import store
from .data import _cache_dir, _seed, data_root
from .corruptions import corrupt
from .data import load_dataset

LEVELS = 6  # severities stacked in a generated file (1…5 from the benchmarks, 6 extrapolated)
ASSIGN_SEED = 0
REAL_FOLDERS = {"cifar10": "CIFAR-10-C", "cifar100": "CIFAR-100-C"}


def _hash(images: torch.Tensor, labels: torch.Tensor) -> str:
    h = hashlib.sha256(images.numpy().tobytes())
    h.update(labels.numpy().tobytes())
    return h.hexdigest()[:12]


def split_dir(dataset: str, split: str, images, labels, cache=None) -> Path:
    return Path(cache or _cache_dir()) / "corrupted" / f"{dataset}-{split}-{_hash(images, labels)}"


def read_layout(folder, name: str, n: int, levels: int) -> np.ndarray | None:
    """<name>.npy of a RobustBench-layout folder as uint8 (levels, N, H, W, C), or None if absent/damaged."""
    try:
        arr = np.load(Path(folder) / f"{name}.npy", mmap_mode="r")
    except (OSError, ValueError):
        return None
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[0] != levels * n:
        return None
    return arr.reshape(levels, n, *arr.shape[1:])


def write_layout(folder, name: str, stacked: np.ndarray, labels: np.ndarray):
    """Write <name>.npy (severities stacked, NHWC uint8) and labels.npy atomically."""
    for fname, arr in ((f"{name}.npy", stacked), ("labels.npy", labels)):
        store.write_npy(Path(folder) / fname, arr)


def corrupted_split(dataset: str, split: str, images: torch.Tensor, labels: torch.Tensor, name: str,
                    cache=None) -> np.ndarray:
    """The split under corruption `name` at every severity: uint8 (LEVELS, N, H, W, C), built once and cached."""
    folder = split_dir(dataset, split, images, labels, cache)
    arr = read_layout(folder, name, len(labels), LEVELS)
    if arr is not None:
        return arr
    folder.mkdir(parents=True, exist_ok=True)
    with store.run_lock(folder):  # parallel runs needing the same file: one builds it, the others wait
        arr = read_layout(folder, name, len(labels), LEVELS)
        if arr is None:
            _build(dataset, split, images, labels, name, folder)
    return read_layout(folder, name, len(labels), LEVELS)


def _build(dataset, split, images, labels, name, folder):

    blocks = [corrupt(images, name, s, seed=_seed(dataset, split, name, s) % 2**31).permute(0, 2, 3, 1).numpy()
              for s in range(1, LEVELS + 1)]
    write_layout(folder, name, np.concatenate(blocks), np.tile(labels.numpy(), LEVELS))
    store.write_json(folder / "provenance.json", {
        "dataset": dataset, "split": split, "n": int(len(labels)), "severities": list(range(1, LEVELS + 1)),
        "generator": "hslib.corruptions", "layout": "RobustBench: <name>.npy uint8 NHWC, severities stacked"})


def assignment(n: int, names, split: str) -> np.ndarray:
    """Which corruption (index into `names`) each of n images gets: fixed per split, not per run."""
    return np.random.RandomState(_seed(ASSIGN_SEED, split, tuple(names)) % 2**31).randint(len(names), size=n)


def mixed(dataset, split, images, labels, names, severity, cache=None) -> torch.Tensor:
    """Every image under its one assigned corruption at `severity`: uint8 N×C×H×W."""
    which = assignment(len(labels), names, split)
    out = images.clone()
    for k, name in enumerate(names):
        sel = np.flatnonzero(which == k)
        if len(sel):
            arr = corrupted_split(dataset, split, images, labels, name, cache)[severity - 1]
            out[torch.from_numpy(sel)] = torch.from_numpy(np.ascontiguousarray(arr[sel])).permute(0, 3, 1, 2)
    return out


def real_folder(dataset: str, root=None) -> Path | None:
    """The real CIFAR-10-C / CIFAR-100-C folder under the data root, if present."""
    name = REAL_FOLDERS.get(dataset)
    if name is None:
        return None
    folder = data_root(root) / name
    return folder if (folder / "labels.npy").exists() else None


def real_test(dataset, test_labels, names, severity, root=None):
    """The test split from the real files (one assigned corruption per image), or None if unavailable."""
    folder = real_folder(dataset, root)
    if folder is None or severity > 5:
        return None
    n = len(test_labels)
    labels = np.load(folder / "labels.npy")
    if len(labels) != 5 * n or not np.array_equal(labels[:n], test_labels.numpy()):
        raise ValueError(f"{folder}/labels.npy does not match the {dataset} test split ({n} images × 5 severities)")
    which = assignment(n, names, "test")
    out = torch.empty((n, 3, 32, 32), dtype=torch.uint8)
    for k, name in enumerate(names):
        arr = read_layout(folder, name, n, 5)
        if arr is None:
            raise FileNotFoundError(f"{folder / (name + '.npy')} is missing or not 5×{n} uint8 NHWC images")
        sel = np.flatnonzero(which == k)
        out[torch.from_numpy(sel)] = torch.from_numpy(np.ascontiguousarray(arr[severity - 1][sel])).permute(0, 3, 1, 2)
    return out


def experiment_splits(cfg, xtr, xva, test):
    """(train, val, (test images, labels), source) corrupted as the run asks."""
    names, sev, root = cfg.corruptions, cfg.severity, cfg.data_root or None

    # The train/val images passed in are the full splits; their labels key the cache (label noise excluded).
    _, ytr = load_dataset(cfg.dataset, root, "train")
    _, yva = load_dataset(cfg.dataset, root, "val")
    xtr_c = mixed(cfg.dataset, "train", xtr, ytr, names, sev)
    xva_c = mixed(cfg.dataset, "val", xva, yva, names, sev)
    real = real_test(cfg.dataset, test[1], names, sev, root)
    if real is not None:
        return xtr_c, xva_c, (real, test[1]), f"real {REAL_FOLDERS[cfg.dataset]}"
    return xtr_c, xva_c, (mixed(cfg.dataset, "test", *test, names, sev), test[1]), "generated (hslib.corruptions)"
