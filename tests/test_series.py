"""The whole notebook series on the smoke profile, executed once with papermill (as `make reproduce` does)."""
import json
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from hslib import claims, findings, paper, planning, reference, reproduce, store
from hslib.config import base_config
from hslib.scores import load_scores
from hslib.series import SERIES, TRAINING_METHODS

# The series takes ~8 minutes on 2 cores: `pytest -m "not slow"` skips it for a fast inner loop.
pytestmark = pytest.mark.slow


ROOT = Path(__file__).resolve().parents[1]
LOG: list = []  # what the series printed
COMMITTED = ("figures", "results")


def _committed_files():
    """The committed smoke reference, as a fresh clone has it (a report left by a local reproduction is not)."""
    return [p for name in COMMITTED for p in sorted((ROOT / "outputs" / name / "smoke").iterdir())
            if not p.name.startswith("reproduction.")]


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    out = tmp_path_factory.mktemp("series")
    for p in _committed_files():  # the outputs root of a fresh clone: the committed reference is there
        target = out / p.relative_to(ROOT / "outputs")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, target)
    t0 = time.perf_counter()
    timings = reproduce.execute(profile="smoke", outputs=out, log=lambda line: (LOG.append(line), print(line)))
    print(f"\nsmoke series: {time.perf_counter() - t0:.0f}s")
    return out, timings


def check_figure_files(folder, spec, profile, run_ids):
    """The PNG, PDF and JSON sidecar of one paper figure (`spec`: its hslib.paper.Figure) are what it
    promises: a decodable, non-blank image about as wide as its panels, a one-page PDF, and a sidecar naming
    the figure, the profile, its panels in the paper's letter order, and only runs of the results table."""
    png, pdf, sidecar = (folder / f"{spec.name}.{ext}" for ext in ("png", "pdf", "json"))
    with Image.open(png) as im:
        im.verify()  # a truncated or corrupt file fails here
    with Image.open(png) as im:
        width, height = im.size
        colours = im.convert("RGB").getcolors(maxcolors=1 << 24)
    assert len(colours) > 50, f"{png.name}: {len(colours)} colours, a blank image"  # real plots have hundreds
    letters = [p.letter for p in spec.panels]
    if spec.number == 1:  # a gallery of images: rows of thumbnails
        assert width >= 300 and height >= 300, (png.name, width, height)
    else:  # up to 4 panels a row, each 4.2-5.4 in wide at 110 dpi (462-594 px), about 3.4-3.9 in high
        cols, rows = min(len(letters), 4), -(-len(letters) // 4)
        assert 350 * cols <= width <= 850 * cols and 300 * rows <= height <= 700 * rows, (png.name, width, height)
    blob = pdf.read_bytes()
    assert blob.startswith(b"%PDF-") and blob.rstrip().endswith(b"%%EOF"), pdf.name
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", blob)) == 1, pdf.name  # one page
    meta = json.loads(sidecar.read_text())
    assert (meta["figure"], meta["name"], meta["profile"]) == (spec.number, spec.name, profile)
    assert set(meta["drawn_by"]) == {"hslib_version", "semantics", "git_commit", "git_dirty"}  # the code that drew it
    if spec.number == 1:  # the two classes of the gallery, highest- and lowest-EL2N rows
        assert len(meta["classes"]) == 2 and len(meta["panels"]) == 2
    else:
        assert [p["letter"] for p in meta["panels"]] == letters
        assert all(p["title"].startswith(f"({p['letter']}) ") for p in meta["panels"])
        assert all(p["runs"] > 0 for p in meta["panels"]), f"{spec.name}: a panel without runs"
        assert meta["run_ids"] and set(meta["run_ids"]) <= run_ids, spec.name


def test_every_paper_figure_is_written(series):
    out, _ = series
    run_ids = set(pd.read_csv(store.results_file("smoke", "runs", out, reference=False))["id"])
    for spec in paper.FIGURES:
        check_figure_files(store.folder("figures", "smoke", out, reference=False), spec, "smoke", run_ids)
    drawn = sorted(p.stem for p in (store.folder("figures", "smoke", out, reference=False)).glob("fig*.png"))
    assert drawn == sorted(f.name for f in paper.FIGURES)  # the 14 figures, no stray or duplicate file
    for spec in paper.EXTENSION:  # smoke runs the extension beyond the paper (notebook 10): its figures too
        check_figure_files(out / "figures" / "smoke", spec, "smoke", run_ids)
    extension = sorted(p.stem for p in (out / "figures" / "smoke").glob("ext*.png"))
    assert extension == sorted(f.name for f in paper.EXTENSION)


def test_the_series_leaves_the_committed_reference_alone_and_ends_with_its_report(series):
    out, _ = series
    for p in _committed_files():  # `git status` after `make reproduce` is clean
        assert (out / p.relative_to(ROOT / "outputs")).read_bytes() == p.read_bytes(), p
    report = json.loads(store.results_file("smoke", "reproduction_data", out, reference=True).read_text())
    assert LOG[-1] == f"[reproduce] {reference.summary_line(report)}"  # the last line says how it compares
    fresh = pd.read_csv(store.results_file("smoke", "runs", out, reference=False))
    committed = pd.read_csv(ROOT / "outputs" / "results" / "smoke" / "runs.csv")
    assert sum(report["counts"].values()) == len(set(fresh.id) | set(committed.id))
    for side in (True, False):  # beside the reference, and beside the reproduction's tables (where its book looks)
        md = store.results_file("smoke", "reproduction", out, reference=side).read_text()
        assert md.startswith("# Does this reproduction match the reference?")
        assert f"**{reference.summary_line(report)}.**" in md


def test_notebook_03_ran_once_per_method(series):
    out, timings = series
    names = {name for name, _ in timings}
    for m in TRAINING_METHODS:
        assert f"03_sparse_training-{m}" in names
        nb = json.loads((out / "notebooks" / "smoke" / f"03_sparse_training-{m}.ipynb").read_text())
        injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        assert injected and f'method = "{m}"' in "".join(injected[0]["source"])
    assert len(timings) == len(SERIES)


def expected_runs():
    """Every run the series trains: the profile's grids, their dense parents and EL2N scoring runs,
    and the two primer runs."""
    configs = planning.all_configs("smoke")
    base = base_config("smoke", dataset="digits", model="resnet18")
    configs += [base, base.replace(method="set", density=0.2)]
    return {c.id for wave in planning.plan(configs) for c in wave}


def test_runs_csv_has_exactly_the_runs_of_the_grids(series):
    out, _ = series
    runs = pd.read_csv(store.results_file("smoke", "runs", out, reference=False))
    assert set(runs["id"]) == expected_runs() and runs["id"].is_unique
    assert runs["test_acc"].between(0, 1).all() and (runs["density"] <= 1).all()
    layers = pd.read_csv(store.results_file("smoke", "layers", out, reference=False))
    assert set(layers["id"]) == set(runs["id"])


def test_claims_csv_has_a_verdict_per_test_and_its_summary_beside_it(series):
    out, _ = series
    table = pd.read_csv(store.results_file("smoke", "claims", out, reference=False))
    assert list(table.columns) == claims.COLUMNS and set(table.verdict) <= set(claims.VERDICTS)
    assert list(table[table.family == "confirmatory"].key) == [f.key for f in findings.CONFIRMATORY]
    assert set(table.key) == {f.key for f in findings.FINDINGS}  # a row on shared runs stands for its twin
    tests, checks = table[table.family != "check"], table[table.family == "check"]
    assert (tests.verdict == claims.NOT_TESTABLE).all()  # one seed: no test (the controls are run too)
    assert (checks.verdict == "holds").all() and checks["diff"].notna().all()
    summary = (store.results_file("smoke", "summary", out, reference=False)).read_text(encoding="utf-8")
    runs = pd.read_csv(store.results_file("smoke", "runs", out, reference=False))
    assert summary == claims.summary(table, "smoke", runs)
    assert "](" in summary and "](" not in claims.without_links(summary)


def test_a_second_series_reuses_every_run(series):
    out, _ = series
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")}
    reproduce.execute(profile="smoke", outputs=out, only=["04", "07"], lanes=1)
    after = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")}
    assert after == before
    assert load_scores(planning.scoring_base("smoke", "digits", "resnet18"), out / "runs") is not None
    assert len(store.finished_results(out / "runs")) == len(expected_runs())


def test_the_book_opens_in_a_browser(series):
    """The series ends by rendering its book (hslib.book): in Chromium every thumbnail and notebook image loads,
    every link resolves, the sidebar and next/previous follow the series, the claims tables have one row per
    claims.csv row, and the offline search finds SNIP on its notebook 03 page."""
    from browser import check_book

    out, _ = series
    seen = check_book(out, "smoke")
    labels = {name + "".join(f"-{v}" for v in extra.values()) for name, extra in SERIES}
    assert {p.stem for p in seen["notebooks"]} == labels  # every notebook of the series has its page
    assert seen["images"] == len(paper.FIGURES)  # one thumbnail per paper figure
    assert (out / "book" / "smoke" / "notebooks" / "03_sparse_training-snip.html").resolve() in seen["found"]
