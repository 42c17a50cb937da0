"""Reliability under hostile use: concurrent graders, dead workers, SIGTERM, held locks, impossible paths.

Every test bounds its waits and kills whatever process it started (by process group), whatever fails."""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hslib import executors, store, sweep
from hslib.config import RunConfig
from hslib.sparse import register
from hslib.vocabulary import METHODS

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(dataset="digits", model="resnet18", width=0.0625, epochs=2, batch_size=64, data_ratio=0.2,
            profile="smoke", device="cpu", update_every=1.0)


def tiny(method, density=0.2, **kw):
    return RunConfig(**{**TINY, "method": method, "density": 1.0 if method == "dense" else density, **kw})


def _kill_group(p):
    """Kill a child started with start_new_session=True and everything in its process group."""
    if p is None:
        return
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _hold_lock(directory, seconds):
    """A child process that takes the run lock of `directory`, says so on stdout, and holds it for `seconds`."""
    code = ("import sys, time; from hslib import store; "
            "cm = store.run_lock(sys.argv[1]); cm.__enter__(); print('locked', flush=True); "
            "time.sleep(float(sys.argv[2]))")
    p = subprocess.Popen([sys.executable, "-c", code, str(directory), str(seconds)], stdout=subprocess.PIPE,
                         text=True, start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.stdout.readline().strip() == "locked"  # bounded: the child either locks or exits (EOF)
    return p


# ------------------------------------------------------------------------------------------ 1. graders
@pytest.fixture
def registry():
    before = dict(METHODS)
    yield METHODS
    for name in list(METHODS):
        if name not in before:
            METHODS.remove(name)
    for name, entry in before.items():
        METHODS.add(name, entry, replace=True)


from test_exercise import KEEPS_SMALLEST, REFERENCE  # noqa: E402  (the exercise's reference solution, one copy)

STUDENT_A = REFERENCE  # keeps the largest |w|
STUDENT_B = KEEPS_SMALLEST  # keeps the smallest: same class name, other code
assert STUDENT_B != STUDENT_A


def _solution(source):
    """The class a solution defines when exec'd from a string (inspect.getsource cannot see it)."""
    namespace = {"__name__": "solution"}
    exec(source, namespace)
    return namespace["MagnitudeERK"]


def test_two_solutions_with_the_same_class_name_get_their_own_runs(tmp_path, registry):
    """Student A's and B's classes share a name; their runs must not share a folder, and each must read back its
    own result (graded at once, A's table showed B's accuracy: their runs had one id)."""
    import torch

    root = tmp_path / "runs"
    register(_solution(STUDENT_A))
    a = tiny("magnitude_erk")
    ra = sweep.run([a], root=root, progress="none", tables=False)
    register(_solution(STUDENT_B))
    b = tiny("magnitude_erk")
    assert a.to_dict() == b.to_dict() and a.id != b.id  # same config, other code: another run
    rb = sweep.run([b], root=root, progress="none", tables=False)
    assert not ra.attrs["failed"] and not rb.attrs["failed"]
    assert store.run_dir(root, a) != store.run_dir(root, b)
    masks_a, masks_b = (store.load_torch(store.run_dir(root, c) / "masks.pt") for c in (a, b))
    assert any(not torch.equal(masks_a[n], masks_b[n]) for n in masks_a)  # each trained its own
    # A graded again (the same source exec'd anew): its own run is read back, not retrained, not B's.
    done = (store.run_dir(root, a) / "result.json").stat().st_mtime_ns
    register(_solution(STUDENT_A))
    again = tiny("magnitude_erk")
    assert again.id == a.id
    ra2 = sweep.run([again], root=root, progress="none", tables=False)
    assert (store.run_dir(root, a) / "result.json").stat().st_mtime_ns == done
    assert ra2["test_acc"].tolist() == ra["test_acc"].tolist()


def test_a_method_class_from_a_file_is_hashed_by_its_source_and_builtins_keep_their_ids():
    from hslib.sparse.check import code_hash
    from hslib.sparse.methods import SET

    class Mine(SET):
        name, label, colour = "mine", "Mine", "#000000"

    class Mine2(SET):  # other source, same body
        name, label, colour = "mine", "Mine", "#000001"

    assert code_hash(Mine) == code_hash(Mine) and code_hash(Mine) != code_hash(Mine2)
    assert code_hash(_solution(STUDENT_A)) == code_hash(_solution(STUDENT_A))  # stable without a source file
    assert code_hash(_solution(STUDENT_A)) != code_hash(_solution(STUDENT_B))
    # a built-in method's id: as it was before user methods were hashed (SEMANTICS 2 and the 0.5 fields moved it once)
    assert tiny("set", epochs=3, data_ratio=0.3).id == "f9afe27a648f"


def test_notebook_09_never_deletes_run_folders():
    """Two graders at once: one deleting the runs the other is training (or has just finished) mixes them up."""
    nb = json.loads((ROOT / "notebooks" / "09_exercise_your_own_method.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "rmtree" not in code and "unlink" not in code


def test_remove_run_refuses_a_folder_another_process_holds(tmp_path):
    d = tmp_path / "runs" / "abc123"
    d.mkdir(parents=True)
    (d / "log.jsonl").write_text("{}\n")
    p = _hold_lock(d, 30)
    try:
        assert store.remove_run(d) is False
        assert (d / "log.jsonl").exists()
        with pytest.raises(RuntimeError, match=f"abc123 is in use by pid {p.pid}"):
            store.clean_generated(tmp_path)
        assert (d / "log.jsonl").exists()
    finally:
        _kill_group(p)
    assert store.remove_run(d) is True and not d.exists()  # free now: removed


def test_a_run_whose_folder_is_removed_while_it_waits_still_trains(tmp_path):
    """A run waiting for the lock of a folder that is then removed (by its holder) locks the new folder, not the
    deleted one: two processes can never both think they hold a run."""
    import threading

    d = tmp_path / "runs" / "abc123"
    d.mkdir(parents=True)
    p = _hold_lock(d, 1.0)
    got = []
    try:
        t = threading.Thread(target=lambda: got.append(_lock_and_check(d)), daemon=True)
        t.start()
        time.sleep(0.3)
        import shutil
        shutil.rmtree(d)  # the holder's folder goes while the thread waits on its old lock file
        t.join(timeout=20)
    finally:
        _kill_group(p)
    assert got == [True]


def _lock_and_check(d):
    with store.run_lock(d):
        return (d / ".lock").exists() and (d / ".lock").read_text().strip() == str(os.getpid())


# ------------------------------------------------------------------------------------------ 2. a dead worker
def test_a_worker_killed_by_sigkill_fails_its_run_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    """The OOM killer's `kill -9` of one local worker: its run is reported failed (naming the signal), the pool is
    rebuilt and every other run finishes."""
    runs = [tiny("dense"), tiny("set"), tiny("snip"), tiny("gmp", 0.1)]
    victim = runs[1]
    monkeypatch.setenv("HSLIB_TEST_KILL_RUN", victim.id)  # the test hook: that run kill -9s its own worker
    executors.EXECUTORS["local"].stop()  # workers started before the variable was set would not see it
    try:
        df = sweep.run(runs, executor="local", workers=2, root=tmp_path / "runs", progress="none", tables=False)
    finally:
        executors.EXECUTORS["local"].stop()
    assert df.attrs["failed"] == [victim.id]
    assert sorted(df["id"]) == sorted(c.id for c in runs if c is not victim)
    err = capsys.readouterr().err
    assert f"run {victim.id} failed" in err and "SIGKILL" in err and "worker" in err, err
    assert "SIGKILL" in (tmp_path / "runs" / victim.id / "error.txt").read_text()


# ------------------------------------------------------------------------------------------ 3. SIGTERM
FAKE_NOTEBOOK_CELL = '''
import os, pathlib, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # e.g. a pool worker
pathlib.Path(os.environ["MARKS"], f"{NAME}.pids").write_text(f"{os.getpid()} {child.pid}")
time.sleep(300)
'''


def _fake_notebook(path, name):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = 'smoke'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(FAKE_NOTEBOOK_CELL.replace("{NAME}", name))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def _descendants(pid):
    """Every live process below `pid` (walking /proc's parent links), as {pid: start time}."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append((int(entry), fields[19]))
    out, todo = {}, [pid]
    while todo:
        for child, start in parents.get(todo.pop(), []):
            out[child] = start
            todo.append(child)
    return out


def _alive(procs):
    """Those of {pid: start time} still running (same start time: not a reused pid; zombies count as gone)."""
    alive = []
    for pid, start in procs.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and fields[19] == start:
            alive.append(pid)
    return alive


@pytest.mark.slow  # a reproduce with two kernels in a subprocess (15-30 s on a loaded machine): `make test` runs it
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="walks /proc")
@pytest.mark.parametrize("sig,lanes", [("SIGTERM", 2), ("SIGKILL", 2), ("SIGTERM", 1)])
def test_a_signalled_reproduce_leaves_no_process_behind(tmp_path, sig, lanes):
    """`kill <pid>` (SIGTERM) or `kill -9` of `python -m hslib.reproduce`, its notebooks running (in two lane
    processes, or in itself with --lanes 1): every process it started (lanes, their Jupyter kernels, the kernels'
    children) is gone within seconds. (`kill -9` with --lanes 1 is not covered: a kernel started by the killed
    process itself exits by ipykernel's parent poller, but what the kernel started would not.)"""
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    for name in ("lane_a", "lane_b", "final"):
        _fake_notebook(project / "notebooks" / f"{name}.ipynb", name)
    marks = tmp_path / "marks"
    marks.mkdir()
    code = ("import sys; from hslib import reproduce as r; "
            "r.LANES = [[('lane_a', {})], [('lane_b', {})]]; r.FINAL = [('final', {})]; "
            "r.SERIES = r.LANES[0] + r.LANES[1] + r.FINAL; "
            "sys.exit(r.main(['--outputs', sys.argv[1], '--kernel', 'python3', '--lanes', sys.argv[2]]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HSLIB_PROJECT": str(project), "MARKS": str(marks)}
    with open(tmp_path / "stderr.txt", "w") as err:  # a file, not a pipe nobody reads while it runs
        p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "outputs"), str(lanes)], env=env,
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=err)
    seen, kernel_groups = {}, set()
    try:
        deadline = time.time() + 120
        while p.poll() is None and time.time() < deadline and len(list(marks.glob("*.pids"))) < lanes:
            seen.update(_descendants(p.pid))
            time.sleep(0.1)
        assert p.poll() is None, (tmp_path / "stderr.txt").read_text()
        assert len(list(marks.glob("*.pids"))) == lanes, "the lanes' kernels never started"
        seen.update(_descendants(p.pid))
        for m in marks.glob("*.pids"):
            kernel, child = map(int, m.read_text().split())
            kernel_groups.add(kernel)  # a kernel leads its own session and process group
            assert kernel in seen and child in seen
        os.kill(p.pid, getattr(signal, sig))  # the main process only, as `kill` does
        p.wait(timeout=30)
        deadline = time.time() + 20
        while _alive(seen) and time.time() < deadline:
            time.sleep(0.1)
        left = _alive(seen)
        assert not left, [Path(f"/proc/{q}/cmdline").read_bytes().replace(b"\0", b" ")[:200] for q in left]
        if sig == "SIGTERM":
            assert p.returncode != 0
    finally:
        for q in _alive(seen):
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for g in kernel_groups:
            try:
                os.killpg(g, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _kill_group(p)


# ------------------------------------------------------------------------------------------ 4. a held lock
def test_a_held_run_lock_says_who_holds_it(tmp_path, capsys):
    d = tmp_path / "runs" / "abc123"
    d.mkdir(parents=True)
    p = _hold_lock(d, 1.5)
    try:
        t0 = time.perf_counter()
        with store.run_lock(d):
            waited = time.perf_counter() - t0
            assert (d / ".lock").read_text().strip() == str(os.getpid())  # the holder's pid, for the next waiter
    finally:
        _kill_group(p)
    assert waited > 0.5
    err = capsys.readouterr().err
    assert f"waiting for runs/abc123, locked by pid {p.pid}" in err and str(tmp_path) not in err


# ------------------------------------------------------------------------------------------ 5. paths, logs
LONG = "x" * 300


def test_a_too_long_folder_name_is_reported_not_a_crash_of_the_error_handler(tmp_path):
    rid, result, error, log = executors._run_one(tiny("set").to_dict(), str(tmp_path / LONG / "runs"), "none", False)
    assert result is None and log is None
    assert "too long" in error and "300" in error and "255" in error, error


def test_a_sweep_refuses_a_root_with_a_too_long_folder_name_before_anything_runs(tmp_path):
    needle = r"root=.* has a folder name of 300 bytes \(.x+.…\), too long: the file system allows 255"
    with pytest.raises(ValueError, match=needle):
        sweep.run([tiny("set")], root=tmp_path / LONG / "runs", progress="none")
    assert list(tmp_path.iterdir()) == []


def test_an_inline_failure_never_points_to_a_log_that_does_not_exist(tmp_path, capsys):
    """A run that fails before it starts (here: LTH without its dense parent) has no train.log, no error.txt."""
    rid, result, error, log = executors._run_one(tiny("lth").to_dict(), str(tmp_path / "runs"), "none", False)
    assert "MissingDependency" in error and "dense parent" in error
    assert log is None or Path(log).is_file()
    prog = executors.Progress(1, 0, "test")
    prog.finished(tiny("lth"), error=error, log=log)
    err = capsys.readouterr().err
    for path in re.findall(r"log: (\S+)", err):
        assert Path(path).is_file(), err
    assert "train.log" not in err and "log: None" not in err, err


def test_reproduce_refuses_an_outputs_folder_with_a_too_long_name_before_any_notebook(tmp_path):
    from hslib import reproduce

    with pytest.raises(ValueError, match=r"outputs=.* has a folder name of 300 bytes .*, too long"):
        reproduce.execute("smoke", "inline", outputs=str(tmp_path / LONG))
    assert list(tmp_path.iterdir()) == []
