"""Execute the numbered notebook series with papermill: `python -m hslib.reproduce --profile smoke`.

Executed copies go to outputs/notebooks/ (git-ignored); figures to outputs/figures/, tables to
outputs/results/. Finished runs are reused, so a second call only re-renders.

The series is a small dependency graph. Two lanes are independent of each other and run side by side
(`--lanes 2`, the default): the primers and the intrinsic-hardness lane (00 → 01 → 02 → 03 per method → 04)
and the external-perturbation lane (05 → 06); 07 and 08 read everything and run last. Side by side, one lane's
kernel start-up, imports and plotting overlap the other's training. Runs both lanes might want (e.g. a
full-data dense run) are protected by a per-run lock: one lane trains, the other waits and reads it back.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .config import PROFILES
from .notebook import project_root
from .sweep import EXECUTORS

TRAINING_METHODS = ["dense", "gmp", "lth", "omp", "snip", "set"]  # notebook 03 runs once per method
LANES = [
    [("00_quickstart", {}), ("00_sparsity_primer", {}), ("01_el2n_scoring", {}), ("02_hard_sample_filtering", {}),
     *[("03_sparse_training", {"method": m}) for m in TRAINING_METHODS], ("04_hard_sample_results", {})],
    [("05_common_corruptions", {}), ("06_adversarial", {})],
]
FINAL = [("07_layer_density", {}), ("08_claims", {})]
SERIES = sorted(LANES[0] + LANES[1], key=lambda nb: nb[0]) + FINAL  # the reading order, and --lanes 1


def kernel_name(requested: str | None) -> str:
    """The registered 'hslib' kernel if present (make registers it), else this interpreter's python3."""
    if requested:
        return requested
    from jupyter_client.kernelspec import KernelSpecManager

    return "hslib" if "hslib" in KernelSpecManager().find_kernel_specs() else "python3"


def _execute_lane(notebooks, params: dict, kernel: str, root: str, outputs: str) -> list:
    """Execute notebooks in order (in this process or a lane process); return [(name, seconds)]."""
    import papermill as pm

    os.environ["HSLIB_HEADLESS"] = "1"  # kernels inherit it: one log line per epoch, no progress bars
    os.environ["HSLIB_PROJECT"] = root
    os.environ["HSLIB_OUTPUTS"] = outputs
    timings = []
    for name, extra in notebooks:
        label = name + "".join(f"-{v}" for v in extra.values())
        target = Path(outputs) / "notebooks" / f"{label}.ipynb"
        print(f"[reproduce] {label} ...", flush=True)
        t0 = time.perf_counter()
        pm.execute_notebook(str(Path(root) / "notebooks" / f"{name}.ipynb"), str(target),
                            parameters={**params, **extra}, kernel_name=kernel, cwd=root, progress_bar=False)
        timings.append((label, time.perf_counter() - t0))
        print(f"[reproduce] {label} done in {timings[-1][1]:.1f}s -> {target}", flush=True)
    return timings


def execute(profile="smoke", executor="local", workers=0, data="", kernel=None, only=None, outputs=None,
            lanes=2, log=print) -> list:
    """Run the series (or the notebooks whose names start with one of `only`); return [(name, seconds)].
    `outputs` (default <project>/outputs) receives runs/, figures/, results/ and notebooks/."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor={executor!r} is not known; allowed values: {list(EXECUTORS)}")
    if lanes not in (1, 2):
        raise ValueError(f"lanes={lanes!r} is not allowed; allowed values: [1, 2]")
    root = project_root()
    outputs = Path(outputs).resolve() if outputs else root / "outputs"
    (outputs / "notebooks").mkdir(parents=True, exist_ok=True)
    params = {"profile": profile, "executor": executor, "workers": workers, "data_root": data}
    args = (params, kernel_name(kernel), str(root), str(outputs))
    keep = (lambda nbs: [nb for nb in nbs if any(nb[0].startswith(o) for o in only)]) if only else list
    t0 = time.perf_counter()
    if lanes == 1:
        timings = _execute_lane(keep(SERIES), *args)
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_execute_lane, keep(lane), *args) for lane in LANES]
            timings = [t for f in futures for t in f.result()]
        timings += _execute_lane(keep(FINAL), *args)
    log(f"[reproduce] {len(timings)} notebooks in {time.perf_counter() - t0:.1f}s "
        f"({sum(t for _, t in timings):.1f}s of notebook time); figures in {outputs / 'figures'}")
    return timings


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m hslib.reproduce", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    ap.add_argument("--executor", default="local", choices=list(EXECUTORS))
    ap.add_argument("--workers", type=int, default=0, help="local executor processes (0 = automatic)")
    ap.add_argument("--data", default="", help="data root (default: $HSLIB_DATA or ./data)")
    ap.add_argument("--kernel", default=None, help="Jupyter kernel (default: hslib if registered, else python3)")
    ap.add_argument("--only", nargs="*", help="run only notebooks whose names start with these prefixes")
    ap.add_argument("--outputs", default=None, help="output folder (default: <project>/outputs)")
    ap.add_argument("--lanes", type=int, default=2, choices=[1, 2], help="independent notebook lanes run at once")
    args = ap.parse_args(argv)
    try:
        execute(args.profile, args.executor, args.workers, args.data, args.kernel, args.only, args.outputs,
                args.lanes)
    except Exception as e:  # papermill's error names the failing cell; keep the exit status meaningful
        print(f"[reproduce] failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
