"""Statistical power of the ledger's paired tests (analysis tier: scipy, no torch).

A finding's evidence is one number per seed, d_s (group A minus group B), tested with a two-sided one-sample
t-test. With n seeds and a true standardised effect d_z = mean(d) / sd(d), the test statistic follows a
noncentral t distribution with n − 1 degrees of freedom and noncentrality d_z·√n, so the chance of rejecting
at level α is

    power(d_z, n, α) = P(T > t_crit) + P(T < −t_crit),   T ~ t(n − 1, d_z·√n),  t_crit = t_{1−α/2}(n − 1).

The confirmatory family is Holm-adjusted; a row's threshold is between α/k (the first step) and α, so the
seeds are planned at α/k, the strictest case (docs/paper_findings.md#course-registration).
"""
from __future__ import annotations

import math

from scipy import stats


def power(d_z: float, n: int, alpha: float) -> float:
    """Power of the two-sided one-sample t-test with n values at level alpha, for a true effect d_z."""
    if not (isinstance(n, int) and n >= 2):
        raise ValueError(f"n={n!r} is not allowed; allowed values: an integer >= 2 (seeds)")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r} is not allowed; allowed values: a number in (0, 1)")
    df, nc = n - 1, abs(d_z) * math.sqrt(n)
    t = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(t, df, nc) + stats.nct.cdf(-t, df, nc))


def seeds_needed(d_z: float, alpha: float, target: float = 0.8, most: int = 200) -> int | None:
    """The fewest seeds (>= 3) that reach `target` power for effect d_z at `alpha`; None beyond `most`."""
    if not 0 < target < 1:
        raise ValueError(f"target={target!r} is not allowed; allowed values: a number in (0, 1)")
    for n in range(3, most + 1):
        if power(d_z, n, alpha) >= target:
            return n
    return None


def smallest_detectable(n: int, alpha: float, target: float = 0.8) -> float:
    """The smallest |d_z| that n seeds detect with `target` power at `alpha` (bisection on power)."""
    lo, hi = 0.0, 50.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if power(mid, n, alpha) < target else (lo, mid)
    return hi
