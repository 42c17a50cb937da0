"""`make lab`: the Makefile's own command starts JupyterLab (as root too, issue 24) on notebooks/ with the hslib kernel."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)  # the environment running the tests (`make test`: .venv)
# -o: never (re)build the environment from a test; `make test` has just made it.
MAKE = ["make", "--no-print-directory", "-o", f"{VENV}/.installed", f"VENV={VENV}"]


@pytest.mark.parametrize("uid, allow_root", [(0, True), (1000, False)])
def test_make_lab_passes_allow_root_only_as_root(tmp_path, uid, allow_root):
    fake_id = tmp_path / "id"  # the Makefile asks `id -u`; this one answers `uid`
    fake_id.write_text(f"#!/bin/sh\necho {uid}\n")
    fake_id.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    plan = subprocess.run([*MAKE, "-n", "lab"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    assert f"{VENV}/bin/jupyter lab notebooks/" in plan.stdout
    assert ("--allow-root" in plan.stdout) == allow_root, plan.stdout


def get(url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost, never through a proxy
    with opener.open(url, timeout=10) as r:
        return r.status, r.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group started for the test (make, its shell, jupyter); SIGKILL if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)  # make waits for jupyter to shut down before it exits
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass  # already gone


def test_make_lab_serves_the_notebooks_with_the_hslib_kernel(tmp_path):
    port = free_port()
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0"
    # The user's Jupyter config and runtime files stay untouched (and a configured password cannot interfere).
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "run")}
    log = tmp_path / "lab.log"
    with open(log, "wb") as out:  # its own session: one process group to stop, nothing else touched
        proc = subprocess.Popen([*MAKE, "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # JupyterLab prints its URL with the token once it listens; the test uses that token, as a user would.
        printed = re.compile(rf"(http://127\.0\.0\.1:{port})/lab\?token=(\w+)")
        deadline = time.monotonic() + 120
        while not (found := printed.search(log.read_text(errors="replace"))):
            assert proc.poll() is None, f"make lab exited ({proc.returncode}):\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no URL with a token after 120 s:\n{log.read_text()}"
            time.sleep(0.2)
        base, token = found.groups()
        status, page = get(f"{base}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in page
        specs = json.loads(get(f"{base}/api/kernelspecs?token={token}")[1])["kernelspecs"]
        assert specs["hslib"]["spec"]["display_name"] == "Python (hslib)", specs.keys()
        kernel_python = Path(specs["hslib"]["spec"]["argv"][0])
        assert kernel_python.parent.resolve() == (VENV / "bin").resolve(), kernel_python  # the project environment
        contents = json.loads(get(f"{base}/api/contents?token={token}")[1])["content"]
        assert "00_quickstart.ipynb" in {c["name"] for c in contents}  # opened on notebooks/
        with pytest.raises(urllib.error.HTTPError) as refused:  # the token is really required
            get(f"{base}/api/kernelspecs")
        assert refused.value.code == 403
    finally:
        stop(proc)
    with socket.socket() as s:  # stopped: nothing listens on the port any more
        assert s.connect_ex(("127.0.0.1", port)) != 0
