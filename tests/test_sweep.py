import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from hslib import planning, store, sweep
from hslib.config import RunConfig

TINY = dict(dataset="digits", model="resnet18", width=0.0625, epochs=3, batch_size=64, data_ratio=0.3,
            profile="smoke", device="cpu", update_every=1.0)


def tiny(method, density=0.2, **kw):
    return RunConfig(**{**TINY, "method": method, "density": 1.0 if method == "dense" else density, **kw})


def finished_mtimes(root):
    return {p.parent.name: p.stat().st_mtime_ns for p in root.glob("*/result.json")}


def test_dense_parents_run_once_first_and_are_reused(tmp_path):
    root = tmp_path / "runs"
    children = [tiny("lth"), tiny("omp"), tiny("omp_erk"), tiny("lth", 0.1)]
    waves = planning.plan(children)
    parent = tiny("dense")
    assert [c.id for c in waves[1]] == [parent.id] and {c.id for c in waves[2]} == {c.id for c in children}
    df = sweep.run(children, root=root, progress="none")
    assert len(df) == 4 and not df.attrs["failed"]
    p_done = (root / parent.id / "result.json").stat().st_mtime_ns
    assert all((root / c.id / "result.json").stat().st_mtime_ns > p_done for c in children)
    for c in children:
        assert store.read_result(root / c.id)["parent"] == parent.id
    assert len((root / parent.id / "log.jsonl").read_text().splitlines()) == 3  # trained once
    before = finished_mtimes(root)
    again = sweep.run(children + [parent], root=root, progress="none")
    assert finished_mtimes(root) == before and len(again) == 5  # nothing retrained
    runs_csv = pd.read_csv(tmp_path / "results" / "smoke" / "runs.csv")
    assert set(runs_csv["id"]) == {c.id for c in children} | {parent.id}
    layers = pd.read_csv(tmp_path / "results" / "smoke" / "layer_density.csv")
    assert len(layers) == 5 * 21  # one row per run and masked layer


SWEEP = [tiny("dense"), tiny("set"), tiny("snip"), tiny("lth"), tiny("gmp", 0.1), tiny("set", 0.1)]


def _sweep_child(root, configs=SWEEP, stderr=None, **run_kwargs):
    """A sweep in a real subprocess (its own session, so the test can kill it like a user would). It starts with
    Python's own Ctrl-C handler, as from a terminal: a test run launched in the background of a non-interactive
    shell (`cmd &`, as CI scripts do) inherits SIGINT ignored, and Python would keep ignoring it."""
    code = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "import sys, json; from hslib import sweep; from hslib.config import RunConfig; "
            "cfgs = [RunConfig.from_dict(d) for d in json.loads(sys.argv[1])]; "
            f"sweep.run(cfgs, root={str(root)!r}, progress='none', **{run_kwargs!r})")
    import json
    return subprocess.Popen([sys.executable, "-c", code, json.dumps([c.to_dict() for c in configs])],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr)


def _table(path):
    return pd.read_csv(path).drop(columns=["wall_time"]).sort_values("id").reset_index(drop=True)


@pytest.mark.slow  # a real sweep in a subprocess (15 s): `make test` runs it
def test_killed_sweep_resumes_without_redoing_finished_runs(tmp_path):
    sweep.run(SWEEP, root=tmp_path / "ref" / "runs", progress="none")
    root = tmp_path / "killed" / "runs"
    p = _sweep_child(root)
    deadline = time.time() + 300
    # Kill once two runs are finished and a third has a checkpoint: mid-run, mid-sweep.
    while p.poll() is None and time.time() < deadline:
        if len(list(root.glob("*/result.json"))) >= 2 and any(
                not (c.parent / "result.json").exists() for c in root.glob("*/ckpt-*.pt")):
            break
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    done = finished_mtimes(root)
    assert 2 <= len(done) < len(SWEEP)
    sweep.run(SWEEP, root=root, progress="none")
    assert {k: v for k, v in finished_mtimes(root).items() if k in done} == done  # none trained again
    pd.testing.assert_frame_equal(_table(tmp_path / "killed" / "results" / "smoke" / "runs.csv"),
                                  _table(tmp_path / "ref" / "results" / "smoke" / "runs.csv"))


LOCAL_SWEEP = [tiny("dense"), tiny("set"), tiny("snip"), tiny("gmp", 0.1), tiny("lth")]  # wave 1: 4 runs


def _alive(procs):
    import psutil

    alive = []
    for q in procs:
        try:
            if q.is_running() and q.status() != psutil.STATUS_ZOMBIE:  # a reaped-late zombie is dead
                alive.append(q)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow  # a real sweep in a subprocess (15 s): `make test` runs it
def test_kill_9_of_a_local_sweep_leaves_no_worker_and_resumes(tmp_path):
    """`kill -9` of a local-executor sweep's main process (only it, as a user would; not its process group),
    mid-wave: its worker processes exit with it, no run stays locked, finished runs are never trained again,
    and the final table equals an uninterrupted sweep's."""
    import fcntl

    psutil = pytest.importorskip("psutil")
    t0 = time.perf_counter()
    root = tmp_path / "killed" / "runs"
    with open(tmp_path / "stderr.txt", "w") as err:  # e.g. the resource tracker's leaked-semaphore note
        p = _sweep_child(root, LOCAL_SWEEP, stderr=err, executor="local", workers=2)
    procs, cmds = {}, {}  # every process the sweep started (its workers, multiprocessing's helpers), seen running
    try:
        deadline = time.time() + 300
        # Kill once two runs are finished and another has a checkpoint: mid-run, mid-wave (wave 1 has 4 runs).
        while p.poll() is None and time.time() < deadline:
            try:
                children = psutil.Process(p.pid).children(recursive=True)
            except psutil.NoSuchProcess:  # the sweep itself ended: the assert below says so
                break
            for q in children:
                try:
                    if q.pid not in procs:
                        cmds[q.pid] = " ".join(q.cmdline())
                        procs[q.pid] = q
                except psutil.NoSuchProcess:  # a short-lived helper came and went: not a reason to kill early
                    pass
            if len(list(root.glob("*/result.json"))) >= 2 and any(
                    not (c.parent / "result.json").exists() for c in root.glob("*/ckpt-*.pt")):
                break
            time.sleep(0.05)
        assert p.poll() is None, "the sweep ended before it could be killed mid-wave"
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        t_kill = time.perf_counter()
        # the pool's workers were seen (how many depends on load and timing: the second may start late, and
        # CI once saw a third; what matters is that none outlives the kill, checked next)
        assert any("spawn_main" in c for c in cmds.values()), cmds
        while _alive(procs.values()) and time.perf_counter() - t_kill < 10:
            time.sleep(0.1)
        gone_after = time.perf_counter() - t_kill
        orphans = _alive(procs.values())
        assert not orphans, f"processes of the killed sweep still alive: {[cmds[q.pid] for q in orphans]}"
    finally:  # never leave a sweep (or its workers) running on a shared machine, whatever failed above
        for q in _alive([*procs.values()]):
            q.kill()
        if p.poll() is None:
            p.kill()
            p.wait()
    done = finished_mtimes(root)
    assert 2 <= len(done) < len(LOCAL_SWEEP) and LOCAL_SWEEP[-1].id not in done  # mid-wave 1
    interrupted = {c.parent for c in root.glob("*/ckpt-*.pt") if not (c.parent / "result.json").exists()}
    assert interrupted
    for d in interrupted:  # the dead worker's run lock went with it: a restart can take it at once
        with open(d / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    sweep.run(LOCAL_SWEEP, executor="local", workers=2, root=root, progress="none")
    assert {k: v for k, v in finished_mtimes(root).items() if k in done} == done  # none trained again
    sweep.run(LOCAL_SWEEP, executor="local", workers=2, root=tmp_path / "ref" / "runs", progress="none")
    pd.testing.assert_frame_equal(_table(tmp_path / "killed" / "results" / "smoke" / "runs.csv"),
                                  _table(tmp_path / "ref" / "results" / "smoke" / "runs.csv"))
    print(f"kill -9 test: {time.perf_counter() - t0:.1f}s; the workers exited {gone_after:.2f}s after the kill")


def test_ctrl_c_stops_a_local_sweep_and_its_workers_quietly(tmp_path):
    """Ctrl-C in a terminal signals the whole process group. The workers ignore it (no KeyboardInterrupt traceback
    from each); the main process stops them: the sweep ends at once instead of training the rest of its wave."""
    psutil = pytest.importorskip("psutil")
    root = tmp_path / "runs"
    with open(tmp_path / "stderr.txt", "w") as err:
        p = _sweep_child(root, LOCAL_SWEEP, stderr=err, executor="local", workers=2)
    procs = {}
    try:
        deadline = time.time() + 300
        while p.poll() is None and time.time() < deadline and not list(root.glob("*/ckpt-*.pt")):
            try:
                procs.update({q.pid: q for q in psutil.Process(p.pid).children(recursive=True) if q.pid not in procs})
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        assert p.poll() is None and len(procs) >= 2, "the sweep ended before it could be interrupted"
        os.killpg(p.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        p.wait(timeout=30)
        deadline = time.time() + 10
        while _alive(procs.values()) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(procs.values())
    finally:
        for q in _alive([*procs.values()]):
            q.kill()
        if p.poll() is None:
            p.kill()
            p.wait()
    # Interrupted in their first epochs, the runs are stopped there: none finishes after the interrupt.
    assert p.returncode != 0 and not finished_mtimes(root)
    err = (tmp_path / "stderr.txt").read_text()
    assert err.count("KeyboardInterrupt") == 1 and "SpawnProcess" not in err, err  # the main's own traceback only


def test_local_executor_runs_in_worker_processes(tmp_path):
    cfgs = [tiny("dense"), tiny("set"), tiny("snip")]
    df = sweep.run(cfgs, executor="local", workers=2, root=tmp_path / "runs", progress="none")
    assert sorted(df["id"]) == sorted(c.id for c in cfgs) and not df.attrs["failed"]
    assert all((tmp_path / "runs" / c.id / "train.log").exists() for c in cfgs)  # per-run logs


@pytest.mark.slow  # a real sweep in a subprocess (15 s): `make test` runs it
def test_submitit_executor_runs_a_sweep_through_its_local_cluster(tmp_path):
    pytest.importorskip("submitit")
    cfgs = [tiny("dense"), tiny("lth")]
    df = sweep.run(cfgs, executor="slurm", cluster="local", root=tmp_path / "runs", progress="none",
                   timeout_min=10, cpus_per_task=1)
    assert sorted(df["id"]) == sorted(c.id for c in cfgs) and not df.attrs["failed"]
    assert list((tmp_path / "slurm").glob("*/*_submitted.pkl"))  # submitit's own job files


def test_slurm_dry_run_shows_the_submission(tmp_path, capsys):
    cfgs = planning.grid("el2n", "paper")
    df = sweep.run(cfgs, executor="slurm", root=tmp_path / "runs", dry_run=True, partition="gpu",
                   array_parallelism=16, timeout_min=600)
    out = capsys.readouterr().out
    assert len(df) == 0 and not (tmp_path / "runs").exists()
    assert "#SBATCH --partition=gpu" in out and "#SBATCH --time=600" in out
    assert "%16" in out and "wave 0: 20 array tasks" in out  # the EL2N scoring runs: 10 per pair
    n_children = sum(c.method == "lth" or c.method == "omp" for c in cfgs)
    assert f"wave 2: {n_children} array tasks" in out


def test_a_failed_run_is_reported_and_does_not_stop_the_others(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HSLIB_HEADLESS", "1")  # one line per finished run (as under papermill), not a progress bar
    # A damaged dataset: its marker file is there (the sweep's up-front data check passes), its images are not,
    # so the run fails only when it reads them. (Missing data stops the whole sweep up front: test_bad_inputs.)
    (tmp_path / "nowhere" / "tiny-imagenet-200").mkdir(parents=True)
    (tmp_path / "nowhere" / "tiny-imagenet-200" / "wnids.txt").write_text("n01443537\n")
    bad = tiny("dense", data_root=str(tmp_path / "nowhere"), dataset="tinyimagenet")
    good = tiny("set")
    df = sweep.run([bad, good], root=tmp_path / "runs", progress="none")
    assert list(df["id"]) == [good.id] and df.attrs["failed"] == [bad.id]
    out, err = capsys.readouterr()
    assert f"run {bad.id} failed" in err and "tiny-imagenet-200" in err
    assert "[sweep] 2 runs (dependencies included): 0 finished earlier, 2 to train" in out
    # read back: the sweep still says what it holds, so a notebook's count of runs is never left unexplained
    again = sweep.run([good], root=tmp_path / "runs", progress="none")
    assert list(again["id"]) == [good.id]
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "[sweep] 1 run (dependencies included): 1 finished earlier, 0 to train"


@pytest.mark.parametrize("call,needle", [
    (lambda r: sweep.run([tiny("set")], executor="cluster", root=r), "executor='cluster'"),
    (lambda r: sweep.run([tiny("set")], executor="local", workers=0, root=r), "workers=0"),
    (lambda r: sweep.run([], root=r), "configs is empty"),
    (lambda r: planning.grid("el2n", "smoke", methods=["magic"]), "methods=['magic']"),
    (lambda r: planning.grid("fig99", "smoke"), "experiment='fig99'"),
    (lambda r: sweep.run([tiny("set")], executor="slurm", root=r, parents="never"), "parents='never'"),
    (lambda r: sweep.run([tiny("set")], executor="inline", root=r, partition="gpu"), "only apply to executor='slurm'"),
])
def test_bad_sweep_input_fails_before_anything_runs(tmp_path, call, needle):
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("(", r"\(")):
        call(tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_profile_grids_have_the_paper_matrix():
    el2n = planning.grid("el2n", "paper")
    # 2 pairs x 2 ratios x 3 seeds x ((5 methods + the paper code's SNIP) x 9 sparsities + dense)
    assert len(el2n) == 2 * 2 * 3 * (6 * 9 + 1)
    assert {c.subset for c in el2n} == {"hard"} and {c.data_ratio for c in el2n} == {0.5, 0.3}
    adv = planning.grid("adversarial", "paper")
    assert {c.adversarial for c in adv} == {"linf"} and {round(1 - c.density, 2) for c in adv if c.method != "dense"} == {0.8, 0.9}
    sev = planning.grid("severity", "paper")
    assert {c.severity for c in sev} == {2, 4, 6} and {c.data_ratio for c in sev} == {0.3}
    assert all(c.corruption == "gaussian_noise+impulse_noise+defocus_blur" for c in sev)


def test_gpu_workers_are_pinned_to_the_visible_devices_not_to_indices():
    from hslib.executors import gpu_ids

    assert gpu_ids(2, "2,3") == ["2", "3"]  # CUDA_VISIBLE_DEVICES=2,3: physical GPUs 2 and 3
    assert gpu_ids(2, " 5 , GPU-abc ") == ["5", "GPU-abc"]  # UUIDs and spaces as CUDA accepts them
    assert gpu_ids(3, "") == ["0", "1", "2"]  # unset: device indices
    assert gpu_ids(2, "7") == ["0", "1"]  # inconsistent with the count torch sees: indices
