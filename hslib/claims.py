"""The paper's qualitative findings as checkable claims, and the verdict the regenerated results give.

Each claim compares two groups of runs, A and B, that share seeds (e.g. SET at sparsity ≥ 0.8 vs dense,
EL2N top-30%). Per seed, the A − B difference is averaged over the pooled settings (sparsities,
severities); the per-seed differences are then tested:
  statistical claims  one-sided paired t-test over seeds (H1: A > B); "supported" iff p < 0.05. With fewer
                      than 3 seeds there is no test: "not testable at this profile" (the direction is shown).
  structural claims   (layer densities, FLOPs: a property of masks and schedules, not of noise)
                      "supported" iff A > B in every seed.
A claim whose runs are not in this profile's grids is "not testable at this profile".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_SEEDS = 3
ALPHA = 0.05


@dataclass(frozen=True)
class Claim:
    key: str
    text: str
    figure: str
    experiment: str  # which table: el2n, set_grid, variants, corruption, corruption_vgg, severity, adversarial, layers
    a: dict  # filters of group A (method, sparsity_min, data_ratio, ...)
    b: dict
    metric: str = "test_acc"
    structural: bool = False


def _select(df: pd.DataFrame, spec: dict, profile: dict) -> pd.DataFrame:
    rows = df
    for k, v in spec.items():
        if k == "sparsity_min":
            rows = rows[rows.sparsity >= v - 1e-9]
        elif k == "ratio":  # a profile setting by name (e.g. the smallest EL2N ratio) or a number
            val = {"min_el2n": min(profile["el2n_ratios"]), "max_el2n": max(profile["el2n_ratios"]),
                   "min_corruption": min(profile["corruption_ratios"]),
                   "min_adversarial": min(profile["adversarial_ratios"]),
                   "min_variant": min(profile["variant_ratios"])}.get(v, v)
            rows = rows[np.isclose(rows.data_ratio, val)]
        elif k == "ratio_max":
            rows = rows[rows.data_ratio <= v + 1e-9]
        elif k == "ratio_min":
            rows = rows[rows.data_ratio >= v - 1e-9]
        elif k == "sparsity":
            rows = rows[np.isclose(rows.sparsity, v)]
        elif k == "pair":
            dataset, model = profile["pairs"][v[0]][min(v[1], len(profile["pairs"][v[0]]) - 1)]
            rows = rows[(rows.dataset == dataset) & (rows.model == model)]
        else:
            rows = rows[rows[k].isin(v if isinstance(v, (list, tuple)) else [v])]
    return rows


CLAIMS = [
    Claim("el2n30_set", "With EL2N top-30% data, SET beats dense at high sparsity (≥ 0.8)", "2c/2d", "el2n",
          {"method": "set", "ratio": "min_el2n", "sparsity_min": 0.8}, {"method": "dense", "ratio": "min_el2n"}),
    Claim("el2n30_snip", "With EL2N top-30% data, SNIP beats dense at high sparsity (≥ 0.8)", "2c/2d", "el2n",
          {"method": "snip", "ratio": "min_el2n", "sparsity_min": 0.8}, {"method": "dense", "ratio": "min_el2n"}),
    Claim("el2n_lth", "LTH declines on EL2N-hard data: dense beats LTH (all sparsities, both ratios)", "2", "el2n",
          {"method": "dense"}, {"method": "lth"}),
    Claim("el2n_set_vs_omp", "With EL2N top-30% data, SET (ERK, sparse from scratch) beats OMP at high sparsity",
          "2c/2d", "el2n", {"method": "set", "ratio": "min_el2n", "sparsity_min": 0.8},
          {"method": "omp", "ratio": "min_el2n", "sparsity_min": 0.8}),
    Claim("grid_small_data", "SET's edge over dense is larger with little data: SET − dense at ratio ≤ 0.3 exceeds "
          "SET − dense at ratio ≥ 0.7", "3", "set_grid_gap", {"ratio_max": 0.3}, {"ratio_min": 0.7}),
    Claim("corr30_set", "With 30% corrupted data (severity 5), SET beats dense at high sparsity", "4c/4d",
          "corruption", {"method": "set", "ratio": "min_corruption", "sparsity_min": 0.8},
          {"method": "dense", "ratio": "min_corruption"}),
    Claim("corr30_snip", "With 30% corrupted data (severity 5), SNIP beats dense at high sparsity", "4c/4d",
          "corruption", {"method": "snip", "ratio": "min_corruption", "sparsity_min": 0.8},
          {"method": "dense", "ratio": "min_corruption"}),
    Claim("vgg_corr30_set", "VGG19 with 30% corrupted data: SET beats dense at high sparsity", "5b",
          "corruption_vgg", {"method": "set", "ratio": "min_corruption", "sparsity_min": 0.8},
          {"method": "dense", "ratio": "min_corruption"}),
    Claim("severity_set", "SET beats dense at every corruption severity (2, 4, 6) with 30% data", "9", "severity",
          {"method": "set"}, {"method": "dense"}),
    Claim("adv90_set", "Adversarial training at sparsity 0.9 with 50% data: SET's robust accuracy beats dense's",
          "6", "adversarial", {"method": "set", "sparsity": 0.9, "ratio": "min_adversarial"},
          {"method": "dense", "ratio": "min_adversarial"}, metric="robust_acc"),
    Claim("layers_shallow", "SET (ERK) and SNIP keep the shallow third of conv layers denser than GMP, LTH and OMP "
          "(sparsity 0.8, EL2N top-30%)", "7a", "layers", {"method": ["set", "snip"]}, {"method": ["gmp", "lth", "omp"]},
          metric="shallow_density", structural=True),
    Claim("variants_erk", "Random-ERK beats Uniform (sparsity 0.8, EL2N top-30%): the ERK layer-wise ratio helps",
          "8a", "variants", {"method": "random_erk", "sparsity": 0.8, "ratio": "min_variant"},
          {"method": "uniform", "sparsity": 0.8, "ratio": "min_variant"}),
    Claim("variants_omp_erk", "OMP_ERK beats OMP (sparsity 0.8, EL2N top-30%)", "8a", "variants",
          {"method": "omp_erk", "sparsity": 0.8, "ratio": "min_variant"},
          {"method": "omp", "sparsity": 0.8, "ratio": "min_variant"}),
    Claim("flops", "Sparse-from-scratch SET and SNIP cost fewer training FLOPs than dense, LTH and OMP "
          "(sparsity 0.8, EL2N top-30%)", "8c", "variants", {"method": ["set", "snip"], "sparsity": 0.8, "ratio": "min_variant"},
          {"method": ["dense", "lth", "omp"], "ratio": "min_variant"}, metric="neg_train_flops", structural=True),
]


def shallow_density(layers: pd.DataFrame) -> pd.DataFrame:
    """Per run: mean density of the first third of its conv layers (forward order)."""
    conv = layers[layers["shape"].apply(len) == 4].copy()
    conv["index"] = conv.groupby("id").cumcount()
    n = conv.groupby("id")["index"].transform("max") + 1
    shallow = conv[conv["index"] < np.ceil(n / 3)]
    out = shallow.groupby("id").agg(shallow_density=("density", "mean"), method=("method", "first"),
                                    seed=("seed", "first"), data_ratio=("data_ratio", "first"),
                                    density=("density_target", "first")).reset_index()
    out["sparsity"] = (1 - out["density"]).round(6)
    return out


def _per_seed(rows: pd.DataFrame, metric: str) -> pd.Series:
    return rows.groupby("seed")[metric].mean()


def _gap_rows(df: pd.DataFrame) -> pd.DataFrame:
    """SET − dense per (seed, sparsity, data ratio): the quantity Figure 3(b) shows."""
    dense = df[df.method == "dense"].groupby(["seed", "data_ratio"]).test_acc.mean().rename("dense_acc")
    sett = df[df.method == "set"].join(dense, on=["seed", "data_ratio"])
    return sett.assign(gap=sett.test_acc - sett.dense_acc)


def evaluate(tables: dict, profile: dict, profile_name: str) -> pd.DataFrame:
    """One row per claim: numbers, test and verdict. `tables` maps experiment -> result DataFrame (and
    'layers' -> the layer table of the layer-density runs)."""
    rows = []
    for c in CLAIMS:
        df = tables.get(c.experiment if c.experiment != "set_grid_gap" else "set_grid")
        metric = c.metric
        if df is not None and len(df):
            if c.experiment == "layers":
                df = shallow_density(df)
            elif c.experiment == "set_grid_gap":
                df, metric = _gap_rows(df), "gap"
            if metric == "neg_train_flops":
                df = df.assign(neg_train_flops=-df.train_flops)
            a, b = _select(df, c.a, profile), _select(df, c.b, profile)
        else:
            a = b = pd.DataFrame(columns=["seed", metric])
        row = {"claim": c.text, "figure": c.figure, "key": c.key, "metric": c.metric, "profile": profile_name}
        if not len(a) or not len(b) or metric not in a or metric not in b:
            rows.append({**row, "verdict": "not testable at this profile", "evidence": "runs not in this profile's grids"})
            continue
        if c.structural:  # every A must beat every B in each seed
            sa, sb = a.groupby("seed")[metric].min(), b.groupby("seed")[metric].max()
        else:
            sa, sb = _per_seed(a, metric), _per_seed(b, metric)
        seeds = sorted(set(sa.index) & set(sb.index))
        diffs = (sa.loc[seeds] - sb.loc[seeds]).to_numpy(dtype=float)
        a_mean, b_mean = float(a[metric].mean()), float(b[metric].mean())
        p = np.nan
        if c.structural:
            verdict = "supported" if len(diffs) and (diffs > 0).all() else "not supported"
            test = "direct comparison in every seed"
        elif len(seeds) < MIN_SEEDS:
            verdict = "not testable at this profile"
            test = f"{len(seeds)} seed(s): no test (needs ≥ {MIN_SEEDS}); direction " + (
                "agrees" if diffs.mean() > 0 else "disagrees")
        else:
            from scipy.stats import ttest_1samp
            p = float(ttest_1samp(diffs, 0.0, alternative="greater").pvalue) if diffs.std() > 0 else (
                0.0 if diffs.mean() > 0 else 1.0)
            verdict = "supported" if p < ALPHA and diffs.mean() > 0 else "not supported"
            test = f"paired one-sided t-test over {len(seeds)} seeds"
        rows.append({**row, "a_mean": a_mean, "b_mean": b_mean, "diff": float(diffs.mean()) if len(diffs) else np.nan,
                     "n_seeds": len(seeds), "p_value": p, "test": test, "verdict": verdict,
                     "evidence": f"A={a_mean:.4g} (n={len(a)}) vs B={b_mean:.4g} (n={len(b)}), "
                                 f"mean per-seed difference {diffs.mean():+.4g}"})
    return pd.DataFrame(rows)
