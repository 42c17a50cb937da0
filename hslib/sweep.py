"""Sweeps: the profile's grids as run configs, their dependencies, and three ways to execute them.

A paper figure is dozens of runs. `hslib.planning.grid(experiment, profile)` expands one experiment of a profile into
configs; `run(configs, executor=...)` trains whatever is not finished, in dependency order:
  wave 0  EL2N scoring runs, then the scores (runs that train on hard subsets need them)
  wave 1  every run without a parent, dense parents included
  wave 2  LTH / OMP / OMP_ERK, which start from their finished dense parent
A finished run (complete result.json) is never trained again, and an interrupted one resumes from its
checkpoint, so a sweep killed at any moment loses at most the epochs in flight. One failed run is
reported with its log and does not stop the others (its children are skipped).

Executors (hslib.executors): `inline` (this process: a notebook kernel), `local` (N worker processes; on CUDA
one per visible GPU), `slurm` (submitit job arrays; `cluster="local"` runs them through submitit's local
executor). The grids themselves are hslib.planning's; `python -m hslib.sweep` is the command line.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from . import planning, store
from .config import PROFILES, RunConfig
from .data import check_files, data_root
from .el2n import compute_scores
from .executors import EXECUTORS, SLURM_DEFAULTS, Progress
from .paper import GRIDS, grids_of
from .planning import parent_config, plan, unique
from .scores import load_scores, scores_dir


# ------------------------------------------------------------------------------------------ grids
EXPERIMENTS = tuple(GRIDS)


# ------------------------------------------------------------------------------------------ planning
def _check(configs, executor, workers):
    if executor not in EXECUTORS:
        raise ValueError(f"executor={executor!r} is not known; allowed values: {list(EXECUTORS)}")
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers={workers!r} is not allowed; allowed values: an integer >= 1")
    configs = [c if isinstance(c, RunConfig) else RunConfig.from_dict(dict(c)) for c in configs]
    if not configs:
        raise ValueError("configs is empty: a sweep needs at least one run")
    return configs


def check_data(pairs, what: str = "this sweep", roots_must_exist: bool = True) -> None:
    """Check once, before anything runs, that every (dataset, data_root) in `pairs` has its files where the
    loader will look (hslib.data.check_files: reads no data). Raises one FileNotFoundError listing every
    missing dataset, with where it looked and how to get it. A data_root given (not '') must be a folder even
    for datasets that need no files (digits), unless `roots_must_exist` is False."""
    needs: dict[str, set] = {}
    for dataset, droot in pairs:
        needs.setdefault(droot or "", set()).add(dataset)
    problems = []
    for droot, datasets in sorted(needs.items()):
        if droot and roots_must_exist and not Path(droot).expanduser().is_dir():
            problems.append(f"data_root={droot!r} is not a folder (needed for {sorted(datasets)}); allowed values: "
                            f"'' ($HSLIB_DATA or ./data) or an existing folder")
            continue
        where = Path(droot).expanduser() if droot else data_root(None).absolute()
        for name in sorted(datasets):
            try:
                check_files(name, str(where))
            except FileNotFoundError as e:
                problems.append(str(e) if droot else f"(data_root='' = $HSLIB_DATA or ./data, here {where}) {e}")
    if problems:
        raise FileNotFoundError(f"{what} needs data that is not there; nothing was run:\n  - "
                                + "\n  - ".join(problems))


def preflight(configs, executor: str = "inline", workers=None, **executor_options) -> list[RunConfig]:
    """Every check a sweep makes before it starts (executor, its options, the configs, the data they need),
    each raising one error that names the parameter; nothing is written. Returns the configs as RunConfigs.
    A slurm dry run submits nothing, so its data is not checked."""
    configs = _check(configs, executor, workers)
    EXECUTORS[executor].check(workers, executor_options)
    if not (executor == "slurm" and executor_options.get("dry_run")):
        from .data import check_cache

        check_cache()  # HSLIB_CACHE a file or read-only: one error naming it, not a failure in every run
        check_data({(c.dataset, c.data_root) for c in configs})
    return configs


def slurm_dry_run(configs, root=None, **opts) -> str:
    """The sbatch header each wave would be submitted with, without submitting anything."""
    return EXECUTORS["slurm"].dry_run(plan(_check(configs, "slurm", None)), root, opts)


# ------------------------------------------------------------------------------------------ entry point
def run(configs, executor: str = "inline", root=None, workers: int | None = None,
        progress: str = "auto", tables: bool = True, **executor_options):
    """Train every config not yet finished (dependencies first); return their results as a DataFrame.

    executor: inline | local (workers=N processes) | slurm (options: cluster, partition, timeout_min,
    gpus_per_node, cpus_per_task, mem_gb, array_parallelism, parents='wave', additional={...},
    dry_run=True prints the sbatch headers and submits nothing)."""
    configs = preflight(configs, executor, workers, **executor_options)  # one clear error, before anything runs
    if executor == "slurm" and executor_options.get("dry_run"):
        print(slurm_dry_run(configs, root, **{k: v for k, v in executor_options.items() if k != "dry_run"}))
        return store.results_for([], root)
    root = store.runs_root(root)
    problem = store.path_problem(root)
    if problem:  # every run folder, table and log would fail on it: one error now, not one per run
        raise ValueError(f"root={str(root)!r} {problem}; allowed values: a folder path the file system can hold")
    waves = plan(configs)
    total = sum(len(w) for w in waves)
    todo = [[c for c in w if not store.is_finished(root, c)] for w in waves]
    prog = Progress(total, total - sum(len(w) for w in todo), desc=f"sweep ({executor})")
    failed: set[str] = set()
    runner = EXECUTORS[executor]
    t0 = time.perf_counter()
    try:
        for i, wave in enumerate(todo):
            runnable = []
            for c in wave:
                p = parent_config(c)
                if p is not None and not store.is_finished(root, p):
                    prog.finished(c, error=f"dense parent {p.id} did not finish", log=store.run_file(store.run_dir(root, p), "error"))
                    failed.add(c.id)
                elif c.uses_scores and load_scores(c, root) is None:
                    prog.finished(c, error="its EL2N scores could not be computed", log="see the scoring runs above")
                    failed.add(c.id)
                else:
                    runnable.append(c)
            if i == 1 and runner.takes_children(executor_options):
                # Children go in with their parents, each waiting on its parent's job: one submission, no idle gap.
                kids = [c for c in todo[2] if not c.uses_scores or load_scores(c, root) is not None]
                runner.run(runnable, root, prog, progress, workers=workers, children=kids, **executor_options)
                break
            if runnable:
                runner.run(runnable, root, prog, progress, workers=workers, **executor_options)
            if i == 0:  # after the scoring runs: score every training image, once per scoring setup
                for c in {scoring_key(c): c for c in configs + waves[1] + waves[2] if c.uses_scores}.values():
                    try:
                        compute_scores(c, root)
                    except Exception as e:
                        print(f"[sweep] EL2N scoring for {c.dataset}/{c.model} failed: {e}", file=sys.stderr)
    finally:
        prog.close()
    if tables:  # each profile's tables beside its figures: <outputs>/results/<profile>/
        for name in sorted({c.profile for c in configs}):
            try:
                store.write_tables(root, profile=name)
            except OSError as e:  # the runs are done and readable: say it in one line, return the results
                print(f"[sweep] tables not written: {e.strerror or e}", file=sys.stderr, flush=True)
    df = store.results_for(configs, root)
    df.attrs["failed"] = sorted({c.id for c in configs} - set(df["id"] if len(df) else []))
    df.attrs["seconds"] = time.perf_counter() - t0
    return df


def scoring_key(cfg) -> str:
    return scores_dir(cfg).name


def slurm_options_from_env() -> dict:
    """SLURM knobs for notebook sweeps: HSLIB_SLURM_PARTITION, _TIMEOUT_MIN, _GPUS_PER_NODE, _CPUS_PER_TASK,
    _MEM_GB, _ARRAY_PARALLELISM, _PARENTS, _CLUSTER (e.g. 'local' to try it without a cluster)."""
    opts = {}
    for key, default in {**SLURM_DEFAULTS, "cluster": None}.items():
        raw = os.environ.get(f"HSLIB_SLURM_{key.upper()}")
        if raw is not None:
            if isinstance(default, int) and not isinstance(default, bool):
                try:
                    raw = int(raw)
                except ValueError:
                    raise ValueError(f"HSLIB_SLURM_{key.upper()}={raw!r} is not allowed (slurm option {key}); "
                                     f"allowed values: an integer (default {default})") from None
            opts[key] = raw
    return opts


def main(argv=None):
    """Command line: one experiment's sweep (or all of them) of a profile, with any executor."""
    import argparse


    ap = argparse.ArgumentParser(prog="python -m hslib.sweep", description=main.__doc__)
    ap.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    ap.add_argument("--experiment", nargs="+", default=["all"], choices=["all", *EXPERIMENTS])
    ap.add_argument("--methods", nargs="*", default=None, help="restrict to these methods (default: the grid's)")
    ap.add_argument("--executor", default="inline", choices=list(EXECUTORS))
    ap.add_argument("--workers", type=int, default=None, help="local: processes (default: one per GPU, else per core)")
    ap.add_argument("--outputs", default=None, help="the outputs root: runs/, scores/ and results/ go under it "
                    f"(default: ${store.OUTPUTS_ENV}, else <project>/outputs)")
    ap.add_argument("--data", default="", help="data root (default: $HSLIB_DATA or ./data)")
    ap.add_argument("--dry-run", action="store_true", help="slurm: print the submission, submit nothing")
    for key, default in SLURM_DEFAULTS.items():
        ap.add_argument(f"--{key.replace('_', '-')}", type=type(default) if default is not None else str,
                        default=None, help=f"slurm (default {default})")
    ap.add_argument("--cluster", default=None, help="submitit cluster: slurm (default when srun exists) or local")
    args = ap.parse_args(argv)
    experiments = grids_of(args.profile) if "all" in args.experiment else args.experiment
    try:
        configs = unique([c for e in experiments for c in planning.grid(e, args.profile, methods=args.methods,
                                                               data_root=args.data)])
    except ValueError as e:
        ap.exit(2, f"{ap.prog}: error: {e}\n")
    opts = {k: getattr(args, k) for k in [*SLURM_DEFAULTS, "cluster"] if getattr(args, k) is not None}
    if args.dry_run:
        opts["dry_run"] = True
    try:  # a bad argument: one line naming it (no traceback), before anything runs
        configs = preflight(configs, args.executor, args.workers, **opts)
    except (ValueError, FileNotFoundError) as e:
        ap.exit(2, f"{ap.prog}: error: {e}\n")
    root = store.folder("runs", outputs=args.outputs)
    df = run(configs, executor=args.executor, root=root, workers=args.workers, **opts)
    print(f"{len(df)} of {len(configs)} runs finished; failed: {df.attrs.get('failed', [])}")
    return 1 if df.attrs.get("failed") and not args.dry_run else 0


if __name__ == "__main__":
    sys.exit(main())
