"""bench.metrics against naive implementations of the equations, on edge cases."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import bench.metrics
from bench.metrics import ccc, rmse, va_scores


def naive_ccc(x: list[float], y: list[float]) -> float:
    """Lin's CCC written out with Python loops and population moments."""
    n = len(x)
    if n == 0:
        return math.nan
    mx, my = sum(x) / n, sum(y) / n
    vx = sum((a - mx) ** 2 for a in x) / n
    vy = sum((b - my) ** 2 for b in y) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / n
    denominator = vx + vy + (mx - my) ** 2
    return math.nan if denominator == 0 else 2 * cov / denominator


def naive_rmse(x: list[float], y: list[float]) -> float:
    if not x:
        return math.nan
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(x, y, strict=True)) / len(x))


CASES = {
    "random": (list(np.random.default_rng(0).normal(size=50)), list(np.arange(50.0) / 7)),
    "identical": ([0.1, 0.5, 0.9], [0.1, 0.5, 0.9]),
    "negated": ([1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]),
    "shifted": ([1.0, 2.0, 3.0], [3.0, 4.0, 5.0]),
    "constant_true": ([2.0, 2.0, 2.0], [1.0, 2.0, 4.0]),
    "constant_pred": ([1.0, 2.0, 4.0], [3.0, 3.0, 3.0]),
    "constant_both_differ": ([1.0, 1.0], [2.0, 2.0]),
    "length_1_differ": ([1.0], [3.0]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ccc_and_rmse_match_naive_equations(name: str) -> None:
    x, y = CASES[name]
    assert ccc(x, y) == pytest.approx(naive_ccc(x, y), abs=1e-12)
    assert rmse(x, y) == pytest.approx(naive_rmse(x, y), abs=1e-12)


def test_known_values() -> None:
    assert ccc([1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]) == pytest.approx(-1 / 13)  # -4/3 / (52/3)
    assert ccc([2.0, 2.0, 2.0], [1.0, 2.0, 4.0]) == 0.0
    assert ccc([1.0], [3.0]) == 0.0


@pytest.mark.parametrize(
    ("x", "y"),
    [([], []), ([1.0, 1.0], [1.0, 1.0]), ([2.0], [2.0]), ([1.0, math.nan], [1.0, 2.0])],
    ids=["empty", "constant_equal", "length_1_equal", "nan"],
)
def test_ccc_is_nan_where_undefined(x: list[float], y: list[float]) -> None:
    assert math.isnan(ccc(x, y))


def test_rmse_edge_cases() -> None:
    assert math.isnan(rmse([], []))
    assert math.isnan(rmse([1.0, 2.0], [math.nan, 2.0]))
    assert rmse([2.0], [5.0]) == 3.0


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="3 values"):
        ccc([1.0, 2.0, 3.0], [1.0, 2.0])


def test_va_scores_columns() -> None:
    rng = np.random.default_rng(1)
    true, pred = rng.random((40, 2)), rng.random((40, 2))
    scores = va_scores(true, pred)
    assert scores["ccc_v"] == pytest.approx(naive_ccc(list(true[:, 0]), list(pred[:, 0])))
    assert scores["ccc_a"] == pytest.approx(naive_ccc(list(true[:, 1]), list(pred[:, 1])))
    assert scores["ccc_avg"] == pytest.approx((scores["ccc_v"] + scores["ccc_a"]) / 2)
    assert scores["rmse_a"] == pytest.approx(naive_rmse(list(true[:, 1]), list(pred[:, 1])))


def test_doctests() -> None:
    result = doctest.testmod(bench.metrics)
    assert result.attempted > 0
    assert result.failed == 0
