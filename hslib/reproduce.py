"""Execute the numbered notebook series with papermill: `python -m hslib.reproduce --profile smoke`.

Executed copies go to outputs/notebooks/ (git-ignored); figures to outputs/figures/, tables to
outputs/results/. Finished runs are reused, so a second call only re-renders.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .config import PROFILES
from .notebook import project_root
from .sweep import EXECUTORS

TRAINING_METHODS = ["dense", "gmp", "lth", "omp", "snip", "set"]  # notebook 03 runs once per method
SERIES = [
    ("00_quickstart", {}),
    ("00_sparsity_primer", {}),
    ("01_el2n_scoring", {}),
    ("02_hard_sample_filtering", {}),
    *[("03_sparse_training", {"method": m}) for m in TRAINING_METHODS],
    ("04_hard_sample_results", {}),
    ("05_common_corruptions", {}),
    ("06_adversarial", {}),
    ("07_layer_density", {}),
    ("08_claims", {}),
]


def kernel_name(requested: str | None) -> str:
    """The registered 'hslib' kernel if present (make registers it), else this interpreter's python3."""
    if requested:
        return requested
    from jupyter_client.kernelspec import KernelSpecManager

    return "hslib" if "hslib" in KernelSpecManager().find_kernel_specs() else "python3"


def execute(profile="smoke", executor="inline", workers=0, data="", kernel=None, only=None, outputs=None,
            log=print) -> list:
    """Run the series (or the notebooks whose names start with one of `only`); return (name, seconds).
    `outputs` (default <project>/outputs) receives runs/, figures/, results/ and notebooks/."""
    import papermill as pm

    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor={executor!r} is not known; allowed values: {list(EXECUTORS)}")
    root = project_root()
    outputs = Path(outputs).resolve() if outputs else root / "outputs"
    out = outputs / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    os.environ["HSLIB_HEADLESS"] = "1"  # kernels inherit it: one log line per epoch, no progress bars
    os.environ["HSLIB_PROJECT"] = str(root)
    os.environ["HSLIB_OUTPUTS"] = str(outputs)
    kernel = kernel_name(kernel)
    timings = []
    for name, extra in SERIES:
        if only and not any(name.startswith(o) for o in only):
            continue
        suffix = "".join(f"-{v}" for v in extra.values())
        target = out / f"{name}{suffix}.ipynb"
        params = {"profile": profile, "executor": executor, "workers": workers, "data_root": data, **extra}
        log(f"[reproduce] {name}{suffix} ({profile}, {executor}) ...")
        t0 = time.perf_counter()
        pm.execute_notebook(str(root / "notebooks" / f"{name}.ipynb"), str(target), parameters=params,
                            kernel_name=kernel, cwd=str(root), progress_bar=False)
        timings.append((f"{name}{suffix}", time.perf_counter() - t0))
        log(f"[reproduce] {name}{suffix} done in {timings[-1][1]:.1f}s -> {target}")
    total = sum(t for _, t in timings)
    log(f"[reproduce] {len(timings)} notebooks in {total:.1f}s; figures in {outputs / 'figures'}")
    return timings


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m hslib.reproduce", description=__doc__)
    ap.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    ap.add_argument("--executor", default="inline", choices=list(EXECUTORS))
    ap.add_argument("--workers", type=int, default=0, help="local executor processes (0 = automatic)")
    ap.add_argument("--data", default="", help="data root (default: $HSLIB_DATA or ./data)")
    ap.add_argument("--kernel", default=None, help="Jupyter kernel (default: hslib if registered, else python3)")
    ap.add_argument("--only", nargs="*", help="run only notebooks whose names start with these prefixes")
    ap.add_argument("--outputs", default=None, help="output folder (default: <project>/outputs)")
    args = ap.parse_args(argv)
    try:
        execute(args.profile, args.executor, args.workers, args.data, args.kernel, args.only, args.outputs)
    except Exception as e:  # papermill's error names the failing cell; keep the exit status meaningful
        print(f"[reproduce] failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
