"""The paper's findings as a ledger: each finding tested on each panel it is about, never pooled across pairs.

A finding compares two groups of runs within one panel (hslib.paper), A and B, e.g. "SET and SNIP at
sparsity ≥ 0.8" vs "dense" on EL2N top-30% data. Both groups share seeds, so the evidence is the per-seed
paired difference d_s = mean(A, seed s) − mean(B, seed s), each mean taken over the group's settings
(methods, sparsities). A group may be a *margin over dense* (each run minus the dense run of its seed and
data ratio), and may come from another panel of the same figure, which is how "the advantage grows when the
data shrink" is tested.

Verdicts (paper_findings in docs/ explains where each finding comes from):
  statistical  two-sided one-sample t-test of the d_s (≥ 3 seeds), Holm-adjusted across every statistical
               row of the ledger (the family-wise error of the whole ledger stays ≤ 5%); rows that test the
               same finding on the very same runs (two panels sharing a stand-in) count as one test. p_adjusted < 0.05:
               `supported` if mean d > 0, `contradicted` if mean d < 0; otherwise `inconclusive`.
               Fewer than 3 seeds: `not testable at this profile` (the direction is still reported).
  structural   a property of masks or schedules, not of noise (layer densities, parameters, FLOPs):
               `supported` if d_s > 0 in every seed, `contradicted` if d_s < 0 in every seed, else
               `inconclusive`; `diff` is the mean difference and no p-value is given.
A panel without the runs a finding needs is `not testable at this profile`.
Findings the paper does not state itself are flagged `extra` (kept apart in the notebook).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .findings import FINDINGS, Group
from .paper import PAIRS, figure, stand_in
from .tables import as_shape, normalise, panel_rows
from .vocabulary import pair_label

MIN_SEEDS = 3
ALPHA = 0.05
VERDICTS = ("supported", "contradicted", "inconclusive", "not testable at this profile")
COLUMNS = ["key", "figure", "panel", "dataset", "model", "paper_pair", "statement", "group_a", "group_b", "kind",
           "extra", "metric", "a_mean", "b_mean", "diff", "ci_low", "ci_high", "p_value", "p_adjusted", "n_seeds",
           "verdict", "evidence"]


# ------------------------------------------------------------------------------------------ per-seed values
def shallow_density(layers: pd.DataFrame) -> pd.DataFrame:
    """Per run: mean density of the first third of its conv layers (forward order)."""
    conv = layers[layers["shape"].apply(lambda s: len(as_shape(s))) == 4].copy()
    conv["index"] = conv.groupby("id").cumcount()
    n = conv.groupby("id")["index"].transform("max") + 1
    shallow = conv[conv["index"] < np.ceil(n / 3)]
    return shallow.groupby("id")["density"].mean().rename("shallow_density").reset_index()


def _with_metric(rows: pd.DataFrame, metric: str, layers) -> pd.DataFrame:
    if metric == "shallow_density":
        if layers is None or not len(layers):
            return rows.iloc[:0].assign(shallow_density=[])
        rows = rows.merge(shallow_density(layers), on="id", how="inner")
    return rows


def _seed_values(rows: pd.DataFrame, g: Group, metric: str) -> pd.Series:
    """One number per seed for group g (NaN-free), or an empty Series when the group has no runs."""
    if not g.methods:  # the zero group: the margin itself is tested against 0
        return pd.Series(0.0, index=sorted(rows.seed.unique()))
    if metric not in rows or not len(rows):
        return pd.Series(dtype=float)
    value = rows[metric].astype(float)
    if g.margin:
        dense = rows[rows.method == "dense"].groupby(["seed", "data_ratio"])[metric].mean().rename("dense_value")
        rows = rows.join(dense, on=["seed", "data_ratio"])
        value = rows[metric].astype(float) - rows["dense_value"]
    rows = rows.assign(value=value)
    keep = rows.method.isin(g.methods) & rows.value.notna()
    if not (len(g.methods) == 1 and g.methods[0] == "dense"):
        keep &= (rows.sparsity >= g.sparsity_min - 1e-9) & (rows.sparsity <= g.sparsity_max + 1e-9)
    keep &= (rows.data_ratio >= g.ratio_min - 1e-9) & (rows.data_ratio <= g.ratio_max + 1e-9)
    rows = rows[keep]
    if not len(rows):
        return pd.Series(dtype=float)
    if g.best:  # each method at the sparsity with its highest mean over seeds
        means = rows.groupby(["method", "sparsity"]).value.mean()
        best = means.groupby(level="method").idxmax()
        rows = rows[[(m, s) in set(best.tolist()) for m, s in zip(rows.method, rows.sparsity)]]
    return rows.groupby("seed").value.mean()


# ------------------------------------------------------------------------------------------ the ledger
def _test(diffs: np.ndarray, structural: bool):
    n = len(diffs)
    mean = float(diffs.mean()) if n else np.nan
    if structural:
        verdict = ("supported" if n and (diffs > 0).all() else "contradicted" if n and (diffs < 0).all()
                   else "inconclusive")
        return mean, np.nan, np.nan, np.nan, verdict
    if n < MIN_SEEDS:
        return mean, np.nan, np.nan, np.nan, "not testable at this profile"
    from scipy import stats

    sd = diffs.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
    p = float(stats.ttest_1samp(diffs, 0.0).pvalue) if sd > 0 else (0.0 if mean != 0 else 1.0)
    return mean, mean - half, mean + half, p, None  # verdict after the Holm adjustment


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment: sort, multiply the k-th smallest by (m − k), keep monotone, cap at 1."""
    p = np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, (m - k) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def ledger(results: pd.DataFrame, profile: str, layers: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ledger: one row per finding and panel (columns: COLUMNS). `results` is a runs table (runs.csv
    or hslib.store.results); `layers` the layer table (defaults to results.attrs['layers'])."""
    if layers is None:
        layers = results.attrs.get("layers")
    results = normalise(results)
    rows = []
    for f in FINDINGS:
        fig = figure(f.figure)
        for letter in f.panels:
            panel = fig.panel(letter)
            dataset, model = stand_in(profile, panel.pair)
            row = {"key": f.key, "figure": f.figure, "panel": letter, "dataset": dataset, "model": model, "paper_pair": "/".join(PAIRS[panel.pair]), "statement": f.statement,
                   "group_a": f.a.words, "group_b": f.b.words, "kind": "structural" if f.structural else "statistical",
                   "extra": f.extra, "metric": f.metric}
            values = []
            for g in (f.a, f.b):
                p = fig.panel(g.panel.get(letter, letter))
                pr = _with_metric(panel_rows(results, p, profile), f.metric, layers)
                values.append(_seed_values(pr, g, f.metric))
            a, b = values
            seeds = sorted(set(a.index) & set(b.index))
            if not seeds:
                rows.append({**row, "n_seeds": 0, "verdict": "not testable at this profile",
                             "evidence": "the runs this finding needs are not in this profile's results"})
                continue
            diffs = (a.loc[seeds] - b.loc[seeds]).to_numpy(float)
            mean, lo, hi, p, verdict = _test(diffs, f.structural)
            rows.append({**row, "a_mean": float(a.loc[seeds].mean()), "b_mean": float(b.loc[seeds].mean()),
                         "diff": mean, "ci_low": lo, "ci_high": hi, "p_value": p, "n_seeds": len(seeds),
                         "verdict": verdict,
                         "evidence": f"A − B per seed: {', '.join(f'{d:+.4g}' for d in diffs)} (seeds {seeds})"})
    ledger = pd.DataFrame(rows).reindex(columns=COLUMNS)
    ledger["p_adjusted"] = np.nan
    return _adjust(ledger)


def _adjust(ledger: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjust the tested rows and set their verdicts. Two panels that a profile runs on the same stand-in
    can test the same finding on the very same runs (e.g. Figure 2 a and b on digits): such a row is one test,
    counted once in the family, and both rows get its adjusted p."""
    tested = ledger.p_value.notna()
    if tested.any():
        same = ledger.loc[tested].groupby(["key", "dataset", "model", "evidence"], sort=False).ngroup()
        first = ~same.duplicated()
        adjusted = pd.Series(holm(ledger.loc[tested].loc[first.values, "p_value"].to_numpy()),
                             index=same[first.values].to_numpy())
        ledger.loc[tested, "p_adjusted"] = adjusted.loc[same.to_numpy()].to_numpy()
    for i in ledger.index[tested]:
        significant = ledger.at[i, "p_adjusted"] < ALPHA
        d = ledger.at[i, "diff"]
        ledger.at[i, "verdict"] = ("supported" if significant and d > 0 else
                                   "contradicted" if significant and d < 0 else "inconclusive")
    return ledger


# ------------------------------------------------------------------------------------------ in the notebooks
def _amount(value: float, metric: str) -> str:
    """A difference in the metric's words: accuracies in percentage points, densities as fractions."""
    if metric.endswith("_acc"):
        return f"{100 * value:+.1f} pp"  # percentage points of accuracy
    if metric == "shallow_density":
        return f"{value:+.3f} (density)"
    return f"{value:+.3g}"


def _row_words(r) -> str:
    where = f"({r.panel}) {pair_label(r.dataset, r.model)}"
    if "/".join((r.dataset, r.model)) != r.paper_pair:
        where += f", standing in for {pair_label(*r.paper_pair.split('/'))}"
    if r.n_seeds == 0 or pd.isna(r.n_seeds):
        return (f"{where}: not testable at this profile: it runs none of the settings one of the groups needs "
                f"(e.g. its sparsities do not reach the group's range).")
    # a difference of two means of the same metric ("A − B"), with its per-seed evidence
    said = f"{where}: A − B = {_amount(r['diff'], r.metric)} over {int(r.n_seeds)} seed(s)"
    if r.kind == "structural":
        return f"{said} (structural: it must hold in every seed) → **{r.verdict}**."
    if r.verdict == "not testable at this profile":
        return f"{said}; a test needs ≥ {MIN_SEEDS} seeds → **not testable at this profile** (direction only)."
    return (f"{said}, 95% CI [{_amount(r.ci_low, r.metric)}, {_amount(r.ci_high, r.metric)}], "
            f"Holm-adjusted p = {r.p_adjusted:.3g} → **{r.verdict}**.")


# Figures the paper states nothing about itself but cites for another figure's findings.
RELATED = {13: 8, 14: 8}


def look_for(name, results: pd.DataFrame, profile: str, layers: pd.DataFrame | None = None) -> str:
    """'What to look for' under a figure, as Markdown, generated from the ledger rather than written by hand:
    each finding of the paper about this figure, its groups, and what this profile's runs say on each panel.
    p-values are Holm-adjusted across this figure's rows only; notebook 08 adjusts across the whole ledger."""
    fig = figure(name)
    full = ledger(results, profile, layers)
    # the full-ledger adjustment counted the other figures' rows; redo it for this figure's rows alone
    table = _adjust(full[full.figure == fig.number].copy())
    lines = [f"**What to look for in Figure {fig.number}** ({fig.title}; `{profile}` profile)", ""]
    if table.empty:
        related = RELATED.get(fig.number)
        lines.append(f"The paper states no finding of its own about this figure; it cites it in support of Figure "
                     f"{related}'s findings, so compare it with them." if related else
                     "The paper states no comparison about this figure that the ledger tests; read it as an "
                     "illustration.")
    for key, rows in table.groupby("key", sort=False):
        r0 = rows.iloc[0]
        said = ("**Extra check** (the paper shows this but does not state it):" if r0.extra else "**The paper:**")
        lines.append(f"- {said} {r0.statement}.  \n"
                     f"  Compare A = {r0.group_a} with B = {r0.group_b} ({r0.metric}"
                     f"{'; pp = percentage points' if r0.metric.endswith('_acc') else ''}).")
        seen = {}
        for _, r in rows.iterrows():
            twin = seen.setdefault((r.dataset, r.model, r.evidence), r.panel)
            lines.append(f"  - {_row_words(r)}" if twin == r.panel else
                         f"  - ({r.panel}) the same runs as ({twin}) at this profile (one stand-in for both pairs).")
    if table.p_value.notna().any():
        lines += ["", "The 95% confidence intervals are not adjusted for the number of tests; the Holm-adjusted p "
                      "decides the verdict, so an interval that excludes zero can still be *inconclusive*."]
    if (table.verdict == "not testable at this profile").any():
        lines += ["", f"Rows marked *not testable* cannot be decided at `{profile}`: run a profile with ≥ "
                      f"{MIN_SEEDS} seeds (`course` on a laptop, `gpu`, `paper`)."]
    return "\n".join(lines)
