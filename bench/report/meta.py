"""Random-effects meta-analysis over test sessions with the Hartung-Knapp-Sidik-Jonkman test.

The bootstrap of :mod:`bench.report.bootstrap` holds the test sessions fixed. To speak for
other sessions like these, each test session (fold) ``k = 1..K`` is one study of a
random-effects meta-analysis:

    d_k = mu + u_k + e_k,    u_k ~ N(0, tau^2),    e_k ~ N(0, v_k),

with ``d_k`` the session's CCC difference (variant minus reference, averaged over seeds),
``v_k`` its within-session variance (treated as known, see :func:`session_effects`),
``tau^2`` the variance of the variant x session interaction and ``mu`` the difference
across sessions, the quantity tested. With ``w_k = 1 / (v_k + tau^2)``:

- ``mu_hat = sum_k w_k d_k / sum_k w_k``;
- ``tau^2`` by restricted maximum likelihood (REML, the default) or Paule-Mandel (PM), see
  :func:`tau2_reml` and :func:`tau2_paule_mandel`, both truncated at 0;
- the Hartung-Knapp-Sidik-Jonkman (HKSJ) variance of ``mu_hat`` rescales the model-based
  ``1 / sum_k w_k`` by the observed dispersion of the sessions,

      q = sum_k w_k (d_k - mu_hat)^2 / (K - 1),    Var_HKSJ(mu_hat) = q / sum_k w_k,

  and refers ``t = mu_hat / sqrt(Var_HKSJ)`` to Student's t with ``K - 1`` degrees of
  freedom: two-sided ``p = 2 P(T_{K-1} >= |t|)`` and the interval
  ``mu_hat +- t_{K-1, 1 - alpha/2} sqrt(Var_HKSJ)``;
- equivalence within a margin ``m`` (TOST, :func:`tost_t`) on the same footing: equivalent
  at level ``alpha`` when the ``1 - 2 alpha`` HKSJ interval lies inside ``(-m, m)``.

Because ``q`` is estimated from the sessions themselves, the test's size rests on the spread
of the ``d_k`` more than on ``v_k`` and ``tau^2`` being right (Sidik and Jonkman 2002); with
equal ``v_k`` it is exactly the one-sample t-test over the session differences (whatever
``tau^2`` is), which is exact for normal ``d_k``. The plain random-effects (DerSimonian-Laird,
normal) interval is too narrow with few studies; HKSJ holds its level far better (IntHout et
al. 2014). Sessions are treated as independent: training sets that overlap between folds
make their differences correlated, which no test here models (Nadeau and Bengio's
correction, :mod:`bench.report.nadeau_bengio`, is the heuristic for that).

Why REML, with Paule-Mandel beside it: with five sessions every ``tau^2`` estimator is
imprecise and often 0; REML is the estimator recommended for continuous outcomes (Langan et
al. 2019, Veroniki et al. 2016), and its score equation solved by Brent's method on a
bracket is as stable as PM's (no Fisher-scoring divergence, a root or the boundary 0). PM
(``method="pm"``) gives ``q = 1`` whenever ``tau^2 > 0``, so its HKSJ interval is then the
usual random-effects one with a t quantile; statsmodels implements PM with the HKSJ variance
(``combine_effects(..., method_re="iterated")``, ``var_hksj_re``) but neither REML nor the
p-values and TOST, which is why this module exists; the tests check it against statsmodels
(PM) and against metafor's published REML + Knapp-Hartung output (the BCG example).

References: J. Hartung and G. Knapp (2001), "On tests of the overall treatment effect in
meta-analysis with normally distributed responses", Statistics in Medicine 20:1771-1782;
K. Sidik and J. N. Jonkman (2002), "A simple confidence interval for meta-analysis",
Statistics in Medicine 21:3153-3159; J. IntHout, J. P. A. Ioannidis and G. F. Borm (2014),
"The Hartung-Knapp-Sidik-Jonkman method for random effects meta-analysis is
straightforward and considerably outperforms the standard DerSimonian-Laird method", BMC
Medical Research Methodology 14:25; W. Viechtbauer (2005), "Bias and efficiency of
meta-analytic variance estimators in the random-effects model", Journal of Educational and
Behavioral Statistics 30:261-293; D. Langan et al. (2019), "A comparison of heterogeneity
variance estimators in simulated random-effects meta-analyses", Research Synthesis Methods
10:83-98.

In the report it is the comparison test :data:`HKSJ` (:mod:`bench.report.comparisons`): the
verdict where the folds leave one session out (columns ``ACROSS``), never on fixed test sets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import t as student_t

from bench.errors import BenchError
from bench.report.bootstrap import DIMENSIONS, MARGIN, weighted_deltas
from bench.report.comparison import HOLM_INTERVAL, Columns, ComparisonTest, Described, Paired

TAU2_METHODS = ("reml", "pm")
ACROSS = ["re_delta", "re_ci_low", "re_ci_high", "re_se", "re_df", "re_tau2", "re_p", "re_p_tost"]


@dataclass(frozen=True)
class MetaResult:
    """One HKSJ random-effects test over sessions (all NaN where it is undefined).

    estimate: ``mu_hat``; se: the HKSJ standard error ``sqrt(q / sum w)``; tau2: the
    between-session variance; scale: ``q``; df: ``K - 1``; t, p: the statistic and its
    two-sided p-value; ci_low, ci_high: the ``confidence`` interval; p_tost: the TOST p-value
    of equivalence within ``(-margin, margin)``; n_sessions: ``K``, the sessions used.
    """

    estimate: float
    se: float
    tau2: float
    scale: float
    df: int
    t: float
    p: float
    ci_low: float
    ci_high: float
    p_tost: float
    n_sessions: int


def _weighted_mean(d: np.ndarray, w: np.ndarray) -> float:
    """``sum w d / sum w``."""
    return float(w @ d / w.sum())


def _generalised_q(d: np.ndarray, v: np.ndarray, tau2: float) -> float:
    """``Q(tau^2) = sum_k w_k (d_k - mu_hat)^2`` with ``w_k = 1 / (v_k + tau^2)``."""
    w = 1.0 / (v + tau2)
    return float(w @ (d - _weighted_mean(d, w)) ** 2)


def _reml_score(d: np.ndarray, v: np.ndarray, tau2: float) -> float:
    """Twice the derivative of the restricted log-likelihood in ``tau^2``:
    ``sum w^2 (d - mu_hat)^2 - sum w + sum w^2 / sum w``."""
    w = 1.0 / (v + tau2)
    w2 = w * w
    return float(w2 @ (d - _weighted_mean(d, w)) ** 2 - w.sum() + w2.sum() / w.sum())


def _root_above_zero(f: Callable[[float], float], d: np.ndarray, v: np.ndarray) -> float:
    """The root of a function of ``tau^2`` that is positive at 0 and negative far out:
    Brent's method on ``[0, hi]``, ``hi`` doubled from the larger of the raw variance of
    ``d`` and the largest ``v`` until ``f(hi) < 0`` (both score functions here are negative
    beyond ``tau^2 = sum (d - mean d)^2 / (K - 1)``, so the doubling ends)."""
    scale = max(float(np.var(d, ddof=1)), float(v.max()))
    hi = scale
    while f(hi) >= 0:
        hi *= 2.0
    return float(brentq(f, 0.0, hi, xtol=1e-12 * scale, rtol=1e-12))


def tau2_reml(d: np.ndarray, v: np.ndarray) -> float:
    """REML estimate of ``tau^2``: the root of the restricted likelihood's score,

        sum_k w_k^2 (d_k - mu_hat)^2 = sum_k w_k - sum_k w_k^2 / sum_k w_k,

    with ``w_k = 1 / (v_k + tau^2)`` (Viechtbauer 2005), or 0 where the score is not
    positive at 0 (the likelihood falls from the boundary). metafor solves the same equation
    by Fisher scoring; Brent's method on a bracket needs no step control. Where the
    likelihood had several local maxima the root found is one of them (none seen here).

    >>> d, v = np.array([0.02, 0.04, 0.03, 0.05, 0.01]), np.full(5, 1e-4)
    >>> round(tau2_reml(d, v), 10)  # equal v: the sample variance minus v, 2.5e-4 - 1e-4
    0.00015
    """
    if _reml_score(d, v, 0.0) <= 0:
        return 0.0
    return _root_above_zero(lambda tau2: _reml_score(d, v, tau2), d, v)


def tau2_paule_mandel(d: np.ndarray, v: np.ndarray) -> float:
    """Paule-Mandel estimate of ``tau^2``: the root of ``Q(tau^2) = K - 1`` (``Q`` falls
    strictly in ``tau^2``, so the root is unique), or 0 where ``Q(0) <= K - 1``.

    >>> d, v = np.array([0.02, 0.04, 0.03, 0.05, 0.01]), np.full(5, 1e-4)
    >>> round(tau2_paule_mandel(d, v), 10)  # equal v: the same as REML
    0.00015
    """
    target = d.size - 1
    if _generalised_q(d, v, 0.0) <= target:
        return 0.0
    return _root_above_zero(lambda tau2: _generalised_q(d, v, tau2) - target, d, v)


def tost_t(estimate: float, se: float, df: float, margin: float) -> float:
    """TOST p-value of equivalence within ``(-margin, margin)`` for a t statistic:
    ``p_lower = P(T_df >= (estimate + margin) / se)`` (against ``H0: mu <= -margin``),
    ``p_upper = P(T_df <= (estimate - margin) / se)`` (against ``H0: mu >= margin``),
    ``p_TOST = max(p_lower, p_upper)``. ``p_TOST < alpha`` exactly when
    ``estimate +- t_{df, 1 - alpha} se`` (the ``1 - 2 alpha`` interval) lies inside.

    >>> round(tost_t(0.0, 0.01, 4, 0.02), 4)  # t = 2 on each side, df 4
    0.0581
    """
    lower = student_t.sf((estimate + margin) / se, df)
    upper = student_t.cdf((estimate - margin) / se, df)
    return float(max(lower, upper))


def random_effects_hksj(
    d: np.ndarray,
    v: np.ndarray,
    margin: float = MARGIN,
    method: str = "reml",
    confidence: float = 0.95,
) -> MetaResult:
    """The HKSJ random-effects test of ``mu = 0`` and its TOST (see the module docstring).

    Args:
        d: per session, the difference ``d_k`` (variant minus reference).
        v: per session, its within-session variance ``v_k`` (>= 0).
        margin: the equivalence margin of the TOST (CCC units).
        method: the ``tau^2`` estimator, ``reml`` or ``pm`` (Paule-Mandel).
        confidence: coverage of the two-sided interval.

    Sessions whose ``d_k`` or ``v_k`` is not finite are left out (an undefined CCC). The
    result is NaN (``n_sessions`` still counted) with fewer than two sessions left, where a
    ``v_k`` is 0 (identical predictions: a weight without bound at ``tau^2 = 0``), or where
    every ``d_k`` is equal (no spread: ``q = 0``).

    Raises:
        BenchError: ``d`` and ``v`` differ in length, a ``v_k`` is negative, or ``method``
            is not one of ``TAU2_METHODS``.

    >>> r = random_effects_hksj(np.array([0.02, 0.04, 0.03, 0.05, 0.01]), np.full(5, 1e-4))
    >>> # equal v: the one-sample t-test, t = 0.03 / sqrt(2.5e-4 / 5) on 4 df
    >>> round(r.estimate, 4), round(r.t, 4), round(r.p, 4), r.df
    (0.03, 4.2426, 0.0132, 4)
    """
    if method not in TAU2_METHODS:
        raise BenchError(f"meta-analysis: tau^2 method {method!r} is not one of {TAU2_METHODS}")
    d, v = np.asarray(d, dtype=float), np.asarray(v, dtype=float)
    if d.shape != v.shape or d.ndim != 1:
        raise BenchError(f"meta-analysis: {d.size} session differences but {v.size} variances")
    if (v < 0).any():
        raise BenchError(f"meta-analysis: a within-session variance is negative: {v.tolist()}")
    keep = np.isfinite(d) & np.isfinite(v)
    d, v = d[keep], v[keep]
    k = int(d.size)
    undefined = MetaResult(*(math.nan,) * 4, k - 1, *(math.nan,) * 5, k)
    if k < 2 or np.ptp(d) == 0 or not v.all():
        return undefined
    tau2 = (tau2_reml if method == "reml" else tau2_paule_mandel)(d, v)
    w = 1.0 / (v + tau2)
    estimate = _weighted_mean(d, w)
    scale = _generalised_q(d, v, tau2) / (k - 1)
    se = math.sqrt(scale / w.sum())
    t = estimate / se
    half = float(student_t.isf((1 - confidence) / 2, k - 1)) * se
    return MetaResult(
        estimate=estimate, se=se, tau2=tau2, scale=scale, df=k - 1, t=t,
        p=float(2 * student_t.sf(abs(t), k - 1)), ci_low=estimate - half,
        ci_high=estimate + half, p_tost=tost_t(estimate, se, k - 1, margin), n_sessions=k,
    )  # fmt: skip


def pooled_seed_variance(folds: list[np.ndarray]) -> np.ndarray:
    """``s_seed^2 = sum_k sum_s (Delta_ks - d_k)^2 / sum_k (S_k - 1)`` per dimension (v, a,
    avg), the seed variance that :func:`session_effects` divides by ``S_k``: ``Delta_ks`` is
    seed ``s``'s difference on session ``k``'s whole test set, ``d_k`` their mean. NaN where
    no session has two seeds. Input: the bootstrap's per-fold moment arrays."""
    squares, dof = np.zeros(len(DIMENSIONS)), 0
    for fold in folds:
        deltas = weighted_deltas(fold, np.ones((1, fold.shape[0])))[0]  # [S, 3]
        squares += ((deltas - deltas.mean(axis=0)) ** 2).sum(axis=0)
        dof += fold.shape[1] - 1
    return squares / dof if dof else np.full(len(DIMENSIONS), math.nan)


def session_effects(folds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per session, the seed-averaged difference ``d_k`` and its within-session variance.

    Input: the bootstrap's per-fold arrays ``[D_k dialogs, S_k seeds, 2 (variant, reference),
    2 (valence, arousal), 6 moments]``. Per fold, with ``Delta_ks`` seed ``s``'s difference on
    the whole test set (the trial deltas of :func:`bench.report.bootstrap.paired_bootstrap`)
    and ``theta_k(i)`` the seed-averaged difference without test dialog ``i``:

    - ``d_k = mean_s Delta_ks``;
    - ``v_k = s_seed^2 / S_k + (D_k - 1) / D_k * sum_i (theta_k(i) - mean_i theta_k(i))^2``:
      the training-seed variance of a mean of ``S_k`` seeds plus the delete-one-dialog
      jackknife variance over the test dialogs.

    ``s_seed^2`` is the seed variance pooled over sessions,
    ``sum_k sum_s (Delta_ks - d_k)^2 / sum_k (S_k - 1)`` (0 where no session has two seeds):
    both variants are the same recipes in every session, and one session's 1 to 4 degrees of
    freedom would make its weight noise. Weights that vary for no reason in the data make
    the HKSJ test anti-conservative (its variance estimate assumes the weights right): with
    per-session seed variances it rejected 7.8-8.3% of true nulls with 2-3 seeds on the
    calibration grids (``benchmarks/calibration.py``, development seed 0), pooled 4.2-5.7%.
    The seed-by-dialog part of the variance is in both terms, so ``v_k`` errs high, which
    moves weight from ``tau^2`` to ``v_k`` and leaves the scale ``q`` to say how far the
    sessions really spread.

    Returns:
        ``d`` and ``v``, each ``[K, 3]`` (v, a, avg as in ``DIMENSIONS``), in fold order.
    """
    d, jackknife = np.empty((len(folds), len(DIMENSIONS))), np.empty((len(folds), len(DIMENSIONS)))
    seeds = np.array([fold.shape[1] for fold in folds])
    for k, fold in enumerate(folds):
        n_dialogs = fold.shape[0]
        d[k] = weighted_deltas(fold, np.ones((1, n_dialogs)))[0].mean(axis=0)  # [3]
        theta = weighted_deltas(fold, 1.0 - np.eye(n_dialogs)).mean(axis=1)  # [D, 3] leave one out
        jackknife[k] = (n_dialogs - 1) / n_dialogs * ((theta - theta.mean(axis=0)) ** 2).sum(0)
    seed_variance = np.nan_to_num(pooled_seed_variance(folds), nan=0.0)  # 0 with one seed
    return d, seed_variance / seeds[:, None] + jackknife


def hksj_columns(paired: Paired) -> Columns:
    """The ``ACROSS`` columns of one comparison: the HKSJ test (REML ``tau^2``) of
    :func:`session_effects` over its test sessions, per dimension."""
    d, v = session_effects(paired.folds)  # [K, 3] each
    out = {}
    for j, dimension in enumerate(DIMENSIONS):
        r = random_effects_hksj(d[:, j], v[:, j], margin=paired.margin)
        values = (r.estimate, r.ci_low, r.ci_high, r.se, r.df, r.tau2, r.p, r.p_tost)
        out[dimension] = dict(zip(ACROSS, values, strict=True))
    return out


def _legend(report: Described) -> str:
    """The legend's sentence on the verdict test: the model, what it covers, its calibration
    and the interval beside the verdict."""
    return (
        "Verdict test, across sessions: a random-effects meta-analysis over the test "
        "sessions with the Hartung-Knapp-Sidik-Jonkman adjustment (each session's "
        "seed-averaged difference weighted by its within-session variance, REML tau^2, "
        "Student's t with sessions - 1 degrees of freedom). It covers other sessions like "
        "these, and held its type-I error within 2.5-7.5% in every scenario of the "
        "calibration (docs/calibration.md). {Delta}CCC-avg: its estimate of the difference "
        f"across sessions, variant minus {report.reference}, {HOLM_INTERVAL}."
    )


def _terminal(report: Described) -> str:
    """The terminal's words: the test and what it covers."""
    return (
        "HKSJ random-effects test over the test sessions (REML tau^2): across sessions, other "
        "sessions like these"
    )


HKSJ = ComparisonTest(
    name="HKSJ",
    scopes={"resampled": "across sessions"},
    columns=tuple(ACROSS),
    compute=hksj_columns,
    legend=_legend,
    terminal=_terminal,
    p="re_p",
    p_tost="re_p_tost",
    delta="re_delta",
    se="re_se",
    df="re_df",
)
