"""Notebook 09's exercise as numbers (analysis tier: pandas and scipy, no torch): the runs it trains, the
comparison over seeds that the text under its figure is generated from, and the grader's outcome check
(`python -m hslib.grade`, whose module docstring says what it checks) with its tolerance.

**The outcome tolerance.** The grader trains the student's class and the reference (`hslib.solutions`) on the
same configs and seeds. A class that keeps the reference's mask trains bit for bit the same runs on one machine
(same seeds, same initial weights, same batches), so a correct solution differs by 0 pp. The tolerance is for what
is not bit-identical and still right (another way to break ties, another order of operations): it is sized as a
second draw of seeds would be. Two methods equally good, each averaged over n seeds, differ by a random amount
with sd s·√(2/n), s the spread of one run's test accuracy across seeds; the check allows three of those:

    T = 3 · s · √(2/n)    (an equally good method fails about once in 370 gradings)

s is measured in each grading: the sample sd of the reference's own runs over the grading's seeds (trained beside
the student's, on the same machine and settings, so it is the spread of exactly these runs; the report states it).
With 3 seeds that estimate is rough (a sd from 3 values is off by a factor of 2 about one time in ten); a per-profile
s measured over more seeds would be steadier, and was not measured yet.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .config import PROFILES, base_config
from .paper import pair_note, stand_in
from .vocabulary import METHODS

PAIR, SPARSITY = "c100_r18", 0.8  # the paper's first pair (or the profile's stand-in), at one sparsity
DEFAULT_SEEDS = [0, 1, 2]  # >= 3 seeds whatever the profile's own count: the comparison needs a spread
ALPHA = 0.05  # the comparison's intervals are 95%
SIGMAS = 3  # the outcome tolerance allows three standard deviations of a difference of means


def check_seeds(seeds) -> list[int]:
    """The seeds of a comparison: a list of at least 2 distinct integers >= 0 (one clear error otherwise)."""
    ok = (isinstance(seeds, (list, tuple)) and len(seeds) >= 2 and len(set(seeds)) == len(seeds)
          and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds))
    if not ok:
        raise ValueError(f"seeds={seeds!r} is not allowed; allowed values: a list of at least 2 distinct integers "
                         f">= 0, e.g. {DEFAULT_SEEDS} (a spread needs two)")
    return list(seeds)


def configs(profile: str, method: str, seeds, data_root: str = "", **run) -> list:
    """The exercise's runs of `method`: the profile's stand-in for CIFAR-100 / ResNet18 at sparsity 0.8, all of
    the training data, one run per seed; `run` overrides the profile's run settings (the tests' tiny runs)."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    dataset, model = stand_in(profile, PAIR)
    return [base_config(profile, dataset=dataset, model=model, method=method, density=round(1 - SPARSITY, 6),
                        seed=s, data_root=data_root, **run) for s in check_seeds(seeds)]


def where(profile: str) -> str:
    return f"{pair_note(profile, PAIR)}, sparsity {SPARSITY:g}, all of the training data"


# ------------------------------------------------------------------------------------------ comparisons
def per_seed(runs: pd.DataFrame, method: str, metric: str = "test_acc") -> pd.Series:
    """A method's metric in pp, indexed by seed."""
    rows = runs[runs.method == method]
    return (100 * rows.set_index("seed")[metric].astype(float)).sort_index()


def paired(runs: pd.DataFrame, a: str, b: str, metric: str = "test_acc") -> dict:
    """a − b in pp over the seeds both have (same seed: same initial weights and batches), with its 95% CI."""
    from scipy import stats

    va, vb = per_seed(runs, a, metric), per_seed(runs, b, metric)
    seeds = sorted(set(va.index) & set(vb.index))
    d = (va.loc[seeds] - vb.loc[seeds]).to_numpy(float)
    n = len(d)
    out = {"a": a, "b": b, "n": n, "a_mean": float(va.loc[seeds].mean()), "b_mean": float(vb.loc[seeds].mean()),
           "diff": float(d.mean()) if n else math.nan, "low": math.nan, "high": math.nan,
           "min": float(d.min()) if n else math.nan, "max": float(d.max()) if n else math.nan}
    if n >= 2:
        half = stats.t.ppf(1 - ALPHA / 2, n - 1) * d.std(ddof=1) / math.sqrt(n)
        out.update(low=out["diff"] - half, high=out["diff"] + half)
    return out


def _label(method: str) -> str:
    return METHODS[method].label if method in METHODS else method


def _pp(x: float) -> str:
    return f"{x:+.1f} pp"


def verdict(c: dict) -> str:
    """'ahead', 'behind' or 'not distinguishable' (the 95% CI of a − b contains 0, or too few seeds)."""
    if c["n"] < 2 or not c["low"] <= c["high"]:
        return "not distinguishable"
    if c["low"] > 0:
        return "ahead"
    if c["high"] < 0:
        return "behind"
    return "not distinguishable"


def _line(c: dict) -> str:
    a, b = _label(c["a"]), _label(c["b"])
    numbers = (f"{a} − {b}: {_pp(c['diff'])} (per seed {_pp(c['min'])} to {_pp(c['max'])}; "
               f"95% CI {_pp(c['low'])} to {_pp(c['high'])}, {c['n']} seeds)")
    v = verdict(c)
    if v == "not distinguishable":
        return f"{numbers}: the interval contains 0, so these seeds cannot tell {a} from {b}."
    side, relation = ("above", "ahead of") if v == "ahead" else ("below", "behind")
    return f"{numbers}: the interval lies {side} 0, so {a} is {relation} {b} here."


def discussion(runs: pd.DataFrame, method: str, baselines, profile: str, metric: str = "test_acc") -> str:
    """The text under notebook 09's figure, every number and direction computed from `runs`: each method's mean
    and spread, then `method` − each baseline per seed with its 95% CI, then what that says about the question of
    Frankle et al. (largest initial |w| against a random choice at the same per-layer counts) when 'random_erk' is
    a baseline."""
    rows = ["| method | test accuracy, mean (%) | sd over seeds (pp) | seeds |", "| --- | ---: | ---: | ---: |"]
    for m in [method, *baselines]:
        v = per_seed(runs, m, metric)
        sd = f"{v.std(ddof=1):.1f}" if len(v) >= 2 else "–"
        rows.append(f"| {_label(m)} | {v.mean():.1f} | {sd} | {len(v)} |")
    comparisons = [paired(runs, method, b, metric) for b in baselines]
    text = [f"**What these runs say** ({where(profile)}; generated from the runs above):", "", *rows, "",
            *[f"- {_line(c)}" for c in comparisons]]
    random = next((c for c in comparisons if c["b"] == "random_erk"), None)
    if random is not None:
        answer = {"not distinguishable": "these seeds find no difference between keeping the largest initial |w| "
                                         "and a random choice at the same per-layer counts, as Frankle et al. "
                                         "found: at initialisation the counts, not the positions, decided",
                  "behind": "keeping the largest initial |w| did worse than a random choice at the same per-layer "
                            "counts: here the positions (and the scale of the weights they keep) did matter",
                  "ahead": "keeping the largest initial |w| did better than a random choice at the same per-layer "
                           "counts: here the positions did matter, unlike in Frankle et al.'s runs"}[verdict(random)]
        text += ["", f"**The exercise's question.** At this profile {answer}. A difference of means is one draw "
                     f"of {random['n']} seeds; the interval says how far another draw could move it."]
    return "\n".join(text)


# ------------------------------------------------------------------------------------------ the grader's outcome
def tolerance(n: int, reference: pd.DataFrame) -> tuple:
    """(T in pp, how it was obtained): T = SIGMAS · s · √(2/n), s the sample sd of `reference`'s test accuracy
    (pp) over its seeds."""
    values = 100 * reference.test_acc.astype(float)
    s = float(values.std(ddof=1))
    return SIGMAS * s * math.sqrt(2 / n), (f"T = {SIGMAS}·s·√(2/{n}), s = {s:.2f} pp: the sd of the reference's "
                                           f"{len(values)} runs in this grading")


def outcome(runs: pd.DataFrame, student: str, reference: str, tolerance_pp: float) -> dict:
    """The outcome check: the student's mean test accuracy within `tolerance_pp` of the reference's (same seeds)."""
    c = paired(runs, student, reference)
    return {**c, "tolerance": tolerance_pp, "passed": bool(np.isfinite(c["diff"]) and abs(c["diff"]) <= tolerance_pp)}
