"""The paper's findings as a ledger: one row per test, each with its family, its test and one verdict.

A finding (hslib.findings) compares two groups of runs, A and B, within a panel of the paper (hslib.paper), e.g.
"SET and SNIP at sparsity ≥ 0.8" vs "dense" on EL2N top-30% data. Both groups share seeds, so the evidence is
the per-seed paired difference d_s = mean(A, seed s) − mean(B, seed s), each mean over the group's settings
(methods, sparsities) and only over seeds that ran every one of them. A group may be a *margin over dense*
(each run minus the dense run of its seed and data ratio) and may come from another panel of the same figure.

How a row is decided (docs/paper_findings.md#how-the-ledger-decides tells it in prose):
  families     confirmatory: ONE row per registered finding; per seed the mean of d_s over its panels (panels that
               resolve to the very same runs count once); Holm across the confirmatory rows only.
               exploratory and control: one row per panel (a row on the very same runs as an earlier row is
               dropped); raw p, verdict word labelled "(exploratory)" / "(control)".
               check: holds by construction (parameters, a parent's FLOPs, ERK's formula): `holds` / `fails` when
               it holds / does not hold in every seed; never a p-value, never counted as support.
  tests        every test reads the 95% confidence interval of the mean d (one-sample t, n − 1 df): with p_for and
               p_against the one-sided p-values for the claim and against it, p = min(1, 2·min(p_for, p_against)).
               difference  supported: CI > 0; contradicted: CI < 0.
               equivalence supported: CI inside (−m, m) (TOST); contradicted: CI entirely beyond m or −m.
               not_better  "comparable or worse", supported: CI < m; contradicted: CI > m.
               not_worse   "match or beat", supported: CI > −m; contradicted: CI < −m.
               less_data_more_advantage  intersection–union: supported when the CI of (margin with less data −
                           margin with more) AND the CI of the margin with less data both lie above 0 (p_for is
                           the larger of their one-sided p's); contradicted when the first lies below 0.
  verdicts     from the Holm-adjusted p (confirmatory) or the raw p (others) against 0.05; an inconclusive
               confirmatory row states the power it had. Fewer than 3 seeds: `not testable at this profile`
               (the direction is still reported); a group without runs: `runs missing`; while any confirmatory
               row has runs missing, the others are `pending` (their Holm adjustment needs the whole family).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from .config import base_config
from .erk import scaled_densities
from .findings import BY_KEY, CONFIRMATORY, FAMILIES, FINDINGS, Finding, Group
from .paper import PAIRS, extension, figure, stand_in
from .power import power
from .tables import as_shape, normalise, panel_runs
from .vocabulary import pair_label

MIN_SEEDS = 3
ALPHA = 0.05
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
HOLDS, FAILS = "holds", "fails"
PENDING = "pending"
NOT_TESTABLE = "not testable at this profile"
RUNS_MISSING = "runs missing"


def verdict_word(base: str, family: str) -> str:
    """The verdict as the ledger writes it: bare for the confirmatory family, labelled with its family otherwise."""
    return base if family == "confirmatory" else f"{base} ({family})"


TESTED = tuple(verdict_word(v, fam) for fam in ("confirmatory", "exploratory", "control")
               for v in (SUPPORTED, CONTRADICTED, INCONCLUSIVE))
VERDICTS = TESTED + (PENDING, HOLDS, FAILS, NOT_TESTABLE, RUNS_MISSING)
COLUMNS = ["key", "family", "figure", "panel", "pooled", "dataset", "model", "paper_pair", "statement", "group_a",
           "group_b", "metric", "test", "margin", "extra", "beyond_paper", "a_mean", "b_mean", "diff", "ci_low", "ci_high", "d_z",
           "df", "n_seeds", "p_value", "p_adjusted", "power", "verdict", "evidence"]


# ------------------------------------------------------------------------------------------ per-run metrics
def _shallow(layers: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per run: the mean of `column` over the first third of its conv layers (forward order)."""
    conv = layers[layers["shape"].apply(lambda s: len(as_shape(s))) == 4].copy()
    conv["position"] = conv.groupby("id").cumcount()
    n = conv.groupby("id")["position"].transform("max") + 1
    shallow = conv[conv["position"] < np.ceil(n / 3)]
    return shallow.groupby("id")[column].mean().rename(f"shallow_{column}").reset_index()


def _in_order(layers: pd.DataFrame) -> pd.DataFrame:
    return layers.sort_values(["id", "index"], kind="stable") if "index" in layers else layers


def shallow_density(layers: pd.DataFrame) -> pd.DataFrame:
    """Per run: mean density of the first third of its conv layers (forward order)."""
    return _shallow(_in_order(layers), "density")


def erk_shallow_density(layers: pd.DataFrame) -> pd.DataFrame:
    """Per run: what ERK's formula (hslib.erk) prescribes for the same shallow third, from the run's own layer
    shapes (every masked layer, the classifier included) at its target density."""
    layers = _in_order(layers)
    parts = []
    for _, one in layers.groupby("id", sort=False):
        shapes = [tuple(as_shape(s)) for s in one["shape"]]
        parts.append(one.assign(erk=scaled_densities(shapes, "erk", float(one["density_target"].iloc[0]))))
    if not parts:
        return pd.DataFrame({"id": [], "erk_shallow_density": []})
    return _shallow(pd.concat(parts), "erk").rename(columns={"shallow_erk": "erk_shallow_density"})


def _with_metric(rows: pd.DataFrame, metric: str, layers) -> pd.DataFrame:
    """`rows` with the per-run `metric` column, joined from the layer table where it is a layer property."""
    makers = {"shallow_density": shallow_density, "erk_shallow_density": erk_shallow_density}
    if metric not in makers:
        return rows
    if layers is None or not len(layers) or not len(rows):
        return rows.iloc[:0].assign(**{metric: []})
    return rows.merge(makers[metric](layers[layers.id.isin(rows.id)]), on="id", how="inner")


# ------------------------------------------------------------------------------------------ a group's per-seed values
@lru_cache(maxsize=None)
def _control_ids(profile: str) -> frozenset:
    from .planning import control_configs

    return frozenset(c.id for c in control_configs(profile))


# The columns of a runs table the ledger reads (panel_rows' filters, the groups, the metrics).
USED = ("id", "dataset", "model", "profile", "method", "sparsity", "density", "seed", "data_ratio", "subset",
        "corruption", "adversarial", "severity", "label_noise", "stop_epoch", "epochs", "test_acc", "val_acc",
        "clean_acc", "robust_acc", "params", "train_flops")
NO_RUNS = pd.DataFrame({"id": [], "method": [], "seed": [], "sparsity": [], "data_ratio": [], "value": []})


def _source_rows(results, number: int, letter: str, source: str, metric: str, profile: str, layers) -> pd.DataFrame:
    """A panel's runs (tables.panel_runs: exactly the runs its figure draws), or the controls with the panel's dense
    runs for margins, with the metric's column."""
    rows = panel_runs(results, figure(number).panel(letter), profile)
    if source == "control":
        rows = pd.concat([results[results.id.isin(_control_ids(profile))], rows[rows.method == "dense"]])
    return _with_metric(rows, metric, layers)


def _group_rows(results, number: int, letter: str, g: Group, metric: str, profile: str, layers,
                cache: dict) -> pd.DataFrame:
    """The runs group g reads for the finding's panel (number, letter), with its metric as column `value`.
    `cache` keeps each panel's rows for the other groups and findings of one ledger."""
    if not len(results) or "method" not in results:
        return NO_RUNS
    metric = g.metric or metric
    key = (number, g.panel.get(letter, letter), g.source, metric)
    if key not in cache:
        cache[key] = _source_rows(results, *key[:3], metric, profile, layers)
    rows = cache[key]
    if metric not in rows or not len(rows):
        return NO_RUNS
    value = rows[metric].astype(float)
    if g.minus_dense:
        dense = rows[rows.method == "dense"].groupby(["seed", "data_ratio"])[metric].mean().rename("dense_value")
        rows = rows.join(dense, on=["seed", "data_ratio"])
        value = rows[metric].astype(float) - rows["dense_value"]
    rows = rows.assign(value=value)
    keep = rows.method.isin(g.methods) & rows.value.notna()
    keep &= (rows.method == "dense") | rows.sparsity.between(g.sparsity_min - 1e-9, g.sparsity_max + 1e-9)
    keep &= rows.data_ratio.between(g.ratio_min - 1e-9, g.ratio_max + 1e-9)
    if g.source == "control":
        keep &= rows.id.isin(_control_ids(profile))
    return rows[keep]


@lru_cache(maxsize=None)
def _plan(number: int, letter: str, source: str, profile: str) -> tuple:
    """(method, sparsity, data ratio) of every run the profile plans for a panel (or for the controls)."""
    from .planning import control_configs, panel_configs

    configs = control_configs(profile) if source == "control" else panel_configs(figure(number).panel(letter), profile)
    return tuple((c.method, round(1 - c.density, 6), c.data_ratio) for c in configs)


def _planned(number: int, letter: str, g: Group, profile: str) -> bool:
    """Whether the profile plans any run of group g: if not, the group is not testable at this profile; if it
    does, its runs are missing (not run yet, or failed)."""
    if not g.methods:
        return True
    return any(m in g.methods and (m == "dense" or g.sparsity_min - 1e-9 <= s <= g.sparsity_max + 1e-9)
               and g.ratio_min - 1e-9 <= r <= g.ratio_max + 1e-9
               for m, s, r in _plan(number, g.panel.get(letter, letter), g.source, profile))


def _complete_seeds(rows: pd.DataFrame) -> pd.DataFrame:
    """Only the seeds that ran every setting of the group: a seed with half of the settings (e.g. one of the
    confirmatory family's extra seeds, which run only the settings it tests) would bias the group's mean."""
    settings = rows.groupby(["method", "sparsity", "data_ratio"]).seed.agg(lambda s: frozenset(s))
    common = frozenset.intersection(*settings) if len(settings) else frozenset()
    return rows[rows.seed.isin(common)]


def _best_sparsity(rows: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Each method at the sparsity with its highest mean *validation* accuracy (over seeds): the selection never
    sees the test accuracy that the finding then tests."""
    if "val_acc" not in rows or rows.val_acc.isna().any():
        return rows.iloc[:0], "no validation accuracy to choose the best sparsity on"
    best = rows.groupby(["method", "sparsity"]).val_acc.mean().groupby(level="method").idxmax()
    chosen = set(best.tolist())
    note = "best sparsity on validation accuracy: " + ", ".join(f"{m} {s:g}" for m, s in sorted(chosen))
    return rows[[(m, s) in chosen for m, s in zip(rows.method, rows.sparsity)]], note


def _seed_values(rows: pd.DataFrame, g: Group) -> tuple[pd.Series, frozenset, str]:
    """(one number per seed, the run ids used, a note) for group g; an empty Series when it has no runs."""
    if not g.methods:  # the zero group: the other group's margin is tested against 0
        return pd.Series(0.0, index=sorted(rows.seed.unique())), frozenset(), ""
    rows = _complete_seeds(rows)
    note = ""
    if g.best and len(rows):
        rows, note = _best_sparsity(rows)
    if not len(rows):
        return pd.Series(dtype=float), frozenset(), note
    return rows.groupby("seed").value.mean(), frozenset(rows.id), note


# ------------------------------------------------------------------------------------------ evidence of a panel
def _panel_evidence(results, f: Finding, number: int, letter: str, profile: str, layers, cache: dict) -> dict:
    """Per-seed values of A and B on one panel, the ids behind them and what identifies the test."""
    out = {}
    for side, g in (("a", f.a), ("b", f.b)):
        rows = _group_rows(results, number, letter, g, f.metric, profile, layers, cache)
        if not g.methods:  # the zero group takes its seeds from the other side
            rows = _group_rows(results, number, letter, f.a, f.metric, profile, layers, cache)
        out[side], out[f"ids_{side}"], out[f"note_{side}"] = _seed_values(rows, g)
    panel = figure(number).panel(letter)
    out["pair"] = stand_in(profile, panel.pair)
    out["paper_pair"] = "/".join(PAIRS[panel.pair])
    out["where"] = f"{number}{letter}"
    out["planned"] = all(_planned(number, letter, g, profile) for g in (f.a, f.b))
    # two rows are one test when they run the same test on the very same runs
    complete = len(out["a"]) and len(out["b"])  # a test without runs on either side is never "the same" as another
    out["same_as"] = (f.test, f.metric, f.margin, f.a.minus_dense, f.b.minus_dense, f.a.best, f.b.best,
                      out["ids_a"], out["ids_b"]) if complete else None
    return out


def _pool(evidence: list) -> tuple[pd.Series, pd.Series, list]:
    """A confirmatory test's per-seed A and B: the mean over its panels, each distinct set of runs counted once."""
    distinct, seen = [], set()
    for e in evidence:
        if e["same_as"] not in seen:
            seen.add(e["same_as"])
            distinct.append(e)
    seeds = sorted(set.intersection(*(set(e["a"].index) & set(e["b"].index) for e in distinct)))
    a = sum(e["a"].loc[seeds] for e in distinct) / len(distinct)
    b = sum(e["b"].loc[seeds] for e in distinct) / len(distinct)
    return a, b, distinct


# ------------------------------------------------------------------------------------------ the tests
def _p_above(d: np.ndarray, null: float) -> float:
    """One-sided p of a one-sample t-test for mean(d) > null."""
    from scipy import stats

    sd = d.std(ddof=1)
    if sd == 0:
        return 0.0 if d.mean() > null else 1.0
    return float(stats.t.sf((d.mean() - null) / (sd / np.sqrt(len(d))), len(d) - 1))


def _p_below(d: np.ndarray, null: float) -> float:
    return _p_above(-d, -null)


def _one_sided(test: str, d: np.ndarray, a: np.ndarray, m: float) -> tuple[float, float]:
    """(p_for, p_against): one-sided p-values for the finding's claim and for its opposite (module docstring)."""
    if test == "difference":
        return _p_above(d, 0), _p_below(d, 0)
    if test == "equivalence":  # TOST: both bounds rejected; against: beyond either bound
        return max(_p_above(d, -m), _p_below(d, m)), min(_p_above(d, m), _p_below(d, -m))
    if test == "not_better":
        return _p_below(d, m), _p_above(d, m)
    if test == "not_worse":
        return _p_above(d, -m), _p_below(d, -m)
    if test == "less_data_more_advantage":  # intersection–union: both must hold, so the larger p decides
        return max(_p_above(d, 0), _p_above(a, 0)), _p_below(d, 0)
    raise ValueError(f"test={test!r} is not a statistical test")


def _statistics(f: Finding, a: pd.Series, b: pd.Series) -> dict:
    """The numbers of a row from the per-seed values of A and B (seeds aligned)."""
    from scipy import stats

    d = (a - b).to_numpy(float)
    n = len(d)
    out = {"a_mean": float(a.mean()), "b_mean": float(b.mean()), "diff": float(d.mean()), "n_seeds": n,
           "df": n - 1 if n > 1 else np.nan}
    if f.family == "check" or n < MIN_SEEDS:
        return out
    sd = d.std(ddof=1)
    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * sd / np.sqrt(n)
    p_for, p_against = _one_sided(f.test, d, a.to_numpy(float), f.margin)
    return {**out, "ci_low": d.mean() - half, "ci_high": d.mean() + half, "d_z": d.mean() / sd if sd > 0 else np.nan,
            "p_value": min(1.0, 2 * min(p_for, p_against)),
            "direction": SUPPORTED if p_for <= p_against else CONTRADICTED}


def _check_verdict(f: Finding, d: np.ndarray) -> str:
    holds = (d > 0).all() if f.test == "check_above" else (np.abs(d) <= f.margin + 1e-12).all()
    return HOLDS if holds else FAILS


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


# ------------------------------------------------------------------------------------------ rows
def amount(value: float, metric: str) -> str:
    """A difference in the metric's words: accuracies in percentage points, densities as fractions."""
    if pd.isna(value):
        return "–"
    if metric.endswith("_acc"):  # percentage points of accuracy
        pp = 100 * value
        if pp != 0 and abs(pp) < 0.05:  # a CI bound of -0.03 pp must not read "+0.0 pp" beside "the CI lies above 0"
            return f"{pp:+.2f} pp"
        return f"{pp + 0.0:+.1f} pp"
    if "density" in metric:
        return f"{value:+.3f} (density)"
    return f"{value:+.3g}"


def _margin_words(m: float, metric: str) -> str:
    return f"{100 * m:g} pp" if metric.endswith("_acc") else f"{m:g}"


def test_words(f: Finding) -> str:
    """What `supported` means for the finding's test, in a few words (the `test` column)."""
    m = _margin_words(f.margin, f.metric)
    return {"difference": "t-test: A > B (supported) or A < B (contradicted)",
            "equivalence": f"equivalence (TOST): |A − B| < {m}",
            "not_better": f"non-superiority: A − B < {m}",
            "not_worse": f"non-inferiority: A − B > −{m}",
            "less_data_more_advantage": "intersection–union: A − B > 0 and A > 0",
            "check_above": "check: A > B in every seed",
            "check_equal": f"check: |A − B| ≤ {m} in every seed"}[f.test]


def _head(f: Finding, letters: str, pairs: list, paper_pairs: list) -> dict:
    """The row's description. A confirmatory row over several pairs lists them aligned: dataset 'a+b', model 'c+d'
    are the pairs a / c and b / d."""
    pairs = list(dict.fromkeys(pairs))
    return {"key": f.key, "family": f.family, "figure": f.figure, "panel": letters,
            "pooled": "; ".join(f"{n}{x}" for n, x in f.pooled), "dataset": "+".join(p[0] for p in pairs),
            "model": "+".join(p[1] for p in pairs), "paper_pair": "+".join(dict.fromkeys(paper_pairs)),
            "statement": f.statement, "group_a": f.a.words, "group_b": f.b.words, "metric": f.metric,
            "test": test_words(f), "margin": f.margin if f.margin else np.nan, "extra": f.extra,
            "beyond_paper": f.beyond_paper}


def _row(f: Finding, letters: str, evidence: list) -> dict:
    """One row of the ledger from the evidence of its panels (one panel, or a confirmatory test's panels)."""
    row = _head(f, letters, [e["pair"] for e in evidence], [e["paper_pair"] for e in evidence])
    empty = [e for e in evidence if not len(e["a"]) or not len(e["b"])]
    if empty:
        where = ", ".join(e["where"] for e in empty)
        if not all(e["planned"] for e in empty):
            return {**row, "n_seeds": 0, "verdict": NOT_TESTABLE, "evidence": f"this profile runs none of the "
                    f"settings a group needs on panel(s) {where} (e.g. its sparsities do not reach the group's range)"}
        notes = "; ".join(dict.fromkeys(n for e in empty for n in (e["note_a"], e["note_b"]) if n))
        return {**row, "n_seeds": 0, "verdict": RUNS_MISSING,
                "evidence": f"no finished runs for a group on panel(s) {where}" + (f" ({notes})" if notes else "")}
    a, b, distinct = _pool(evidence)
    stats_ = _statistics(f, a, b)
    d = (a - b).to_numpy(float)
    notes = [n for e in distinct for n in (e["note_a"], e["note_b"]) if n]
    if len(distinct) < len(evidence):
        notes.append(f"panels {', '.join(e['where'] for e in evidence)} resolve to {len(distinct)} distinct set(s) "
                     f"of runs at this profile, each counted once")
    if f.test == "less_data_more_advantage" and len(a) >= MIN_SEEDS:
        notes.append(f"the margin with less data (A) per seed: {', '.join(f'{x:+.4g}' for x in a)}, one-sided p "
                     f"(A > 0) = {_p_above(a.to_numpy(float), 0):.3g}")
    per_seed = f"A − B per seed: {', '.join(f'{x:+.4g}' for x in d)} (seeds {list(a.index)})"
    evidence_text = "; ".join([per_seed] + notes)
    if not len(d):
        verdict = RUNS_MISSING
    elif f.family == "check":
        verdict = _check_verdict(f, d)
    elif len(d) < MIN_SEEDS:
        verdict = NOT_TESTABLE
    elif f.family == "confirmatory":
        verdict = None  # after the Holm adjustment across the family
    else:
        verdict = verdict_word(stats_["direction"] if stats_["p_value"] < ALPHA else INCONCLUSIVE, f.family)
    direction = stats_.pop("direction", None)
    return {**row, **stats_, "_direction": direction, "verdict": verdict, "evidence": evidence_text}


def _rows(results, profile: str, layers) -> tuple[list, list]:
    """(rows, dropped): every finding's rows; a non-confirmatory row that runs the same test on the very same runs
    as an earlier row is dropped and listed as {key, figure, panel, same_as}."""
    rows, dropped, seen, cache = [], [], {}, {}
    for f in FINDINGS:
        if f.beyond_paper and not extension(profile):
            continue  # the profile does not run the extension: no row, not even "runs missing"
        evidence = [_panel_evidence(results, f, n, x, profile, layers, cache) for n, x in f.where()]
        if f.family == "confirmatory":
            rows.append(_row(f, f.panels, evidence))
            continue
        for letter, e in zip(f.panels, evidence):
            if e["same_as"] is not None and e["same_as"] in seen:
                dropped.append({"key": f.key, "figure": f.figure, "panel": letter, "same_as": seen[e["same_as"]]})
                continue
            if e["same_as"] is not None:
                seen[e["same_as"]] = (f.key, f.figure, letter)
            rows.append(_row(f, letter, [e]))
    return rows, dropped


def _adjust(ledger: pd.DataFrame) -> pd.DataFrame:
    """Holm across the confirmatory family, fixed at registration: a row without a test counts as p = 1. While
    any confirmatory row has runs missing, the family's verdicts wait (`pending`)."""
    family = ledger.index[ledger.family == "confirmatory"]
    tested = [i for i in family if pd.notna(ledger.at[i, "p_value"])]
    if not tested:
        return ledger
    if (ledger.loc[family, "verdict"] == RUNS_MISSING).any():
        ledger.loc[tested, "verdict"] = PENDING
        return ledger
    p = ledger.loc[family, "p_value"].fillna(1.0).to_numpy()
    ledger.loc[family, "p_adjusted"] = holm(p)
    rank = pd.Series(p, index=family).rank(method="first").astype(int)
    for i in tested:
        if ledger.at[i, "p_adjusted"] < ALPHA:
            ledger.at[i, "verdict"] = ledger.at[i, "_direction"]
            continue
        ledger.at[i, "verdict"] = INCONCLUSIVE
        alpha = ALPHA / (len(family) - rank[i] + 1)  # the level Holm held this row to
        if pd.notna(ledger.at[i, "d_z"]):
            ledger.at[i, "power"] = power(ledger.at[i, "d_z"], int(ledger.at[i, "n_seeds"]), alpha)
            ledger.at[i, "evidence"] += (f"; achieved power for the observed d_z = {ledger.at[i, 'd_z']:.2f} at "
                                         f"α = {alpha:.3g} (Holm, rank {rank[i]} of {len(family)}): "
                                         f"{ledger.at[i, 'power']:.2f}")
            if BY_KEY[ledger.at[i, "key"]].test == "less_data_more_advantage":
                ledger.at[i, "evidence"] += " (of the difference of margins alone: at most the power of both tests)"
    return ledger


def ledger(results: pd.DataFrame, profile: str, layers: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ledger (columns: COLUMNS): confirmatory rows first, then exploratory, control and check rows, each in
    the order of hslib.findings.FINDINGS. `results` is a runs table (runs.csv or hslib.store.results); `layers`
    the layer table (defaults to results.attrs['layers']). ledger.attrs['dropped'] lists the rows left out because
    they test the very same runs as a row kept."""
    if layers is None:
        layers = results.attrs.get("layers")
    results = normalise(results)
    results = results[[c for c in results.columns if c in USED]]  # a narrow table: every slice below is cheaper
    if "id" in results:
        results = results.drop_duplicates("id")
    rows, dropped = _rows(results, profile, layers)
    table = _adjust(pd.DataFrame(rows).reindex(columns=COLUMNS + ["_direction"]))[COLUMNS].copy()
    order = table.family.map({f: i for i, f in enumerate(FAMILIES)})
    table = table.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)
    table.attrs["dropped"] = dropped
    return table


# ------------------------------------------------------------------------------------------ in the notebooks
FAMILY_NOTE = {
    "confirmatory": "registered; one test pooled over its panels, Holm-adjusted across the confirmatory family only",
    "exploratory": "raw p, not adjusted: a lead, not a result",
    "control": "our labelled control, tested like an exploratory row",
    "check": "holds by construction: tells whether the code does what it claims, never counted as support",
}


def _where(r) -> str:
    """Where a row's runs come from: a panel and its pair, or a confirmatory test's panels and pairs."""
    if r.family == "confirmatory":
        f = BY_KEY[r.key]
        figures = {}
        for n, x in f.where():
            figures.setdefault(n, []).append(x)
        panels = " + ".join(f"Figure {n} ({', '.join(xs)})" for n, xs in figures.items())
        pairs = " + ".join(pair_label(d, m) for d, m in zip(r.dataset.split("+"), r.model.split("+")))
        return f"{panels}, {pairs}"
    where = f"({r.panel}) {pair_label(r.dataset, r.model)}"
    if "/".join((r.dataset, r.model)) != r.paper_pair:
        where += f", standing in for {pair_label(*r.paper_pair.split('/'))}"
    return where


def _row_words(r) -> str:
    """A row in one sentence, ending with its verdict exactly as the ledger holds it."""
    where = _where(r)
    if r.verdict in (NOT_TESTABLE, RUNS_MISSING) and not r.n_seeds:
        return f"{where}: {r.evidence} → **{r.verdict}**."
    said = f"{where}: A − B = {amount(r['diff'], r.metric)} over {int(r.n_seeds)} seed(s)"
    if r.verdict == PENDING:  # the seeds finished so far: notebook 08 trains the rest before the verdict
        said += " finished so far"
    if r.family == "check":
        return f"{said} → **{r.verdict}**."
    if r.verdict == NOT_TESTABLE:
        return f"{said} (the direction only: a test needs ≥ {MIN_SEEDS} seeds) → **{r.verdict}**."
    said += (f", 95% CI [{amount(r.ci_low, r.metric)}, {amount(r.ci_high, r.metric)}], d_z = {r.d_z:.2f}, "
             f"df = {int(r.df)}, p = {r.p_value:.3g}")
    if pd.notna(r.p_adjusted):
        said += f", Holm-adjusted p = {r.p_adjusted:.3g}"
    if pd.notna(r.power):
        said += f" (power {r.power:.2f} for the observed d_z)"
    return f"{said} → **{r.verdict}**."


def _finding_lines(f: Finding, rows: pd.DataFrame, dropped: list, number: int) -> list:
    r0 = rows.iloc[0] if len(rows) else None
    extra = (" (ours: the paper does not state it)" if f.family == "control" else
             " (beyond the paper: our extension's question, not the paper's)" if f.beyond_paper else
             " (the paper shows this but does not state it)" if f.extra else "")
    lines = [f"- **{f.family}** ({FAMILY_NOTE[f.family]}){extra}: {f.statement}.  \n"
             f"  Compare A = {f.a.words} with B = {f.b.words} ({f.metric}; {r0.test if r0 is not None else f.test}"
             f"{'; pp = percentage points' if f.metric.endswith('_acc') else ''})."]
    lines += [f"  - {_row_words(r)}" for _, r in rows.iterrows()]
    for d in dropped:
        if d["key"] == f.key and d["figure"] == number:
            key, n, x = d["same_as"]
            twin = f"({x})" if (key, n) == (f.key, number) else f"Figure {n} ({x}), `{key}`"
            lines.append(f"  - ({d['panel']}) the very same runs and test as {twin} at this profile: one row decides "
                         f"both.")
    return lines


def look_for(name, results: pd.DataFrame, profile: str, layers: pd.DataFrame | None = None) -> str:
    """'What to look for' under a figure, as Markdown generated from the ledger (never hand-written): each finding
    about the figure (a confirmatory finding also under every figure it pools), its groups, and its rows with
    the same family and verdict as claims.csv. `results` must hold every run that the confirmatory family needs
    (ledger_configs), or its verdicts read `pending`."""
    fig = figure(name)
    table = ledger(results, profile, layers)
    lines = [f"**What to look for in Figure {fig.number}** ({fig.title}; `{profile}` profile). Each line below is a "
             f"row of the claims ledger (notebook 08, `claims.csv`), with the same family and verdict.", ""]
    about = sorted((f for f in FINDINGS if fig.number in {n for n, _ in f.where()}),
                   key=lambda f: FAMILIES.index(f.family))  # confirmatory first, checks last
    if not about:
        lines.append("The paper states no comparison about this figure that the ledger tests; read it as an "
                     "illustration.")
    for f in about:
        lines += _finding_lines(f, table[table.key == f.key], table.attrs["dropped"], fig.number)
    shown = table[table.key.isin([f.key for f in about])]
    if (shown.verdict == PENDING).any():
        lines += ["", "*pending*: a confirmatory verdict waits until every run of the confirmatory family is finished "
                      "(notebook 08 trains them), because Holm adjusts across the whole family."]
    if (shown.verdict == NOT_TESTABLE).any():
        lines += ["", f"Rows marked *not testable* cannot be decided at `{profile}`: it runs them with fewer than "
                      f"{MIN_SEEDS} seeds (or none of their settings); a profile with more seeds decides them."]
    return "\n".join(lines)


def uses_layers(name) -> bool:
    """Whether a figure's rows read the layer table (layer densities), so look_for needs it."""
    number = figure(name).number
    return any("density" in (g.metric or f.metric) for f in FINDINGS if number in {n for n, _ in f.where()}
               for g in (f.a, f.b))


def ledger_configs(name, profile: str, **overrides) -> list:
    """The runs look_for needs for a figure: the figure's own, every confirmatory finding's (its Holm family) and
    the controls where the figure has control rows."""
    from .planning import control_configs, figure_configs, panel_configs, unique

    configs = figure_configs(name, profile, **overrides)
    for f in CONFIRMATORY:
        for n, x in f.where():
            for g in (f.a, f.b):
                configs += panel_configs(figure(n).panel(g.panel.get(x, x)), profile, **overrides)
    if any(f.family == "control" and f.figure == figure(name).number for f in FINDINGS):
        configs += control_configs(profile, **overrides)
    return unique(configs)


# ------------------------------------------------------------------------------------------ the generated summary
def _cell(value, fmt: str) -> str:
    return "–" if pd.isna(value) else format(value, fmt)


def _runs(r) -> str:
    return _where(r).replace("|", "/")


def _p_cells(r) -> str:
    return f"{_cell(r.p_value, '.3g')} | {_cell(r.p_adjusted, '.3g')}"


def _counts(rows: pd.DataFrame) -> str:
    counts = rows.verdict.value_counts()
    return ", ".join(f"{v} {counts[v]}" for v in VERDICTS if v in counts) or "none"


def _table(rows: pd.DataFrame, adjusted: bool) -> list:
    head = "| finding | runs | A − B | 95% CI | d_z | df | p |" + (" Holm p |" if adjusted else "") + " verdict |"
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for _, r in rows.iterrows():
        verdict = f"**{r.verdict}**" + (f" (power {r.power:.2f})" if pd.notna(r.power) else "")
        ci = f"[{amount(r.ci_low, r.metric)}, {amount(r.ci_high, r.metric)}]" if pd.notna(r.ci_low) else "–"
        p = _p_cells(r) if adjusted else _cell(r.p_value, ".3g")
        lines.append(f"| {r.statement} (`{r.key}`) | {_runs(r)} | {amount(r['diff'], r.metric)} | {ci} | "
                     f"{_cell(r.d_z, '.2f')} | {_cell(r.df, '.0f')} | {p} | {verdict} |")
    return lines


def without_links(markdown: str) -> str:
    """The text of Markdown links without their targets: the summary's links point into the repository (they work
    on GitHub and in an editor), so a notebook or the book shows it without them."""
    import re

    return re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)


# The paper's regime (docs/paper_findings.md#course-regime): runs fit their training set, as after 200 epochs.
FIT, FIT_SHARE = 0.99, 0.95  # train_acc >= FIT for at least FIT_SHARE of the non-adversarial runs
DENSE_FLOOR, DENSE_SPREAD = 0.97, 0.02  # dense ResNet18 on all clean data: test accuracy and max - min over seeds
PLATEAU = 0.02  # adversarial runs: |adv_train_acc_change| within this (hslib.train._plateau)


def regime(runs: pd.DataFrame, profile: str) -> dict:
    """Is the profile in the paper's regime? From the runs table (runs.csv): the share of non-adversarial runs that
    fit their training set, dense ResNet18 on all of the (clean) data, the adversarial runs' plateau, and the
    test accuracy of the EL2N scoring runs (stopped early by design, so outside the criterion)."""
    df = normalise(runs)
    df = df[df.profile == profile]
    scoring, done = df[df.stop_epoch > 0], df[df.stop_epoch == 0]
    clean, adv = done[done.adversarial == ""], done[done.adversarial != ""]
    dataset, model = stand_in(profile, "c100_r18")
    dense = clean[(clean.method == "dense") & (clean.dataset == dataset) & (clean.model == model)
                  & (clean.data_ratio == 1) & (clean.corruption == "") & (clean.label_noise == 0)
                  & (clean.epochs == base_config(profile).epochs)]
    change = adv.adv_train_acc_change.astype(float) if "adv_train_acc_change" in adv else pd.Series(dtype=float)
    fit = clean.train_acc.astype(float) >= FIT
    return {"runs": len(clean), "fit": int(fit.sum()), "fit_share": float(fit.mean()) if len(clean) else np.nan,
            "lowest_fit": float(clean.train_acc.min()) if len(clean) else np.nan,
            "dense_label": pair_label(dataset, model), "dense_seeds": len(dense),
            "dense_mean": float(dense.test_acc.mean()) if len(dense) else np.nan,
            "dense_spread": float(dense.test_acc.max() - dense.test_acc.min()) if len(dense) else np.nan,
            "adversarial": len(adv), "plateaued": int((change.abs() <= PLATEAU).sum()),
            "scoring_low": float(scoring.test_acc.min()) if len(scoring) else np.nan,
            "scoring_high": float(scoring.test_acc.max()) if len(scoring) else np.nan}


def _regime_lines(runs: pd.DataFrame, profile: str) -> list:
    r = regime(runs, profile)
    met = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    lines = ["## The regime (from [`runs.csv`](runs.csv))", "",
             f"- **Fit**: {r['fit']} of {r['runs']} non-adversarial runs ({_cell(100 * r['fit_share'], '.1f')}%) reach "
             f"≥ {FIT:.0%} accuracy on their own training subset (`train_acc`: eval mode, no augmentation; the lowest "
             f"{_cell(100 * r['lowest_fit'], '.2f')}%). Criterion ≥ {FIT_SHARE:.0%} of runs: "
             f"{met(r['fit_share'] >= FIT_SHARE)}.",
             f"- **Dense {r['dense_label']} on all of the data**: test accuracy {_cell(100 * r['dense_mean'], '.2f')}% "
             f"over {r['dense_seeds']} seed(s), spread (max − min) {_cell(100 * r['dense_spread'], '.2f')} pp. Criterion "
             f"≥ {DENSE_FLOOR:.0%} with a spread ≤ {100 * DENSE_SPREAD:g} pp: "
             f"{met(r['dense_mean'] >= DENSE_FLOOR and r['dense_spread'] <= DENSE_SPREAD)}."]
    if r["adversarial"]:
        lines.append(f"- **Adversarial runs** (their training accuracy is on PGD examples, so the criterion is a "
                     f"plateau): {r['plateaued']} of {r['adversarial']} changed by at most {100 * PLATEAU:g} pp between "
                     f"the last two quarters of training (`adv_train_acc_change`).")
    if pd.notna(r["scoring_low"]):
        lines.append(f"- **EL2N scoring runs** (stopped at `el2n_epoch` by design): test accuracy "
                     f"{100 * r['scoring_low']:.1f}–{100 * r['scoring_high']:.1f}% when scored.")
    return lines + [""]


def summary(ledger: pd.DataFrame, profile: str, runs: pd.DataFrame | None = None) -> str:
    """What a profile's runs found, as Markdown generated from its ledger (claims.csv read back gives the same
    text): whether the runs are in the paper's regime (from `runs`, runs.csv), the confirmatory verdicts with d_z,
    df and p, LTH with its controls beside it, the exploratory verdicts counted, and the checks apart. Notebook 08
    writes it to outputs/results/<profile>/summary.md."""
    fam = {f: ledger[ledger.family == f] for f in FAMILIES}
    conf, expl, checks = fam["confirmatory"], fam["exploratory"], fam["check"]
    beyond = expl[expl.beyond_paper.fillna(False).astype(bool)] if "beyond_paper" in expl else expl.iloc[:0]
    expl = expl.drop(index=beyond.index)
    lth = ledger[ledger.key.str.contains("lth") & (ledger.family != "check")]
    decided = expl[expl.verdict.isin([verdict_word(v, "exploratory") for v in (SUPPORTED, CONTRADICTED)])]
    lines = [f"# What `{profile}` found", "",
             "*Generated by `hslib.claims.summary` from [`claims.csv`](claims.csv) (notebook 08): do not edit; "
             "rerun notebook 08.* How each row is decided: [How the ledger decides]"
             "(../../../docs/paper_findings.md#how-the-ledger-decides). pp = percentage points.", "",
             *(_regime_lines(runs, profile) if runs is not None else []),
             "## The confirmatory findings", "",
             f"{len(conf)} registered findings, one test each (pooled over the panels it names, each distinct set of "
             f"runs once), Holm-adjusted across these {len(conf)} only; their seeds and power calculation are "
             f"registered in [docs/paper_findings.md](../../../docs/paper_findings.md#course-registration). Verdicts: {_counts(conf)}.", ""]
    lines += _table(conf, adjusted=True)
    lines += ["", "## LTH, with its controls beside it", "",
              "Every row about LTH, with the two controls: equal training compute (SET and SNIP trained for as many "
              "epochs as LTH and its dense parent together) and the lottery-ticket control (LTH's mask with a fresh "
              "random initialisation).", ""]
    lines += _table(lth, adjusted=True)
    lines += ["", "## Exploratory rows", "",
              f"{len(expl)} rows, one per panel (rows on the very same runs as another are dropped), raw p: a lead, "
              f"not a result. Verdicts: {_counts(expl)}.", ""]
    lines += [f"- {r.statement} ({_runs(r)}): A − B = {amount(r['diff'], r.metric)}, p = {r.p_value:.3g} → "
              f"**{r.verdict}**" for _, r in decided.iterrows()] or ["- none decided"]
    if len(beyond):
        lines += ["", "## Beyond the paper (exploratory)", "",
                  f"{len(beyond)} rows on the extension (structured sparsity, Figure E1), which the paper does not "
                  f"study: raw p, outside the confirmatory family. Verdicts: {_counts(beyond)}.", ""]
        lines += [f"- {r.statement} ({_runs(r)}): A − B = {amount(r['diff'], r.metric)}"
                  + (f", p = {r.p_value:.3g}" if pd.notna(r.p_value) else "") + f" → **{r.verdict}**"
                  for _, r in beyond.iterrows()]
    lines += ["", "## Checks (hold by construction; never counted as support)", "",
              f"{len(checks)} checks. Verdicts: {_counts(checks)}."]
    lines += [f"- fails: {r.statement} ({_runs(r)})" for _, r in checks[checks.verdict == FAILS].iterrows()]
    return "\n".join(lines) + "\n"
