"""The fold-level corrected resampled t-test against the formula written out, and its edges."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy import stats

import bench.report.nadeau_bengio
from bench.report.nadeau_bengio import corrected_resampled_t, leave_one_out_ratio


def naive_corrected_t(d: list[float], ratio: float) -> tuple[float, float]:
    """Nadeau and Bengio's statistic in plain Python; the p-value integrates Student's t
    density numerically (trapezoids), so it shares nothing with the implementation."""
    j = len(d)
    mean = sum(d) / j
    variance = sum((x - mean) ** 2 for x in d) / (j - 1)
    t = mean / math.sqrt((1 / j + ratio) * variance)
    df = j - 1
    norm = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))

    def density(x: float) -> float:
        return norm * (1 + x * x / df) ** (-(df + 1) / 2)

    steps, a = 200_000, abs(t)
    h = a / steps
    inside = h * (sum(density(i * h) for i in range(1, steps)) + (density(0) + density(a)) / 2)
    return t, 1 - 2 * inside


@pytest.mark.parametrize(
    ("seed", "j", "ratio"), [(0, 15, 0.25), (1, 5, 0.25), (2, 25, 1 / 9), (3, 3, 1.0)]
)
def test_matches_the_formula_written_out(seed: int, j: int, ratio: float) -> None:
    d = np.random.default_rng(seed).normal(0.02, 0.03, j)
    t, p = corrected_resampled_t(d, ratio)
    naive_t, naive_p = naive_corrected_t(d.tolist(), ratio)
    assert t == pytest.approx(naive_t, rel=1e-12)
    assert p == pytest.approx(naive_p, abs=1e-6)


def test_without_correction_it_is_the_one_sample_t_test() -> None:
    d = np.random.default_rng(5).normal(0.01, 0.02, 12)
    expected = stats.ttest_1samp(d, 0.0)
    assert corrected_resampled_t(d, 0.0) == pytest.approx((expected.statistic, expected.pvalue))


def test_the_correction_makes_the_test_more_conservative() -> None:
    d = np.random.default_rng(6).normal(0.02, 0.02, 15)
    (t0, p0), (t1, p1) = corrected_resampled_t(d, 0.0), corrected_resampled_t(d, 0.25)
    assert abs(t1) < abs(t0) and p1 > p0
    assert t1 == pytest.approx(t0 * math.sqrt((1 / 15) / (1 / 15 + 0.25)))


@pytest.mark.parametrize(
    ("d", "ratio"),
    [
        ([0.03], 0.25),  # J = 1: no variance
        ([], 0.25),  # nothing to test
        ([0.02, 0.02, 0.02], 0.25),  # zero variance, non-zero mean
        ([0.0, 0.0, 0.0, 0.0], 0.25),  # identical predictions
        ([0.01, np.nan], 0.25),  # one finite difference left
        ([0.01, 0.02, 0.04], float("nan")),  # one fold: no ratio
    ],
)
def test_undefined_cases_give_nan(d: list[float], ratio: float) -> None:
    t, p = corrected_resampled_t(np.array(d, dtype=float), ratio)
    assert math.isnan(t) and math.isnan(p)


def test_non_finite_differences_are_dropped() -> None:
    d = np.array([0.01, 0.03, np.nan, 0.02, np.inf])
    assert corrected_resampled_t(d, 0.25) == corrected_resampled_t(d[[0, 1, 3]], 0.25)


def test_leave_one_out_ratio() -> None:
    assert leave_one_out_ratio(5) == 0.25 and leave_one_out_ratio(2) == 1.0
    assert math.isnan(leave_one_out_ratio(1)) and math.isnan(leave_one_out_ratio(0))


def test_doctests() -> None:
    assert doctest.testmod(bench.report.nadeau_bengio).failed == 0
