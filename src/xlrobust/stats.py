"""Statistics of the scores, one place for each: 95% percentile-bootstrap intervals of a
mean and of macro-F1 (scipy.stats.bootstrap) and of a ratio of sums over examples (entity
micro-F1, token accuracy: the ratio recomputed on each resample); language averages
(unweighted over languages, resampled within each; a mean is the ratio with w = 1, which
gives the same bits); paired recipe-vs-baseline tests (bootstrap interval of the mean
difference and a two-sided paired permutation p-value: scipy.stats.permutation_test for
means, outcome swaps for ratios); Holm-Bonferroni adjustment (hand-written: scipy's
`false_discovery_control` does Benjamini-Hochberg/Yekutieli, not Holm).

The ratio paths resample by hand because they take NaN-tolerant percentiles and share one
set of resampled indices between the two sides of a pair; scipy's percentile (at
100 * 0.025000000000000022) differs from theirs in the last bits, so the two are not merged
(the score table would change). A cell is (x, w, x0, w0): its value is sum(x) / sum(w), or
for a drop sum(x0) / sum(w0) - sum(x) / sum(w).

A leaf module: numpy and scipy only, nothing of xlrobust (an import-linter contract in
pyproject.toml, checked by tests/test_lint.py).
"""

from __future__ import annotations

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
PERMUTATIONS = 5000


def _ci(res) -> tuple[float, float]:
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mean_ci(x: np.ndarray, seed: int = 0) -> tuple[float | None, float | None, float | None]:
    """Mean with a 95% percentile-bootstrap interval (scipy)."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return None, None, None  # nothing to measure (e.g. every attacked example was skipped)
    m = float(x.mean())
    if len(x) < 2 or np.all(x == x[0]):
        return m, m, m
    from scipy import stats  # lazily: scipy.stats takes half a second to import, most commands never need it

    res = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=0.95,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return (m, *_ci(res))


def macro_f1(y: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Macro-F1 over the classes present in y or p; vectorised over leading axes."""
    classes = np.union1d(np.unique(y), np.unique(p))
    f1 = []
    for c in classes:
        tp = np.sum((y == c) & (p == c), axis=axis)
        fp = np.sum((y != c) & (p == c), axis=axis)
        fn = np.sum((y == c) & (p != c), axis=axis)
        denom = 2 * tp + fp + fn
        f1.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
    return np.mean(f1, axis=0)


def macro_f1_ci(y: np.ndarray, p: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    m = float(macro_f1(y, p))
    if len(y) < 2:
        return m, m, m
    from scipy import stats  # lazily: scipy.stats takes half a second to import, most commands never need it

    res = stats.bootstrap(
        (y, p),
        macro_f1,
        paired=True,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return (m, *_ci(res))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def paired_test(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float, float, float]:
    """Mean paired difference x - y, its bootstrap 95% interval, and a two-sided
    paired permutation (sign-flip) p-value."""
    d = np.asarray(x, float) - np.asarray(y, float)
    diff = float(d.mean())
    if len(d) < 2:
        return diff, diff, diff, 1.0
    rng = np.random.default_rng(seed)
    _, lo, hi = mean_ci(d, seed)
    from scipy import stats  # lazily: scipy.stats takes half a second to import, most commands never need it

    res = stats.permutation_test(
        (np.asarray(x, float), np.asarray(y, float)),
        lambda a, b, axis: np.mean(a - b, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=PERMUTATIONS,
        alternative="two-sided",
        rng=rng,
    )
    return diff, lo, hi, float(res.pvalue)


# ---------------------------------------------------------------------------- ratios of sums
def _ratio(x: np.ndarray, w: np.ndarray, idx=None) -> np.ndarray | float:
    """sum(x) / sum(w), over the last axis of x[idx] (NaN where sum(w) is 0)."""
    if idx is not None:
        x, w = x[idx], w[idx]
    num, den = x.sum(axis=-1), w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def ratio_value(a: tuple, idx=None):
    """The metric of one cell: sum(x)/sum(w), or for a drop sum(x0)/sum(w0) - sum(x)/sum(w)."""
    x, w, x0, w0 = a
    r = _ratio(x, w, idx)
    return r if x0 is None else _ratio(x0, w0, idx) - r


def _interval(boots: np.ndarray) -> tuple[float, float]:
    lo, hi = np.nanpercentile(boots, [2.5, 97.5])
    return float(lo), float(hi)


def ratio_ci(a: tuple, seed: int = 0) -> tuple[float | None, float | None, float | None]:
    """Value of a ratio metric (or a drop in it) with a 95% percentile bootstrap over examples."""
    n = len(a[0])
    if n == 0:
        return None, None, None
    v = float(ratio_value(a))
    if np.isnan(v):
        return None, None, None
    if n < 2:
        return v, v, v
    idx = np.random.default_rng(seed).integers(0, n, (BOOTSTRAP_RESAMPLES, n))
    return (v, *_interval(ratio_value(a, idx)))


def stratified_ratio_ci(groups: list[tuple], seed: int = 0) -> tuple[float, float, float]:
    """Unweighted mean over languages of a ratio metric; resampling within each language."""
    rng = np.random.default_rng(seed)
    value = float(np.nanmean([ratio_value(g) for g in groups]))
    boots = np.nanmean(
        [ratio_value(g, rng.integers(0, len(g[0]), (BOOTSTRAP_RESAMPLES, len(g[0])))) for g in groups], axis=0
    )
    return (value, *_interval(boots))


def paired_ratio_test(a: tuple, b: tuple, seed: int = 0) -> tuple[float, float, float, float]:
    """Metric(a) - metric(b) on the same examples (ratio metrics), its paired bootstrap
    interval, and a two-sided paired permutation p-value (each example's two outcomes
    swapped at random)."""
    diff = float(ratio_value(a) - ratio_value(b))
    n = len(a[0])
    if n < 2:
        return diff, diff, diff, 1.0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (BOOTSTRAP_RESAMPLES, n))
    lo, hi = _interval(ratio_value(a, idx) - ratio_value(b, idx))
    swap = rng.random((PERMUTATIONS, n)) < 0.5
    pick = lambda u, v: None if u is None else np.where(swap, v, u)  # noqa: E731
    a2 = tuple(pick(u, v) for u, v in zip(a, b))
    b2 = tuple(pick(v, u) for u, v in zip(a, b))
    null = ratio_value(a2) - ratio_value(b2)
    p = (np.sum(np.abs(null) >= abs(diff) - 1e-12) + 1) / (PERMUTATIONS + 1)
    return diff, lo, hi, float(min(1.0, p))


def cell_ci(a: tuple, seed: int = 0):
    """One cell's value and interval: the mean path for plain means (w = 1), ratios otherwise."""
    x, w, x0, w0 = a
    if x0 is None and np.all(w == 1):
        return mean_ci(x, seed)
    return ratio_ci(a, seed)
