"""The claims ledger on hand-made and synthetic results tables: each test, each family and each verdict checked
against scipy and by hand (hslib.claims; the rules in docs/paper_findings.md#how-the-ledger-decides)."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hslib import claims, findings, paper, planning
from hslib.config import base_config
from hslib.power import power
from hslib.synthetic import synthetic_results

PAIRS = {"c100_r18": ("cifar100", "resnet18"), "c100_v19": ("cifar100", "vgg19"), "c10_v16": ("cifar10", "vgg16"),
         "digits_r18": ("digits", "resnet18"), "digits_v19": ("digits", "vgg19")}
DATA = {"el2n": {"subset": "hard", "corruption": "", "adversarial": ""},
        "corruption": {"subset": "random", "corruption": "gaussian_noise", "adversarial": ""},
        "adversarial": {"subset": "random", "corruption": "", "adversarial": "linf"}}


def runs(pair, data, ratio, values, profile="paper", severity=5, metric="test_acc", val=None) -> pd.DataFrame:
    """A hand-made runs table: values = {(method, sparsity): [the metric per seed]}; val the same for val_acc
    (default: equal to the metric)."""
    dataset, model = PAIRS[pair]
    rows = []
    for (method, sparsity), per_seed in values.items():
        for seed, v in enumerate(per_seed):
            rows.append({"id": f"{pair}-{data}-{ratio}-{severity}-{method}-{sparsity}-{seed}", "dataset": dataset,
                         "model": model, "profile": profile, "method": method, "sparsity": sparsity,
                         "density": round(1 - sparsity, 6), "seed": seed, "data_ratio": ratio, "severity": severity,
                         **DATA[data], metric: v, "val_acc": (val or values)[(method, sparsity)][seed]})
    return pd.DataFrame(rows)


def around(dense, margins, methods=("set", "snip"), sparsities=(0.8, 0.9)):
    """Dense per seed, and every (method, sparsity) at dense + margin, spread by ±0.01 and ±0.02 around it so that
    the group's mean, not any one run, carries the margin."""
    spread = [-0.01, 0.01, 0.02, -0.02]
    values = {("dense", 0.0): list(dense)}
    settings = [(m, s) for m in methods for s in sparsities]
    for k, setting in enumerate(settings):
        shift = spread[k % 4] if len(settings) % 4 == 0 else 0.0
        values[setting] = [d + m + shift for d, m in zip(dense, margins)]
    return values


def row(ledger, key, panel=None):
    hit = ledger[(ledger.key == key) & ((ledger.panel == panel) if panel else True)]
    assert len(hit) == 1, hit[["key", "panel"]]
    return hit.iloc[0]


DENSE = [0.60, 0.62, 0.58]
VGG19_30 = ("c100_v19", "corruption", 0.3)  # Figure 5 (b): an exploratory row of its own


# ------------------------------------------------------------------------------------------ the t-test
def test_the_t_test_matches_scipy_and_the_hand_computation():
    margins = [0.050, 0.052, 0.054]
    r = row(claims.ledger(runs(*VGG19_30, around(DENSE, margins)), "paper"), "set_snip_win_vgg19_30")
    # By hand: mean 0.052, sd 0.002, t = 0.052 / (0.002/√3) = 45.03 on 2 degrees of freedom; two-sided
    # p = 2·P(T₂ > 45.03) ≈ 4.9e-4; 95% interval 0.052 ± t(0.975, 2) · 0.002/√3 = 0.052 ± 4.303 · 0.0011547.
    t = 0.052 / (0.002 / math.sqrt(3))
    assert t == pytest.approx(45.033, abs=1e-3)
    assert r.p_value == pytest.approx(2 * stats.t.sf(t, 2), rel=1e-6)
    assert r.p_value == pytest.approx(stats.ttest_1samp(margins, 0.0).pvalue, rel=1e-6)
    half = stats.t.ppf(0.975, 2) * 0.002 / math.sqrt(3)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.052 - half, 0.052 + half), rel=1e-6)
    assert r.n_seeds == 3 and r["df"] == 2 and r.d_z == pytest.approx(0.052 / 0.002)
    assert r["diff"] == pytest.approx(0.052)
    assert r.a_mean == pytest.approx(0.60 + 0.052) and r.b_mean == pytest.approx(0.60)
    # exploratory: the raw p decides, nothing is adjusted, and the verdict says which family it belongs to
    assert r.family == "exploratory" and np.isnan(r.p_adjusted) and r.verdict == "supported (exploratory)"


def test_d_z_and_df_are_exact_on_a_hand_made_table():
    # Figure 9 (a), severity 2: OMP − dense per seed 0.01, 0.03, 0.05, 0.02 over four seeds.
    d = [0.01, 0.03, 0.05, 0.02]
    values = {("dense", 0.0): [0.5] * 4, ("omp", 0.5): [0.5 + x for x in d]}
    r = row(claims.ledger(runs("c100_r18", "corruption", 0.3, values, severity=2), "paper"), "severity2_omp_gain")
    # mean 0.0275; squared deviations 3.0625e-4, 6.25e-6, 5.0625e-4, 5.625e-5 sum to 8.75e-4; sd = √(8.75e-4 / 3)
    sd = math.sqrt(8.75e-4 / 3)
    assert sd == pytest.approx(0.0170783, abs=1e-7)
    assert r["diff"] == pytest.approx(0.0275) and r["df"] == 3 and r.n_seeds == 4
    assert r.d_z == pytest.approx(0.0275 / sd) and r.d_z == pytest.approx(1.6102, abs=1e-4)
    assert r.p_value == pytest.approx(stats.ttest_1samp(d, 0).pvalue)


def test_verdicts_follow_sign_significance_and_seed_count():
    table = lambda margins: claims.ledger(runs(*VGG19_30, around(DENSE[:len(margins)], margins)), "paper")  # noqa: E731
    r = row(table([-0.050, -0.052, -0.054]), "set_snip_win_vgg19_30")
    assert r["diff"] == pytest.approx(-0.052) and r.p_value < 5e-4 and r.verdict == "contradicted (exploratory)"
    # mean 0.01, sd 0.02: t = 0.866, p = 0.478
    r = row(table([0.03, -0.01, 0.01]), "set_snip_win_vgg19_30")
    assert r.p_value == pytest.approx(0.4778, abs=1e-4) and r.verdict == "inconclusive (exploratory)"
    # two seeds: no test, the direction only
    r = row(table([0.050, 0.052]), "set_snip_win_vgg19_30")
    assert r.n_seeds == 2 and np.isnan(r.p_value) and r["diff"] == pytest.approx(0.051)
    assert r.verdict == claims.NOT_TESTABLE
    # a panel whose runs the profile plans but the table lacks: runs missing
    r = row(table([0.050, 0.052, 0.054]), "snns_win_corruption_30", "c")
    assert r.n_seeds == 0 and r.verdict == claims.RUNS_MISSING
    # a group the profile never runs (smoke sweeps sparsities 0.8 and 0.9, not ≤ 0.5): not testable there
    smoke = claims.ledger(synthetic_results("smoke"), "smoke")
    r = row(smoke, "corruption_full_low_sparsity", "a")
    assert r.verdict == claims.NOT_TESTABLE and "runs none of the settings" in r.evidence


# ------------------------------------------------------------------------------------------ families
def test_holm_runs_over_the_confirmatory_family_only():
    effects = [{"method": ["set", "snip"], "data_ratio": 0.3, "corruption": "", "delta": 0.05},
               {"method": "omp", "corruption": "gaussian_noise+impulse_noise+defocus_blur", "delta": 0.03}]
    ledger = claims.ledger(synthetic_results("course", effects=effects), "course")
    conf = ledger[ledger.family == "confirmatory"]
    assert list(conf.key) == [f.key for f in findings.CONFIRMATORY]  # one row per registered finding
    assert conf.p_adjusted.to_numpy() == pytest.approx(claims.holm(conf.p_value.fillna(1.0).to_numpy()))
    assert ledger[ledger.family != "confirmatory"].p_adjusted.isna().all()
    # the verdict of a confirmatory row comes from its adjusted p, of any other from its raw p
    for _, r in conf.iterrows():
        assert (r.verdict in ("supported", "contradicted")) == (r.p_adjusted < 0.05)
    tested = ledger[ledger.family.isin(["exploratory", "control"]) & ledger.p_value.notna()]
    for _, r in tested.iterrows():
        assert r.verdict.endswith(f"({r.family})") and r.verdict.startswith("inconclusive") == (r.p_value >= 0.05)
    assert row(ledger, "set_snip_win_top30").verdict == "supported"
    assert row(ledger, "lth_below_omp").verdict == "supported"


def test_an_inconclusive_confirmatory_row_states_its_power():
    # Seven p-values 0.01, 0.02, 0.03, 0.5 (×4): Holm gives 0.07, 0.12, 0.15, 1, ...: none below 0.05.
    table = pd.DataFrame({"key": [f.key for f in findings.CONFIRMATORY], "family": "confirmatory",
                          "p_value": [0.01, 0.02, 0.03, 0.5, 0.5, 0.5, 0.5], "diff": 0.01, "d_z": 0.8, "n_seeds": 10,
                          "verdict": None, "evidence": "", "p_adjusted": np.nan, "power": np.nan,
                          "_direction": "supported"})
    out = claims._adjust(table)
    assert out.p_adjusted.tolist() == pytest.approx([0.07, 0.12, 0.15, 1, 1, 1, 1])
    assert (out.verdict == "inconclusive").all()
    # the smallest p was held to α/7, the next to α/6, ...: its power for d_z = 0.8 with 10 seeds
    assert out.power[0] == pytest.approx(power(0.8, 10, 0.05 / 7))
    assert out.power[1] == pytest.approx(power(0.8, 10, 0.05 / 6))
    assert "achieved power" in out.evidence[0] and "rank 1 of 7" in out.evidence[0]


def test_a_check_is_never_counted_as_support():
    df = synthetic_results("course")
    ledger = claims.ledger(df, "course")
    checks = ledger[ledger.family == "check"]
    assert len(checks) and set(checks.verdict) == {"holds"} and checks.p_value.isna().all()
    assert not set(checks.verdict) & set(claims.TESTED)
    assert set(ledger[ledger.family != "check"].verdict).isdisjoint({"holds", "fails"})
    keys = {f.key for f in findings.FINDINGS if f.family == "check"}
    assert set(checks.key) == keys and not keys & {f.key for f in findings.CONFIRMATORY}
    # a check that does not hold fails, and stays a check
    broken = df.copy()
    broken.loc[broken.method.isin(["set", "snip"]), "params"] = 10 ** 9
    r = row(claims.ledger(broken, "course"), "win_twice_fewer_params", "c")
    assert r.verdict == "fails" and r.family == "check"
    # the summary counts the checks apart from the findings
    text = claims.summary(ledger, "course")
    findings_part, checks_part = text.split("## Checks")
    assert "holds" not in findings_part and "holds 13" in checks_part


def test_snip_layer_densities_are_a_finding_and_set_s_are_a_check():
    ledger = claims.ledger(synthetic_results("paper"), "paper")
    assert row(ledger, "snip_shallow_layers_denser", "a").family == "exploratory"
    r = row(ledger, "set_shallow_erk", "a")
    assert r.family == "check" and r.verdict == "holds" and abs(r["diff"]) <= findings.ERK_TOLERANCE


# ------------------------------------------------------------------------------------------ tests with margins
def test_tost_equivalence():
    r"""Figure 6 (a): SNNs' clean accuracy within ±2 pp of dense. Supported only when the whole 95% CI lies
    inside (−2 pp, +2 pp); p = 2·max(p of d ≤ −2 pp, p of d ≥ +2 pp)."""
    def ledger_for(d):
        values = {("dense", 0.0): DENSE, **{(m, 0.9): [x + y for x, y in zip(DENSE, d)] for m in findings.SNNS}}
        return row(claims.ledger(runs("c10_v16", "adversarial", 1.0, values, metric="clean_acc"), "paper"),
                   "adv_clean_comparable", "a")

    d = np.array([0.001, -0.002, 0.004])  # mean 0.001, sd 0.003
    r = ledger_for(d)
    se = d.std(ddof=1) / math.sqrt(3)
    p_lower, p_upper = stats.t.sf((d.mean() + 0.02) / se, 2), stats.t.cdf((d.mean() - 0.02) / se, 2)
    assert r.p_value == pytest.approx(2 * max(p_lower, p_upper)) and r.p_value < 0.05
    assert -0.02 < r.ci_low < r.ci_high < 0.02 and r.verdict == "supported (exploratory)"
    assert r.margin == findings.MARGIN and "TOST" in r.test and "±2 pp" in r.statement
    r = ledger_for(np.array([0.03, -0.03, 0.0]))  # centred on 0 but too noisy to rule out ±2 pp
    assert r.ci_low < -0.02 and r.verdict == "inconclusive (exploratory)"
    r = ledger_for(np.array([0.05, 0.052, 0.054]))  # clearly beyond +2 pp: not comparable
    assert r.ci_low > 0.02 and r.verdict == "contradicted (exploratory)"


def test_comparable_or_worse_is_supported_without_dense_being_better():
    """Figure 9 (a): 'comparable to or worse than dense' = A − B < +2 pp. A tie, measured tightly, supports it (the
    old two-sided test could only call it supported if dense was significantly better)."""
    def ledger_for(d):
        values = {("dense", 0.0): DENSE, **{(m, 0.8): [x + y for x, y in zip(DENSE, d)]
                                            for m in ("gmp", "lth", "snip", "set")}}
        return row(claims.ledger(runs("c100_r18", "corruption", 0.3, values, severity=2), "paper"), "severity2_no_gain")

    r = ledger_for([0.001, 0.0, -0.001])
    assert r.ci_high < 0.02 and r.verdict == "supported (exploratory)"
    assert r.p_value == pytest.approx(2 * stats.t.cdf((0.0 - 0.02) / (0.001 / math.sqrt(3)), 2))
    assert ledger_for([0.05, 0.06, 0.055]).verdict == "contradicted (exploratory)"


def test_less_data_more_advantage_needs_an_advantage():
    """Figure 4 (c) vs (a): the margin of SET and SNIP over dense with 30% and with all the corrupted data.
    Intersection–union: the margin must grow AND be above zero with less data."""
    def ledger_for(less, more):
        table = pd.concat([runs("c100_r18", "corruption", 0.3, around(DENSE, less)),
                           runs("c100_r18", "corruption", 1.0, around(DENSE, more))])
        return row(claims.ledger(table, "paper"), "less_data_more_advantage_corruption", "c")

    # Both margins below zero, shrinking toward it with less data: the difference is +7 pp and significant,
    # but SET and SNIP stay below dense: not "more advantage".
    r = ledger_for([-0.03, -0.026, -0.033], [-0.10, -0.10, -0.10])
    assert r.ci_low > 0 and r.a_mean < 0 and r.verdict == "inconclusive (exploratory)"
    assert r.p_value == pytest.approx(1.0)  # p_for is the low-data margin's one-sided p, ≈ 1
    # A real advantage that grows: supported, with p = 2 · the larger of the two one-sided p's
    less, more = np.array([0.03, 0.034, 0.027]), np.array([-0.04, -0.04, -0.04])
    r = ledger_for(list(less), list(more))
    p_diff = stats.ttest_1samp(less - more, 0, alternative="greater").pvalue
    p_less = stats.ttest_1samp(less, 0, alternative="greater").pvalue
    assert r.p_value == pytest.approx(2 * max(p_diff, p_less)) and r.verdict == "supported (exploratory)"
    # The margin shrinks with less data: contradicted
    assert ledger_for([-0.05, -0.046, -0.053], [0.02, 0.02, 0.02]).verdict == "contradicted (exploratory)"


def test_best_sparsity_is_chosen_on_validation_accuracy():
    """Figure 8 (c): SET and SNIP at their best sparsity vs dense. At sparsity 0.5 the validation accuracy is high
    and the test accuracy low; at 0.9 the reverse. Choosing on validation picks 0.5 (A − B = −5 pp); choosing on
    test would have picked 0.9 (+15 pp)."""
    jitter = [0.0, 0.004, -0.003]
    test = {("dense", 0.0): DENSE}
    val = {("dense", 0.0): DENSE}
    for m in ("set", "snip"):
        test[(m, 0.5)] = [d - 0.05 + j for d, j in zip(DENSE, jitter)]
        test[(m, 0.9)] = [d + 0.15 + j for d, j in zip(DENSE, jitter)]
        val[(m, 0.5)], val[(m, 0.9)] = [0.70] * 3, [0.60] * 3
    r = row(claims.ledger(runs("c100_r18", "el2n", 0.3, test, val=val), "paper"), "win_twice_accuracy", "c")
    assert r["diff"] == pytest.approx(-0.05 + np.mean(jitter)) and r.verdict == "contradicted (exploratory)"
    assert "best sparsity on validation accuracy: set 0.5, snip 0.5" in r.evidence


def test_a_confirmatory_test_pools_its_panels_counting_identical_runs_once():
    """set_snip_win_corruption_30 pools Figure 4 (c, d) and Figure 5 (b). At `course`, 4 (c) and (d) are both
    digits / ResNet18: the very same runs. Per seed the pooled A − B is (ResNet18 + VGG19) / 2, not
    (2 · ResNet18 + VGG19) / 3."""
    r18, v19 = np.array([0.02, 0.03, 0.04]), np.array([0.10, 0.10, 0.13])
    table = pd.concat([runs("digits_r18", "corruption", 0.3, around(DENSE, list(r18)), profile="course"),
                       runs("digits_v19", "corruption", 0.3, around(DENSE, list(v19)), profile="course")])
    ledger = claims.ledger(table, "course")
    r = row(ledger, "set_snip_win_corruption_30")
    pooled = (r18 + v19) / 2
    assert r["diff"] == pytest.approx(pooled.mean()) and r["diff"] != pytest.approx(((2 * r18 + v19) / 3).mean())
    assert r.p_value == pytest.approx(stats.ttest_1samp(pooled, 0).pvalue) and r["df"] == 2
    assert "resolve to 2 distinct set(s) of runs" in r.evidence
    assert (r.panel, r.pooled, r.dataset, r.model) == ("cd", "5b", "digits+digits", "resnet18+vgg19")
    # the rest of the family has no runs: Holm cannot adjust yet, so the verdict waits
    assert r.verdict == "pending" and np.isnan(r.p_adjusted)
    assert (ledger[ledger.family == "confirmatory"].verdict.isin(["pending", claims.RUNS_MISSING])).all()


def test_rows_on_the_very_same_runs_are_dropped():
    ledger = claims.ledger(synthetic_results("course"), "course")
    dropped = {(d["key"], d["panel"]): d["same_as"] for d in ledger.attrs["dropped"]}
    # Figure 12 (a) is Figure 7 (a)'s runs at `course` (both digits / ResNet18, EL2N top-30%, sparsity 0.8)
    assert dropped[("snip_shallow_layers_denser_12", "a")] == ("snip_shallow_layers_denser", 7, "a")
    assert dropped[("lth_declines_el2n", "b")] == ("lth_declines_el2n", 2, "a")
    assert not ((ledger.key == "snip_shallow_layers_denser_12") & (ledger.panel == "a")).any()
    # at `paper` every panel is its own pair: nothing is dropped, every finding has a row per panel
    paper_ledger = claims.ledger(synthetic_results("paper"), "paper")
    assert paper_ledger.attrs["dropped"] == []
    expected = {(f.key, p) for f in findings.FINDINGS if f.family != "confirmatory" and not f.beyond_paper
                for p in f.panels}  # `paper` leaves the extension beyond the paper out
    confirmatory = {(f.key, f.panels) for f in findings.CONFIRMATORY}
    assert set(zip(paper_ledger.key, paper_ledger.panel)) - confirmatory == expected


# ------------------------------------------------------------------------------------------ one verdict everywhere
@pytest.fixture(scope="module")
def planted():
    effects = [{"method": ["set", "snip"], "data_ratio": 0.3, "corruption": "", "delta": 0.05},
               {"method": "set", "adversarial": "linf", "delta": 0.05, "metric": "robust_acc"}]
    df = synthetic_results("course", effects=effects)
    return df, claims.ledger(df, "course")


def test_look_for_shows_the_ledger_s_verdict_for_every_row(planted):
    """Under each figure, from only the runs that S.look_for reads (the figure's, the confirmatory family's and the
    controls': claims.ledger_configs), every row about the figure reads exactly as in the full ledger: the same
    family, numbers and verdict (no re-adjustment within a figure, no other panel's runs joining a panel)."""
    df, ledger = planted
    for fig in paper.FIGURES:
        ids = {c.id for c in claims.ledger_configs(fig.name, "course")}
        some = df[df.id.isin(ids)].copy()
        some.attrs = {"layers": df.attrs["layers"]}
        text = claims.look_for(fig.name, some, "course")
        about = [f.key for f in findings.FINDINGS if fig.number in {n for n, _ in f.where()}]
        for _, r in ledger[ledger.key.isin(about)].iterrows():
            line = claims._row_words(r)
            assert line in text and line.endswith(f"→ **{r.verdict}**."), (fig.number, r.key, r.panel)
            assert f"- **{r.family}** (" in text
    assert "→ **supported**." in claims.look_for("fig02_hard_sample_accuracy", df, "course")  # the planted effect
    # the adversarial grid runs one seed at `course`: its rows give the direction only
    assert "(the direction only: a test needs ≥ 3 seeds) → **not testable at this profile**." in claims.look_for(
        "fig06_adversarial_sparsity90", df, "course")


def test_a_confirmatory_verdict_waits_for_its_whole_family(planted):
    df, _ = planted
    only4 = df[df.id.isin({c.id for c in planning.figure_configs("fig04_corruption_accuracy", "course")})]
    text = claims.look_for("fig04_corruption_accuracy", only4, "course")
    assert "→ **pending**." in text and "→ **inconclusive**." not in text and "→ **supported**." not in text
    pending = [line for line in text.splitlines() if line.endswith("→ **pending**.")]
    assert pending and all(" seed(s) finished so far, 95% CI" in line for line in pending)  # not the final seeds


def test_control_rows_are_tested_when_the_control_runs_exist():
    base = synthetic_results("course")
    ledger = claims.ledger(base, "course")
    for key in ("lth_control_equal_compute", "lth_control_fresh_init"):
        r = row(ledger, key, "a")
        assert r.family == "control" and r.n_seeds == 3 and r.verdict.endswith("(control)")
    twice = 2 * base_config("course").epochs  # the equal-compute controls' epochs
    effects = [{"method": "lth_fresh", "delta": -0.2}, {"method": ["set", "snip"], "epochs": twice, "delta": 0.3}]
    planted = claims.ledger(synthetic_results("course", effects=effects), "course")
    assert row(planted, "lth_control_fresh_init", "a").verdict == "supported (control)"
    assert row(planted, "lth_control_equal_compute", "a").verdict == "contradicted (control)"
    # the controls trained for twice the epochs never leak into Figure 4 (a)'s own rows
    for key in ("lth_needs_low_sparsity", "corruption_full_high_sparsity_no_gain"):
        assert row(planted, key, "a")["diff"] == pytest.approx(row(ledger, key, "a")["diff"])
    # without the control runs the rows say so
    controls = {c.id for c in planning.control_configs("course")}
    without = claims.ledger(base[~base.id.isin(controls)], "course")
    assert row(without, "lth_control_fresh_init", "a").verdict == claims.RUNS_MISSING


# ------------------------------------------------------------------------------------------ the summary
def test_the_summary_is_generated_from_the_ledger_and_its_csv(planted, tmp_path):
    _, ledger = planted
    text = claims.summary(ledger, "course")
    assert text.startswith("# What `course` found") and "claims.csv" in text
    for _, r in ledger[ledger.family == "confirmatory"].iterrows():
        assert f"(`{r.key}`)" in text and f"{r.d_z:.2f}" in text
    assert "lth_control_fresh_init" in text.split("## LTH")[1].split("## Exploratory")[0]
    ledger.to_csv(tmp_path / "claims.csv", index=False)
    assert claims.summary(pd.read_csv(tmp_path / "claims.csv"), "course") == text


RESULTS = Path(__file__).resolve().parents[1] / "outputs" / "results"


@pytest.mark.parametrize("profile", sorted(p.name for p in RESULTS.iterdir() if p.is_dir()) if RESULTS.is_dir() else [])
def test_the_committed_summary_is_what_the_committed_claims_give(profile):
    claims_csv, summary_md = RESULTS / profile / "claims.csv", RESULTS / profile / "summary.md"
    runs_csv = RESULTS / profile / "runs.csv"
    if not (claims_csv.exists() and summary_md.exists() and runs_csv.exists()):
        pytest.skip(f"outputs/results/{profile} has no claims.csv, runs.csv and summary.md")
    runs = pd.read_csv(runs_csv)
    assert claims.summary(pd.read_csv(claims_csv), profile, runs) == summary_md.read_text(encoding="utf-8")


def test_holm_by_hand():
    # Sorted 0.01, 0.03, 0.04, 0.2 times 4, 3, 2, 1: 0.04, 0.09, 0.08 -> 0.09 (kept monotone), 0.2.
    assert claims.holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert claims.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # 2·0.5 = 1.0; capped at 1
