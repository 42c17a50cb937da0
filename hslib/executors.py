"""How a sweep's runs execute: one interface, `Executor`, and three entries of the `EXECUTORS` registry:
`inline` (this process), `local` (a pool of worker processes it owns, one per GPU on CUDA) and `slurm`
(submitit job arrays), plus the progress line they share. hslib.sweep decides *what* runs and in which order;
an executor only runs a wave of configs and reports each one as it ends.

The local workers never outlive their sweep: an interrupt (Ctrl-C, a notebook's stop button) stops them, and
they exit by themselves if the sweep's process dies (`kill -9`), releasing their runs for the restart.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from . import store
from .config import RunConfig
from . import train
from .device import headless
from .registry import Registry


# ------------------------------------------------------------------------------------------ progress
class Progress:
    """done / running / failed / left: a tqdm bar interactively, one line per finished run headless."""

    def __init__(self, total: int, done: int, desc: str):
        self.total, self.done, self.failed, self.running = total, done, 0, 0
        self.bar = None
        if not headless():
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, initial=done, desc=desc)
        elif total:  # headless: say up front what the sweep holds, also when every run was finished earlier
            print(f"[sweep] {total} run{'s' if total != 1 else ''} (dependencies included): {done} finished earlier, "
                  f"{total - done} to train", flush=True)
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
            log = store.existing_file(log) if isinstance(log, Path) else log  # a path is named only if it exists
            where = f"log: {log}" if log else "no log file"
            note = f"{cfg.id} {cfg.method} FAILED: {error} ({where})"
            print(f"[sweep] run {cfg.id} failed: {error}\n        {where}", file=sys.stderr, flush=True)
        self._show(note)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------------------------------ executors
def _run_one(cfg_dict: dict, root: str, progress: str, log_to_file: bool) -> tuple:
    """Worker body: train one config; return (id, result or None, error or None, log path)."""
    cfg = RunConfig.from_dict(cfg_dict)
    d = store.run_dir(root, cfg)
    log = store.run_file(d, "train_log")
    try:
        if log_to_file:
            d.mkdir(parents=True, exist_ok=True)
            import contextlib
            with open(log, "a") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
                result = train.run(cfg, root, progress="log")
        else:
            result = train.run(cfg, root, progress=progress)
        return cfg.id, result, None, store.existing_file(log)
    except Exception as e:  # reported by the sweep, never fatal to the other runs
        import errno

        error = f"{type(e).__name__}: {e}"
        if isinstance(e, OSError) and e.errno == errno.ENAMETOOLONG:  # name the problem, not just errno 36
            error = f"{type(e).__name__}: the run folder {d} {store.path_problem(d) or 'is too long a path'}"
        # The log named is one that exists: a run that failed before it started has neither file (inline runs
        # never have a train.log), and the handler itself must not fail on a path the OS refuses.
        return cfg.id, None, error, store.existing_file(store.run_file(d, "error")) or store.existing_file(log)


def _init_worker(threads: int, gpu_queue):
    import multiprocessing as mp
    import signal
    import threading

    import torch

    # SIGINT goes to the whole process group: Ctrl-C in a terminal, a Jupyter interrupt, and jupyter_client's
    # interrupt before every kernel shutdown (so each executed notebook). It is for the sweep's main process, which
    # then stops the workers itself (LocalExecutor.run); here it would only print a KeyboardInterrupt traceback per worker.
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


def gpu_ids(gpus: int, visible: str | None = None) -> list[str]:
    """The CUDA_VISIBLE_DEVICES value to give each of `gpus` workers: the entries this process sees (so
    CUDA_VISIBLE_DEVICES=2,3 gives workers '2' and '3', not '0' and '1'), else device indices."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    ids = [v.strip() for v in visible.split(",") if v.strip()] if visible else []
    return ids[:gpus] if len(ids) >= gpus else [str(i) for i in range(gpus)]


def _fail_dead_workers(pending: dict, procs: dict, strikes: dict, root, prog):
    """After a worker died: the run it was training (its run lock names the worker's pid) is reported failed, with
    the signal that killed it; the runs the broken pool stopped besides are left in `pending`, to resume. A worker
    stopped by the pool itself exits by SIGTERM; if every dead worker did (no other culprit), each run they held
    gets a second chance, and fails if a worker dies under it again."""
    import signal as _signal
    import time

    deadline = time.monotonic() + 10
    while any(p.exitcode is None for p in procs.values()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the pool is reaping its workers: wait for their exit codes
    dead = {pid: p.exitcode for pid, p in procs.items() if p.exitcode is not None and p.exitcode != 0}
    held = {}
    for rid, c in pending.items():
        pid = store.lock_holder(store.run_dir(root, c))
        if pid in dead:
            held[rid] = pid
    culprits = {rid: pid for rid, pid in held.items() if dead[pid] != -_signal.SIGTERM}
    if not culprits:  # nobody died by another signal: a SIGTERM from outside, or the runs were not attributable
        for rid in held or pending:
            strikes[rid] = strikes.get(rid, 0) + 1
        culprits = {rid: held.get(rid) for rid in (held or pending) if strikes[rid] >= 2}
    for rid, pid in culprits.items():
        c = pending.pop(rid)
        code = dead.get(pid)
        try:
            how = _signal.Signals(-code).name if code is not None and code < 0 else f"exit status {code}"
        except ValueError:
            how = f"signal {-code}"
        if code == -_signal.SIGKILL:
            how += ", e.g. the out-of-memory killer"
        error = (f"WorkerDied: worker process {pid} died ({how}) while training this run" if pid is not None else
                 "WorkerDied: worker processes died twice while this run was queued or running (not attributable "
                 "to one run: each died before it took a run's lock)")
        d = store.run_dir(root, c)
        try:
            if d.is_dir():  # for whoever looks in the run's folder (a retry removes it)
                store.run_file(d, "error").write_text(error + "\n")
        except OSError:
            pass
        prog.finished(c, error=error, log=store.existing_file(store.run_file(d, "error")) or store.existing_file(store.run_file(d, "train_log")))


class _SubmititRun:
    """A submitit callable that requeues itself on timeout or preemption; the run resumes from its checkpoint."""

    def __call__(self, cfg_dict, root):
        return _run_one(cfg_dict, root, "log", True)

    def checkpoint(self, *args, **kwargs):
        import submitit
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


SLURM_DEFAULTS = {"timeout_min": 24 * 60, "gpus_per_node": 1, "cpus_per_task": 8, "mem_gb": 32,
                  "array_parallelism": 64, "partition": None, "parents": "wave"}


SLURM_CLUSTERS = (None, "slurm", "local", "debug")  # submitit's AutoExecutor clusters; None = slurm if srun exists
SLURM_EXTRA = ("additional", "cluster", "dry_run", "folder")  # slurm options that are not sbatch settings


# ------------------------------------------------------------------------------------------ the interface
class Executor:
    """Runs waves of configs. `check(workers, options)` raises one ValueError for an option it does not take,
    before anything runs; `run(wave, root, prog, progress, workers=None, children=None, **options)` trains the
    wave and reports each run to `prog`; `takes_children(options)` says whether `run` of the parents' wave also
    takes their children (submitted to wait on their parents) instead of a wave of their own."""
    name = ""
    takes = "no executor options"

    def check(self, workers, options: dict):
        unknown = sorted(set(options) - set(SLURM_DEFAULTS) - set(SLURM_EXTRA))
        if unknown:
            raise ValueError(f"unknown executor option(s) {unknown}; allowed: workers (executor='local'), "
                             f"{sorted([*SLURM_DEFAULTS, *SLURM_EXTRA])} (executor='slurm')")
        if workers is not None:
            raise ValueError(f"workers={workers!r} only applies to executor='local', not executor={self.name!r} "
                             f"(which takes {self.takes})")
        if options:
            given = ", ".join(f"{k}={v!r}" for k, v in sorted(options.items()))
            raise ValueError(f"option(s) {given} only apply to executor='slurm', not executor={self.name!r} "
                             f"(which takes {self.takes}); slurm's options: {sorted([*SLURM_DEFAULTS, *SLURM_EXTRA])}")

    def takes_children(self, options: dict) -> bool:
        return False

    def run(self, wave, root, prog, progress, workers=None, children=None, **options):
        raise NotImplementedError


class InlineExecutor(Executor):
    """Every run in this process, one after the other (a notebook kernel, a debugger)."""
    name = "inline"

    def run(self, wave, root, prog, progress, workers=None, children=None, **options):
        for c in wave:
            prog.set_running(1)
            _, result, error, log = _run_one(c.to_dict(), str(root), progress, log_to_file=False)
            prog.set_running(0)
            prog.finished(c, result, error, log)


class LocalExecutor(Executor):
    """A pool of spawned worker processes (one per GPU on CUDA, else one per core), owned by this executor and
    kept between sweeps of one process (imports and data caches stay warm)."""
    name = "local"
    takes = "only workers"

    def __init__(self):
        self._pools = {}  # (workers, threads) -> a live ProcessPoolExecutor

    def check(self, workers, options: dict):
        super().check(None, options)  # no options besides workers
        if workers is not None and not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
            raise ValueError(f"workers={workers!r} is not allowed; allowed values: an integer >= 1")

    def pool(self, workers: int, gpus: int):
        import atexit
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        threads = max(1, (os.cpu_count() or 1) // workers)
        key = (workers, threads)
        if key not in self._pools:
            self.stop()
            ctx = mp.get_context("spawn")  # fork + torch threads can deadlock; spawn starts clean interpreters
            queue = None
            if gpus:
                queue = ctx.Queue()
                ids = gpu_ids(gpus)
                for i in range(workers):
                    queue.put(ids[i % gpus])
            self._pools[key] = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                                   initargs=(threads, queue))
            # At exit (a script's end, a kernel's shutdown) the idle workers are told to stop and are waited for.
            atexit.register(self._pools[key].shutdown, wait=True, cancel_futures=True)
        return self._pools[key]

    def stop(self):
        """Stop the workers now (an interrupted sweep, a broken pool): queued runs are cancelled, running ones are
        terminated and resume from their last checkpoint next time. Nothing trains on behind the user's back."""
        for pool in self._pools.values():
            # ProcessPoolExecutor cannot stop busy workers before Python 3.14 (terminate_workers); its process table can.
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
        self._pools.clear()

    def run(self, wave, root, prog, progress, workers=None, children=None, **options):
        from concurrent.futures import wait
        from concurrent.futures.process import BrokenProcessPool

        import torch

        gpus = torch.cuda.device_count()
        workers = workers or (gpus or os.cpu_count() or 1)  # one process per GPU, else one per core
        if len(wave) == 1 and not self._pools and not gpus:  # starting processes for one run costs more than it saves
            return EXECUTORS["inline"].run(wave, root, prog, progress)
        pending = {c.id: c for c in wave}
        strikes: dict[str, int] = {}  # run id -> how often a pool broke while it was in flight, no culprit known
        try:
            while pending:
                pool = self.pool(workers, gpus)
                try:
                    futures = {pool.submit(_run_one, c.to_dict(), str(root), progress, True): c
                               for c in pending.values()}
                except BrokenProcessPool:  # a worker died earlier (e.g. killed between sweeps): a fresh pool
                    self.stop()
                    continue
                procs = dict(getattr(pool, "_processes", None) or {})  # pid -> Process, to tell how a worker died
                broken = False
                prog.set_running(min(workers, len(pending)))
                not_done = set(futures)
                while not_done:
                    done, not_done = wait(not_done, return_when="FIRST_COMPLETED")
                    procs.update(getattr(pool, "_processes", None) or {})
                    for fut in done:
                        if isinstance(fut.exception(), BrokenProcessPool):
                            broken = True  # every unfinished run of the pool ends so; sorted out below
                            continue
                        rid, result, error, log = fut.result()
                        pending.pop(rid, None)
                        prog.set_running(min(workers, len(pending)))
                        prog.finished(futures[fut], result, error, log)
                if broken:  # a worker died (kill -9, the OOM killer): fail its run, restart the pool, go on
                    self.stop()
                    _fail_dead_workers(pending, procs, strikes, root, prog)
        except BaseException:  # KeyboardInterrupt above all: the workers ignore SIGINT, so stop them from here
            self.stop()
            raise


class SlurmExecutor(Executor):
    """Job arrays through submitit; jobs that time out or are preempted requeue and resume from their checkpoint.
    With parents='dependency' the children's array is submitted with the parents', waiting on it in Slurm."""
    name = "slurm"
    takes = f"only {sorted([*SLURM_DEFAULTS, *SLURM_EXTRA])}"

    def check(self, workers, options: dict):
        super().check(workers, {k: v for k, v in options.items() if k not in SLURM_DEFAULTS and k not in SLURM_EXTRA})
        self.params(options)

    @staticmethod
    def params(options: dict) -> dict:
        """The sbatch settings: the defaults with `options` on top, each checked."""
        p = {**SLURM_DEFAULTS, **{k: v for k, v in options.items() if k in SLURM_DEFAULTS}}
        if p["parents"] not in ("wave", "dependency"):
            raise ValueError(f"parents={p['parents']!r} is not allowed; allowed values: ['wave', 'dependency']")
        for key in ("timeout_min", "gpus_per_node", "cpus_per_task", "mem_gb", "array_parallelism"):
            low = 0 if key == "gpus_per_node" else 1
            if isinstance(p[key], bool) or not isinstance(p[key], int) or p[key] < low:
                raise ValueError(f"{key}={p[key]!r} is not allowed; allowed values: an integer >= {low}")
        if p["partition"] is not None and not isinstance(p["partition"], str):
            raise ValueError(f"partition={p['partition']!r} is not allowed; allowed values: None or a partition name")
        if options.get("cluster") not in SLURM_CLUSTERS:
            raise ValueError(f"cluster={options['cluster']!r} is not known; allowed values: {list(SLURM_CLUSTERS)}")
        return p

    def takes_children(self, options: dict) -> bool:
        return self.params(options)["parents"] == "dependency"

    def dry_run(self, waves, root, options: dict) -> str:
        """The sbatch header each wave would be submitted with, without submitting anything."""
        p = self.params(options)
        texts = []
        for i, wave in enumerate(w for w in waves if w):
            header = f"# wave {i}: {len(wave)} array tasks, at most {p['array_parallelism']} at once"
            if i == 2 and p["parents"] == "dependency":
                header += "; submitted with wave 1, with --dependency=afterany:<wave 1's array job id>"
            try:
                from submitit.slurm.slurm import _make_sbatch_string  # private, used only to render the dry run
                text = _make_sbatch_string(
                    command="python -u -m submitit.core._submit <folder>", folder=str(store.slurm_root(root) / "%j"),
                    job_name="hslib", partition=p["partition"], time=p["timeout_min"], gpus_per_node=p["gpus_per_node"],
                    cpus_per_task=p["cpus_per_task"], mem=f"{p['mem_gb']}GB", map_count=len(wave),
                    array_parallelism=p["array_parallelism"], additional_parameters=dict(options.get("additional") or {}))
            except Exception as e:  # a submitit without the renderer: show the parameters instead
                text = f"{p} ({type(e).__name__})"
            texts.append(header + "\n" + text)
        return "\n\n".join(texts)

    def _executor(self, root, options):
        import submitit

        p = self.params(options)
        folder = options.get("folder") or str(store.slurm_root(root) / "%j")
        ex = submitit.AutoExecutor(folder=folder, cluster=options.get("cluster"), slurm_max_num_timeout=3)
        params = {"timeout_min": p["timeout_min"], "cpus_per_task": p["cpus_per_task"], "mem_gb": p["mem_gb"],
                  "slurm_array_parallelism": p["array_parallelism"], "name": "hslib"}
        if ex.cluster == "slurm":
            params.update(gpus_per_node=p["gpus_per_node"], slurm_partition=p["partition"],
                          slurm_additional_parameters=dict(options.get("additional") or {}))
        ex.update_parameters(**params)
        return ex

    def _submit(self, wave, root, options, after=None):
        """Submit one wave as a job array; `after` = job ids it must wait for (Slurm dependency)."""
        ex = self._executor(root, options)
        if after:
            extra = dict(options.get("additional") or {})
            extra["dependency"] = "afterany:" + ":".join(sorted({j.split("_")[0] for j in after}))
            ex.update_parameters(slurm_additional_parameters=extra)
        return ex.map_array(_SubmititRun(), [c.to_dict() for c in wave], [str(root)] * len(wave))

    @staticmethod
    def _collect(jobs, wave, prog):
        prog.set_running(prog.running + len(jobs))
        for job, c in zip(jobs, wave):
            try:
                _, result, error, log = job.result()
            except Exception as e:  # the job itself died (node failure, cancelled, out of memory)
                result, error, log = None, f"{type(e).__name__}: {str(e).splitlines()[0]}", str(job.paths.stdout)
            prog.set_running(prog.running - 1)
            prog.finished(c, result, error, log)

    def run(self, wave, root, prog, progress, workers=None, children=None, **options):
        jobs = self._submit(wave, root, options) if wave else []
        child_jobs = self._submit(children, root, options, after=[j.job_id for j in jobs]) if children else []
        self._collect(jobs, wave, prog)
        self._collect(child_jobs, children or [], prog)


def _check_executor(name, executor):
    if not (isinstance(executor, Executor) and executor.name == name):
        raise ValueError(f"executor {name!r}: {executor!r} is not allowed; allowed: an Executor whose name is {name!r}")


EXECUTORS = Registry("executor", _check_executor)
for _executor in (InlineExecutor(), LocalExecutor(), SlurmExecutor()):
    EXECUTORS.add(_executor.name, _executor)
