import os
import subprocess
import sys
import time

import pytest

from hslib.notebook import setup


@pytest.mark.parametrize("kwargs,needle", [
    ({"profile": "huge"}, "profile='huge'"),
    ({"executor": "cloud"}, "executor='cloud'"),
    ({"workers": -1}, "workers=-1"),
    ({"data_root": "/no/such/folder"}, "data_root='/no/such/folder'"),
    ({"method": "magic"}, "method='magic'"),
])
def test_notebook_parameters_are_validated(kwargs, needle):
    with pytest.raises(ValueError, match=needle) as e:
        setup(**kwargs)
    assert "allowed values" in str(e.value)


def test_setup_finds_the_project_and_its_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("HSLIB_OUTPUTS", str(tmp_path))
    s = setup(profile="smoke")
    assert (s.root / "pyproject.toml").exists() and s.runs == tmp_path / "runs"
    assert s.settings["stand_ins"]["c100_r18"] == ["digits", "resnet18"]


# ------------------------------------------------------------------------------------------ quiet, honest logs
PARAMETERS = 'profile = "smoke"\nexecutor = "inline"\nworkers = 0\ndata_root = ""'
POOL_SWEEP = '''import os
from hslib import sweep
from hslib.config import RunConfig
tiny = dict(dataset="digits", model="resnet18", width=0.0625, epochs=1, batch_size=64, data_ratio=0.3,
            profile="smoke", device="cpu")
cfgs = [RunConfig(**tiny, method="dense", density=1.0), RunConfig(**tiny, method="set", density=0.2)]
df = sweep.run(cfgs, executor=executor, workers=workers, root=os.path.join(os.environ["HSLIB_OUTPUTS"], "runs"))
assert executor == "local" and len(df) == 2 and not df.attrs["failed"]'''


def _reproduce(tmp_path, *cells):
    """`python -m hslib.reproduce` (local executor, 2 workers) on a throwaway project whose only notebook is
    00_quickstart, made of `cells`; returns the finished process (stdout, stderr, returncode)."""
    import nbformat

    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    code = [nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})]
    nb = nbformat.v4.new_notebook(cells=code + [nbformat.v4.new_code_cell(c) for c in cells],
                                  metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nbformat.write(nb, project / "notebooks" / "00_quickstart.ipynb")
    cmd = [sys.executable, "-m", "hslib.reproduce", "--profile", "smoke", "--executor", "local", "--workers", "2",
           "--only", "00_quickstart", "--lanes", "1", "--outputs", str(tmp_path / "out")]
    return subprocess.run(cmd, cwd=project, env={**os.environ, "HSLIB_PROJECT": str(project)},
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_notebook_with_a_worker_pool_executes_without_noise(tmp_path):
    """The kernel's shutdown interrupts its process group (the pool's workers too): no KeyboardInterrupt
    tracebacks, and no 'running over TCP without encryption' warning per kernel."""
    t0 = time.perf_counter()
    r = _reproduce(tmp_path, POOL_SWEEP)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "out" / "runs").glob("*/result.json"))) == 2  # trained in the pool
    for noise in ("KeyboardInterrupt", "Traceback", "without encryption"):
        assert noise not in r.stderr, r.stderr
    print(f"pool notebook: {time.perf_counter() - t0:.1f}s")


def test_a_failing_cell_still_shows_its_error_and_fails_reproduce(tmp_path):
    r = _reproduce(tmp_path, "x = 1", "raise RuntimeError('a real failure, number 42')")
    assert r.returncode == 1
    assert "[reproduce] failed" in r.stderr and "RuntimeError" in r.stderr and "a real failure, number 42" in r.stderr
    assert "without encryption" not in r.stderr


def test_every_notebook_runs_on_the_hslib_kernel_and_opens_with_its_question():
    import json
    from pathlib import Path

    from hslib.series import SERIES

    root = Path(__file__).resolve().parents[1] / "notebooks"
    files = sorted(root.glob("*.ipynb"))
    assert {p.stem for p in files} == {name for name, _ in SERIES}  # every notebook is in the series, and back
    for path in files:
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "hslib", path.name  # what `make` registers and `make lab` offers
        first = "".join(nb["cells"][0]["source"])
        assert nb["cells"][0]["cell_type"] == "markdown" and first.startswith("# "), path.name
        assert "**The question.**" in first and "**Needs first:**" in first, path.name
        params = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
        assert len(params) == 1, path.name
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in nb["cells"] if c["cell_type"] == "code"), f"{path.name} is stored with outputs"


def test_make_lab_starts_jupyterlab_from_the_project_environment():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    plan = subprocess.run(["make", "-n", "lab"], cwd=root, capture_output=True, text=True, timeout=60).stdout
    assert ".venv/bin/jupyter lab notebooks/" in plan
    version = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "lab", "--version"],
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.strip()[0].isdigit(), version.stderr
