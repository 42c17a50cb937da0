"""Corrupted datasets for corruption training, cached on disk in the RobustBench layout.

For a split of a dataset, `<cache>/corrupted/<dataset>-<split>-<hash>-s<SEMANTICS>/<name>.npy` (with its checksum
file) holds the whole split under one corruption, uint8 NHWC, severities 1…6 stacked (rows s·N … (s+1)·N − 1 are
severity s + 1; the real CIFAR-10-C / CIFAR-100-C files stack 1…5 the same way), with `labels.npy` and
`provenance.json` beside it. A file that does not match its checksum is built again.

Corruption training (docs/design.md#corruptions) gives every image ONE corruption drawn from the run's set with a fixed
seed (per split, independent of the run seed), at the run's severity, for train, val and test alike. When
the real CIFAR-10-C / CIFAR-100-C / Tiny-ImageNet-C folder is under the data root, the test split is taken from it
instead (`corruption_source` = "real <folder>"), the same draw deciding which corruption each test image gets. The
real data has severities 1…5 only: at severity 6 the test split is generated, and the source says why.

Tiny-ImageNet-C keeps the official layout, `Tiny-ImageNet-C/<corruption>/<severity>/<wnid>/<val file name>`: test
image i (val/images/<file i>, listed in val_annotations.txt under <wnid i>) is matched by file name to
`<corruption>/<severity>/<wnid i>/<file i>`. Extra wnid folders (the full 200 classes beside a class subset) are
ignored. The decoded JPEGs are cached, one `.npy` (uint8 NHWC, the whole split) per corruption and severity,
keyed by the folder and every file's size and mtime, so a changed, removed or damaged file is read again.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from . import store
from .data import _cache_dir, data_root, tinyimagenet_test_files
from .files import checked_problem, read_npy_checked, write_npy_checked
from .seeds import derive_seed
from .corruptions import corrupt
from .data import load_dataset

LEVELS = 6  # severities stacked in a generated file (1…5 from the benchmarks, 6 extrapolated)
ASSIGN_SEED = 0
REAL_FOLDERS = {"cifar10": "CIFAR-10-C", "cifar100": "CIFAR-100-C", "tinyimagenet": "Tiny-ImageNet-C"}
REAL_LEVELS = 5  # severities in the real benchmark files
TINY_SIZE = 64


def _hash(images: torch.Tensor, labels: torch.Tensor) -> str:
    from .data import content_hash  # the one data hash (scores' provenance uses it too)

    return content_hash(images, labels, 12)


def split_dir(dataset: str, split: str, images, labels, cache=None) -> Path:
    from . import config

    # The semantics version is part of the key: a change to the corruption code makes new files, never reuses old.
    key = f"{_hash(images, labels)}-s{config.SEMANTICS}"
    return Path(cache or _cache_dir()) / "corrupted" / f"{dataset}-{split}-{key}"


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
    """Write <name>.npy (severities stacked, NHWC uint8) and labels.npy atomically, each with its checksum."""
    for fname, arr in ((f"{name}.npy", stacked), ("labels.npy", labels)):
        write_npy_checked(Path(folder) / fname, arr)


def _read_cached(folder, name: str, n: int, levels: int) -> np.ndarray | None:
    """read_layout of a file this module generated, only if it matches its checksum (else: rebuild it)."""
    if checked_problem(Path(folder) / f"{name}.npy") is not None:
        return None
    return read_layout(folder, name, n, levels)


def corrupted_split(dataset: str, split: str, images: torch.Tensor, labels: torch.Tensor, name: str,
                    cache=None) -> np.ndarray:
    """The split under corruption `name` at every severity: uint8 (LEVELS, N, H, W, C), built once and cached."""
    folder = split_dir(dataset, split, images, labels, cache)
    arr = _read_cached(folder, name, len(labels), LEVELS)
    if arr is not None:
        return arr
    folder.mkdir(parents=True, exist_ok=True)
    with store.run_lock(folder):  # parallel runs needing the same file: one builds it, the others wait
        arr = _read_cached(folder, name, len(labels), LEVELS)
        if arr is None:
            _build(dataset, split, images, labels, name, folder)
    arr = _read_cached(folder, name, len(labels), LEVELS)
    if arr is None:
        raise OSError(f"{folder / (name + '.npy')}: just built, but it does not read back as it was written "
                      "(a failing disk?)")
    return arr


def _build(dataset, split, images, labels, name, folder):
    from . import config

    blocks = [corrupt(images, name, s, seed=derive_seed(dataset, split, name, s) % 2**31).permute(0, 2, 3, 1).numpy()
              for s in range(1, LEVELS + 1)]
    write_layout(folder, name, np.concatenate(blocks), np.tile(labels.numpy(), LEVELS))
    store.write_json(folder / "provenance.json", {
        "dataset": dataset, "split": split, "n": int(len(labels)), "severities": list(range(1, LEVELS + 1)),
        "generator": "hslib.corruptions", "layout": "RobustBench: <name>.npy uint8 NHWC, severities stacked",
        "semantics": config.SEMANTICS})


def assignment(n: int, names, split: str) -> np.ndarray:
    """Which corruption (index into `names`) each of n images gets: fixed per split, not per run."""
    return np.random.RandomState(derive_seed(ASSIGN_SEED, split, tuple(names)) % 2**31).randint(len(names), size=n)


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
    """The real CIFAR-10-C / CIFAR-100-C / Tiny-ImageNet-C folder under the data root, if present."""
    name = REAL_FOLDERS.get(dataset)
    if name is None:
        return None
    folder = data_root(root) / name
    present = folder.is_dir() if dataset == "tinyimagenet" else (folder / "labels.npy").exists()
    return folder if present else None


def real_test(dataset, test_labels, names, severity, root=None):
    """The test split from the real files (one assigned corruption per image), or None if unavailable."""
    folder = real_folder(dataset, root)
    if folder is None or severity > REAL_LEVELS:
        return None
    if dataset == "tinyimagenet":
        return _real_tiny_test(folder, test_labels, names, severity, root)
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


def _decode(path: Path, listed_by: Path) -> np.ndarray:
    """One real Tiny-ImageNet-C JPEG as uint8 H×W×3 (greyscale replicated to RGB)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing (the test image of that name is listed by {listed_by})") from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated, damaged or not an image
        raise ValueError(f"{path}: damaged or not a readable JPEG ({type(e).__name__}: {e})") from None
    if arr.shape != (TINY_SIZE, TINY_SIZE, 3):
        raise ValueError(f"{path}: a {arr.shape[1]}×{arr.shape[0]} image; Tiny-ImageNet-C images are "
                         f"{TINY_SIZE}×{TINY_SIZE}")
    return arr


def real_tiny_split(folder, name: str, severity: int, files, listed_by, cache=None) -> np.ndarray:
    """The test split under corruption `name` at `severity`, read from the real Tiny-ImageNet-C files
    `<folder>/<name>/<severity>/<wnid>/<file>` for each (file, wnid) of `files` (in test-split order):
    uint8 (N, 64, 64, 3), decoded once and cached."""
    from . import config

    sub = Path(folder) / name / str(severity)
    if not sub.is_dir():
        raise FileNotFoundError(f"{sub}: missing; the run's test split needs corruption {name!r} at severity "
                                f"{severity} from {folder}")
    h = hashlib.sha256(repr((str(Path(folder).resolve()), name, severity, TINY_SIZE, config.SEMANTICS)).encode())
    for fname, wnid in files:
        path = sub / wnid / fname
        try:
            st = path.stat()
        except FileNotFoundError:
            what = "missing" if (sub / wnid).is_dir() else f"missing (no class folder {sub / wnid})"
            raise FileNotFoundError(f"{path}: {what}; the test image of that name is listed by {listed_by}") \
                from None
        h.update(f"{wnid}/{fname}:{st.st_size}:{st.st_mtime_ns};".encode())
    out = Path(cache or _cache_dir()) / "corrupted" / "Tiny-ImageNet-C" / f"{name}-{severity}-{h.hexdigest()[:12]}.npy"
    n = len(files)

    def cached():
        arr = read_npy_checked(out, mmap_mode="r")  # None if missing or not its checksum
        return arr if arr is not None and arr.dtype == np.uint8 and arr.shape == (n, TINY_SIZE, TINY_SIZE, 3) \
            else None

    arr = cached()
    if arr is not None:
        return arr
    out.parent.mkdir(parents=True, exist_ok=True)
    with store.run_lock(out.parent):  # parallel runs needing the same file: one decodes it, the others wait
        arr = cached()
        if arr is None:
            decoded = np.empty((n, TINY_SIZE, TINY_SIZE, 3), dtype=np.uint8)
            for i, (fname, wnid) in enumerate(files):
                decoded[i] = _decode(sub / wnid / fname, listed_by)
            write_npy_checked(out, decoded)
            arr = cached()
    return arr


def _real_tiny_test(folder, test_labels, names, severity, root):
    wnids, files = tinyimagenet_test_files(root)
    listed_by = data_root(root) / "tiny-imagenet-200" / "val" / "val_annotations.txt"
    n = len(test_labels)
    index = {w: i for i, w in enumerate(wnids)}
    labels = np.array([index[w] for _, w in files], dtype=np.int64)
    if len(labels) != n or not np.array_equal(labels, test_labels.numpy()):
        raise ValueError(f"{listed_by} does not match the tinyimagenet test split ({len(labels)} listed images, "
                         f"{n} test labels, or the labels differ)")
    which = assignment(n, names, "test")
    out = torch.empty((n, 3, TINY_SIZE, TINY_SIZE), dtype=torch.uint8)
    for k, name in enumerate(names):
        sel = np.flatnonzero(which == k)
        arr = real_tiny_split(folder, name, severity, files, listed_by)
        out[torch.from_numpy(sel)] = torch.from_numpy(np.ascontiguousarray(arr[sel])).permute(0, 3, 1, 2)
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
    source = "generated (hslib.corruptions)"
    if real_folder(cfg.dataset, root) is not None:  # present, but the real files stop at severity 5
        source = f"generated (hslib.corruptions; {REAL_FOLDERS[cfg.dataset]} has no severity {sev})"
    return xtr_c, xva_c, (mixed(cfg.dataset, "test", *test, names, sev), test[1]), source
