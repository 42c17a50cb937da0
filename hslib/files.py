"""Atomic files and checksummed caches, in the store tier beside hslib.store (docs/architecture.md); it imports
nothing from hslib.

Every file is written to a temporary sibling, fsynced and renamed into place, so a reader never sees half a
file; a failed write (a full disk, an interrupt) removes its temporary. A cached array (decoded data,
corruptions, EL2N scores) is written first, then a small JSON sidecar `<name>.sha256.json` with its sha256. On
read, a missing or mismatching sidecar means the file is damaged or was replaced half-way: the caller rebuilds
it, or says clearly that it cannot. Same-size garbage (a zeroed block, a reversed array) is caught this way; a
shape check alone would not catch it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

TEMP_GLOB = ".*.tmp-*"  # what atomic_write's temporaries look like (a killed writer can leave one)


def atomic_write(path, write):
    """Write a file through `write(f)` into a temporary sibling, fsync, then rename: readers see all or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, an interrupt: leave no half-written temporary behind
        tmp.unlink(missing_ok=True)
        raise


def replace_folder(finished, target) -> Path:
    """Put the finished folder `finished` at `target` (same file system), replacing what was there: the old folder
    is moved aside first and removed after, so `target` never names a half-written folder."""
    import shutil

    finished, target = Path(finished), Path(target)
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    try:
        finished.rename(target)
    except BaseException:  # the old folder goes back under its name: never a target that is gone
        if old.exists() and not target.exists():
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target


def remove_temporaries(directory) -> list[Path]:
    """Remove leftover temporaries in `directory` (call it only while no one else writes there)."""
    removed = []
    for tmp in Path(directory).glob(TEMP_GLOB):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:  # best effort: what they were for is already safe
            pass
    return removed


def checksum_path(path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.name}.sha256.json")


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def write_checked(path, write):
    """Write `path` atomically through `write(f)`, then its checksum sidecar (atomically, after the file)."""
    path = Path(path)
    side = checksum_path(path)
    side.unlink(missing_ok=True)  # while the file is replaced it has no valid checksum: never trusted half-way
    atomic_write(path, write)
    meta = {"file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size}
    atomic_write(side, lambda f: f.write((json.dumps(meta, indent=1, sort_keys=True) + "\n").encode()))


def write_npy_checked(path, arr):
    write_checked(path, lambda f: np.save(f, arr))


_VERIFIED: dict = {}  # (path, inode, size, mtime) -> sha256 already checked by this process: not hashed again


def checked_problem(path) -> str | None:
    """None if `path` matches the sha256 in its sidecar, else what is wrong (missing, no checksum, mismatch)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return f"{path} is missing"
    try:
        side = json.loads(checksum_path(path).read_text())
    except (OSError, ValueError):
        side = None
    if not isinstance(side, dict) or not isinstance(side.get("sha256"), str):
        return f"{path} has no readable checksum file {checksum_path(path).name}"
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if _VERIFIED.get(key) == side["sha256"]:
        return None
    if side.get("bytes") != st.st_size or file_sha256(path) != side["sha256"]:
        return f"{path} does not match its checksum ({checksum_path(path).name}): damaged or replaced"
    _VERIFIED[key] = side["sha256"]
    return None


def read_npy_checked(path, mmap_mode=None):
    """The array at `path` if it matches its checksum and loads, else None (missing or damaged: rebuild it)."""
    if checked_problem(path) is not None:
        return None
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError):
        return None
