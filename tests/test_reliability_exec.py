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
from hslib.sparse import METHODS, register

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
    assert f"waiting for abc123, locked by pid {p.pid}" in capsys.readouterr().err
