"""How sure are we? Intervals and paired tests for a variant's score against fp32's, on the same rows.

One call per variant: ``paired_stats(fp32_rows, variant_rows, confidence=...)``. Rows are either
per-row correctness (booleans: accuracy) or per-row scores (floats, higher is better).

Methods, and why these:

- **Accuracy interval: Wilson score.** Clopper-Pearson ("exact") guarantees at least the nominal
  coverage and pays for it with intervals noticeably wider than they need to be; the Wald interval
  collapses to a point at 0 % or 100 %. Wilson keeps close to the nominal coverage at every n and stays
  inside [0, 1] (Brown, Cai & DasGupta 2001 recommend it for small and moderate n).
- **Drop interval (accuracy): Newcombe's square-and-add** ("hybrid score", method 10 of Newcombe
  1998), with his continuity-corrected correlation term. It combines the two Wilson intervals and the
  correlation of the paired rows in closed form, and keeps near-nominal coverage with few discordant
  rows, which is the usual case here: fp32 and its quantized copy disagree on a handful of rows
  (Newcombe's own evaluation: method 10 "performs well"). Tested against the worked example of
  Fagerland, Lydersen & Laake, *Statistical Analysis of Contingency Tables*, ch. 8.
- **p-value (accuracy): exact (conditional) McNemar**: only rows where exactly one of the two is right
  carry information; under "same accuracy" each is equally likely to go either way (a binomial test).
- **Any other score: paired bootstrap over rows**, seeded, ``RESAMPLES`` resamples: a percentile
  interval of the mean difference, and a two-sided p-value from the resampled differences re-centred
  on zero.

A large p-value is not evidence that two variants are equally good; the decision "within budget"
uses the upper end of the drop interval (see champion.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

RESAMPLES = 2000  # the bootstrap's Monte Carlo error on a 95 % bound is then well below its sampling error
SEED = 0
ACCURACY_TEST = "exact McNemar"
BOOTSTRAP_TEST = f"paired bootstrap ({RESAMPLES} resamples)"


@dataclass(frozen=True)
class PairedStats:
    """A variant's score with its interval and, against fp32 on the same rows, its drop.

    ``drop`` = fp32's score minus the variant's (positive: the variant is worse), in the units of
    the score (accuracy 0.01 = 1 point). ``discordant`` = (rows only fp32 got right, rows only the
    variant got right) for accuracy; None for other scores or for fp32 itself.
    """

    rows: int
    confidence: float
    score: float
    score_ci: tuple[float, float]
    drop: float | None = None
    drop_ci: tuple[float, float] | None = None
    p_value: float | None = None
    test: str | None = None
    discordant: tuple[int, int] | None = None

    def rows_to_settle(self, max_drop: float) -> int | None:
        """Rows that would put the upper end of the drop interval within ``max_drop`` if the rates
        seen here held; None when the point estimate itself is over budget (more rows cannot help)
        or when the interval already settles it."""
        if self.drop is None or self.drop_ci is None or self.drop >= max_drop:
            return None
        if self.drop_ci[1] <= max_drop:
            return None
        if self.discordant is not None:
            only_base, only_var = self.discordant
            both = round(self.rows * self.score) - only_var  # rows both got right
            shares = np.array([both, only_base, only_var, self.rows - both - only_base - only_var]) / self.rows

            def upper(n: float) -> float:
                return newcombe_paired(*(shares * n), confidence=self.confidence)[1]
        else:
            # A bootstrap interval's half-width shrinks as 1/sqrt(rows).
            half = self.drop_ci[1] - self.drop

            def upper(n: float) -> float:
                return self.drop + half * math.sqrt(self.rows / n)
        lo, hi = float(self.rows), float(self.rows)
        while upper(hi) > max_drop:
            lo, hi = hi, hi * 2
            if hi > 1e12:
                return None
        while hi - lo > 1:  # upper() falls as rows grow: bisect for the first count that settles it
            mid = math.floor((lo + hi) / 2)
            lo, hi = (mid, hi) if upper(mid) > max_drop else (lo, mid)
        return int(math.ceil(hi))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("score_ci", "drop_ci", "discordant"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PairedStats:
        return cls(**{**d, **{k: tuple(d[k]) for k in ("score_ci", "drop_ci", "discordant") if d.get(k) is not None}})


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (counts may be fractional: rows_to_settle scales them)."""
    if n <= 0:
        raise ValueError("an interval needs at least one row")
    z = _z(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_paired(both: float, only_first: float, only_second: float, neither: float,
                    confidence: float = 0.95) -> tuple[float, float]:
    """Interval for p1 - p2 on paired rows (p1: first right, p2: second right), Newcombe's method 10.

    The correlation term is Newcombe's continuity-corrected phi: 0 while ad - bc <= n/2.
    Reproduces Fagerland et al.'s worked example (tests/core/test_stats.py).
    """
    n = both + only_first + only_second + neither
    first, second = both + only_first, both + only_second
    p1, p2 = first / n, second / n
    l1, u1 = wilson(first, n, confidence)
    l2, u2 = wilson(second, n, confidence)
    margins = first * (n - first) * second * (n - second)
    a = both * neither - only_first * only_second
    if margins == 0:
        phi = 0.0
    elif a > n / 2:
        phi = (a - n / 2) / math.sqrt(margins)
    elif a >= 0:
        phi = 0.0
    else:
        phi = a / math.sqrt(margins)
    d = p1 - p2
    lo = d - math.sqrt(max(0.0, (p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)))
    hi = d + math.sqrt(max(0.0, (u1 - p1) ** 2 + (p2 - l2) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2)))
    return max(-1.0, lo), min(1.0, hi)


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant rows against 1/2."""
    if only_first + only_second == 0:
        return 1.0  # no row tells them apart
    from scipy.stats import binomtest

    return float(binomtest(only_first, only_first + only_second, 0.5).pvalue)


def median_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Distribution-free interval for a median from order statistics: (lo, hi, its actual coverage).

    Too few values for ``confidence`` give (min, max) with the smaller coverage they do have
    (6 values reach 96.9 %; 5 only 93.8 %).
    """
    from scipy.stats import binom

    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n == 0:
        raise ValueError("a median interval needs at least one value")
    k = 1
    while k + 1 <= n // 2 and 1 - 2 * binom.cdf(k, n, 0.5) >= confidence:  # widen inwards while it still holds
        k += 1
    return float(x[k - 1]), float(x[n - k]), float(1 - 2 * binom.cdf(k - 1, n, 0.5))


def paired_stats(baseline, variant=None, *, confidence: float = 0.95, resamples: int = RESAMPLES,
                 seed: int = SEED) -> PairedStats:
    """Score, interval and (with ``variant``) paired drop against ``baseline`` on the same rows.

    Booleans are per-row correctness (accuracy: Wilson, Newcombe, exact McNemar); floats are per-row
    scores (a paired bootstrap). Without ``variant`` it describes ``baseline`` alone (fp32's own row).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    base = np.asarray(baseline)
    var = base if variant is None else np.asarray(variant)
    if base.ndim != 1 or var.shape != base.shape or len(base) == 0:
        raise ValueError(f"paired rows must be two equal, non-empty 1-D arrays, got {base.shape} and {var.shape}")
    n = len(base)
    if base.dtype == bool and var.dtype == bool:
        right = int(var.sum())
        score_ci = wilson(right, n, confidence)
        if variant is None:
            return PairedStats(n, confidence, right / n, score_ci)
        only_base = int(np.count_nonzero(base & ~var))
        only_var = int(np.count_nonzero(var & ~base))
        both = int(np.count_nonzero(base & var))
        return PairedStats(n, confidence, right / n, score_ci, drop=(only_base - only_var) / n,
                           drop_ci=newcombe_paired(both, only_base, only_var, n - both - only_base - only_var,
                                                   confidence),
                           p_value=mcnemar_exact(only_base, only_var), test=ACCURACY_TEST,
                           discordant=(only_base, only_var))
    b, v = base.astype(np.float64), var.astype(np.float64)
    if not (np.isfinite(b).all() and np.isfinite(v).all()):
        raise ValueError("per-row scores must be finite")
    means, diffs = _bootstrap_means(b, v, resamples, seed)
    alpha = (1 - confidence) / 2
    score_ci = tuple(float(q) for q in np.quantile(means, [alpha, 1 - alpha]))
    if variant is None:
        return PairedStats(n, confidence, float(v.mean()), score_ci)
    drop = float(b.mean() - v.mean())
    drop_ci = tuple(float(q) for q in np.quantile(diffs, [alpha, 1 - alpha]))
    # Two-sided: how often a resampled difference, re-centred on "no difference", is as far out as ours.
    p = (1 + np.count_nonzero(np.abs(diffs - drop) >= abs(drop) - 1e-15)) / (resamples + 1) if drop else 1.0
    return PairedStats(n, confidence, float(v.mean()), score_ci, drop=drop, drop_ci=drop_ci,
                       p_value=float(min(1.0, p)), test=f"paired bootstrap ({resamples} resamples)")


def _bootstrap_means(base: np.ndarray, var: np.ndarray, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per resample: the variant's mean score and the mean of (baseline - variant), the same rows for both."""
    rng = np.random.default_rng(seed)
    n = len(base)
    diff = base - var
    means, diffs = np.empty(resamples), np.empty(resamples)
    step = max(1, 4_000_000 // n)  # resamples per chunk: an index block stays ~32 MB whatever the row count
    for lo in range(0, resamples, step):
        idx = rng.integers(0, n, size=(min(step, resamples - lo), n))
        means[lo:lo + len(idx)] = var[idx].mean(axis=1)
        diffs[lo:lo + len(idx)] = diff[idx].mean(axis=1)
    return means, diffs
