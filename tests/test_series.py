"""The whole notebook series on the smoke profile, executed once with papermill (as `make reproduce` does)."""
import json
import time

import pandas as pd
import pytest

from hslib import claims, el2n, reproduce, store, sweep
from hslib.config import base_config


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    out = tmp_path_factory.mktemp("series")
    t0 = time.perf_counter()
    timings = reproduce.execute(profile="smoke", outputs=out)
    print(f"\nsmoke series: {time.perf_counter() - t0:.0f}s")
    return out, timings


def test_every_paper_figure_is_written(series):
    out, _ = series
    for n in range(1, 15):
        for ext in ("png", "pdf"):
            files = list((out / "figures").glob(f"fig{n:02d}_*.{ext}"))
            assert files and all(f.stat().st_size > 1000 for f in files), f"figure {n} ({ext})"
    assert len(list((out / "figures").glob("fig08_*.png"))) == 2  # 8a/c (EL2N) and 8b/d (corruption)


def test_notebook_03_ran_once_per_method(series):
    out, timings = series
    names = {name for name, _ in timings}
    for m in reproduce.TRAINING_METHODS:
        assert f"03_sparse_training-{m}" in names
        nb = json.loads((out / "notebooks" / f"03_sparse_training-{m}.ipynb").read_text())
        injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        assert injected and f'method = "{m}"' in "".join(injected[0]["source"])
    assert len(timings) == len(reproduce.SERIES)


def expected_runs():
    """Every run the series trains: the profile's grids, their dense parents and EL2N scoring runs,
    and the two primer runs."""
    configs = [c for e in sweep.EXPERIMENTS for c in sweep.grid(e, "smoke")]
    base = base_config("smoke", dataset="digits", model="resnet18")
    configs += [base, base.replace(method="set", density=0.2)]
    return {c.id for wave in sweep.plan(configs) for c in wave}


def test_runs_csv_has_exactly_the_runs_of_the_grids(series):
    out, _ = series
    runs = pd.read_csv(out / "results" / "runs.csv")
    assert set(runs["id"]) == expected_runs() and runs["id"].is_unique
    assert runs["test_acc"].between(0, 1).all() and (runs["density"] <= 1).all()
    layers = pd.read_csv(out / "results" / "layer_density.csv")
    assert set(layers["id"]) == set(runs["id"])


def test_claims_csv_has_one_verdict_per_claim(series):
    out, _ = series
    table = pd.read_csv(out / "results" / "claims.csv")
    assert list(table["key"]) == [c.key for c in claims.CLAIMS]
    assert set(table["verdict"]) <= {"supported", "not supported", "not testable at this profile"}
    stat = table[~table["key"].isin([c.key for c in claims.CLAIMS if c.structural])]
    assert (stat["verdict"] == "not testable at this profile").all()  # one seed: no test
    assert table.loc[table.key == "flops", "verdict"].item() in ("supported", "not supported")


def test_a_second_series_reuses_every_run(series):
    out, _ = series
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")}
    reproduce.execute(profile="smoke", outputs=out, only=["04", "07"], lanes=1)
    after = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")}
    assert after == before
    assert el2n.load_scores(base_config("smoke", dataset="digits", subset="hard", data_ratio=0.5),
                            out / "runs") is not None
    assert len(store.finished_results(out / "runs")) == len(expected_runs())
