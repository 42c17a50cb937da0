"""Re-execution that checks itself (issue 23): a reproduction writes beside the committed reference, never over it;
hslib.reference compares the two run by run, row by row and figure by figure; `--check` fails on a planted change
and passes on an untouched tree; two reproductions of a slice of the series on one machine are bit-identical."""
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from hslib import claims, figures, paper, planning, plots, reference, reproduce, store, sweep
from hslib.config import PROFILES

ROOT = Path(__file__).resolve().parents[1]


def _copy_reference(profile: str, out: Path, sides=(True, False)):
    """The committed tables and sidecars of `profile`, as the committed reference (True) and as a reproduction
    (False) under `out`. A PNG is an empty file: images are never compared, only the data behind them."""
    for side in sides:
        results = store.folder("results", profile, out, reference=side)
        figs = store.folder("figures", profile, out, reference=side)
        results.mkdir(parents=True)
        figs.mkdir(parents=True)
        for kind in ("runs", "layers", "claims"):
            shutil.copy(store.results_file(profile, kind, ROOT / "outputs", reference=True), results)
        for sidecar in (ROOT / "outputs" / "figures" / profile).glob("*.json"):
            shutil.copy(sidecar, figs)
            (figs / f"{sidecar.stem}.png").write_bytes(b"")
    return store.results_file(profile, "runs", out, reference=True)


def _spread(runs: pd.DataFrame, row: pd.Series, metric: str) -> pd.Series:
    """The metric's values at the run's setting (every config field but the seed), computed here, not by hslib."""
    cols = list(reference.SETTING)
    same = (runs[cols].map(str) == row[cols].map(str)).all(axis=1)
    return runs.loc[same, metric]


def test_an_untouched_reference_passes_the_check(tmp_path, capsys):
    _copy_reference("course", tmp_path)
    runs = pd.read_csv(store.results_file("course", "runs", tmp_path, reference=True))
    assert reference.main(["--profile", "course", "--outputs", str(tmp_path), "--check"]) == 0
    line = f"{len(runs)} runs identical, 0 within tolerance, 0 outside; verdicts: all equal"
    assert f"[reference] {line}\n" in capsys.readouterr().out
    md = store.results_file("course", "reproduction", tmp_path).read_text()
    assert md.startswith("# Does this reproduction match the reference?") and f"**{line}.**" in md
    data = json.loads(store.results_file("course", "reproduction_data", tmp_path).read_text())
    assert data["counts"]["identical"] == len(runs) and data["runs"] == []
    sidecars = sorted(p.stem for p in (ROOT / "outputs" / "figures" / "course").glob("*.json"))
    assert [f["figure"] for f in data["figures"]] == sidecars
    assert {f["verdict"] for f in data["figures"]} == {"same data"} and all(f["same_runs"] for f in data["figures"])


def test_a_planted_metric_beyond_tolerance_and_a_planted_verdict_fail_the_check(tmp_path, capsys):
    path = _copy_reference("course", tmp_path)
    runs = pd.read_csv(path, **reference.EXACT_FLOATS)
    # A run that is the strict minimum of its setting's test accuracy, moved above the setting's maximum: its
    # difference then exceeds the spread of the edited reference too (the tolerance comes from the reference).
    for i, row in runs[runs.method == "set"].iterrows():
        values = _spread(runs, row, "test_acc")
        if len(values) >= 3 and (values > row.test_acc).sum() == len(values) - 1:
            break
    else:
        pytest.fail("no SET setting of the course reference has a strict minimum over three seeds")
    planted = values.max() + 0.05
    tolerance = max(planted, values.max()) - values.drop(i).min()
    assert abs(planted - row.test_acc) > tolerance
    runs.loc[i, "test_acc"] = planted
    runs.to_csv(path, index=False)
    ledger_path = store.results_file("course", "claims", tmp_path, reference=True)
    ledger = pd.read_csv(ledger_path, **reference.EXACT_FLOATS)
    j = ledger.index[(ledger.family == "confirmatory") & (ledger.n_seeds >= 3)][0]
    before = ledger.loc[j, "verdict"]
    ledger.loc[j, "verdict"] = "supported" if before != "supported" else "contradicted"
    ledger.to_csv(ledger_path, index=False)

    assert reference.main(["--profile", "course", "--outputs", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "check failed: 1 run(s) outside tolerance" in err
    assert f"{ledger.loc[j, 'key']} [confirmatory" in err and f"{ledger.loc[j, 'verdict']} → {before}" in err
    data = json.loads(store.results_file("course", "reproduction_data", tmp_path).read_text())
    assert data["counts"]["outside tolerance"] == 1 and data["counts"]["identical"] == len(runs) - 1
    (moved,) = data["runs"]
    assert moved["id"] == row.id and moved["state"] == "outside tolerance"
    (acc,) = [m for m in moved["metrics"] if m["metric"] == "test_acc"]
    assert acc["reference"] == planted and acc["reproduction"] == row.test_acc
    assert acc["tolerance"] == pytest.approx(tolerance, abs=1e-12)
    assert [r["key"] for r in reference.changed_verdicts(data)] == [ledger.loc[j, "key"]]
    drawn = [f for f in data["figures"] if row.id in set(
        json.loads((ROOT / "outputs" / "figures" / "course" / f"{f['figure']}.json").read_text())["run_ids"])]
    assert drawn and {f["verdict"] for f in drawn} == {"data changed beyond tolerance"}
    # without --check the report is written and the exit status stays 0
    assert reference.main(["--profile", "course", "--outputs", str(tmp_path)]) == 0


def test_a_change_within_the_seed_spread_or_a_verdict_on_few_seeds_is_reported_not_failed(tmp_path):
    _copy_reference("course", tmp_path)
    path = store.results_file("course", "runs", tmp_path, reference=False)
    runs = pd.read_csv(path, **reference.EXACT_FLOATS)
    for i, row in runs[runs.method == "dense"].iterrows():
        values = _spread(runs, row, "test_acc")
        if len(values) >= 2 and values.max() > values.min():
            break
    else:
        pytest.fail("no dense setting of the course reference has a spread across seeds")
    runs.loc[i, "test_acc"] = row.test_acc + (values.max() - values.min()) / 2
    runs.to_csv(path, index=False)
    ledger_path = store.results_file("course", "claims", tmp_path, reference=False)
    ledger = pd.read_csv(ledger_path, **reference.EXACT_FLOATS)
    j = ledger.index[(ledger.n_seeds < reference.CHECK_SEEDS) & (ledger.verdict != "holds")][0]
    ledger.loc[j, "verdict"] = "holds"
    ledger.to_csv(ledger_path, index=False)
    result = reference.report("course", tmp_path)
    assert result["counts"]["within tolerance"] == 1 and result["counts"]["outside tolerance"] == 0
    assert reference.failures(result) == []
    assert reference.summary_line(result).endswith(f"; verdicts: 1 changed ({ledger.loc[j, 'key']})")


def test_a_one_seed_profile_has_no_tolerance_and_reports_what_it_measured(tmp_path):
    assert len(PROFILES["smoke"]["seeds"]) == 1
    _copy_reference("smoke", tmp_path)
    path = store.results_file("smoke", "runs", tmp_path, reference=False)
    runs = pd.read_csv(path, **reference.EXACT_FLOATS)
    i = runs.index[runs.method == "set"][0]
    runs.loc[i, "test_acc"] += 0.0625
    runs.to_csv(path, index=False)
    result = reference.report("smoke", tmp_path)
    assert result["counts"]["no tolerance"] == 1 and result["counts"]["outside tolerance"] == 0
    assert reference.failures(result) == []  # float noise cannot be told from a change: reported, not failed
    assert reference.summary_line(result).startswith(f"{len(runs) - 1} runs identical, 0 within tolerance, 0 outside, "
                                                     "1 differ without a tolerance")
    md = store.results_file("smoke", "reproduction", tmp_path).read_text()
    assert "No tolerance available: `smoke` runs one seed per setting" in md
    assert "1 run(s) differ in test accuracy, by 6.25 pp (median) and 6.25 pp at most" in md


def _reproduce_slice(outputs: Path, monkeypatch):
    """A slice of the series from empty, as a reproduction writes it: Figure 2 (c)'s dense and SET runs at one
    sparsity (with their EL2N scoring runs; the profile's own epochs, or the figure draws none), their tables, their
    ledger and the figure."""
    monkeypatch.setenv(store.REPRODUCTION_ENV, "1")
    panel = [p for p in paper.figure("fig02_hard_sample_accuracy").panels if p.letter == "c"][0]
    configs = [c for c in planning.panel_configs(panel, "smoke") if c.method in ("dense", "set")
               and c.density in (1.0, 0.1)]
    results = sweep.run(configs, root=store.folder("runs", outputs=outputs), progress="none")
    assert not results.attrs["failed"] and len(results) == 2
    results.attrs["trained"] = {c.id for wave in planning.plan(configs) for c in wave}
    results.attrs["layers"] = store.layers_for(configs, store.folder("runs", outputs=outputs))
    store.write_csv(store.results_file("smoke", "claims", outputs), claims.ledger(results, "smoke"))
    fig = figures.draw("fig02_hard_sample_accuracy", results, "smoke")
    plots.save(fig, "fig02_hard_sample_accuracy", store.folder("figures", "smoke", outputs))
    monkeypatch.delenv(store.REPRODUCTION_ENV)
    return results


def test_two_reproductions_from_empty_on_one_machine_are_identical(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    results = _reproduce_slice(first, monkeypatch)
    assert not store.folder("figures", "smoke", first, reference=True).exists()  # nothing over the reference
    # the first reproduction becomes the committed reference of the second, which starts from empty
    shutil.copytree(store.folder("results", "smoke", first, reference=False),
                    store.folder("results", "smoke", second, reference=True))
    shutil.copytree(store.folder("figures", "smoke", first, reference=False),
                    store.folder("figures", "smoke", second, reference=True))
    _reproduce_slice(second, monkeypatch)
    result = reference.report("smoke", second)
    n = len(pd.read_csv(store.results_file("smoke", "runs", second, reference=True)))
    assert n == len(results.attrs["trained"]) > len(results)  # the two runs and their EL2N scoring runs
    assert result["counts"] == {**{s: 0 for s in reference.STATES}, "identical": n}
    assert reference.summary_line(result) == f"{n} runs identical, 0 within tolerance, 0 outside; verdicts: all equal"
    (fig,) = result["figures"]
    assert fig["same_runs"] and fig["verdict"] == "same data" and fig["states"] == {"identical": len(results)}
    assert all(r["verdict_equal"] and r["effect_change"] in (None, 0.0) for r in result["ledger"])


def _fake_series(calls: list, source: Path, tables: dict, figures_from: Path | None = None, fail_after: int = 0):
    """papermill.execute_notebook, as the notebooks of the series would write: runs.csv (from `source`), the
    other `tables` (bytes) and the files of `figures_from` into the folders the store resolves while they run (the
    reproduction's, for make reproduce and make reference alike). `fail_after`: the notebook after that many fails,
    after writing its tables, as one that dies half-way does."""
    def execute_notebook(src, dst, **kw):
        calls.append(os.environ.get(store.REPRODUCTION_ENV))
        target = store.results_file("smoke", "runs")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        for kind, blob in tables.items():
            store.results_file("smoke", kind).write_bytes(blob)
        if figures_from is not None:
            shutil.copytree(figures_from, store.folder("figures", "smoke"), dirs_exist_ok=True)
        if fail_after and len(calls) > fail_after:
            raise RuntimeError(f"notebook {len(calls)} failed")
    return execute_notebook


def test_reproduce_writes_beside_the_reference_reports_last_and_checks(tmp_path, monkeypatch):
    out = tmp_path / "outputs"
    committed = _copy_reference("smoke", out, sides=(True,))
    before = committed.read_bytes()
    changed = tmp_path / "changed.csv"
    runs = pd.read_csv(committed, **reference.EXACT_FLOATS)
    runs.loc[0, "params"] += 1
    runs.to_csv(changed, index=False)
    tables = {k: store.results_file("smoke", k, out, reference=True).read_bytes() for k in ("layers", "claims")}
    calls, lines = [], []
    monkeypatch.setenv(store.OUTPUTS_ENV, str(out))
    monkeypatch.setenv("HSLIB_HEADLESS", "1")  # set by reproduce for its kernels: restored after the test
    monkeypatch.setenv("HSLIB_PROJECT", str(ROOT))
    monkeypatch.delenv(store.REPRODUCTION_ENV, raising=False)
    monkeypatch.setattr(reproduce, "_check_data", lambda *a: None)
    monkeypatch.setattr("hslib.book.build", lambda profile, outputs=None: "book")
    monkeypatch.setattr("papermill.execute_notebook", _fake_series(calls, committed, tables))
    reproduce.execute("smoke", executor="inline", outputs=out, lanes=1, log=lines.append, check=True)
    assert calls and set(calls) == {"1"} and store.REPRODUCTION_ENV not in os.environ
    assert committed.read_bytes() == before  # the committed reference was not rewritten
    assert store.results_file("smoke", "runs", out, reference=False).read_bytes() == before
    assert lines[-1] == f"[reproduce] {len(runs)} runs identical, 0 within tolerance, 0 outside; verdicts: all equal"
    assert store.results_file("smoke", "reproduction", out).exists()

    # a reproduction whose runs moved: reported; smoke has no tolerance, so --check still passes there
    monkeypatch.setattr("papermill.execute_notebook", _fake_series(calls, changed, tables))
    reproduce.execute("smoke", executor="inline", outputs=out, lanes=1, log=lines.append, check=True)
    assert lines[-1].endswith("1 differ without a tolerance; verdicts: all equal")
    # a run missing from it fails the check on any profile
    runs.iloc[1:].to_csv(changed, index=False)
    with pytest.raises(reproduce.ReproductionDiffers, match=r"1 run\(s\) missing and 0 new"):
        reproduce.execute("smoke", executor="inline", outputs=out, lanes=1, log=lines.append, check=True)

    # make reference: the notebooks write a reproduction; only a finished series is promoted over the committed
    # reference, and the report says what that changed. The series draws its own figures and writes its own tables
    # (different bytes: a trailing blank line, which every reader ignores), so a promotion is visible in each file.
    figs = store.folder("figures", "smoke", out, reference=True)
    drawn = tmp_path / "drawn_by_the_series"
    shutil.copytree(figs, drawn)
    (drawn / "drawn_by_this_series.png").write_bytes(b"png")
    new_tables = {k: blob + b"\n" for k, blob in tables.items()}
    committed_files = {f: f.read_bytes() for side in ("figures", "results")
                       for f in store.folder(side, "smoke", out, reference=True).iterdir()}
    for fail_after in (1, 2):  # a series that dies in its second or third notebook, after writing its tables
        calls.clear()
        monkeypatch.setattr("papermill.execute_notebook", _fake_series(calls, changed, new_tables, drawn, fail_after))
        with pytest.raises(RuntimeError, match=f"notebook {fail_after + 1} failed"):
            reproduce.execute("smoke", executor="inline", outputs=out, lanes=1, log=lines.append, reference=True)
        assert store.results_file("smoke", "runs", out, reference=False).read_bytes() == changed.read_bytes()
        now = {f: f.read_bytes() for side in ("figures", "results")
               for f in store.folder(side, "smoke", out, reference=True).iterdir()}
        assert now == committed_files  # the committed reference is as it was, file for file, not half rewritten
    calls.clear()
    stale = store.folder("figures", "smoke", out, reference=False) / "left_by_an_older_reproduction.png"
    stale.write_bytes(b"")
    (figs / "only_in_the_old_reference.png").write_bytes(b"")
    monkeypatch.setattr("papermill.execute_notebook", _fake_series(calls, changed, new_tables, drawn))
    reproduce.execute("smoke", executor="inline", outputs=out, lanes=1, log=lines.append, reference=True)
    assert len(calls) > 2 and set(calls) == {"1"} and store.REPRODUCTION_ENV not in os.environ
    assert committed.read_bytes() == changed.read_bytes()
    for kind in ("layers", "claims"):
        assert store.results_file("smoke", kind, out, reference=True).read_bytes() == new_tables[kind]
    # the figures folder is the series' own: its new figure in, the old reference's extra file and an older
    # reproduction's file out, and no temporary beside either committed folder
    assert sorted(f.name for f in figs.iterdir()) == sorted(f.name for f in drawn.iterdir())
    assert not stale.exists()
    for side in ("figures", "results"):
        assert not list(store.folder(side, "smoke", out, reference=True).parent.glob(".*")), side
    assert store.results_file("smoke", "reproduction", out, reference=True).exists()
    assert "regenerated; against the previous one: " in lines[-1] and "1 missing" in lines[-1]


def test_promote_is_all_or_nothing_and_leaves_the_report_and_temporaries_out(tmp_path):
    out = tmp_path / "outputs"
    _copy_reference("smoke", out)  # the committed reference and a reproduction, the same files
    results = store.folder("results", "smoke", out, reference=False)
    (results / "reproduction.md").write_text("a report of an older comparison")
    (results / ".runs.csv.tmp-123").write_text("a killed writer's temporary")
    (store.folder("figures", "smoke", out, reference=False) / "new_figure.png").write_bytes(b"png")
    committed = {f: f.read_bytes() for side in ("figures", "results")
                 for f in store.folder(side, "smoke", out, reference=True).iterdir()}
    # a copy that fails part-way (here: the executed notebooks it should join are missing) changes nothing
    with pytest.raises(FileNotFoundError, match=r"lacks the executed notebooks \['00_quickstart'\]"):
        reference.promote("smoke", out, executed=["00_quickstart"])
    assert {f: f.read_bytes() for side in ("figures", "results")
            for f in store.folder(side, "smoke", out, reference=True).iterdir()} == committed
    assert not list((out / "figures").glob(".*")) and not list((out / "results").glob(".*"))
    promoted = reference.promote("smoke", out)
    assert promoted == [store.folder(side, "smoke", out, reference=True) for side in ("figures", "results")]
    assert (promoted[0] / "new_figure.png").exists()
    assert not (promoted[1] / "reproduction.md").exists() and not list(promoted[1].glob(".*"))
    shutil.rmtree(store.folder("figures", "smoke", out, reference=False))
    with pytest.raises(FileNotFoundError, match="the reproduction wrote no .*figures.*left as it was"):
        reference.promote("smoke", out)


def test_bad_reproduction_options_are_refused_before_any_notebook_runs():
    with pytest.raises(ValueError, match=r"check=True compares the whole series .* only=\['00'\]"):
        reproduce.execute("smoke", check=True, only=["00"])
    with pytest.raises(ValueError, match=r"check=True compares the whole series .* reference=True"):
        reproduce.execute("smoke", check=True, reference=True)
    with pytest.raises(ValueError, match=r"reference=True regenerates the whole committed reference; allowed with "
                       r"only=None, not only=\['05'\]"):
        reproduce.execute("smoke", reference=True, only=["05"])
    with pytest.raises(ValueError, match=r"check='yes', reference=False are not allowed; allowed values: True or "):
        reproduce.execute("smoke", check="yes")
    with pytest.raises(ValueError, match=r"reference='yes' is not allowed; allowed values: None"):
        store.folder("figures", "smoke", reference="yes")
    with pytest.raises(ValueError, match=r"profile='huge' is not known; allowed values"):
        reference.report("huge")


def test_the_report_files_are_git_ignored_and_make_passes_check_and_reference():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert {"outputs/reproduced/", "outputs/results/*/reproduction.md", "outputs/results/*/reproduction.json"} \
        <= set(ignored)
    makefile = (ROOT / "Makefile").read_text()
    assert "--check" in makefile.split("\nreproduce:")[1].split("\n\n")[0]
    assert "--reference" in makefile.split("\nreference:")[1].split("\n\n")[0]


def test_the_command_line_refuses_check_on_part_of_the_series_before_any_notebook(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "hslib.reproduce", "--check", "--only", "00", "--outputs",
                        str(tmp_path / "outputs")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "check=True compares the whole series with the committed reference" in r.stderr
    assert not (tmp_path / "outputs").exists()
