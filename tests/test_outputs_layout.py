"""hslib.store owns the outputs layout: every consumer (the CLI sweep, the notebooks' session, reproduce, the book
and `make clean-runs`) resolves its folders through it, so $HSLIB_OUTPUTS moves all of them together; and every
result and figure says which code made it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from hslib import book, figures, planning, reproduce, store, synthetic
from hslib.config import SEMANTICS, RunConfig
from hslib.notebook import setup

ROOT = Path(__file__).resolve().parents[1]


def _executed_notebook(path: Path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 00 · Quickstart"), nbformat.v4.new_code_cell("1", execution_count=1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def test_hslib_outputs_moves_the_cli_sweep_notebooks_reproduce_book_and_clean_runs(tmp_path, monkeypatch):
    out, elsewhere = tmp_path / "elsewhere outputs", tmp_path / "cwd"
    elsewhere.mkdir()
    env = {**os.environ, "HSLIB_OUTPUTS": str(out), "HSLIB_HEADLESS": "1", "OMP_NUM_THREADS": "1"}
    monkeypatch.setenv("HSLIB_OUTPUTS", str(out))
    monkeypatch.chdir(elsewhere)

    # 1. the CLI sweep, started from another folder: runs and the profile's tables land under $HSLIB_OUTPUTS
    # (the project's own outputs/runs may hold these runs from an earlier reproduction: it must not be touched)
    project_runs = ROOT / "outputs" / "runs"
    before = sorted(project_runs.iterdir()) if project_runs.exists() else []
    cli = subprocess.run([sys.executable, "-m", "hslib.sweep", "--profile", "smoke", "--experiment", "corruption",
                          "--methods", "dense"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=900)
    assert cli.returncode == 0, cli.stderr[-2000:]
    expected = planning.grid("corruption", "smoke")
    expected = [c for c in expected if c.method == "dense"]
    assert sorted(p.parent.name for p in (out / "runs").glob("*/result.json")) == sorted(c.id for c in expected)
    assert (out / "results" / "smoke" / "runs.csv").exists()
    assert not (elsewhere / "outputs").exists()
    assert (sorted(project_runs.iterdir()) if project_runs.exists() else []) == before

    # 2. the notebooks' session
    s = setup(profile="smoke")
    assert (s.runs, s.figures, s.results) == (out / "runs", out / "figures" / "smoke", out / "results" / "smoke")

    # 3. reproduce: the executed copies go to $HSLIB_OUTPUTS/notebooks/<profile> (papermill recorded, not run)
    targets = []
    monkeypatch.setattr("papermill.execute_notebook", lambda src, dst, **kw: targets.append(Path(dst)))
    monkeypatch.setattr(reproduce, "_check_data", lambda *a: None)
    reproduce.execute("smoke", executor="inline", only=["00_quickstart"], lanes=1, log=lambda *a: None)
    assert targets == [out / "notebooks" / "smoke" / "00_quickstart.ipynb"]

    # 4. the book reads and writes there
    _executed_notebook(out / "notebooks" / "smoke" / "00_quickstart.ipynb")
    assert book.build("smoke") == out / "book" / "smoke" / "index.html"

    # 5. make clean-runs removes the generated folders there, keeps the committed ones
    (out / "figures" / "smoke" / "keep.png").parent.mkdir(parents=True, exist_ok=True)
    (out / "figures" / "smoke" / "keep.png").write_bytes(b"x")
    clean = subprocess.run(["make", "-o", ".venv/.installed", "clean-runs", f"PY={sys.executable}"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert sorted(p.name for p in out.iterdir()) == ["figures", "results"]
    assert (out / "figures" / "smoke" / "keep.png").exists()


def test_the_layout_names_its_folders_and_refuses_others(tmp_path, monkeypatch):
    monkeypatch.delenv(store.REPRODUCTION_ENV, raising=False)
    assert store.folder("runs", outputs=tmp_path) == tmp_path / "runs"
    assert store.folder("figures", "course", tmp_path) == tmp_path / "figures" / "course"
    # a reproduction writes its figures and tables beside the committed reference, and its report into it
    reproduced = tmp_path / "reproduced"
    assert store.folder("figures", "course", tmp_path, reference=False) == reproduced / "figures" / "course"
    monkeypatch.setenv(store.REPRODUCTION_ENV, "1")
    assert store.folder("results", "smoke", tmp_path) == reproduced / "results" / "smoke"
    assert store.results_file("smoke", "claims", tmp_path) == reproduced / "results" / "smoke" / "claims.csv"
    assert store.folder("results", "smoke", tmp_path, reference=True) == tmp_path / "results" / "smoke"
    assert store.results_file("smoke", "reproduction", tmp_path, reference=True) == \
        tmp_path / "results" / "smoke" / "reproduction.md"
    assert store.folder("runs", outputs=tmp_path) == tmp_path / "runs"
    monkeypatch.delenv(store.REPRODUCTION_ENV)
    assert store.scores_root(tmp_path / "runs") == tmp_path / "scores"
    with pytest.raises(ValueError, match=r"name='cache' is not a folder of the outputs layout; allowed values"):
        store.folder("cache", outputs=tmp_path)
    with pytest.raises(ValueError, match=r"profile=None is not allowed for folder 'figures'"):
        store.folder("figures", outputs=tmp_path)
    with pytest.raises(ValueError, match=r"profile='smoke' is not allowed for folder 'runs'"):
        store.folder("runs", "smoke", tmp_path)
    with pytest.raises(ValueError, match=r"kind='weights' is not a run file; allowed values"):
        store.run_file(tmp_path, "weights")


def test_a_result_records_the_code_that_trained_it_and_a_figure_the_code_behind_its_runs(tmp_path):
    from hslib import train

    cfg = RunConfig(dataset="digits", model="resnet18", width=0.0625, epochs=1, batch_size=64, data_ratio=0.3,
                    profile="smoke", device="cpu")
    result = train.run(cfg, tmp_path / "runs", progress="none")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert result["hslib_version"] and result["semantics"] == SEMANTICS
    assert result["git_commit"] == (commit or None) and isinstance(result["git_dirty"], (bool, type(None)))
    row = store.results(tmp_path / "runs").iloc[0]
    assert row["git_commit"] == result["git_commit"] and row["semantics"] == SEMANTICS

    df = synthetic.synthetic_results("smoke")
    df["hslib_version"], df["semantics"], df["git_commit"], df["git_dirty"] = "9.9", SEMANTICS, "abc", False
    df.loc[df.method == "set", "git_commit"] = "def"
    fig = figures.draw("fig02_hard_sample_accuracy", df, "smoke")
    paths = figures.plots.save(fig, "fig02_hard_sample_accuracy", tmp_path / "figs")
    side = json.loads(paths[-1].read_text())
    trained = {(t["git_commit"], t["runs"]) for t in side["trained_by"]}
    used = df[df.id.isin(side["run_ids"])]
    assert trained == {("abc", int((used.method != "set").sum())), ("def", int((used.method == "set").sum()))}
    assert side["drawn_by"] == store.provenance()


def test_the_semantics_version_is_part_of_every_run_id(monkeypatch):
    import hslib.config as config

    cfg = RunConfig(dataset="digits", profile="smoke")
    before = cfg.id
    monkeypatch.setattr(config, "SEMANTICS", SEMANTICS + 1)
    assert RunConfig(dataset="digits", profile="smoke").id != before
