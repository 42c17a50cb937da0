"""Numbers and directions a reader sees come from one place (issue 21, item 1): a figure, the text under it and the
ledger read the same runs (hslib.tables.panel_runs) and the same means (hslib.tables.points); the scale box and the
README's results block are generated (hslib.prose); notebooks leave no stray return values."""
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hslib import claims, config, figures, findings, paper, prose  # noqa: E402
from hslib.series import SERIES  # noqa: E402
from hslib.synthetic import synthetic_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLEAN_EL2N_30 = {"data_ratio": 0.3, "corruption": "", "adversarial": ""}


def drawn(name, df, profile):
    """The figure's sidecar data (per panel letter), drawn from `df`."""
    fig = figures.draw(name, df, profile)
    plt.close(fig)
    return {p["letter"]: p for p in fig.hslib_meta["panels"]}


def group_mean(points, g):
    """A group's mean as the figure shows it: the mean over the group's drawn settings of their means."""
    inside = [p["mean"] for p in points if p["method"] in g.methods
              and g.ratio_min - 1e-9 <= p["data_ratio"] <= g.ratio_max + 1e-9
              and (p["method"] == "dense" or g.sparsity_min - 1e-9 <= p["sparsity"] <= g.sparsity_max + 1e-9)]
    assert inside, g.words
    return sum(inside) / len(inside)


def figure_difference(panels, f):
    """A − B of a (one-figure) finding from the figure's own numbers, averaged over its panels as the ledger pools
    them (identical panels give identical numbers, so counting them once or twice is the same)."""
    diffs = [group_mean(panels[x]["points"][f.metric], f.a) - group_mean(panels[x]["points"][f.metric], f.b)
             for n, x in f.where()]
    return sum(diffs) / len(diffs)


# ------------------------------------------------------------------------------------------ one source of numbers
@pytest.mark.parametrize("delta", [0.05, -0.05])
def test_figure_prose_and_ledger_agree_on_a_planted_effect(delta):
    """Plant an effect on Figure 2 (c, d) (SET and SNIP at high sparsity, 30% EL2N-hard data) and on Figure 8 (a, b)
    (Random-ERK and SNIP at sparsity 0.8): the figure's sidecar, the ledger row and the sentence under the figure give
    the same A − B, with the planted sign; Figure 13 (b)'s sparsity-0.7 runs, on the same stand-in data at `course`,
    carry a large opposite effect and must reach none of them."""
    effects = [{"method": ["set", "snip"], "sparsity_min": 0.8, **CLEAN_EL2N_30, "delta": delta},
               {"method": ["random_erk", "snip"], "sparsity": 0.8, "data_ratio": 0.3, "delta": delta},
               {"method": list(findings.SNNS), "sparsity": 0.7, **CLEAN_EL2N_30, "delta": -6 * delta}]
    df = synthetic_results("course", effects=effects)
    ledger = claims.ledger(df, "course")
    word = "supported" if delta > 0 else "contradicted"
    for name, key in (("fig02_hard_sample_accuracy", "set_snip_win_top30"),
                      ("fig08_variants_flops", "erk_snip_beat_uniform")):
        f = findings.BY_KEY[key]
        panels = drawn(name, df, "course")
        shown = figure_difference(panels, f)
        row = ledger[ledger.key == key].iloc[0]
        assert row["diff"] == pytest.approx(shown, abs=1e-12), key  # the figure's numbers are the ledger's
        assert shown * delta > 0 and abs(shown) > abs(delta) / 2, (key, shown)  # the planted sign, and its size
        assert row.verdict == word, key
        text = claims.look_for(name, df, "course")
        said = f"A − B = {claims.amount(shown, f.metric)} over {int(row.n_seeds)} seed(s)"
        assert said in text and f"→ **{word}**." in text.split(said, 1)[1].split("\n")[0], key
    # Figure 13 (b)'s sparsity 0.7 is drawn there, and nowhere in Figure 2
    assert {p["sparsity"] for p in drawn("fig13_variants_el2n", df, "course")["b"]["points"]["test_acc"]} >= {0.7}
    fig2 = drawn("fig02_hard_sample_accuracy", df, "course")
    assert all(p["sparsity"] != 0.7 for x in "abcd" for p in fig2[x]["points"]["test_acc"])
    best = ledger[(ledger.key == "snn_match_or_beat_dense") & (ledger.panel == "c")].iloc[0]
    assert " 0.7" not in best.evidence and abs(best["diff"]) < abs(delta) + 0.01


def test_a_panel_draws_and_tests_only_the_settings_its_profile_plans():
    """tables.panel_runs: runs another panel plans on the same stand-in (Figure 3's grid of data ratios, Figure 13's
    sparsity 0.7) never join Figure 2 (c), in the figure or in the ledger."""
    from hslib.tables import panel_rows, panel_runs

    df = synthetic_results("course")
    panel = paper.figure(2).panel("c")
    every, own = panel_rows(df, panel, "course"), panel_runs(df, panel, "course")
    assert set(every.sparsity.round(6)) - set(own.sparsity.round(6)) == {0.7}  # Figure 13 (b)'s runs
    assert set(own[own.method != "dense"].sparsity.round(6)) == {0.5, 0.8, 0.9}  # course's sparsities
    assert set(own.method) == {"dense", *paper.MAIN}


def test_a_dense_only_table_draws_the_dense_band_not_empty_panels():
    """Notebook 03 with method='dense' draws Figure 2's panels with dense alone: a band, not 'no runs'."""
    df = synthetic_results("smoke")
    fig = figures.draw("fig02_hard_sample_accuracy", df[df.method == "dense"], "smoke")
    for ax in fig.axes[:4]:
        assert not any("no runs" in t.get_text() for t in ax.texts) and "no runs" not in ax.get_title()
        assert len(ax.lines) == 1  # the dense mean (one seed at smoke: no sd band)
    plt.close(fig)


def test_changes_words_every_group_with_its_numbers():
    before = pd.Series({"omp": 0.351, "set": 0.228, "dense": 0.5})
    after = pd.Series({"omp": 0.418, "set": 0.326, "dense": 0.4, "gmp": 0.3})  # gmp: no value before, left out
    assert prose.changes(before, after, "From severity 4 to 6, test accuracy", {"omp": "OMP", "set": "SET"}) == (
        "From severity 4 to 6, test accuracy rises for 2 of 3 (OMP 0.351 → 0.418, SET 0.228 → 0.326); falls for 1 "
        "of 3 (dense 0.5 → 0.4)")
    assert prose.changes(before, before + 0.001, "x", tolerance=0.01) == (
        "x stays within ±0.01 for 3 of 3 (omp 0.351 → 0.352, set 0.228 → 0.229, dense 0.5 → 0.501)")


def test_method_means_are_the_figure_s_numbers():
    df = synthetic_results("course", effects=[{"method": "omp", "severity": 6, "delta": 0.1}])
    means = prose.method_means(df, "fig09_corruption_severity", "course")
    panels = drawn("fig09_corruption_severity", df, "course")
    for x in "abc":
        omp = [p["mean"] for p in panels[x]["points"]["test_acc"] if p["method"] == "omp"]
        assert means.loc["omp", x] == pytest.approx(sum(omp) / len(omp))
    assert means.loc["omp", "c"] - means.loc["omp", "b"] > 0.05  # 0.1 planted at severity 6, −0.04 from 4 to 6


# ------------------------------------------------------------------------------------------ the scale box
def _section(box, name):
    return box.split(f"*{name}:*", 1)[1].split("\n", 1)[0]


def test_the_scale_box_says_what_one_seed_cannot_show():
    box = prose.scale_box("smoke", "04_hard_sample_results")
    assert box.startswith("> **What this scale can and cannot show** (`smoke` profile, 04_hard_sample_results")
    assert "1 seed per run" in _section(box, "This scale") and "3 epochs (the paper: 200)" in _section(box, "This scale")
    cannot = _section(box, "It cannot show")
    assert "any finding: with 1 seed no row can be tested" in cannot
    assert "digits / ResNet18" in _section(box, "This scale") and "gpu" in cannot
    # Figure 2's ratios and Figure 3's grid, of digits' 1,294 training images
    assert "top-30% = 388 images, top-50% = 647 images, top-90% = 1,165 images" in box


def test_the_scale_box_lists_each_row_where_the_profile_puts_it():
    """At `course` the adversarial grid runs one seed: every row about Figures 6 and 10 is direction only; the
    checks about Figures 7, 8, 11 and 12 are named as checks, and the registered rows get a verdict."""
    box = prose.scale_box("course", "06_adversarial")
    assert "; 1 seed per run (Figures 6, 10)" in _section(box, "This scale")
    assert "3 seeds" not in box and "confirmatory findings test" not in box  # none of its runs or rows has them
    about = {f.key for f in findings.FINDINGS if {n for n, _ in f.where()} & {6, 10}}
    cannot, can = _section(box, "It cannot show"), _section(box, "It can show")
    assert all(k in cannot for k in about) and not any(k in can for k in about)
    box = prose.scale_box("course", "07_layer_density")
    ledger = claims.ledger(synthetic_results("course"), "course")
    checks = ledger[(ledger.family == "check") & ledger.figure.isin([7, 8, 11, 12])]
    assert f"{len(checks)} checks ({', '.join(dict.fromkeys(checks.key))})" in _section(box, "It can show")
    assert "10 for the runs the confirmatory findings test" in box
    assert "2 confirmatory" in _section(box, "It can show")  # erk_snip_beat_uniform, shallow_dense_scratch_wins


def test_the_extension_box_gives_its_own_seeds_figures_and_rows():
    """Notebook 10 draws the extension's figures, on its grids' one seed at `course`: the box says so, lists its
    exploratory rows as direction only, and says nothing of the paper's seeds or confirmatory runs."""
    box = prose.scale_box("course", "10_structured_sparsity")
    scale, cannot = _section(box, "This scale"), _section(box, "It cannot show")
    assert "; 1 seed per run (Figures E1, E2, E3);" in scale and "3 seeds" not in box
    assert "confirmatory" not in box and "every panel of Figures E1, E2, E3" in _section(box, "It can show")
    extension_rows = {f.key for f in findings.FINDINGS if f.beyond_paper}
    assert extension_rows and all(k in cannot for k in extension_rows)
    assert "top-30% = 388 images, top-50% = 647 images (" in scale  # the subsets E1 trains on, and no others
    box = prose.scale_box("course", "05_common_corruptions")  # the paper's seeds, beside Figure 9's own
    assert "; 3 seeds per run (Figure 9: 1); 10 for the runs the confirmatory findings test" in box
    # its confirmatory and control rows wait for runs that notebook 08 trains; 08 (and the whole study) trains them
    waits = "(the confirmatory and control rows once every run they need has finished: notebook 08 trains what is"
    assert waits in _section(box, "It can show")
    assert not any("once every run they need" in prose.scale_box("course", nb) for nb in (None, "08_claims"))
    # at a profile whose flag leaves the extension out, its notebook's box promises none of it
    box = prose.scale_box("gpu", "10_structured_sparsity")
    assert "Figures E1, E2, E3 as part of this profile's study: its `extension` flag" in _section(box, "It cannot show")
    assert "every panel of" not in box and "ext_" not in box


@pytest.mark.parametrize("profile", ["course", "smoke"])
def test_the_rows_a_profile_plans_are_the_rows_its_ledger_has(profile):
    """The box counts rows as the ledger will have them: the same (key, panel) rows, duplicates on the very same
    runs left out, and each with the seeds it will be tested on."""
    ledger = claims.ledger(synthetic_results(profile), profile)
    planned = prose.planned_rows(profile, [f.number for f in paper.figures_of(profile)])
    assert sorted(zip(planned.key, planned.panel)) == sorted(zip(ledger.key, ledger.panel))
    seeds = dict(zip(zip(ledger.key, ledger.panel), ledger.n_seeds.fillna(0).astype(int)))
    assert {k: s for k, s in zip(zip(planned.key, planned.panel), planned.seeds)} == seeds


def test_the_scale_box_reads_the_convergence_share_from_the_runs():
    runs = synthetic_results("course").assign(train_acc=1.0)
    fitted = prose.scale_box("course", "04_hard_sample_results", runs)
    clean = runs[(runs.adversarial.fillna("") == "") & (runs.stop_epoch == 0)]
    assert f"{len(clean)} of {len(clean)} finished non-adversarial runs (100.0%) fit their training set" in fitted
    assert "): in the paper's regime" in fitted
    runs = runs.assign(train_acc=0.9)
    assert "(0.0%) fit their training set" in prose.scale_box("course", "04_hard_sample_results", runs)
    assert "**not** in the paper's regime" in prose.scale_box("course", "04_hard_sample_results", runs)


def test_a_notebooks_scale_box_counts_the_finished_runs_not_a_stale_runs_csv(tmp_path, monkeypatch):
    from unittest import mock

    from hslib.notebook import setup

    monkeypatch.setenv("HSLIB_OUTPUTS", str(tmp_path))
    S = setup(profile="course")
    stale = synthetic_results("course").assign(train_acc=0.5)  # e.g. the reference a `make reference` replaces
    S.results.mkdir(parents=True)
    stale.to_csv(S.results / "runs.csv", index=False)
    with mock.patch("IPython.display.display") as shown:
        S.scale_box("04_hard_sample_results")  # no run finished yet: no convergence line at all
    assert "fit their training set" not in shown.call_args[0][0].data
    finished = synthetic_results("course").assign(train_acc=1.0)
    with mock.patch("hslib.store.results", return_value=finished) as store_results, \
            mock.patch("IPython.display.display") as shown:
        S.scale_box("04_hard_sample_results")
    assert store_results.call_args[0][0] == S.runs
    assert "(100.0%) fit their training set" in shown.call_args[0][0].data


NOTEBOOKS = [name for name, _ in SERIES]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_shows_its_scale_box_right_after_setup(name):
    cells = [c for c in json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]
             if c["cell_type"] == "code"]
    setup = next(i for i, c in enumerate(cells) if "S = setup(" in "".join(c["source"]))
    assert "".join(cells[setup + 1]["source"]) == f'S.scale_box("{name}")'


# ------------------------------------------------------------------------------------------ stray outputs
def test_saving_a_figure_in_a_notebook_leaves_no_return_value(tmp_path, monkeypatch):
    from hslib.notebook import setup

    monkeypatch.setenv("HSLIB_OUTPUTS", str(tmp_path))
    S = setup(profile="smoke")
    fig = plt.figure()
    assert S.save(fig, "a_picture") is None  # a cell ending in S.save(...) shows no list of PosixPath
    assert {p.name for p in S.figures.iterdir()} == {"a_picture.png", "a_picture.pdf"}
    plt.close(fig)


# ------------------------------------------------------------------------------------------ the README
def test_the_readme_results_block_is_what_the_committed_results_give():
    readme = (ROOT / "README.md").read_text()
    for profile in prose.README_PROFILES:
        if not (ROOT / "outputs" / "results" / profile / "claims.csv").exists():
            pytest.skip(f"outputs/results/{profile}/claims.csv is not committed")
    assert prose.with_block(readme, prose.readme_block()) == readme, "run: python -m hslib.prose"
    block = readme.split(prose.BEGIN)[1].split(prose.END)[0]
    ledger = pd.read_csv(ROOT / "outputs" / "results" / "course" / "claims.csv")
    for _, r in ledger[ledger.family == "confirmatory"].iterrows():
        assert re.search(re.escape(f"{r.statement}: A − B = {claims.amount(r['diff'], r.metric)}") + r".*→ \*\*"
                         + re.escape(r.verdict) + r"\*\*", block), r.key
    # LTH's registered row is reported with its two controls right under it (issue 20, item 4), whatever they show
    lines = block.split("**What `smoke` found**")[0].splitlines()
    assert findings.BY_KEY[prose.CONTROLLED].family == "confirmatory"
    at = next(i for i, line in enumerate(lines) if line.startswith(f"- {findings.BY_KEY[prose.CONTROLLED].statement}"))
    controls = ledger[ledger.family == "control"]
    assert len(controls) == 2
    for line, (_, c) in zip(lines[at + 1:at + 3], controls.iterrows()):
        assert line.startswith(f"  - {c.statement}: A − B = {claims.amount(c['diff'], c.metric)}"), line
        assert line.split("→ **")[1].startswith(f"{c.verdict}**"), line


def test_the_readme_block_needs_its_markers():
    with pytest.raises(ValueError, match="must hold the markers"):
        prose.with_block("# a README without the block\n", "x")
    text = f"head\n{prose.BEGIN}\nold\n{prose.END}\ntail\n"
    assert prose.with_block(text, f"{prose.BEGIN}\nnew\n{prose.END}") == f"head\n{prose.BEGIN}\nnew\n{prose.END}\ntail\n"


# ------------------------------------------------------------------------------------------ the lab's timings
def test_the_lab_timing_table_is_what_the_measurement_and_the_course_results_give():
    lab = (ROOT / "docs" / "lab.md").read_text()
    timings, runs = prose._lab_inputs(ROOT)
    assert prose.with_block(lab, prose.lab_block(timings, runs), prose.LAB_BEGIN, prose.LAB_END) == lab, \
        "run: python -m hslib.prose"
    assert timings is not None, "docs/lab_timings.json: run python benchmarks/lab_timings.py"
    assert [nb["notebook"] for nb in timings["notebooks"]][:3] == ["00_quickstart", "00_sparsity_primer",
                                                                   "01_el2n_scoring"]


def test_the_lab_timing_table_sums_its_notebooks_and_names_runs_the_course_lacks():
    runs = pd.DataFrame({"id": ["a", "b", "c"], "wall_time": [30.0, 45.0, 3600.0]})
    timings = {"commit": "abc1234", "date": "2026-12-05", "machine": "2 CPU cores", "command": "python x.py",
               "load_average": {"start": 0.1, "median": 1.9, "max": 2.2},
               "notebooks": [{"notebook": "00_quickstart", "seconds": 61.4, "runs": ["a"]},
                             {"notebook": "01_el2n_scoring", "seconds": 3725, "runs": ["b", "c", "z"]}]}
    table = prose.lab_block(timings, runs)
    assert "| `00_quickstart` | 1 | 30 s | 1 min 01 s |" in table
    assert "| `01_el2n_scoring` | 3 | 1 h 00 min (1 not in the course run) | 1 h 02 min |" in table
    assert "| **core path** | **4** | **1 h 01 min** | **1 h 03 min** |" in table
    assert "load average 0.1 at the start, median 1.9, highest 2.2" in table
    assert "Not measured yet" in prose.lab_block(None, runs)


def test_a_difference_near_zero_keeps_its_sign():
    # the ledger's rule reads "the 95% CI of d lies above 0": a bound of -0.03 pp must not be shown as +0.0 pp
    assert claims.amount(-0.0003, "test_acc") == "-0.03 pp" and claims.amount(0.0003, "test_acc") == "+0.03 pp"
    assert claims.amount(0.0, "test_acc") == "+0.0 pp" and claims.amount(-0.0, "test_acc") == "+0.0 pp"
    assert claims.amount(-0.052, "test_acc") == "-5.2 pp" and claims.amount(-0.0005, "test_acc") == "-0.1 pp"


def test_the_exercise_box_gives_the_exercises_seeds_not_the_profiles():
    from hslib.exercise import DEFAULT_SEEDS

    box = prose.scale_box("smoke", prose.EXERCISE)
    assert f"once per seed of its `seeds` parameter ({len(DEFAULT_SEEDS)} by default" in box
    assert "1 seed per run" not in box.replace("own 1 seed per run", "") and "no row can be tested" not in box
    assert "no row can be tested" in prose.scale_box("smoke", "04_hard_sample_results")


def test_the_readmes_profile_table_gives_the_planned_runs_and_the_estimate():
    from hslib import estimate, planning

    table = (ROOT / "README.md").read_text().split("| profile | data / models |")[1].split("\n\n")[0]
    rows = {re.match(r"\| `(\w+)`", line).group(1): [c.strip() for c in line.split("|")[1:-1]]
            for line in table.splitlines() if line.startswith("| `")}
    assert sorted(rows) == sorted(config.PROFILES)
    for profile, cells in rows.items():
        runs = len(estimate._waves(planning.all_configs(profile)))
        assert cells[5] == f"{runs:,}", (profile, cells[5], runs)
        if profile in ("gpu", "paper"):
            hours = estimate.compute_estimate(profile)["gpu_hours"]
            assert f"≈ {round(hours)} GPU-hours" in cells[6], (profile, cells[6], hours)
