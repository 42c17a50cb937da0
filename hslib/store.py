"""The store: the one owner of every path under the outputs root, of a run's file names, and of code provenance.

The outputs root is `$HSLIB_OUTPUTS` if set, else <project>/outputs (the folder holding pyproject.toml beside
this package; `$HSLIB_PROJECT` overrides it, else the current folder). Under it:

    runs/ scores/            run folders (one per config id) and EL2N scores + subsets   (generated)
    notebooks/<profile>/     executed notebooks; book/<profile>/ the rendered book        (generated)
    slurm/                   SLURM job logs                                                (generated)
    figures/<profile>/       the regenerated figures with their sidecars                  (committed)
    results/<profile>/       runs.csv, layer_density.csv, claims.csv, summary.md          (committed)
                             reproduction.md/.json: the last reproduction against them    (generated; also
                             beside the reproduction's tables, where its book looks)
    reproduced/figures/<profile>/, reproduced/results/<profile>/
                             what a reproduction writes instead of the committed reference (generated)

A run folder:

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
import functools
import io
import json
import math
import os
import subprocess
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from .config import SEMANTICS
from .files import atomic_write

OUTPUTS_ENV = "HSLIB_OUTPUTS"
# Set to "1" by hslib.reproduce for the notebooks it runs: their figures and tables go to reproduced/, so a
# reproduction never overwrites the committed reference (`make reference` too: it promotes them over the reference
# only once every notebook finished, hslib.reference.promote).
REPRODUCTION_ENV = "HSLIB_REPRODUCTION"
COMMITTED = ("figures", "results", "executed")
GENERATED = ("runs", "scores", "notebooks", "book", "slurm", "reproduced")
PER_PROFILE = ("figures", "results", "executed", "notebooks", "book")
# Profiles whose executed notebooks are part of their committed reference (executed/<profile>/, copied from
# notebooks/<profile>/ by `make reference`): the course book renders from them (`make book PROFILE=course`) without
# the hour of training. Smoke runs in minutes, so its executed copies are not committed.
EXECUTED_REFERENCE = ("course",)
# A run folder's files, by what they hold (the only place their names are written).
RUN_FILES = {"config": "config.json", "log": "log.jsonl", "updates": "updates.jsonl", "init": "init.pt",
             "final": "final.pt", "masks": "masks.pt", "result": "result.json", "error": "error.txt",
             "train_log": "train.log", "lock": ".lock"}
# A profile's results folder: its tables, by what they hold.
# reproduction.md/.json: how a reproduction compares with the committed reference (hslib.reference; git-ignored)
RESULT_FILES = {"runs": "runs.csv", "layers": "layer_density.csv", "claims": "claims.csv", "summary": "summary.md",
                "reproduction": "reproduction.md", "reproduction_data": "reproduction.json"}


# ------------------------------------------------------------------------------------------ the layout
def project_root(start: Path | None = None) -> Path:
    """The folder holding pyproject.toml and hslib/ (this package's checkout); $HSLIB_PROJECT overrides; else
    the first such folder above `start` (default: the current folder); else the current folder."""
    if os.environ.get("HSLIB_PROJECT"):
        return Path(os.environ["HSLIB_PROJECT"])
    package = Path(__file__).resolve().parent
    if start is None and (package.parent / "pyproject.toml").exists():
        return package.parent
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").exists() and (d / "hslib").is_dir():
            return d
    return here


def outputs_root(outputs=None) -> Path:
    """The outputs root: `outputs` if given, else $HSLIB_OUTPUTS, else <project>/outputs."""
    if outputs:
        return Path(outputs)
    return Path(os.environ.get(OUTPUTS_ENV) or project_root() / "outputs")


def reproducing() -> bool:
    """Whether this process runs inside a reproduction (hslib.reproduce sets $HSLIB_REPRODUCTION=1)."""
    return os.environ.get(REPRODUCTION_ENV) == "1"


def folder(name: str, profile: str | None = None, outputs=None, reference: bool | None = None) -> Path:
    """<outputs>/<name>, and /<profile> for the per-profile folders (figures, results, executed, notebooks, book).

    figures/, results/ and executed/ hold the committed reference. Inside a reproduction (`reproducing()`), or with
    reference=False, they resolve to <outputs>/reproduced/<name>/<profile> instead; reference=True always means
    the committed folder."""
    if name not in COMMITTED + GENERATED:
        raise ValueError(f"name={name!r} is not a folder of the outputs layout; allowed values: "
                         f"{list(COMMITTED + GENERATED)}")
    if (name in PER_PROFILE) != (profile is not None):
        raise ValueError(f"profile={profile!r} is not allowed for folder {name!r}; allowed: "
                         f"{'a profile name' if name in PER_PROFILE else 'None'}")
    if reference not in (None, True, False):
        raise ValueError(f"reference={reference!r} is not allowed; allowed values: None (follow "
                         f"${REPRODUCTION_ENV}), True (the committed folder), False (the reproduction's)")
    path = outputs_root(outputs) / name
    committed = not reproducing() if reference is None else reference
    if name in COMMITTED and not committed:
        path = outputs_root(outputs) / "reproduced" / name
    return path / profile if profile is not None else path


def runs_root(root=None) -> Path:
    """A runs folder: `root` if given, else <outputs>/runs."""
    return Path(root) if root is not None else folder("runs")


def exercise_root(outputs=None) -> Path:
    """Notebook 09's and the grader's runs (hslib.grade): <outputs>/runs/exercise, apart from the series' runs, so
    that no table, figure or ledger of the study ever reads a student's method."""
    return folder("runs", outputs=outputs) / "exercise"


def scores_root(root=None) -> Path:
    """The EL2N scores that belong to a runs folder: its sibling scores/ (<outputs>/scores for <outputs>/runs)."""
    return runs_root(root).parent / "scores"


def slurm_root(root=None) -> Path:
    """SLURM job logs of a runs folder's sweeps: its sibling slurm/."""
    return runs_root(root).parent / "slurm"


def run_file(directory, kind: str) -> Path:
    """A file of a run folder by what it holds (RUN_FILES)."""
    if kind not in RUN_FILES:
        raise ValueError(f"kind={kind!r} is not a run file; allowed values: {list(RUN_FILES)}")
    return Path(directory) / RUN_FILES[kind]


def checkpoint(directory, epoch: int) -> Path:
    """The checkpoint a run folder holds after `epoch` epochs (the newest two are kept while it trains)."""
    return Path(directory) / f"ckpt-{epoch:04d}.pt"


def checkpoints(directory) -> list[Path]:
    """A run folder's checkpoints, oldest first."""
    return sorted(Path(directory).glob("ckpt-*.pt"))


def results_file(profile: str, kind: str, outputs=None, reference: bool | None = None) -> Path:
    """A file of a profile's results folder by what it holds (RESULT_FILES): a table, the generated summary, or the
    reproduction report; `reference` as in `folder`."""
    if kind not in RESULT_FILES:
        raise ValueError(f"kind={kind!r} is not a results table; allowed values: {list(RESULT_FILES)}")
    return folder("results", profile, outputs, reference) / RESULT_FILES[kind]


# ------------------------------------------------------------------------------------------ provenance
@functools.lru_cache(maxsize=1)
def _git_state() -> tuple:
    """(commit, dirty) of the checkout this package runs from; (None, None) outside a git checkout."""
    where = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
        if commit is None:
            return None, None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "hslib"],
                                cwd=where, capture_output=True, text=True, timeout=10)
        return commit, bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None, None


def provenance() -> dict:
    """The code that is running: hslib version, training-semantics version, git commit and whether the package's
    files differ from it (dirty). Every result.json and figure sidecar carries it."""
    commit, dirty = _git_state()
    return {"hslib_version": __version__, "semantics": SEMANTICS, "git_commit": commit, "git_dirty": dirty}


class MissingDependency(RuntimeError):
    """A run needs something that is not there yet (its dense parent, its EL2N scoring runs or scores)."""
RESULT_KEYS = ("id", "config", "test_acc", "density", "layer_density", "complete")


def run_dir(root, cfg) -> Path:
    return Path(root) / cfg.id


@contextlib.contextmanager
def run_lock(directory):
    """An exclusive lock on a run directory (released by the OS if the holder dies, so never stale). The holder
    writes its pid into the lock file, so that a process that has to wait can say for what and for whom."""
    directory = Path(directory)
    path = run_file(directory, "lock")
    told = False
    while True:
        directory.mkdir(parents=True, exist_ok=True)  # again after a removal (below)
        f = open(path, "a+")  # "a+", not "w": opening must not erase the holder's pid
        try:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not told:  # a wait can last a whole run: say so once, naming the holder
                    # the folder by its name in its store (runs/…, corrupted/…), not the machine's path, which an
                    # executed notebook would keep
                    _tell(f"[hslib] waiting for {directory.parent.name}/{directory.name}, locked by pid {_holder(f)}")
                    told = True
                fcntl.flock(f, fcntl.LOCK_EX)
            # The folder may have been removed while we waited (remove_run): a lock on the deleted file would guard
            # nothing, and another process could lock the new one. Lock the file that is there now.
            if not _same_file(path, f):
                f.close()
                continue
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            break
        except BaseException:
            f.close()
            raise
    try:
        yield
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def _same_file(path, f) -> bool:
    try:
        a, b = os.stat(path), os.fstat(f.fileno())
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _holder(f) -> str:
    """The pid written in an open lock file by its holder ('unknown' if it has not written it yet)."""
    try:
        f.seek(0)
        pid = f.read().strip()
    except OSError:
        pid = ""
    return pid if pid.isdigit() else "unknown"


def lock_holder(directory) -> int | None:
    """The pid that last took the run lock of `directory` (it may have finished or died since), or None."""
    try:
        pid = run_file(directory, "lock").read_text().strip()
    except (OSError, ValueError):
        return None
    return int(pid) if pid.isdigit() else None


def _tell(message: str):
    """A line on stderr, and on the process's real stderr too when stderr is redirected (a local worker writes
    into its run's train.log): waiting must be visible where the sweep was started."""
    import sys

    print(message, file=sys.stderr, flush=True)
    if sys.__stderr__ is not None and sys.stderr is not sys.__stderr__:
        print(message, file=sys.__stderr__, flush=True)


def remove_run(directory) -> bool:
    """Delete a run folder, unless another process holds its lock: then keep it, say who holds it, and return
    False. The lock is held while deleting, and a process that was waiting for it locks the folder anew
    (run_lock), so a folder is never deleted under a run that is training in it."""
    import shutil

    directory = Path(directory)
    try:
        f = open(run_file(directory, "lock"), "a+")
    except FileNotFoundError:  # no folder (nothing to do), or one that no run ever locked
        if directory.exists():
            shutil.rmtree(directory)
        return True
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _tell(f"[hslib] not removing {directory}: in use by pid {_holder(f)}")
            return False
        shutil.rmtree(directory)
    return True


def held_locks(folder) -> list[tuple[Path, str]]:
    """(folder, holder pid) of every lock under `folder` that another process holds now."""
    held = []
    for path in sorted(Path(folder).rglob(RUN_FILES["lock"])):
        try:
            with open(path, "a+") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(f, fcntl.LOCK_UN)
                except BlockingIOError:
                    held.append((path.parent, _holder(f)))
        except OSError:  # gone meanwhile
            continue
    return held


def _atomic_write(path, write):
    """Write a file through `write(f)` into a temporary sibling, fsync, then rename: readers see all or nothing;
    a failed write removes its temporary (hslib.files, which the data loader's cache shares)."""
    atomic_write(path, write)


def _atomic_bytes(path, data: bytes):
    _atomic_write(path, lambda f: f.write(data))


def write_npy(path, arr):
    """np.save, atomically; the array is streamed to the file, not copied in memory (corruption caches are big)."""
    _atomic_write(path, lambda f: np.save(f, arr))


def write_figure(fig, path, **savefig):
    """A matplotlib figure saved atomically (format from the suffix): a full disk never leaves a truncated image."""
    fmt = Path(path).suffix.lstrip(".")
    _atomic_write(path, lambda f: fig.savefig(f, format=fmt, **savefig))


def write_csv(path, df):
    """A pandas table as CSV, atomically (no index column)."""
    _atomic_bytes(path, df.to_csv(index=False).encode())


def write_text(path, text: str):
    """A text file (UTF-8), atomically."""
    _atomic_bytes(path, text.encode("utf-8"))


def write_json(path, obj):
    _atomic_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def write_jsonl(path, rows):
    _atomic_bytes(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode())


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
    elif not (isinstance(obj, (int, float, bool, str, type(None))) or _is_tensor(obj)):
        raise TypeError(f"save_torch: {where} is a {type(obj).__name__}; only tensors, numbers, strings, "
                        "None, lists and dicts are saved (they load with weights_only=True)")


def _is_tensor(obj) -> bool:
    import torch  # reached only when a tensor file is written, by the engine

    return isinstance(obj, torch.Tensor)


def save_torch(path, obj):
    import torch  # the store is read by the torch-free tiers too: torch only where a tensor file is written

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
    import torch

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

    path = run_file(directory, "result")
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


def finished_results(root=None) -> list[dict]:
    root = runs_root(root)
    if not root.exists():
        return []
    return [r for d in sorted(root.iterdir()) if d.is_dir() and (r := read_result(d)) is not None]


SCALARS = ("test_acc", "test_loss", "val_acc", "train_acc", "train_acc_last_epoch", "adv_train_acc_change",
           "density", "train_flops", "params", "wall_time",
           "clean_acc", "robust_acc", "train_robust_acc", "robust_gap", "corruption_source", "epochs_run")
PROVENANCE = ("hslib_version", "semantics", "git_commit", "git_dirty")  # the code that trained a run


def result_row(config: dict, result: dict) -> dict:
    """A flat row: the config's fields, then the run's scalar results; sparsity is the target's."""
    row = {"id": result["id"], **{k: v for k, v in config.items() if k != "lr_milestones"}}
    row.update({k: result.get(k) for k in SCALARS + PROVENANCE})
    row["sparsity"] = round(1 - config["density"], 6)
    return row


def results(root=None):
    """One row per finished run: the config fields and the scalar results (pandas DataFrame)."""
    import pandas as pd

    return pd.DataFrame([result_row(r["config"], r) for r in finished_results(root)])


def results_for(configs, root=None):
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


def layer_table(root=None):
    """Final per-layer densities of every finished run, long format (one row per run and layer)."""
    import pandas as pd

    return pd.DataFrame([row for r in finished_results(root) for row in _layer_rows(r["config"], r)])


def layers_for(configs, root=None):
    """layer_table rows of the given configs (config fields as requested)."""
    import pandas as pd

    rows = []
    for c in configs:
        r = read_result(run_dir(root, c))
        if r is not None:
            rows += _layer_rows(c.to_dict(), r)
    return pd.DataFrame(rows)


def write_tables(root=None, out=None, profile=None) -> dict:
    """Write runs.csv and layer_density.csv (tidy) under `out` (default: <outputs>/results/<profile>), of every
    finished run or only of `profile`'s; return their paths."""
    if out is None:
        if profile is None:
            raise ValueError("write_tables needs out= or profile= (the tables of which profile?)")
        out = folder("results", profile, runs_root(root).parent)
    out = Path(out)
    import pandas as pd

    paths = {"runs": out / RESULT_FILES["runs"], "layers": out / RESULT_FILES["layers"]}
    finished = finished_results(root)  # read once: both tables come from the same results
    if profile is not None:  # one runs folder holds every profile's runs (the profile is in the id)
        finished = [r for r in finished if r["config"].get("profile") == profile]
    df = pd.DataFrame([result_row(r["config"], r) for r in finished])
    lt = pd.DataFrame([row for r in finished for row in _layer_rows(r["config"], r)])
    if len(df):
        df = df.sort_values([c for c in ("profile", "dataset", "model", "method", "density", "data_ratio", "seed", "id")
                             if c in df]).reset_index(drop=True)
    try:  # the results are read first (that works read-only); only now is anything written
        out.mkdir(parents=True, exist_ok=True)
        write_csv(paths["runs"], df)
        write_csv(paths["layers"], lt)
    except OSError as e:  # read-only, full disk, not a folder: one clear error naming where, not a traceback
        raise TablesNotWritten(e.errno, f"cannot write the results tables runs.csv and layer_density.csv to the "
                               f"folder {out} ({e.strerror or e}); the runs' results are still readable with "
                               "hslib.store.results(root)") from None
    return paths


def existing_file(path) -> str | None:
    """str(path) if it is a file, else None; never raises (a path the OS refuses, e.g. a name too long, is no file).
    Error reports name a log only if there is one to read."""
    try:
        return str(path) if path is not None and Path(path).is_file() else None
    except (OSError, ValueError):
        return None


class TablesNotWritten(OSError):
    """write_tables could not write its folder (read-only, full disk, ...)."""


def path_problem(path) -> str | None:
    """Why the file system cannot hold `path` (a folder name or the whole path too long for it), or None. The text
    follows the path's name in a sentence: "root='...' has a folder name of 300 bytes (...)"."""
    path = Path(path).absolute()
    base = next((p for p in reversed([path, *path.parents]) if not os.path.isdir(p)), path).parent
    try:
        name_max, path_max = os.pathconf(base, "PC_NAME_MAX"), os.pathconf(base, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    for part in path.parts:
        n = len(os.fsencode(part))
        if n > name_max:
            return f"has a folder name of {n} bytes ({part[:24]!r}…), too long: the file system allows {name_max}"
    n = len(os.fsencode(str(path)))
    if n > path_max:
        return f"is {n} bytes long, too long: the file system allows paths of {path_max}"
    return None


def clean_generated(outputs=None) -> list[Path]:
    """Remove the generated folders of an outputs root (never figures/ or results/); return what was removed."""
    import shutil

    removed = [outputs_root(outputs) / n for n in GENERATED if (outputs_root(outputs) / n).exists()]
    held = [h for d in removed for h in held_locks(d)]
    if held:  # a sweep is training there: deleting its folders would mix up or lose its runs
        d, pid = held[0]
        raise RuntimeError(f"{d} is in use by pid {pid} ({len(held)} locked folder(s) in all); nothing was "
                           f"removed: stop that sweep first")
    for d in removed:
        shutil.rmtree(d)
    return removed


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="python -m hslib.store", description="The outputs folder of hslib.")
    ap.add_argument("command", choices=["clean"], help="clean: remove the generated folders " + ", ".join(GENERATED))
    ap.add_argument("--outputs", default=None, help=f"the outputs root (default: ${OUTPUTS_ENV}, else <project>/outputs)")
    args = ap.parse_args(argv)
    for d in clean_generated(args.outputs):
        print(f"removed {d}")


if __name__ == "__main__":
    main()
