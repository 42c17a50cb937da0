"""The run store: one directory per config id, atomic files, and the results table.

    <root>/<id>/config.json      the resolved config (written first)
                log.jsonl        one JSON line per finished epoch
                ckpt-NNNN.pt     the newest two epoch checkpoints while running (deleted when finished)
                init.pt final.pt model weights at step 0 and at the end; masks.pt the final masks
                result.json      written last, atomically: a run is finished iff this file is complete
                error.txt        the traceback of a failed attempt

Every file is written to a temporary name and renamed into place, so a reader never sees half a file;
a file damaged anyway (a truncated copy, a full disk) fails to parse and is treated as absent.
"""
from __future__ import annotations

import contextlib
import fcntl
import io
import json
import math
import warnings
from pathlib import Path

import numpy as np
import torch

# Atomic writes and checksummed cached arrays live one layer down (the data loader uses them too); public here.
from .files import (atomic_write, checked_problem, read_npy_checked, remove_temporaries,  # noqa: F401
                    write_checked, write_npy_checked)

# The outputs folder, defined once (notebooks, reproduce, the Makefile's clean-runs all read this):
#   figures/ results/  committed: the regenerated figures (+ sidecars) and tidy tables
#   runs/ scores/ notebooks/ book/ slurm/  generated: run folders, EL2N scores and subsets, executed
#                         notebooks, the rendered book, SLURM job logs (git-ignored; `make clean-runs` removes them)
OUTPUTS = "outputs"
COMMITTED = ("figures", "results")
GENERATED = ("runs", "scores", "notebooks", "book", "slurm")
DEFAULT_ROOT = f"{OUTPUTS}/runs"


class MissingDependency(RuntimeError):
    """A run needs something that is not there yet (its dense parent, its EL2N scoring runs or scores)."""
RESULT_KEYS = ("id", "config", "test_acc", "density", "layer_density", "complete")


def run_dir(root, cfg) -> Path:
    return Path(root) / cfg.id


@contextlib.contextmanager
def run_lock(directory):
    """An exclusive lock on a run directory (released by the OS if the holder dies, so never stale)."""
    with open(Path(directory) / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _atomic_write(path, write):
    """Write a file through `write(f)` into a temporary sibling, fsync, then rename: readers see all or nothing;
    a failed write removes its temporary (hslib.files, which the data loader's cache shares)."""
    atomic_write(path, write)


def _atomic_bytes(path, data: bytes):
    _atomic_write(path, lambda f: f.write(data))


def write_npy(path, arr):
    """np.save, atomically; the array is streamed to the file, not copied in memory (corruption caches are big)."""
    _atomic_write(path, lambda f: np.save(f, arr))


def write_json(path, obj):
    _atomic_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def write_jsonl(path, rows):
    _atomic_bytes(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode())


PLAIN = (torch.Tensor, int, float, bool, str, type(None))


def _check_plain(obj, where="obj"):
    """Only tensors, numbers, strings, None, lists/tuples and str-keyed dicts may be saved: exactly what
    `torch.load(weights_only=True)` reads back. Anything else would need pickle to load, and unpickling a
    file from someone else's run folder can execute code, so it is refused when written, not when read."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"save_torch: key {k!r} at {where} is {type(k).__name__}; only str/int keys are saved")
            _check_plain(v, f"{where}[{k!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
    elif not isinstance(obj, PLAIN):
        raise TypeError(f"save_torch: {where} is a {type(obj).__name__}; only tensors, numbers, strings, "
                        "None, lists and dicts are saved (they load with weights_only=True)")


def save_torch(path, obj):
    _check_plain(obj)
    buf = io.BytesIO()
    torch.save(obj, buf)
    _atomic_bytes(path, buf.getvalue())


def read_json(path):
    """Parsed JSON, or None if the file is missing or damaged."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def load_torch(path):
    """A torch file, or None if it is missing, damaged (e.g. truncated) or holds anything but plain data.

    `weights_only=True` is torch's restricted unpickler: tensors, numbers, strings, lists and dicts load;
    any other object (a class instance, a function reference: the way a pickle runs code) is refused before
    it is built. A refused file reads as damaged, so a planted checkpoint is skipped, never executed."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None


class DamagedResult(UserWarning):
    """A run folder's result.json exists but cannot be trusted; the run counts as not finished."""


def _number(v, lo=None, hi=None, lo_open=False) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return False
    return (lo is None or (v > lo if lo_open else v >= lo)) and (hi is None or v <= hi)


# What a finished result's metrics must be: key -> (check, what it must be, required).
_METRICS = {
    "test_acc": (lambda v: _number(v, 0, 1), "a number in [0, 1]", True),
    "density": (lambda v: _number(v, 0, 1, lo_open=True), "a number in (0, 1]", True),
    # Every result this code writes has train_flops (LTH/OMP children add their parent's): required.
    "train_flops": (lambda v: _number(v, 0), "a number >= 0", True),
    "val_acc": (lambda v: v is None or _number(v, 0, 1), "a number in [0, 1]", False),
    "train_acc": (lambda v: v is None or _number(v, 0, 1), "a number in [0, 1]", False),
    "clean_acc": (lambda v: _number(v, 0, 1), "a number in [0, 1]", False),
    "robust_acc": (lambda v: _number(v, 0, 1), "a number in [0, 1]", False),
    "train_robust_acc": (lambda v: _number(v, 0, 1), "a number in [0, 1]", False),
    "robust_gap": (lambda v: _number(v, -1, 1), "a number in [-1, 1]", False),
    # A diverged run's loss may be NaN and is still a finished run: only the type is checked.
    "test_loss": (lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)), "a number", False),
    "params": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0", False),
    "epochs_run": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0", False),
    "wall_time": (lambda v: _number(v, 0), "a number >= 0", False),
    "corruption_source": (lambda v: isinstance(v, str), "a string", False),
    "layer_density": (lambda v: isinstance(v, dict) and all(isinstance(k, str) and _number(x, 0, 1)
                                                             for k, x in v.items()),
                      "a dict of layer name -> number in [0, 1]", True),
    "layers": (lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v), "a list of dicts", False),
}


def result_problem(directory, r) -> str | None:
    """None if `r` is a finished result of the run folder `directory`, else what is wrong with it. Finished
    means: complete, its id is the folder's name and its config's id, and its metrics have the right types
    and ranges."""
    from .config import RunConfig  # (config imports data, which imports this module)

    if not isinstance(r, dict):
        return "not a JSON object"
    missing = [k for k in RESULT_KEYS if k not in r]
    if missing:
        return f"lacks {missing}"
    if r["complete"] is not True:
        return f"complete={r['complete']!r}, not true"
    name = Path(directory).name
    if r["id"] != name:
        return f"id={r['id']!r} is not its folder name {name!r}"
    if not isinstance(r["config"], dict):
        return f"config is a {type(r['config']).__name__}, not a dict of RunConfig fields"
    try:
        cid = RunConfig.from_dict(r["config"]).id
    except Exception as e:  # any field of any type may be wrong
        return f"config is not a valid RunConfig ({type(e).__name__}: {e})"
    if cid != r["id"]:
        return f"its config is run {cid}, not run {r['id']} (copied from another run's folder?)"
    for key, (ok, allowed, required) in _METRICS.items():
        if key not in r:
            if required:
                return f"lacks {key!r}"
            continue
        if not ok(r[key]):
            return f"{key}={r[key]!r} is not {allowed}"
    return None


def read_result(directory) -> dict | None:
    """The run's result if it is finished (see result_problem), else None. A result.json that exists but
    is not a finished result is damaged: a DamagedResult warning names the folder and what is wrong, and the
    run counts as not finished, so a sweep or train.run trains it again. A result written by code of another
    hslib.config.SEMANTICS is stale, not damaged: it is not finished either, silently."""
    from . import config

    path = Path(directory) / "result.json"
    if not path.exists():
        return None
    r = read_json(path)
    if isinstance(r, dict) and isinstance(r.get("semantics"), int) and r["semantics"] != config.SEMANTICS:
        return None  # a run of older (or newer) code: not finished for this code, and not damaged (no warning)
    problem = "unreadable or not JSON" if r is None else result_problem(directory, r)
    if problem is not None:
        warnings.warn(f"damaged run result {path}: {problem}; the run counts as not finished and is trained "
                      "again", DamagedResult)  # attributed here: one warning per damaged folder
        return None
    return r


def is_finished(root, cfg) -> bool:
    return read_result(run_dir(root, cfg)) is not None


def finished_results(root=DEFAULT_ROOT) -> list[dict]:
    root = Path(root)
    if not root.exists():
        return []
    return [r for d in sorted(root.iterdir()) if d.is_dir() and (r := read_result(d)) is not None]


SCALARS = ("test_acc", "test_loss", "val_acc", "train_acc", "density", "train_flops", "params", "wall_time",
           "clean_acc", "robust_acc", "train_robust_acc", "robust_gap", "corruption_source", "epochs_run")


def result_row(config: dict, result: dict) -> dict:
    """A flat row: the config's fields, then the run's scalar results; sparsity is the target's."""
    row = {"id": result["id"], **{k: v for k, v in config.items() if k != "lr_milestones"}}
    row.update({k: result.get(k) for k in SCALARS})
    row["sparsity"] = round(1 - config["density"], 6)
    return row


def results(root=DEFAULT_ROOT):
    """One row per finished run: the config fields and the scalar results (pandas DataFrame)."""
    import pandas as pd

    return pd.DataFrame([result_row(r["config"], r) for r in finished_results(root)])


def results_for(configs, root=DEFAULT_ROOT):
    """Rows for the given configs that have finished, with the config fields as requested (two configs
    that differ only in fields a run ignores share one run, e.g. 'hard' and 'random' at data ratio 1)."""
    import pandas as pd

    rows = []
    for c in configs:
        r = read_result(run_dir(root, c))
        if r is not None:
            rows.append(result_row(c.to_dict(), r))
    return pd.DataFrame(rows)


LAYER_KEYS = ("dataset", "model", "method", "density", "data_ratio", "subset", "corruption", "severity",
              "adversarial", "seed", "profile")


def _layer_rows(config: dict, result: dict) -> list[dict]:
    head = {"id": result["id"], **{k: config[k] for k in LAYER_KEYS}}
    head["density_target"] = head.pop("density")
    return [{**head, "index": i, **layer} for i, layer in enumerate(result.get("layers", []))]


def layer_table(root=DEFAULT_ROOT):
    """Final per-layer densities of every finished run, long format (one row per run and layer)."""
    import pandas as pd

    return pd.DataFrame([row for r in finished_results(root) for row in _layer_rows(r["config"], r)])


def layers_for(configs, root=DEFAULT_ROOT):
    """layer_table rows of the given configs (config fields as requested)."""
    import pandas as pd

    rows = []
    for c in configs:
        r = read_result(run_dir(root, c))
        if r is not None:
            rows += _layer_rows(c.to_dict(), r)
    return pd.DataFrame(rows)


def write_tables(root=DEFAULT_ROOT, out="outputs/results", profile=None) -> dict:
    """Write runs.csv and layer_density.csv (tidy) under `out`, of every finished run or only of `profile`'s;
    return their paths."""
    out = Path(out)
    paths = {"runs": out / "runs.csv", "layers": out / "layer_density.csv"}
    df = results(root)
    lt = layer_table(root)
    if profile is not None and len(df):  # one runs folder holds every profile's runs (the profile is in the id)
        df, lt = df[df["profile"] == profile], (lt[lt["profile"] == profile] if len(lt) else lt)
    if len(df):
        df = df.sort_values([c for c in ("profile", "dataset", "model", "method", "density", "data_ratio", "seed", "id")
                             if c in df]).reset_index(drop=True)
    try:  # the results are read first (that works read-only); only now is anything written
        out.mkdir(parents=True, exist_ok=True)
        _atomic_bytes(paths["runs"], df.to_csv(index=False).encode())
        _atomic_bytes(paths["layers"], lt.to_csv(index=False).encode())
    except OSError as e:  # read-only, full disk, not a folder: one clear error naming where, not a traceback
        raise TablesNotWritten(e.errno, f"cannot write the results tables runs.csv and layer_density.csv to the "
                               f"folder {out} ({e.strerror or e}); the runs' results are still readable with "
                               "hslib.store.results(root)") from None
    return paths


class TablesNotWritten(OSError):
    """write_tables could not write its folder (read-only, full disk, ...)."""


def outputs_dir(name: str, outputs=OUTPUTS) -> Path:
    """<outputs>/<name> for a name of the layout above."""
    if name not in COMMITTED + GENERATED:
        raise ValueError(f"name={name!r} is not a folder of the outputs layout; allowed values: "
                         f"{list(COMMITTED + GENERATED)}")
    return Path(outputs) / name


def clean_generated(outputs=OUTPUTS) -> list[Path]:
    """Remove the generated folders of an outputs folder (never figures/ or results/); return what was removed."""
    import shutil

    removed = [outputs_dir(n, outputs) for n in GENERATED if outputs_dir(n, outputs).exists()]
    for d in removed:
        shutil.rmtree(d)
    return removed


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="python -m hslib.store", description="The outputs folder of hslib.")
    ap.add_argument("command", choices=["clean"], help="clean: remove the generated folders " + ", ".join(GENERATED))
    ap.add_argument("--outputs", default=OUTPUTS, help=f"the outputs folder (default: {OUTPUTS})")
    args = ap.parse_args(argv)
    for d in clean_generated(args.outputs):
        print(f"removed {d}")


if __name__ == "__main__":
    main()
