"""The claims ledger's statistical test on a hand-made results table, checked against scipy and by hand."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hslib import claims

DENSE = {0: 0.60, 1: 0.62, 2: 0.58}  # dense test accuracy per seed


def results(margins: dict) -> pd.DataFrame:
    """Runs of Figure 2(c) at the paper profile (CIFAR-100 / ResNet18, EL2N top-30%): per seed a dense run and
    SET and SNIP at sparsity 0.8 and 0.9, whose mean beats dense by margins[seed] (the four spread around
    it by ±0.01 and ±0.02, so the group mean, not any one run, carries the margin)."""
    rows = []
    for seed, m in margins.items():
        d = DENSE[seed]
        for method, sparsity, acc in (("dense", 0.0, d), ("set", 0.8, d + m - 0.01), ("set", 0.9, d + m + 0.01),
                                      ("snip", 0.8, d + m + 0.02), ("snip", 0.9, d + m - 0.02)):
            rows.append({"id": f"{method}-{sparsity}-{seed}", "dataset": "cifar100", "model": "resnet18",
                         "profile": "paper", "method": method, "sparsity": sparsity, "density": 1 - sparsity,
                         "seed": seed, "data_ratio": 0.3, "subset": "hard", "corruption": "", "adversarial": "",
                         "severity": 5, "test_acc": acc})
    return pd.DataFrame(rows)


def row(ledger, key="set_snip_win_top30", panel="c"):
    hit = ledger[(ledger.key == key) & (ledger.panel == panel)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_the_t_test_matches_scipy_and_the_hand_computation():
    margins = {0: 0.050, 1: 0.052, 2: 0.054}
    ledger = claims.ledger(results(margins), "paper")
    r = row(ledger)
    diffs = np.array(list(margins.values()))
    # By hand: mean 0.052, sd 0.002, t = 0.052 / (0.002/√3) = 45.03 on 2 degrees of freedom; two-sided
    # p = 2·P(T₂ > 45.03) ≈ 4.9e-4; 95% interval 0.052 ± t(0.975, 2) · 0.002/√3 = 0.052 ± 4.303 · 0.0011547.
    t = 0.052 / (0.002 / math.sqrt(3))
    assert t == pytest.approx(45.033, abs=1e-3)
    assert r.p_value == pytest.approx(2 * stats.t.sf(t, 2), rel=1e-6)
    assert r.p_value == pytest.approx(stats.ttest_1samp(diffs, 0.0).pvalue, rel=1e-6)
    assert 4.8e-4 < r.p_value < 5.0e-4
    half = stats.t.ppf(0.975, 2) * 0.002 / math.sqrt(3)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.052 - half, 0.052 + half), rel=1e-6)
    assert half == pytest.approx(0.004968, abs=1e-6)
    assert r.n_seeds == 3 and r["diff"] == pytest.approx(0.052) and r.kind == "statistical"
    assert r.a_mean == pytest.approx(0.60 + 0.052) and r.b_mean == pytest.approx(0.60)
    # Holm over every tested row of the ledger, and the verdict from the adjusted p: with p ≈ 5e-4 even
    # 40 tests leave it below 0.05.
    tested = ledger.p_value.notna()
    assert ledger.loc[tested, "p_adjusted"].to_numpy() == pytest.approx(claims.holm(ledger.loc[tested, "p_value"]))
    assert r.p_value <= r.p_adjusted <= tested.sum() * r.p_value < 0.05
    assert r.verdict == "supported"


def test_verdicts_follow_sign_significance_and_seed_count():
    # The same spread with the sign flipped: significant and negative.
    r = row(claims.ledger(results({0: -0.050, 1: -0.052, 2: -0.054}), "paper"))
    assert r["diff"] == pytest.approx(-0.052) and r.p_value < 5e-4 and r.verdict == "contradicted"
    # Mean 0.01, sd 0.02: t = 0.01/(0.02/√3) = 0.866, p = 0.478 (not significant even before Holm).
    r = row(claims.ledger(results({0: 0.03, 1: -0.01, 2: 0.01}), "paper"))
    assert r.p_value == pytest.approx(2 * stats.t.sf(0.01 / (0.02 / math.sqrt(3)), 2), rel=1e-6)
    assert r.p_value == pytest.approx(0.4778, abs=1e-4) and r.verdict == "inconclusive"
    # Two seeds: no test, the direction only.
    r = row(claims.ledger(results({0: 0.050, 1: 0.052}), "paper"))
    assert r.n_seeds == 2 and np.isnan(r.p_value) and r["diff"] == pytest.approx(0.051)
    assert r.verdict == "not testable at this profile"
    # A panel without runs (Figure 2(d): Tiny-ImageNet / ResNet34) is not testable either.
    r = row(claims.ledger(results({0: 0.050, 1: 0.052, 2: 0.054}), "paper"), panel="d")
    assert r.n_seeds == 0 and r.verdict == "not testable at this profile"


def test_holm_by_hand():
    # Sorted 0.01, 0.03, 0.04, 0.2 times 4, 3, 2, 1: 0.04, 0.09, 0.08 -> 0.09 (kept monotone), 0.2.
    assert claims.holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert claims.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # 2·0.5 = 1.0; capped at 1
