"""Execute the numbered notebook series with papermill: `python -m hslib.reproduce --profile smoke`.

Executed copies go to outputs/notebooks/<profile>/ (git-ignored). Figures and tables go to outputs/reproduced/
(git-ignored), never over the committed reference in outputs/figures/<profile>/ and outputs/results/<profile>/;
then `hslib.reference` compares the two and writes outputs/results/<profile>/reproduction.md (git-ignored), and
the last line printed says how they compare. `--check` exits non-zero when they do not match; `--reference`
(`make reference`) regenerates the committed reference: the same reproduction, promoted over the reference only
after every notebook finished (`reference.promote`), so a failed one leaves the reference as it was. Finished runs
are reused, so a second call only re-renders.

The series is a small dependency graph. Two lanes are independent of each other and run side by side
(`--lanes 2`, the default): the primers and the intrinsic-hardness lane (00 → 01 → 02 → 03 per method → 04)
and the external-perturbation lane (05 → 06); then, one at a time, 10 (its Figure E3 times inference, which a
lane's training beside it would disturb) and 07, 08 and 09, which read everything. Side by side, one lane's
kernel start-up, imports and plotting overlap the other's training. Runs both lanes might want (e.g. a
full-data dense run) are protected by a per-run lock: one lane trains, the other waits and reads it back.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .config import PROFILES
from . import reference as ref
from . import store
from .series import EXTENSION_NOTEBOOKS, FINAL, LANES, SERIES, label
from .paper import extension
from .planning import all_configs
from .sweep import EXECUTORS, check_data



def kernel_name(requested: str | None) -> str:
    """The registered 'hslib' kernel if present (make registers it), else this interpreter's python3."""
    from jupyter_client.kernelspec import KernelSpecManager

    installed = KernelSpecManager().find_kernel_specs()
    if requested:
        if requested not in installed:
            raise ValueError(f"kernel={requested!r} is not an installed Jupyter kernel; allowed values: "
                             f"{sorted(installed)} (make registers 'hslib')")
        return requested
    return "hslib" if "hslib" in installed else "python3"


def kernel_config():
    """Kernel-manager settings for executing notebooks: the kernel's connection encrypted (CurveZMQ) wherever
    jupyter_client, libzmq and the kernel support it (ipykernel >= 7 declares it). Without it every kernel logs
    'Kernel is running over TCP without encryption': true then, so the cause is removed rather than the warning
    muted; a kernel that cannot encrypt still runs, and still says so."""
    import zmq
    from jupyter_client import KernelManager
    from traitlets.config import Config

    config = Config()
    if zmq.has("curve") and hasattr(KernelManager, "transport_encryption"):  # jupyter_client >= 8.10
        config.KernelManager.transport_encryption = "auto"  # only for kernels that declare support
    return config


def kernel_manager_class():
    """jupyter_client's AsyncKernelManager without the interrupt it sends before each shutdown: SIGINT to the
    kernel's whole process group. Papermill shuts a kernel down once its cells are done (or one failed), so there
    is nothing to interrupt; the signal only races the kernel's last reply ('KeyboardInterrupt caught in kernel.')
    and reaches the sweep's pool workers. An interrupt that is not part of a shutdown is sent as before."""
    from jupyter_client import AsyncKernelManager

    class KernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self):  # jupyter_client 8's shutdown calls this first, shutting_down set
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

        async def _async_launch_kernel(self, kernel_cmd, **kw):  # known to _stop_kernels from launch to cleanup
            await super()._async_launch_kernel(kernel_cmd, **kw)
            _KERNELS.add(self.provisioner)

        async def _async_cleanup_resources(self, restart: bool = False):
            _KERNELS.discard(self.provisioner)
            await super()._async_cleanup_resources(restart)

    return KernelManager


_KERNELS: set = set()  # the provisioners of this process's running kernels (KernelManager above)


def _stop_kernels(grace: float = 3.0):
    """Stop this process's kernels and everything they started (a sweep's pool workers, its helpers): each kernel
    leads its own process group (jupyter_client starts it in a new session), so SIGTERM goes to the group, then
    SIGKILL to what is left after `grace` seconds."""
    import signal

    groups, processes = set(), []
    for prov in list(_KERNELS):
        process = getattr(prov, "process", None)
        group = getattr(prov, "pgid", None) or getattr(process, "pid", None)
        if group:
            groups.add(group)
        if process is not None:
            processes.append(process)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in list(groups):
            try:
                os.killpg(group, sig)
            except (ProcessLookupError, PermissionError):
                groups.discard(group)
        deadline = time.monotonic() + grace
        while sig == signal.SIGTERM and groups and time.monotonic() < deadline:
            for process in processes:
                process.poll()  # reap a dead kernel: a zombie would keep its group "alive"
            for group in list(groups):
                try:
                    os.killpg(group, 0)  # anyone left in the group?
                except (ProcessLookupError, PermissionError):
                    groups.discard(group)
            time.sleep(0.05)
    _KERNELS.clear()


def _on_sigterm(signum, frame):
    """SIGTERM (`kill`, a job scheduler, a container stop): stop the kernels and the lanes, then exit 128 + 15.
    Without it the kernels (in sessions of their own) and the lane processes outlived us and kept training."""
    import multiprocessing as mp
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    children = mp.active_children()  # the lane processes, if this is the main process
    for child in children:
        child.terminate()  # each lane runs this handler for its own kernels
    _stop_kernels()
    deadline = time.monotonic() + 5
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
    print(f"[reproduce] stopped by signal {signum}", file=sys.stderr, flush=True)
    os._exit(128 + signum)  # now: no atexit handler may wait for the lanes' pool or a kernel


def _init_lane():
    """A lane process: on SIGTERM it stops its kernels, and it never outlives the main process (after its `kill -9`
    it stops its kernels and exits: the sentinel of the parent becomes readable when the parent is gone)."""
    import multiprocessing as mp
    import signal
    import threading

    signal.signal(signal.SIGTERM, _on_sigterm)
    parent = mp.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True,
                         name="hslib-lane-exit-with-parent").start()


def _exit_with_parent(sentinel):
    from multiprocessing.connection import wait

    wait([sentinel])
    _stop_kernels()
    os._exit(1)


def _execute_lane(notebooks, params: dict, kernel: str, root: str, outputs: str) -> list:
    """Execute notebooks in order (in this process or a lane process); return [(name, seconds)]."""
    import papermill as pm

    saved = {k: os.environ.get(k) for k in ("HSLIB_HEADLESS", "HSLIB_PROJECT", store.OUTPUTS_ENV)}
    os.environ["HSLIB_HEADLESS"] = "1"  # kernels inherit it: one log line per epoch, no progress bars
    os.environ["HSLIB_PROJECT"] = root
    os.environ[store.OUTPUTS_ENV] = outputs
    timings = []
    try:
        for name, extra in notebooks:
            name_run = label(name, extra)
            target = store.folder("notebooks", params["profile"], outputs) / f"{name_run}.ipynb"
            print(f"[reproduce] {name_run} ...", flush=True)
            t0 = time.perf_counter()
            pm.execute_notebook(str(Path(root) / "notebooks" / f"{name}.ipynb"), str(target),
                                parameters={**params, **extra}, kernel_name=kernel, cwd=root, progress_bar=False,
                                config=kernel_config(), kernel_manager_class=kernel_manager_class())
            timings.append((name_run, time.perf_counter() - t0))
            print(f"[reproduce] {name_run} done in {timings[-1][1]:.1f}s -> {target}", flush=True)
    finally:  # the final notebooks run in the caller's process: leave its environment as it was
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return timings


def _check_inputs(profile, executor, workers, data, only):
    """What every notebook's setup() would reject, rejected once here instead of in the first notebook."""
    if not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 0):
        raise ValueError(f"workers={workers!r} is not allowed; allowed values: 0 (automatic) or an integer >= 1")
    if workers and executor != "local":
        raise ValueError(f"workers={workers!r} only applies to executor='local', not executor={executor!r}; "
                         f"allowed values: 0 with executor={executor!r}")
    if not isinstance(data, str) or (data and not Path(data).expanduser().is_dir()):
        raise ValueError(f"data={data!r} is not a folder; allowed values: '' (use $HSLIB_DATA or ./data) "
                         f"or an existing folder")
    names = list(dict.fromkeys(name for name, _ in SERIES))
    for prefix in only or []:
        if not any(n.startswith(prefix) for n in names):
            raise ValueError(f"only={prefix!r} matches no notebook; allowed values: prefixes of {names}")


def _check_data(profile, data, root):
    """Every dataset the profile's sweeps need, checked once (files present, nothing read)."""
    # The notebooks run with the project as their folder, so an empty data root means <project>/data there.
    droot = str(Path(data).expanduser()) if data else (os.environ.get("HSLIB_DATA") or str(root / "data"))
    datasets = {c.dataset for c in all_configs(profile)}
    check_data({(d, droot) for d in datasets}, what=f"profile={profile!r}", roots_must_exist=bool(data))


class ReproductionDiffers(RuntimeError):
    """`check=True`: the reproduction does not match the committed reference (hslib.reference.failures)."""


class _reproducing:
    """$HSLIB_REPRODUCTION=1 while the notebooks run (lane processes and kernels inherit it), then as before."""

    def __init__(self):
        self.before = os.environ.get(store.REPRODUCTION_ENV)

    def __enter__(self):
        os.environ[store.REPRODUCTION_ENV] = "1"

    def __exit__(self, *exc):
        if self.before is None:
            os.environ.pop(store.REPRODUCTION_ENV, None)
        else:
            os.environ[store.REPRODUCTION_ENV] = self.before


def execute(profile="smoke", executor="local", workers=0, data="", kernel=None, only=None, outputs=None,
            lanes=2, log=print, check=False, reference=False) -> list:
    """Run the series (or the notebooks whose names start with one of `only`); return [(name, seconds)].
    `outputs` (default $HSLIB_OUTPUTS, else <project>/outputs) receives runs/, reproduced/ and notebooks/, and the
    report on how the reproduction compares with the committed reference (the whole series only). `check`: raise
    ReproductionDiffers when it does not match; `reference`: promote the figures and tables over the committed
    reference once the whole series finished (the report then says what the new reference changed)."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    if not isinstance(check, bool) or not isinstance(reference, bool):
        raise ValueError(f"check={check!r}, reference={reference!r} are not allowed; allowed values: True or False")
    if check and (reference or only):
        raise ValueError(f"check=True compares the whole series with the committed reference; allowed with "
                         f"reference=False and only=None, not reference={reference!r}, only={only!r}")
    if reference and only:
        raise ValueError(f"reference=True regenerates the whole committed reference; allowed with only=None, not "
                         f"only={only!r}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor={executor!r} is not known; allowed values: {list(EXECUTORS)}")
    if lanes not in (1, 2):
        raise ValueError(f"lanes={lanes!r} is not allowed; allowed values: [1, 2]")
    _check_inputs(profile, executor, workers, data, only)  # one clear error before any notebook starts
    root = store.project_root()
    _check_data(profile, data, root)
    kernel = kernel_name(kernel)
    outputs = store.outputs_root(outputs).resolve()
    if store.path_problem(outputs):  # every notebook would fail on it: one error naming it, before any starts
        raise ValueError(f"outputs={str(outputs)!r} {store.path_problem(outputs)}; allowed values: a folder path "
                         f"the file system can hold")
    store.folder("notebooks", profile, outputs).mkdir(parents=True, exist_ok=True)
    params = {"profile": profile, "executor": executor, "workers": workers, "data_root": data}
    args = (params, kernel, str(root), str(outputs))
    skip = () if extension(profile) else EXTENSION_NOTEBOOKS  # the extension's notebook where the profile plans it
    keep = (lambda nbs: [nb for nb in nbs if nb[0] not in skip and (not only or any(nb[0].startswith(o) for o in only))])
    before = ref.profile_snapshot(profile, outputs, reference=True) if reference else None  # what it replaces
    if not only:  # the whole series rewrites every figure and table: none left from an older reproduction
        for name in ("figures", "results"):
            shutil.rmtree(store.folder(name, profile, outputs, reference=False), ignore_errors=True)
    t0 = time.perf_counter()
    # The notebooks and the book see this reproduction's figures and tables, `make reference` too: it promotes
    # them over the committed reference only once every notebook finished (reference.promote).
    with _reproducing():
        if lanes == 1:
            timings = _execute_lane(keep(SERIES), *args)
        else:
            import multiprocessing as mp

            with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=_init_lane) as pool:
                futures = [pool.submit(_execute_lane, keep(lane), *args) for lane in LANES]
                timings = [t for f in futures for t in f.result()]
            timings += _execute_lane(keep(FINAL), *args)
        figures = store.folder("figures", profile, outputs)
        log(f"[reproduce] {len(timings)} notebooks in {time.perf_counter() - t0:.1f}s "
            f"({sum(t for _, t in timings):.1f}s of notebook time); figures in {figures}")
        if only:  # part of the series: nothing to compare the whole reference with
            return timings
        if reference:  # the executed notebooks join the reference of the profiles that commit them
            executed = [n for n, _ in timings] if profile in store.EXECUTED_REFERENCE else None
            promoted = ref.promote(profile, outputs, executed)
            log(f"[reproduce] promoted over the committed reference: {', '.join(map(str, promoted))}")
        report = ref.report(profile, outputs, reference=before)  # before the book, which shows it as a page
        from .book import build

        log(f"[reproduce] book: {build(profile, outputs)}")
    log(f"[reproduce] report: {store.results_file(profile, 'reproduction', outputs, reference=True)}")
    if reference:
        log(f"[reproduce] the committed reference of {profile!r} was regenerated; against the previous one: "
            f"{ref.summary_line(report)}. Review `git status outputs/` and commit it.")
        return timings
    log(f"[reproduce] {ref.summary_line(report)}")  # the last line: does it match the committed reference?
    fails = ref.failures(report) if check else []
    if fails:
        raise ReproductionDiffers("the reproduction does not match the committed reference: " + "; ".join(fails))
    return timings


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m hslib.reproduce", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    ap.add_argument("--executor", default="local", choices=list(EXECUTORS))
    ap.add_argument("--workers", type=int, default=0, help="local executor processes (0 = automatic)")
    ap.add_argument("--data", default="", help="data root (default: $HSLIB_DATA or ./data)")
    ap.add_argument("--kernel", default=None, help="Jupyter kernel (default: hslib if registered, else python3)")
    ap.add_argument("--only", nargs="*", help="run only notebooks whose names start with these prefixes")
    ap.add_argument("--outputs", default=None, help="outputs root (default: $HSLIB_OUTPUTS, else <project>/outputs)")
    ap.add_argument("--lanes", type=int, default=2, choices=[1, 2], help="independent notebook lanes run at once")
    ap.add_argument("--check", action="store_true", help="exit 1 when the reproduction does not match the committed "
                    "reference (a run outside tolerance, a run missing or new, a verdict on >= 3 seeds changed)")
    ap.add_argument("--reference", action="store_true", help="make the figures and tables the committed "
                    "reference (make reference): written into outputs/reproduced/, then promoted over it at the end")
    args = ap.parse_args(argv)
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)  # stop the lanes and kernels with us (lanes: _init_lane)
    try:
        execute(args.profile, args.executor, args.workers, args.data, args.kernel, args.only, args.outputs,
                args.lanes, check=args.check, reference=args.reference)
    except Exception as e:  # papermill's error names the failing cell; keep the exit status meaningful
        print(f"[reproduce] failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
