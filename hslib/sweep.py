"""Sweeps: the profile's grids as run configs, their dependencies, and three ways to execute them.

A paper figure is dozens of runs. `grid(experiment, profile)` expands one experiment of a profile into
configs; `run(configs, executor=...)` trains whatever is not finished, in dependency order:
  wave 0  EL2N scoring runs, then the scores (runs that train on hard subsets need them)
  wave 1  every run without a parent, dense parents included
  wave 2  LTH / OMP / OMP_ERK, which start from their finished dense parent
A finished run (complete result.json) is never trained again, and an interrupted one resumes from its
checkpoint, so a sweep killed at any moment loses at most the epochs in flight. One failed run is
reported with its log and does not stop the others (its children are skipped).

Executors: `inline` (this process: a notebook kernel), `local` (N worker processes; on CUDA one per visible
GPU), `slurm` (submitit job arrays; `cluster="local"` runs them through submitit's local executor).
The local workers never outlive their sweep: an interrupt (Ctrl-C, a notebook's stop button) stops them, and
they exit by themselves if the sweep's process dies (`kill -9`), releasing their runs for the restart.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from . import experiments, store
from .config import RunConfig
from .experiments import GRIDS, expand, unique  # noqa: F401  (expand: public here too)
from .sparse.methods import METHODS

EXECUTORS = ("inline", "local", "slurm")


# ------------------------------------------------------------------------------------------ grids
EXPERIMENTS = tuple(GRIDS)


def grid(experiment: str, profile: str = "smoke", methods=None, **overrides) -> list[RunConfig]:
    """The runs of one experiment of a profile: what the figures drawing from it need (hslib.experiments).
    `methods` restricts the methods (dense is kept when listed); `overrides` are RunConfig fields (e.g.
    data_root, device)."""
    unknown = [m for m in (methods or []) if m not in METHODS]
    if unknown:
        raise ValueError(f"methods={unknown} are not known; allowed values: {sorted(METHODS)}")
    configs = experiments.grid(experiment, profile, **overrides)
    if methods:
        configs = [c for c in configs if c.method in methods]
    if not configs:
        raise ValueError(f"grid {experiment!r} of profile {profile!r} with methods={methods} has no runs")
    return configs


# ------------------------------------------------------------------------------------------ planning
def plan(configs) -> list[list[RunConfig]]:
    """Waves in dependency order: [scoring runs], [runs without parent + dense parents], [children]."""
    from .el2n import scoring_configs
    from .train import parent_config

    scoring, free, children = [], [], []
    for c in configs:
        if c.uses_scores:
            scoring += scoring_configs(c)
        p = parent_config(c)
        if p is None:
            free.append(c)
        else:
            free.append(p)
            children.append(c)
            if p.uses_scores:
                scoring += scoring_configs(p)
    return [unique(scoring), unique(free), unique(children)]


def _check(configs, executor, workers):
    if executor not in EXECUTORS:
        raise ValueError(f"executor={executor!r} is not known; allowed values: {list(EXECUTORS)}")
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers={workers!r} is not allowed; allowed values: an integer >= 1")
    configs = [c if isinstance(c, RunConfig) else RunConfig.from_dict(dict(c)) for c in configs]
    if not configs:
        raise ValueError("configs is empty: a sweep needs at least one run")
    return configs


# ------------------------------------------------------------------------------------------ progress
class Progress:
    """done / running / failed / left: a tqdm bar interactively, one line per finished run headless."""

    def __init__(self, total: int, done: int, desc: str):
        from .train import headless

        self.total, self.done, self.failed, self.running = total, done, 0, 0
        self.bar = None
        if not headless():
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, initial=done, desc=desc)
        self._show()

    def _show(self, note: str = ""):
        left = self.total - self.done - self.failed
        if self.bar is not None:
            self.bar.n = self.done + self.failed
            self.bar.set_postfix(done=self.done, running=self.running, failed=self.failed, left=left)
        elif note:
            print(f"[sweep] {self.done}/{self.total} done, {self.failed} failed, {left} left: {note}", flush=True)

    def set_running(self, n: int):
        self.running = n
        self._show()

    def finished(self, cfg, result=None, error=None, log=None):
        if error is None:
            self.done += 1
            note = f"{cfg.id} {cfg.method} density={cfg.density:g} ratio={cfg.data_ratio:g} test_acc={result['test_acc']:.3f}"
        else:
            self.failed += 1
            note = f"{cfg.id} {cfg.method} FAILED: {error} (log: {log})"
            print(f"[sweep] run {cfg.id} failed: {error}\n        log: {log}", file=sys.stderr, flush=True)
        self._show(note)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------------------------------ executors
def _run_one(cfg_dict: dict, root: str, progress: str, log_to_file: bool) -> tuple:
    """Worker body: train one config; return (id, result or None, error or None, log path)."""
    from . import train

    cfg = RunConfig.from_dict(cfg_dict)
    d = store.run_dir(root, cfg)
    log = d / "train.log"
    try:
        if log_to_file:
            d.mkdir(parents=True, exist_ok=True)
            import contextlib
            with open(log, "a") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
                result = train.run(cfg, root, progress="log")
        else:
            result = train.run(cfg, root, progress=progress)
        return cfg.id, result, None, str(log)
    except Exception as e:  # reported by the sweep, never fatal to the other runs
        err_file = d / "error.txt"
        return cfg.id, None, f"{type(e).__name__}: {e}", str(err_file if err_file.exists() else log)


def _init_worker(threads: int, gpu_queue):
    import multiprocessing as mp
    import signal
    import threading

    import torch

    # SIGINT goes to the whole process group: Ctrl-C in a terminal, a Jupyter interrupt, and jupyter_client's
    # interrupt before every kernel shutdown (so each executed notebook). It is for the sweep's main process, which
    # then stops the workers itself (_local); here it would only print a KeyboardInterrupt traceback per worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker must not outlive its sweep: after `kill -9` of the main process it would train on (holding its run's
    # lock) with nobody to collect the result. The parent's sentinel becomes readable the moment the parent is gone.
    parent = mp.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True,
                         name="hslib-exit-with-parent").start()
    if gpu_queue is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_queue.get())
    torch.set_num_threads(threads)


def _exit_with_parent(sentinel):
    from multiprocessing.connection import wait

    wait([sentinel])  # blocks until the parent process has exited, however it died
    os._exit(1)  # at once: no cleanup that could wait on the dead parent; the OS releases the run lock


def _inline(wave, root, prog, progress, **_):
    for c in wave:
        prog.set_running(1)
        _, result, error, log = _run_one(c.to_dict(), str(root), progress, log_to_file=False)
        prog.set_running(0)
        prog.finished(c, result, error, log)


_POOL = {}  # (workers, threads) -> a live ProcessPoolExecutor, reused by later sweeps of this process


def _pool(workers: int, gpus: int):
    """A pool of `workers` spawned processes, kept for the next sweep (imports and data caches stay warm)."""
    import atexit
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // workers)
    key = (workers, threads)
    if key not in _POOL:
        for old in _POOL.values():
            old.shutdown()
        _POOL.clear()
        ctx = mp.get_context("spawn")  # fork + torch threads can deadlock; spawn starts clean interpreters
        queue = None
        if gpus:
            queue = ctx.Queue()
            for i in range(workers):
                queue.put(i % gpus)
        _POOL[key] = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(threads, queue))
        # At exit (a script's end, a notebook kernel's shutdown) the idle workers are told to stop and are waited for.
        atexit.register(_POOL[key].shutdown, wait=True, cancel_futures=True)
    return _POOL[key]


def _stop_pool():
    """Stop the workers now (an interrupted sweep): queued runs are cancelled, the running ones are terminated and
    resume from their last checkpoint next time. Nothing goes on training behind the user's back."""
    for pool in _POOL.values():
        # ProcessPoolExecutor cannot stop busy workers before Python 3.14 (terminate_workers); its process table can.
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()
    _POOL.clear()


def _local(wave, root, prog, progress, workers=None, **_):
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    import torch

    gpus = torch.cuda.device_count()
    workers = workers or (gpus or os.cpu_count() or 1)  # one process per GPU, else one per core
    if len(wave) == 1 and not _POOL and not gpus:  # starting processes for one run costs more than it saves
        return _inline(wave, root, prog, progress)
    pool = _pool(workers, gpus)
    by_id = {c.id: c for c in wave}
    try:
        futures = [pool.submit(_run_one, c.to_dict(), str(root), progress, True) for c in wave]
    except BrokenProcessPool:  # a worker died earlier (e.g. killed): start a fresh pool
        _POOL.clear()
        pool = _pool(workers, gpus)
        futures = [pool.submit(_run_one, c.to_dict(), str(root), progress, True) for c in wave]
    left = len(wave)
    prog.set_running(min(workers, left))
    try:
        for fut in as_completed(futures):
            rid, result, error, log = fut.result()
            left -= 1
            prog.set_running(min(workers, left))
            prog.finished(by_id[rid], result, error, log)
    except BaseException:  # KeyboardInterrupt above all: the workers ignore SIGINT, so stop them from here
        _stop_pool()
        raise


class _SubmititRun:
    """A submitit callable that requeues itself on timeout or preemption; the run resumes from its checkpoint."""

    def __call__(self, cfg_dict, root):
        return _run_one(cfg_dict, root, "log", True)

    def checkpoint(self, *args, **kwargs):
        import submitit
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


SLURM_DEFAULTS = {"timeout_min": 24 * 60, "gpus_per_node": 1, "cpus_per_task": 8, "mem_gb": 32,
                  "array_parallelism": 64, "partition": None, "parents": "wave"}


def _slurm_params(opts: dict) -> dict:
    unknown = sorted(set(opts) - set(SLURM_DEFAULTS) - {"cluster", "folder", "dry_run", "additional"})
    if unknown:
        raise ValueError(f"unknown slurm option(s) {unknown}; allowed: {sorted(SLURM_DEFAULTS) + ['additional', 'cluster', 'dry_run', 'folder']}")
    p = {**SLURM_DEFAULTS, **{k: v for k, v in opts.items() if k in SLURM_DEFAULTS}}
    if p["parents"] not in ("wave", "dependency"):
        raise ValueError(f"parents={p['parents']!r} is not allowed; allowed values: ['wave', 'dependency']")
    for key in ("timeout_min", "gpus_per_node", "cpus_per_task", "mem_gb", "array_parallelism"):
        low = 0 if key == "gpus_per_node" else 1
        if isinstance(p[key], bool) or not isinstance(p[key], int) or p[key] < low:
            raise ValueError(f"{key}={p[key]!r} is not allowed; allowed values: an integer >= {low}")
    if p["partition"] is not None and not isinstance(p["partition"], str):
        raise ValueError(f"partition={p['partition']!r} is not allowed; allowed values: None or a partition name")
    if opts.get("cluster") not in SLURM_CLUSTERS:
        raise ValueError(f"cluster={opts['cluster']!r} is not known; allowed values: {list(SLURM_CLUSTERS)}")
    return p


SLURM_CLUSTERS = (None, "slurm", "local", "debug")  # submitit's AutoExecutor clusters; None = slurm if srun exists
SLURM_EXTRA = ("additional", "cluster", "dry_run", "folder")  # slurm options that are not sbatch settings


def _check_options(executor: str, workers, opts: dict):
    """Each executor option goes to the executor that reads it: `workers` to 'local', the others to 'slurm'."""
    slurm_names = sorted([*SLURM_DEFAULTS, *SLURM_EXTRA])
    unknown = sorted(set(opts) - set(slurm_names))
    if unknown:
        raise ValueError(f"unknown executor option(s) {unknown}; allowed: workers (executor='local'), "
                         f"{slurm_names} (executor='slurm')")
    takes = {"inline": "no executor options", "local": "only workers", "slurm": f"only {slurm_names}"}[executor]
    if workers is not None and executor != "local":
        raise ValueError(f"workers={workers!r} only applies to executor='local', not executor={executor!r} "
                         f"(which takes {takes})")
    if opts and executor != "slurm":
        given = ", ".join(f"{k}={v!r}" for k, v in sorted(opts.items()))
        raise ValueError(f"option(s) {given} only apply to executor='slurm', not executor={executor!r} "
                         f"(which takes {takes}); slurm's options: {slurm_names}")
    if executor == "slurm":
        _slurm_params(opts)


def check_data(pairs, what: str = "this sweep", roots_must_exist: bool = True) -> None:
    """Check once, before anything runs, that every (dataset, data_root) in `pairs` has its files where the
    loader will look (hslib.data.check_files: reads no data). Raises one FileNotFoundError listing every
    missing dataset, with where it looked and how to get it. A data_root given (not '') must be a folder even
    for datasets that need no files (digits), unless `roots_must_exist` is False."""
    from .data import check_files, data_root

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
    _check_options(executor, workers, executor_options)
    if not (executor == "slurm" and executor_options.get("dry_run")):
        check_data({(c.dataset, c.data_root) for c in configs})
    return configs


def _executor(root, opts):
    import submitit

    p = _slurm_params(opts)
    folder = opts.get("folder") or str(store.outputs_dir("slurm", Path(root).parent) / "%j")
    ex = submitit.AutoExecutor(folder=folder, cluster=opts.get("cluster"), slurm_max_num_timeout=3)
    params = {"timeout_min": p["timeout_min"], "cpus_per_task": p["cpus_per_task"], "mem_gb": p["mem_gb"],
              "slurm_array_parallelism": p["array_parallelism"], "name": "hslib"}
    if ex.cluster == "slurm":
        params.update(gpus_per_node=p["gpus_per_node"], slurm_partition=p["partition"],
                      slurm_additional_parameters=dict(opts.get("additional") or {}))
    ex.update_parameters(**params)
    return ex


def _slurm_submit(wave, root, opts, after=None):
    """Submit one wave as a job array; `after` = job ids it must wait for (Slurm dependency)."""
    ex = _executor(root, opts)
    if after:
        extra = dict(opts.get("additional") or {})
        extra["dependency"] = "afterany:" + ":".join(sorted({j.split("_")[0] for j in after}))
        ex.update_parameters(slurm_additional_parameters=extra)
    return ex.map_array(_SubmititRun(), [c.to_dict() for c in wave], [str(root)] * len(wave))


def _slurm_collect(jobs, wave, prog):
    prog.set_running(prog.running + len(jobs))
    for job, c in zip(jobs, wave):
        try:
            _, result, error, log = job.result()
        except Exception as e:  # the job itself died (node failure, cancelled, out of memory)
            result, error, log = None, f"{type(e).__name__}: {str(e).splitlines()[0]}", str(job.paths.stdout)
        prog.set_running(prog.running - 1)
        prog.finished(c, result, error, log)


def _slurm(wave, root, prog, progress, children=None, **opts):
    """Run a wave as a job array and wait; with parents='dependency', `children` are submitted at once
    with a Slurm dependency on this wave instead of waiting for it here."""
    opts.pop("workers", None)
    jobs = _slurm_submit(wave, root, opts)
    if children:
        child_jobs = _slurm_submit(children, root, opts, after=[j.job_id for j in jobs])
        _slurm_collect(jobs, wave, prog)
        _slurm_collect(child_jobs, children, prog)
    else:
        _slurm_collect(jobs, wave, prog)


def slurm_dry_run(configs, root=store.DEFAULT_ROOT, **opts) -> str:
    """The sbatch header each wave would be submitted with, without submitting anything."""
    p = _slurm_params(opts)
    waves = [w for w in plan(_check(configs, "slurm", None)) if w]
    texts = []
    for i, wave in enumerate(waves):
        header = f"# wave {i}: {len(wave)} array tasks, at most {p['array_parallelism']} at once"
        if i == 2 and p["parents"] == "dependency":
            header += "; submitted with wave 1, with --dependency=afterany:<wave 1's array job id>"
        try:
            from submitit.slurm.slurm import _make_sbatch_string  # private, used only to render the dry run
            text = _make_sbatch_string(
                command="python -u -m submitit.core._submit <folder>", folder=str(store.outputs_dir("slurm", Path(root).parent) / "%j"),
                job_name="hslib", partition=p["partition"], time=p["timeout_min"], gpus_per_node=p["gpus_per_node"],
                cpus_per_task=p["cpus_per_task"], mem=f"{p['mem_gb']}GB", map_count=len(wave),
                array_parallelism=p["array_parallelism"], additional_parameters=dict(opts.get("additional") or {}))
        except Exception as e:  # a submitit without the renderer: show the parameters instead
            text = f"{p} ({type(e).__name__})"
        texts.append(header + "\n" + text)
    return "\n\n".join(texts)


# ------------------------------------------------------------------------------------------ entry point
def run(configs, executor: str = "inline", root=store.DEFAULT_ROOT, workers: int | None = None,
        progress: str = "auto", tables: bool = True, **executor_options):
    """Train every config not yet finished (dependencies first); return their results as a DataFrame.

    executor: inline | local (workers=N processes) | slurm (options: cluster, partition, timeout_min,
    gpus_per_node, cpus_per_task, mem_gb, array_parallelism, parents='wave', additional={...},
    dry_run=True prints the sbatch headers and submits nothing)."""
    configs = preflight(configs, executor, workers, **executor_options)  # one clear error, before anything runs
    if executor == "slurm" and executor_options.get("dry_run"):
        print(slurm_dry_run(configs, root, **{k: v for k, v in executor_options.items() if k != "dry_run"}))
        return store.results_for([], root)
    from .el2n import compute_scores, load_scores
    from .train import parent_config

    root = Path(root)
    waves = plan(configs)
    total = sum(len(w) for w in waves)
    todo = [[c for c in w if not store.is_finished(root, c)] for w in waves]
    prog = Progress(total, total - sum(len(w) for w in todo), desc=f"sweep ({executor})")
    failed: set[str] = set()
    body = {"inline": _inline, "local": _local, "slurm": _slurm}[executor]
    t0 = time.perf_counter()
    try:
        for i, wave in enumerate(todo):
            runnable = []
            for c in wave:
                p = parent_config(c)
                if p is not None and not store.is_finished(root, p):
                    prog.finished(c, error=f"dense parent {p.id} did not finish", log=store.run_dir(root, p) / "error.txt")
                    failed.add(c.id)
                elif c.uses_scores and load_scores(c, root) is None:
                    prog.finished(c, error="its EL2N scores could not be computed", log="see the scoring runs above")
                    failed.add(c.id)
                else:
                    runnable.append(c)
            if executor == "slurm" and i == 1 and _slurm_params(executor_options)["parents"] == "dependency":
                # Children go in now, each array waiting on the parents' array: one submission, no idle gap.
                kids = [c for c in todo[2] if not c.uses_scores or load_scores(c, root) is not None]
                _slurm(runnable, root, prog, progress, children=kids, **executor_options)
                break
            if runnable:
                body(runnable, root, prog, progress, workers=workers, **executor_options)
            if i == 0:  # after the scoring runs: score every training image, once per scoring setup
                for c in {scoring_key(c): c for c in configs + waves[1] + waves[2] if c.uses_scores}.values():
                    try:
                        compute_scores(c, root, progress=progress)
                    except Exception as e:
                        print(f"[sweep] EL2N scoring for {c.dataset}/{c.model} failed: {e}", file=sys.stderr)
    finally:
        prog.close()
    if tables:
        store.write_tables(root, root.parent / "results")
    df = store.results_for(configs, root)
    df.attrs["failed"] = sorted({c.id for c in configs} - set(df["id"] if len(df) else []))
    df.attrs["seconds"] = time.perf_counter() - t0
    return df


def scoring_key(cfg) -> str:
    from .el2n import scores_dir
    return str(scores_dir(cfg))


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

    from .config import PROFILES

    ap = argparse.ArgumentParser(prog="python -m hslib.sweep", description=main.__doc__)
    ap.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    ap.add_argument("--experiment", nargs="+", default=["all"], choices=["all", *EXPERIMENTS])
    ap.add_argument("--methods", nargs="*", default=None, help="restrict to these methods (default: the grid's)")
    ap.add_argument("--executor", default="inline", choices=list(EXECUTORS))
    ap.add_argument("--workers", type=int, default=None, help="local: processes (default: one per GPU, else per core)")
    ap.add_argument("--root", default=store.DEFAULT_ROOT)
    ap.add_argument("--data", default="", help="data root (default: $HSLIB_DATA or ./data)")
    ap.add_argument("--dry-run", action="store_true", help="slurm: print the submission, submit nothing")
    for key, default in SLURM_DEFAULTS.items():
        ap.add_argument(f"--{key.replace('_', '-')}", type=type(default) if default is not None else str,
                        default=None, help=f"slurm (default {default})")
    ap.add_argument("--cluster", default=None, help="submitit cluster: slurm (default when srun exists) or local")
    args = ap.parse_args(argv)
    experiments = EXPERIMENTS if "all" in args.experiment else args.experiment
    try:
        configs = unique([c for e in experiments for c in grid(e, args.profile, methods=args.methods,
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
    df = run(configs, executor=args.executor, root=args.root, workers=args.workers, **opts)
    print(f"{len(df)} of {len(configs)} runs finished; failed: {df.attrs.get('failed', [])}")
    return 1 if df.attrs.get("failed") and not args.dry_run else 0


if __name__ == "__main__":
    sys.exit(main())
