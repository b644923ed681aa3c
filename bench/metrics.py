"""Regression metrics for valence/arousal: small pure numpy functions.

Both are computed over all given values (pooled), with population (``ddof = 0``) moments.
NaN anywhere in the input gives NaN: missing predictions are never dropped silently.
"""

from __future__ import annotations

import numpy as np


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as flat float64 arrays of the same length."""
    x = np.asarray(y_true, dtype=np.float64).ravel()
    y = np.asarray(y_pred, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"y_true has {x.size} values, y_pred {y.size}")
    return x, y


def ccc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Lin's concordance correlation coefficient.

    ``CCC = 2 s_xy / (s_x^2 + s_y^2 + (m_x - m_y)^2)`` with means ``m``, population
    variances ``s^2 = mean((x - m_x)^2)`` and covariance ``s_xy = mean((x - m_x)(y - m_y))``
    (Lin, 1989, Biometrics 45(1), 255-268). It is NaN for empty input, for NaN in the
    input, and where the denominator is 0 (both inputs constant and equal, e.g. length 1
    with ``x = y``); a constant input against a varying one gives 0.

    >>> ccc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    >>> round(ccc([1.0, 2.0, 3.0], [2.0, 3.0, 4.0]), 4)  # 2 (2/3) / (2/3 + 2/3 + 1)
    0.5714
    >>> ccc([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    0.0
    """
    x, y = _pair(y_true, y_pred)
    if x.size == 0:
        return float("nan")
    mx, my = x.mean(), y.mean()
    covariance = np.mean((x - mx) * (y - my))
    denominator = x.var() + y.var() + (mx - my) ** 2
    if denominator == 0:
        return float("nan")
    return float(2.0 * covariance / denominator)


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error, ``RMSE = sqrt(mean((x - y)^2))``; NaN for empty input.

    >>> rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])  # sqrt(4 / 3)
    1.1547005383792515
    """
    x, y = _pair(y_true, y_pred)
    if x.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((x - y) ** 2)))


def va_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """CCC and RMSE of valence (column 0) and arousal (column 1) of ``[N, 2]`` arrays.

    Keys: ``ccc_v, ccc_a, ccc_avg = (ccc_v + ccc_a) / 2, rmse_v, rmse_a``.

    >>> scores = va_scores([[1.0, 1.0], [2.0, 3.0]], [[1.0, 1.0], [2.0, 2.0]])
    >>> round(scores["ccc_avg"], 4), round(scores["rmse_a"], 4)  # (1 + 2/3) / 2, sqrt(1 / 2)
    (0.8333, 0.7071)
    """
    true = np.asarray(y_true, dtype=np.float64).reshape(-1, 2)
    pred = np.asarray(y_pred, dtype=np.float64).reshape(-1, 2)
    scores = {
        "ccc_v": ccc(true[:, 0], pred[:, 0]),
        "ccc_a": ccc(true[:, 1], pred[:, 1]),
        "rmse_v": rmse(true[:, 0], pred[:, 0]),
        "rmse_a": rmse(true[:, 1], pred[:, 1]),
    }
    scores["ccc_avg"] = 0.5 * (scores["ccc_v"] + scores["ccc_a"])
    return scores
