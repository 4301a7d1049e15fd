"""xlrobust.stats: the one place of the scores' statistics."""

import numpy as np
import pytest

from xlrobust import stats


def test_language_average_of_means_is_the_ratio_path_bit_for_bit():
    """score.py averages languages of plain means through stratified_ratio_ci with w = 1; it must
    give exactly what a mean of per-language means resampled within each language gives (the
    separate mean path it replaced), so scores.parquet keeps its bytes."""
    rng = np.random.default_rng(7)
    for seed in range(60):
        groups = [rng.random(rng.integers(1, 50)) if seed % 2 else (rng.random(30) < 0.7) * 1.0 for _ in range(3)]
        r = np.random.default_rng(seed)
        value = float(np.mean([g.mean() for g in groups]))
        boots = np.mean([g[r.integers(0, len(g), (stats.BOOTSTRAP_RESAMPLES, len(g)))].mean(axis=1) for g in groups], 0)
        lo, hi = np.percentile(boots, [2.5, 97.5])
        assert stats.stratified_ratio_ci([(g, np.ones_like(g), None, None) for g in groups], seed) == (
            value,
            float(lo),
            float(hi),
        )


def test_holm_matches_the_step_down_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # sorted 0.005, 0.01, 0.03, 0.04, 0.5 times 5, 4, 3, 2, 1 -> .025, .04, .09, .08 -> monotone .09, .5
    assert stats.holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.5])
    assert stats.holm(np.array([0.9, 0.8])) == pytest.approx([1.0, 1.0])  # capped at 1
