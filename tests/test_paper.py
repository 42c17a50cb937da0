"""The table of the paper (hslib.paper) and everything drawn from it, verified at paper scale on a CPU
with synthetic results tables: every figure's panels, letters and pairs, and the claims ledger's verdicts."""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hslib import claims, figures, findings, paper, planning, plots, tables  # noqa: E402
from hslib.config import PROFILES  # noqa: E402
from hslib.synthetic import synthetic_results  # noqa: E402

C100, TINY, V19, V16 = "c100_r18", "tiny_r34", "c100_v19", "c10_v16"
# The paper's captions (docs/paper_findings.md §1): figure -> [(letter, pair, data ratio, fixed sparsity)].
PAPER = {
    2: [("a", C100, 0.5, None), ("b", TINY, 0.5, None), ("c", C100, 0.3, None), ("d", TINY, 0.3, None)],
    3: [("a", C100, None, None), ("b", C100, None, None)],
    4: [("a", C100, 1.0, None), ("b", TINY, 1.0, None), ("c", C100, 0.3, None), ("d", TINY, 0.3, None)],
    5: [("a", V19, 1.0, None), ("b", V19, 0.3, None)],
    6: [("a", V16, 1.0, 0.9), ("b", C100, 1.0, 0.9), ("c", V16, 0.5, 0.9), ("d", C100, 0.5, 0.9)],
    7: [("a", C100, 0.3, 0.8), ("b", V19, 0.3, 0.8)],
    8: [("a", C100, 0.3, 0.8), ("b", C100, 0.3, 0.8), ("c", C100, 0.3, None), ("d", C100, 0.3, None)],
    9: [("a", C100, 0.3, None), ("b", C100, 0.3, None), ("c", C100, 0.3, None)],
    10: [("a", V16, 1.0, 0.8), ("b", C100, 1.0, 0.8), ("c", V16, 0.5, 0.8), ("d", C100, 0.5, 0.8)],
    11: [("a", C100, 0.5, 0.8), ("b", V19, 1.0, 0.8)],
    12: [("a", TINY, 0.3, 0.8), ("b", TINY, 0.3, 0.8)],
    13: [("a", TINY, 1.0, 0.8), ("b", TINY, 0.3, 0.7)],
    14: [("a", TINY, 1.0, 0.8), ("b", TINY, 0.3, 0.7)],
}


def test_the_table_has_the_papers_panels_letters_and_pairs():
    assert [f.number for f in paper.FIGURES] == list(range(1, 15)) and len(set(figures.NAMES)) == 14
    for number, expected in PAPER.items():
        f = paper.figure(number)
        assert [(p.letter, p.pair, p.ratio, p.sparsity) for p in f.panels] == expected, number
    assert [p.severity for p in paper.figure(9).panels] == [2, 4, 6]
    assert {p.family for p in paper.figure(4).panels} == {"corruption"} and paper.figure(2).panels[0].family == "el2n"
    assert {f.number for f in paper.FIGURES if f.wide} == {3, 7, 11, 12}  # heat maps and per-layer profiles


def test_every_figure_is_drawn_by_the_notebook_the_table_names():
    root = Path(__file__).resolve().parents[1] / "notebooks"
    for f in paper.ALL_FIGURES:  # the extension's too (notebook 10)
        source = json.loads((root / f"{f.notebook}.ipynb").read_text())
        code = "".join("".join(c["source"]) for c in source["cells"] if c["cell_type"] == "code")
        assert f'"{f.name}"' in code, (f.name, f.notebook)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_maps_every_paper_pair(profile):
    assert set(PROFILES[profile]["stand_ins"]) == set(paper.PAIRS)
    for pair in paper.PAIRS:
        note = paper.pair_note(profile, pair)
        assert ("stand-in for" in note) == (paper.stand_in(profile, pair) != paper.PAIRS[pair])


def test_the_paper_profile_runs_only_what_a_figure_draws():
    configs = planning.all_configs("paper")
    # SET's sparsity × data grid and the severity sweep are CIFAR-100 / ResNet18 only (Figures 3 and 9).
    assert {(c.dataset, c.model) for c in planning.grid("set_grid", "paper")} == {("cifar100", "resnet18")}
    assert {(c.dataset, c.model) for c in planning.grid("severity", "paper")} == {("cifar100", "resnet18")}
    drawn = {c.id for f in paper.FIGURES for c in planning.figure_configs(f.name, "paper")}
    controls = {c.id for c in planning.control_configs("paper")}  # the ledger's lottery-ticket controls
    assert {c.id for c in configs} == drawn | controls and not controls & drawn
    # 2 pairs × 2 ratios × ((5 methods + the paper code's SNIP) × 9 sparsities + dense) × 3 seeds for Figure 2
    assert len(planning.figure_configs("fig02_hard_sample_accuracy", "paper")) == 2 * 2 * (6 * 9 + 1) * 3
    assert "snip_random" in {c.method for c in planning.grid("corruption", "paper")}
    assert "snip_random" not in {c.method for c in planning.grid("adversarial", "paper")
                                 + planning.all_configs("smoke")}


@pytest.fixture(scope="module")
def synthetic():
    return {p: synthetic_results(p) for p in ("paper", "gpu", "smoke")}


def test_synthetic_results_have_the_columns_of_runs_csv(synthetic):
    from hslib import store
    from hslib.config import RunConfig

    df = synthetic["paper"]
    row = store.result_row(RunConfig().to_dict(), {"id": "x", **{k: None for k in store.SCALARS}})
    assert set(row) <= set(df.columns)
    assert len(df) == len(planning.all_configs("paper")) and df.id.is_unique and sorted(df.seed.unique()) == [0, 1, 2]


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


@pytest.mark.parametrize("profile", ["paper", "gpu", "smoke"])
def test_every_figure_draws_every_panel_with_the_papers_letter_and_pair(synthetic, profile, tmp_path):
    df = synthetic[profile]
    for f in paper.FIGURES[1:]:
        fig = figures.draw(f.name, df, profile)
        meta = fig.hslib_meta
        assert [p["letter"] for p in meta["panels"]] == [p.letter for p in f.panels], f.name
        for p, m in zip(f.panels, meta["panels"]):
            assert tuple(m["paper_pair"]) == paper.PAIRS[p.pair]
            assert tuple(m["run_pair"]) == paper.stand_in(profile, p.pair)
            assert m["runs"] > 0, (f.name, p.letter)  # no panel is empty at any profile
        titles = [ax.get_title() for ax in _visible_axes(fig)]
        assert len(titles) == len(f.panels), f.name
        for p, t in zip(f.panels, titles):
            assert t.startswith(f"({p.letter})") and "no runs" not in t, (f.name, t)
            if paper.stand_in(profile, p.pair) != paper.PAIRS[p.pair] and p.show != "set_gap":
                assert "stand-in for" in t.replace("\n", " ")
        assert f"[{profile} profile" in fig._suptitle.get_text()
        if f.number == 1:
            continue
        paths = plots.save(fig, f.name, tmp_path)
        side = json.loads(paths[-1].read_text())
        assert side["profile"] == profile and set(side["run_ids"]) <= set(df.id)
        assert set(side["drawn_by"]) == {"hslib_version", "semantics", "git_commit", "git_dirty"}
        plt.close(fig)


def test_figure_9_uses_only_its_pair(synthetic):
    df = synthetic["paper"]
    fig = figures.draw("fig09_corruption_severity", df, "paper")
    used = df[df.id.isin(fig.hslib_meta["run_ids"])]
    assert set(zip(used.dataset, used.model)) == {("cifar100", "resnet18")}
    assert sorted(used.severity.unique()) == [2, 4, 6] and set(used.data_ratio) == {0.3}
    plt.close(fig)


def test_figure_8_flops_panels_show_the_top_five_settings_per_method(synthetic):
    df = tables.normalise(synthetic["paper"])
    for letter in "cd":
        rows = tables.panel_rows(df, paper.figure(8).panel(letter), "paper")
        points = figures._flops_points(rows)
        per_method = points.groupby("method").sparsity.agg(["count", "nunique"])
        assert (per_method["count"] <= figures.TOP_RUNS).all()
        sparse = per_method.drop(index="dense")
        assert (sparse["nunique"] == figures.TOP_RUNS).all()  # five different sparsities, not one


def test_the_adversarial_title_names_the_pgd_steps(synthetic):
    fig = figures.draw("fig06_adversarial_sparsity90", synthetic["smoke"], "smoke")
    cfg = planning.figure_configs("fig06_adversarial_sparsity90", "smoke")[0]
    assert f"PGD-{cfg.adv_steps} training, PGD-{cfg.adv_eval_steps} evaluation" in fig._suptitle.get_text()
    plt.close(fig)


def test_the_erk_reference_follows_the_runs_own_layers(synthetic):
    """A width-1/16 SET run sits on its ERK line (reference from its own layer shapes, classifier included)."""
    df = synthetic["smoke"]
    layers = df.attrs["layers"]
    run = layers[(layers.method == "set")].id.iloc[0]
    one = layers[layers.id == run]
    ref = figures._erk_reference(one, 0.2)["ERK"]
    conv = one[one["shape"].apply(len) == 4].sort_values("index")
    assert np.allclose(ref, conv.density, atol=0.02)  # synthetic layers = ERK + noise 0.004


# ------------------------------------------------------------------------------------------ the ledger
# Rows whose effect the synthetic accuracy model builds in: accuracy falls 2 pp per severity step, and SNIP and the
# ERK methods get ERK layer densities while magnitude pruning gets uniform ones.
BUILT_IN = {"severity6_all_fall"} | {f.key for f in findings.FINDINGS if f.metric == "shallow_density"}


def _ledger(profile, effects=None):
    return claims.ledger(synthetic_results(profile, effects=effects), profile)


def test_the_ledger_has_a_row_per_test_with_its_columns(synthetic):
    ledger = claims.ledger(synthetic["paper"], "paper")
    expected = {(f.key, f.panels) if f.family == "confirmatory" else (f.key, p)
                for f in findings.FINDINGS for p in f.panels if not f.beyond_paper}  # paper: extension off
    assert set(zip(ledger.key, ledger.panel)) == expected and len(ledger) == len(expected)
    assert list(ledger.columns) == claims.COLUMNS
    assert list(dict.fromkeys(ledger.family)) == ["confirmatory", "exploratory", "control", "check"]
    assert set(ledger.verdict) <= set(claims.VERDICTS)
    # Only a confirmatory row pools panels; every other row's runs come from its panel's stand-in pair.
    for _, r in ledger[ledger.family != "confirmatory"].iterrows():
        panel = paper.figure(r.figure).panel(r.panel)
        assert (r.dataset, r.model) == paper.stand_in("paper", panel.pair)


def test_no_planted_effect_gives_no_difference(synthetic):
    ledger = claims.ledger(synthetic["paper"], "paper")
    tested = ledger[(ledger.family != "check") & ~ledger.key.isin(BUILT_IN)]
    assert (tested.n_seeds == 3).all() and tested.p_value.notna().all()
    kinds = tested.key.map(lambda k: findings.BY_KEY[k].test)
    plain = tested[kinds.isin(["difference", "less_data_more_advantage"])]
    assert plain.verdict.str.startswith("inconclusive").all(), plain[~plain.verdict.str.startswith("inconclusive")]
    # equal groups: a margin test can be supported (the groups are within ±2 pp), never contradicted
    assert not tested[~kinds.isin(["difference", "less_data_more_advantage"])].verdict.str.startswith("contra").any()
    assert (ledger[ledger.family == "check"].verdict == "holds").all()


# 20 pp, not 10: with 3 seeds a 10 pp effect is missed in about one noise draw in twelve (the noise is drawn per run
# id, so a new run id redraws it); 20 pp is found in every one.
@pytest.mark.parametrize("delta,verdict", [(0.2, "supported"), (-0.2, "contradicted")])
def test_a_planted_effect_is_found_on_its_pair_only(delta, verdict):
    effects = [{"method": ["set", "snip"], "dataset": "cifar100", "model": "resnet18", "data_ratio": 0.3,
                "corruption": "", "delta": delta}]
    for profile in ("paper", "gpu"):
        ledger = _ledger(profile, effects).set_index(["key", "panel"])
        # the confirmatory test pools CIFAR-100 / ResNet18 (planted) with Tiny-ImageNet / ResNet34 (not)
        row = ledger.loc[("set_snip_win_top30", "cd")]
        assert row.verdict == verdict, profile
        assert row.ci_low <= row["diff"] <= row.ci_high and abs(row["diff"] - delta / 2) < 0.01
        assert row.p_adjusted >= row.p_value
        assert ledger.loc[("set_snip_win_top50", "ab"), "verdict"] == "inconclusive"  # top-50%: nothing planted
        assert ledger.loc[("set_snip_win_corruption_30", "cd"), "verdict"] == "inconclusive"  # not corrupted data
        # an exploratory row on the planted pair, and its twin on corrupted data
        assert ledger.loc[("win_twice_accuracy", "c"), "verdict"] == f"{verdict} (exploratory)", profile
        assert ledger.loc[("win_twice_accuracy", "d"), "verdict"] == "inconclusive (exploratory)", profile


def test_a_planted_robustness_effect_reaches_the_adversarial_finding():
    # 20 pp for the reason given above test_a_planted_effect_is_found_on_its_pair_only
    effects = [{"method": "set", "adversarial": "linf", "sparsity": 0.9, "data_ratio": 1.0, "delta": 0.2,
                "metric": "robust_acc"}]
    ledger = _ledger("paper", effects).set_index(["key", "panel"])
    assert ledger.loc[("adv_set_best_full", "a"), "verdict"] == "supported (exploratory)"
    assert ledger.loc[("adv_set_best_full", "b"), "verdict"] == "supported (exploratory)"
    assert ledger.loc[("adv_snn_robust_half", "c"), "verdict"] == "inconclusive (exploratory)"


def test_one_seed_is_not_testable_but_the_checks_still_decide(synthetic):
    ledger = claims.ledger(synthetic["smoke"], "smoke")
    tests, checks = ledger[ledger.family != "check"], ledger[ledger.family == "check"]
    assert (tests.verdict == claims.NOT_TESTABLE).all() and tests.p_value.isna().all()
    assert (checks.verdict == "holds").all()  # SET follows ERK; sparse runs are cheaper; LTH/OMP pay their parent
    assert checks["diff"].notna().all()


def test_a_broken_construction_fails_its_check():
    layers = synthetic_results("smoke").attrs["layers"]
    df = synthetic_results("smoke")
    swapped = layers.copy()
    # Give SET a flat profile instead of ERK's: the check that SET follows ERK's formula must fail.
    swapped.loc[swapped.method == "set", "density"] = 0.2
    ledger = claims.ledger(df, "smoke", layers=swapped).set_index(["key", "panel"])
    assert ledger.loc[("set_shallow_erk", "a"), "verdict"] == "fails"


def test_holm_adjustment_by_hand():
    # p sorted: 0.01 (×3 = 0.03), 0.02 (×2 = 0.04), 0.04 (×1 = 0.04, kept monotone)
    assert np.allclose(claims.holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    assert np.allclose(claims.holm([0.5, 0.6]), [1.0, 1.0])


def test_the_paired_t_test_matches_scipy():
    import pandas as pd
    from scipy import stats

    diffs = np.array([0.012, 0.018, 0.009])
    out = claims._statistics(findings.BY_KEY["set_snip_win_vgg19_30"], pd.Series(0.6 + diffs), pd.Series([0.6] * 3))
    assert out["p_value"] == pytest.approx(stats.ttest_1samp(diffs, 0).pvalue)
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / np.sqrt(3)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    assert out["d_z"] == pytest.approx(diffs.mean() / diffs.std(ddof=1)) and out["df"] == 2


def test_what_to_look_for_is_generated_from_the_ledger(synthetic):
    # smoke: one seed, so every tested line says "not testable" and gives only the direction
    text = claims.look_for("fig06_adversarial_sparsity90", synthetic["smoke"], "smoke")
    ledger = claims.ledger(synthetic["smoke"], "smoke")
    of_figure_6 = [f for f in findings.FINDINGS if f.figure == 6]
    assert text.startswith("**What to look for in Figure 6**")
    assert text.count("- **exploratory** (") == len(of_figure_6)
    assert text.count("→ **not testable at this profile**") == (ledger.figure == 6).sum()
    assert "standing in for CIFAR-10 / VGG16" in text and "fewer than 3 seeds" in text
    # a planted effect reaches the text as the ledger's verdict: the confirmatory row, Holm-adjusted in its family
    effects = [{"method": ["set", "snip"], "dataset": "cifar100", "model": "resnet18", "data_ratio": 0.3,
                "corruption": "", "delta": 0.2}]
    text = claims.look_for("fig02_hard_sample_accuracy", synthetic_results("gpu", effects=effects), "gpu")
    statement = findings.BY_KEY["set_snip_win_top30"].statement
    block = next(b for b in text.split("\n- **") if statement in b)
    line = next(x for x in block.splitlines() if x.strip().startswith("- Figure 2 (c, d)"))
    diff = float(line.split("A − B = ")[1].split(" pp")[0])
    assert abs(diff - 10) < 1 and line.endswith("→ **supported**.") and "Holm-adjusted p" in line
    assert block.startswith("confirmatory** (")
    checks = claims.look_for("fig07_layer_density", synthetic["paper"], "paper")
    assert checks.count("→ **holds**.") == 2 and "- **check** (" in checks  # panels a and b
    assert "states no comparison" in claims.look_for("fig01_el2n_examples", synthetic["paper"], "paper")
