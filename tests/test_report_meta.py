"""The HKSJ random-effects test over sessions against published numbers, statsmodels and the
formulas written out; its inputs from a grid against per-trial CCCs computed directly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.stats.meta_analysis import combine_effects

from bench.errors import BenchError
from bench.metrics import ccc
from bench.report.bootstrap import paired_bootstrap
from bench.report.meta import (
    random_effects_hksj,
    session_effects,
    tau2_paule_mandel,
    tau2_reml,
    tost_t,
)
from bench.report.nadeau_bengio import leave_one_out_ratio
from bench.testing.fabricate import Components, fabricate_grid, fold_arrays, predictions_frame

# BCG vaccine trials (Colditz et al. 1994; metafor's dat.bcg): tpos, tneg, cpos, cneg
BCG = np.array([
    [4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209], [62, 13536, 248, 12619],
    [33, 5036, 47, 5761], [180, 1361, 372, 1079], [8, 2537, 10, 619], [505, 87886, 499, 87892],
    [29, 7470, 45, 7232], [17, 1699, 65, 1600], [186, 50448, 141, 27197], [5, 2493, 3, 2338],
    [27, 16886, 29, 17825],
])  # fmt: skip
# Kacker (2004), as statsmodels' own meta-analysis tests use it
KACKER_Y = np.array([61.0, 61.4, 62.21, 62.3, 62.34, 62.6, 62.7, 62.84, 65.9])
KACKER_V = np.array([0.2025, 1.21, 0.09, 0.2025, 0.3844, 0.5625, 0.0676, 0.0225, 1.8225])


def bcg_log_risk_ratios() -> tuple[np.ndarray, np.ndarray]:
    """metafor's ``escalc(measure="RR")``: ``log((a / (a + b)) / (c / (c + d)))`` and its
    variance ``1/a - 1/(a + b) + 1/c - 1/(c + d)``."""
    a, b, c, d = BCG.T.astype(float)
    return np.log(a / (a + b) / (c / (c + d))), 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)


def test_reml_with_knapp_hartung_matches_metafors_published_bcg_example() -> None:
    # metafor's README: rma(yi, vi, data=dat, test="knha"), REML; printed to 4 decimals
    y, v = bcg_log_risk_ratios()
    r = random_effects_hksj(y, v, method="reml")
    assert round(r.tau2, 4) == 0.3132
    assert (round(r.estimate, 4), round(r.se, 4), round(r.t, 4)) == (-0.7145, 0.1808, -3.9522)
    assert (r.df, round(r.p, 4)) == (12, 0.0019)
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (-1.1084, -0.3206)


@pytest.mark.parametrize("seed", [None, 0, 1, 2, 3])
def test_paule_mandel_hksj_equals_statsmodels(seed: int | None) -> None:
    if seed is None:
        y, v = KACKER_Y, KACKER_V
    else:
        rng = np.random.default_rng(seed)
        y = rng.normal(0.01, 0.02, 5) + rng.normal(0, 0.02, 5)
        v = rng.uniform(1e-4, 6e-4, 5)
    r = random_effects_hksj(y, v, method="pm")
    # The Paule-Mandel equation itself: the generalised Q at tau^2 is k - 1, or tau^2 = 0
    # where Q(0) is at most k - 1. (statsmodels 0.15's iterated estimator returns 0 for seed 0
    # when asked for atol=1e-13, though Q(0) = 10.8 > 4; its default tolerance is right.)
    k = len(y)
    if generalised_q(y, v, 0.0) <= k - 1:
        assert r.tau2 == 0.0
    else:
        assert generalised_q(y, v, r.tau2) == pytest.approx(k - 1, rel=1e-9)
    expected = combine_effects(y, v, method_re="iterated", use_t=True)
    assert r.tau2 == pytest.approx(expected.tau2, rel=1e-5, abs=1e-12)
    assert r.estimate == pytest.approx(expected.mean_effect_re, rel=1e-6)
    assert r.se == pytest.approx(math.sqrt(expected.var_hksj_re), rel=1e-5)
    low, high = expected.conf_int(use_t=True)[3]  # random effects, HKSJ scale
    assert (r.ci_low, r.ci_high) == pytest.approx((low, high), rel=1e-5)


def generalised_q(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    """Q(tau^2) = sum_k w_k (y_k - mu_w)^2 with w_k = 1 / (v_k + tau^2), mu_w the w-mean."""
    w = 1.0 / (v + tau2)
    mu = float(np.sum(w * y) / np.sum(w))
    return float(np.sum(w * (y - mu) ** 2))


def naive_reml_hksj(y: list[float], v: list[float]) -> tuple[float, float, float]:
    """tau^2 maximising the restricted log-likelihood, written out, by a bounded scalar
    search; then mu_hat and the HKSJ standard error in plain Python."""

    def weights(tau2: float) -> list[float]:
        return [1 / (vi + tau2) for vi in v]

    def minus_restricted_loglik(tau2: float) -> float:
        w = weights(tau2)
        mu = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / sum(w)
        quad = sum(wi * (yi - mu) ** 2 for wi, yi in zip(w, y, strict=True))
        return 0.5 * (sum(math.log(vi + tau2) for vi in v) + math.log(sum(w)) + quad)

    top = 10 * max(max(v), np.var(y, ddof=1))
    found = optimize.minimize_scalar(
        minus_restricted_loglik, bounds=(0, top), method="bounded", options={"xatol": 1e-14}
    )
    tau2 = found.x if found.fun < minus_restricted_loglik(0.0) else 0.0
    w = weights(tau2)
    mu = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / sum(w)
    q = sum(wi * (yi - mu) ** 2 for wi, yi in zip(w, y, strict=True)) / (len(y) - 1)
    return tau2, mu, math.sqrt(q / sum(w))


@pytest.mark.parametrize("seed", range(6))
def test_reml_matches_the_likelihood_maximised_directly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 9))
    v = rng.uniform(1e-4, 8e-4, k)
    y = rng.normal(0.0, 0.02, k) + rng.normal(0, np.sqrt(v))
    tau2, mu, se = naive_reml_hksj(y.tolist(), v.tolist())
    r = random_effects_hksj(y, v)
    assert r.tau2 == pytest.approx(tau2, rel=1e-5, abs=1e-10)
    assert (r.estimate, r.se) == pytest.approx((mu, se), rel=1e-5)


@pytest.mark.parametrize(("spread", "method"), [(0.005, "reml"), (0.03, "reml"), (0.03, "pm")])
def test_with_equal_variances_it_is_the_one_sample_t_test(spread: float, method: str) -> None:
    # spread 0.005: tau^2 = 0; 0.03: tau^2 > 0; q rescales either way
    d = np.random.default_rng(7).normal(0.01, spread, 6)
    r = random_effects_hksj(d, np.full(6, 1e-4), method=method)
    expected = stats.ttest_1samp(d, 0.0)
    assert (r.tau2 == 0) == (spread == 0.005)
    assert (r.t, r.p) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-9)


def test_tost_says_equivalent_exactly_when_the_90_percent_interval_is_inside() -> None:
    d = np.array([0.004, -0.002, 0.006, 0.001, 0.003])
    v = np.full(5, 4e-5)
    r90 = random_effects_hksj(d, v, confidence=0.90)
    edge = max(abs(r90.ci_low), abs(r90.ci_high))  # the interval touches the margin
    assert random_effects_hksj(d, v, margin=edge).p_tost == pytest.approx(0.05, rel=1e-9)
    assert random_effects_hksj(d, v, margin=edge * 1.01).p_tost < 0.05
    assert random_effects_hksj(d, v, margin=edge * 0.99).p_tost > 0.05
    assert tost_t(0.0, 0.01, 4, 0.02) == pytest.approx(stats.t.sf(2.0, 4))


def test_undefined_and_dropped_sessions() -> None:
    d, v = np.array([0.01, 0.03, -0.01, 0.02]), np.array([1e-4, 2e-4, 1e-4, 3e-4])
    assert math.isnan(random_effects_hksj(d[:1], v[:1]).p)  # one session
    assert math.isnan(random_effects_hksj(np.full(4, 0.01), v).p)  # no spread
    assert math.isnan(random_effects_hksj(d, np.array([1e-4, 0.0, 1e-4, 1e-4])).p)  # v_k = 0
    with_nan = random_effects_hksj(np.append(d, np.nan), np.append(v, 1e-4))
    assert with_nan == random_effects_hksj(d, v) and with_nan.n_sessions == 4


@pytest.mark.parametrize(
    ("d", "v", "method", "message"),
    [
        ([0.1, 0.2], [1e-4], "reml", "2 session differences but 1 variances"),
        ([0.1, 0.2], [1e-4, -1e-4], "reml", "negative"),
        ([0.1, 0.2], [1e-4, 1e-4], "dl", "not one of"),
    ],
)
def test_bad_input_is_one_clear_error(d: list, v: list, method: str, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        random_effects_hksj(np.array(d), np.array(v), method=method)


def test_both_estimators_are_zero_without_excess_spread_and_agree_with_equal_v() -> None:
    d, v = np.array([0.01, 0.011, 0.009]), np.full(3, 1e-4)
    assert tau2_reml(d, v) == tau2_paule_mandel(d, v) == 0.0
    d, v = np.array([0.0, 0.05, -0.04, 0.02]), np.full(4, 1e-4)
    assert tau2_reml(d, v) == pytest.approx(tau2_paule_mandel(d, v)) == np.var(d, ddof=1) - 1e-4


def naive_session_effects(frame, folds: int) -> tuple[np.ndarray, np.ndarray]:
    """d_k and v_k of CCC-avg from stored predictions with bench.metrics.ccc: per trial CCC,
    the pooled seed variance, the jackknife over dialogs by dropping them from the frame."""

    def avg_delta(rows) -> float:
        out = []
        for name in ("variant", "reference"):
            side = rows[rows["variant"] == name]
            out.append(np.mean([ccc(side[f"{dim}_true"], side[f"{dim}_pred"])
                                for dim in ("valence", "arousal")]))  # fmt: skip
        return out[0] - out[1]

    d, jackknife, squares, dof, seeds = [], [], 0.0, 0, []
    for fold in range(1, folds + 1):
        rows = frame[frame["fold"] == fold]
        per_seed = [avg_delta(rows[rows["seed"] == s]) for s in sorted(rows["seed"].unique())]
        d.append(np.mean(per_seed))
        squares += sum((x - d[-1]) ** 2 for x in per_seed)
        dof += len(per_seed) - 1
        seeds.append(len(per_seed))
        dialogs = sorted(rows["dialog"].unique())
        theta = [
            np.mean([avg_delta(rows[(rows["dialog"] != out) & (rows["seed"] == s)])
                     for s in sorted(rows["seed"].unique())])
            for out in dialogs
        ]  # fmt: skip
        n = len(dialogs)
        jackknife.append((n - 1) / n * sum((t - np.mean(theta)) ** 2 for t in theta))
    seed_variance = squares / dof if dof else 0.0  # one seed everywhere: none to pool
    return np.array(d), seed_variance / np.array(seeds) + np.array(jackknife)


def test_session_effects_match_per_trial_cccs_computed_directly() -> None:
    c = Components(folds=3, seeds=3, dialogs=5, utterances=6, seed_sd=0.02, tau=0.02)
    grid = fabricate_grid(c, 0.02, np.random.default_rng(3))
    folds = fold_arrays(grid)
    d, v = session_effects(folds)
    naive_d, naive_v = naive_session_effects(predictions_frame(grid), c.folds)
    assert d[:, 2] == pytest.approx(naive_d, rel=1e-9)
    assert v[:, 2] == pytest.approx(naive_v, rel=1e-7)
    trial_deltas = paired_bootstrap(folds, 10, np.random.default_rng(0)).trial_deltas
    assert d == pytest.approx(trial_deltas.reshape(c.folds, c.seeds, 3).mean(axis=1))


def test_one_seed_leaves_only_the_jackknife() -> None:
    c = Components(folds=2, seeds=1, dialogs=4, utterances=5)
    grid = fabricate_grid(c, 0.0, np.random.default_rng(1))
    d, v = session_effects(fold_arrays(grid))
    naive_d, naive_v = naive_session_effects(predictions_frame(grid), c.folds)
    assert (v[:, 2] > 0).all() and v[:, 2] == pytest.approx(naive_v, rel=1e-7)
    assert d[:, 2] == pytest.approx(naive_d, rel=1e-9)


def test_the_real_test_train_ratio_holds_out_the_validation_sessions() -> None:
    assert leave_one_out_ratio(5, validation_units=1) == pytest.approx(1 / 3)
    assert leave_one_out_ratio(6, validation_units=1) == pytest.approx(1 / 4)
    assert math.isnan(leave_one_out_ratio(2, validation_units=1))
    assert leave_one_out_ratio(5) == 0.25  # the report's ratio today, unchanged
