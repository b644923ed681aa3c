"""Paired hierarchical bootstrap of the CCC difference between a variant and the reference.

Notation. Fold ``k`` (one test session, a fixed stratum) has test dialogs ``d = 1..D_k`` and
the seeds ``s = 1..S_k`` that both variants have finished. A trial's CCC is pooled over
its fold's test utterances, so the statistic is

    Delta = (1 / sum_k S_k) * sum_k sum_s [CCC_var(k, s) - CCC_ref(k, s)]

for valence and arousal, and ``Delta_avg = (Delta_v + Delta_a) / 2``: the mean over the
paired trials of the per-trial CCC differences (what the tables show).

One bootstrap replicate ``b``, for every fold ``k`` independently:

1. draw ``D_k`` dialogs of the fold with replacement (utterances stay with their dialog);
   the same draw serves both variants and every seed, which keeps the comparison paired;
2. draw ``S_k`` of the fold's seeds with replacement (each (fold, seed) trial is its own
   training run, so seeds are resampled within the fold);
3. for every drawn seed, recompute both variants' pooled CCC on the drawn dialogs (a dialog
   drawn twice counts twice) and take the difference.

``Delta*_b`` is then the same mean over all drawn (fold, seed) trials. With ``B`` replicates
(those whose CCC is undefined, e.g. constant labels in every drawn dialog, are dropped):

- the 95% CI is the percentile interval ``[q_0.025, q_0.975]`` of ``Delta*``;
- the two-sided p-value inverts that percentile interval (the smallest level at which the
  interval excludes 0), with the usual +1 so that it is never 0:
  ``p = min(1, 2 * min(1 + #{Delta* <= 0}, 1 + #{Delta* >= 0}) / (B + 1))``;
- equivalence within a declared margin ``delta`` (the smallest effect of interest) is two
  one-sided tests (TOST) on the same replicates, ``H0: Delta <= -delta`` and
  ``H0: Delta >= delta``: ``p_lower = (1 + #{Delta* <= -delta}) / (B + 1)``,
  ``p_upper = (1 + #{Delta* >= delta}) / (B + 1)`` and ``p_TOST = max(p_lower, p_upper)``
  (see :func:`tost_p`). ``p_TOST < alpha`` says the ``1 - 2 alpha`` percentile interval
  lies inside ``(-delta, delta)``; a large two-sided ``p`` alone never does.

A trial's CCC is recomputed from per-dialog sufficient statistics (count, sums, sums of
squares and cross products), so a replicate costs one matrix product per fold instead of
a pass over the utterances.

In the report it is the comparison test :data:`BOOTSTRAP` (:mod:`bench.report.comparisons`):
secondary on every fold kind, with its own verdict in ``bootstrap_verdict``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.report.comparison import Columns, ComparisonTest, Described, Paired

DIMENSIONS = ("v", "a", "avg")
MOMENTS = 6  # n, sum t, sum p, sum t^2, sum p^2, sum t*p
CHUNK = 1000  # replicates drawn at a time, to bound memory on corpora with many dialogs
MARGIN = 0.02  # default smallest CCC difference of interest, the equivalence margin


@dataclass(frozen=True)
class BootstrapResult:
    """Per dimension (v, a, avg): estimate, percentile CI, two-sided p, TOST p, valid
    replicates; and the per-trial differences the estimate averages."""

    estimate: np.ndarray  # [3]
    ci_low: np.ndarray  # [3]
    ci_high: np.ndarray  # [3]
    p_value: np.ndarray  # [3]
    p_tost: np.ndarray  # [3] equivalence within the margin (TOST)
    n_valid: np.ndarray  # [3] replicates with a defined CCC
    trial_deltas: np.ndarray  # [J, 3] per paired (fold, seed) trial: variant - reference


def moments(true: np.ndarray, pred: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Sufficient statistics of CCC per group: ``[n_groups, 6]`` (n, St, Sp, Stt, Spp, Stp).

    ``groups`` holds integer codes ``0 .. n_groups - 1``. Centre ``true`` and ``pred`` by one
    common constant first for accuracy: CCC does not change when both are shifted alike.
    """
    columns = [np.ones_like(true), true, pred, true * true, pred * pred, true * pred]
    return np.stack(
        [np.bincount(groups, weights=c, minlength=n_groups) for c in columns], axis=-1
    )  # [n_groups, 6]


def ccc_from_moments(m: np.ndarray) -> np.ndarray:
    """Lin's CCC from summed moments ``[..., 6]`` (the formula of :func:`bench.metrics.ccc`).

    With ``m_t = St / n``, ``s_t^2 = Stt / n - m_t^2`` (and alike for p) and
    ``s_tp = Stp / n - m_t m_p``: ``CCC = 2 s_tp / (s_t^2 + s_p^2 + (m_t - m_p)^2)``;
    NaN where ``n`` or the denominator is 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        n = m[..., 0]
        mt, mp = m[..., 1] / n, m[..., 2] / n
        vt, vp = m[..., 3] / n - mt**2, m[..., 4] / n - mp**2
        cov = m[..., 5] / n - mt * mp
        denominator = vt + vp + (mt - mp) ** 2
        return np.where(denominator > 0, 2.0 * cov / denominator, np.nan)


def weighted_deltas(fold: np.ndarray, dialog_counts: np.ndarray) -> np.ndarray:
    """Per drawn dialog multiset ``[B, D]``, the per-seed CCC differences ``[B, S, 3]``."""
    pooled = np.einsum("bd,dsvjm->bsvjm", dialog_counts, fold)  # [B, S, 2, 2, 6]
    scores = ccc_from_moments(pooled)  # [B, S, 2 variants, 2 dims]
    delta = scores[:, :, 0] - scores[:, :, 1]  # [B, S, 2] variant - reference
    return np.concatenate([delta, delta.mean(axis=-1, keepdims=True)], axis=-1)  # [B, S, 3]


def trial_deltas(folds: list[np.ndarray]) -> np.ndarray:
    """Per paired (fold, seed) trial, in fold then seed order, its CCC difference (variant
    minus reference) on the fold's whole test set: ``[J, 3]`` (v, a, avg)."""
    per_fold = [weighted_deltas(f, np.ones((1, f.shape[0])))[0] for f in folds]  # [S_k, 3] each
    return np.concatenate(per_fold)


def _replicates(folds: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``Delta*`` of ``n_boot`` hierarchical replicates: ``[n_boot, 3]``."""
    n_trials = sum(f.shape[1] for f in folds)
    out = []
    for start in range(0, n_boot, CHUNK):
        size = min(CHUNK, n_boot - start)
        total = np.zeros((size, len(DIMENSIONS)))
        for fold in folds:
            n_dialogs, n_seeds = fold.shape[:2]
            dialogs = rng.multinomial(n_dialogs, np.full(n_dialogs, 1 / n_dialogs), size)
            seeds = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size)  # [B, S]
            total += np.einsum("bs,bsj->bj", seeds, weighted_deltas(fold, dialogs))
        out.append(total / n_trials)
    return np.concatenate(out)


def percentile_summary(
    replicates: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float, int]:
    """Percentile CI, two-sided p and count of the finite replicates of one statistic.

    ``p = min(1, 2 * min(1 + #{r <= 0}, 1 + #{r >= 0}) / (B + 1))``; all NaN without any
    finite replicate.

    >>> low, high, p, n = percentile_summary(np.arange(1.0, 100.0))  # 99 replicates, all > 0
    >>> round(low, 2), round(high, 2), p, n  # p = 2 * (0 + 1) / (99 + 1)
    (3.45, 96.55, 0.02, 99)
    """
    r = replicates[np.isfinite(replicates)]
    if r.size == 0:
        return np.nan, np.nan, np.nan, 0
    tail = (1 - confidence) / 2
    low, high = np.quantile(r, [tail, 1 - tail])
    extreme = min(np.sum(r <= 0), np.sum(r >= 0)) + 1
    return float(low), float(high), float(min(1.0, 2 * extreme / (r.size + 1))), int(r.size)


def tost_p(replicates: np.ndarray, margin: float) -> float:
    """TOST p-value of equivalence within ``(-margin, margin)`` from bootstrap replicates.

    With the ``B`` finite replicates ``Delta*``:
    ``p_lower = (1 + #{Delta* <= -margin}) / (B + 1)`` (against ``H0: Delta <= -margin``),
    ``p_upper = (1 + #{Delta* >= margin}) / (B + 1)`` (against ``H0: Delta >= margin``) and
    ``p_TOST = max(p_lower, p_upper)``. At level ``alpha`` it rejects both null hypotheses,
    and so declares equivalence, when on each side fewer than ``alpha (B + 1) - 1``
    replicates reach the margin: the ``1 - 2 alpha`` percentile interval (90% at
    ``alpha = 0.05``) lies inside ``(-margin, margin)``, up to the quantile's interpolation.
    NaN without a finite replicate.

    >>> r = np.array([-0.03, -0.01, 0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, np.nan])
    >>> # B = 9; one replicate <= -0.02, three >= 0.02: max(2 / 10, 4 / 10)
    >>> float(tost_p(r, margin=0.02))
    0.4
    >>> float(tost_p(r, margin=0.05))  # every replicate inside: 1 / (B + 1)
    0.1
    """
    r = replicates[np.isfinite(replicates)]
    if r.size == 0:
        return np.nan
    p_lower = (1 + np.sum(r <= -margin)) / (r.size + 1)
    p_upper = (1 + np.sum(r >= margin)) / (r.size + 1)
    return float(max(p_lower, p_upper))


def paired_bootstrap(
    folds: list[np.ndarray],
    n_boot: int,
    rng: np.random.Generator,
    confidence: float = 0.95,
    margin: float = MARGIN,
) -> BootstrapResult:
    """Estimate, percentile CI, two-sided p and TOST p of ``Delta`` (see the module
    docstring).

    Args:
        folds: one array per fold, ``[D_k dialogs, S_k seeds, 2 (variant, reference),
            2 (valence, arousal), 6 moments]`` as built by :func:`moments`.
        n_boot: number of bootstrap replicates ``B``.
        rng: the generator that draws them (seed it for a reproducible report).
        confidence: coverage of the percentile interval.
        margin: the equivalence margin ``delta`` of the TOST p-value (CCC units).
    """
    deltas = trial_deltas(folds)  # [J, 3]
    estimate = deltas.mean(axis=0)
    replicates = _replicates(folds, n_boot, rng)
    summaries = [percentile_summary(replicates[:, j], confidence) for j in range(len(DIMENSIONS))]
    low, high, p, n_valid = (np.array(column) for column in zip(*summaries, strict=True))
    p_tost = np.array([tost_p(replicates[:, j], margin) for j in range(len(DIMENSIONS))])
    p[~np.isfinite(estimate)] = np.nan
    p_tost[~np.isfinite(estimate)] = np.nan
    return BootstrapResult(estimate, low, high, p, p_tost, n_valid, deltas)


def bootstrap_columns(paired: Paired) -> Columns:
    """The bootstrap's columns of one comparison: ``delta`` (the mean over the paired trials),
    its percentile ``ci_low``/``ci_high`` (95%), the two-sided ``p`` and the TOST ``p_tost``."""
    r = paired_bootstrap(paired.folds, paired.n_boot, paired.rng, margin=paired.margin)
    values = zip(r.estimate, r.ci_low, r.ci_high, r.p_value, r.p_tost, strict=True)
    return {
        d: dict(zip(BOOTSTRAP.columns, v, strict=True))
        for d, v in zip(DIMENSIONS, values, strict=True)
    }


def _legend(report: Described) -> str:
    """The legend's clause: what is resampled and what it covers (on fixed test sets, that it
    treats each test set's seeds as separate runs, which one run per seed scores)."""
    clause = (
        "a paired hierarchical bootstrap (test dialogs resampled within each test "
        f"{report.tested}, seeds within each fold; {report.n_boot} replicates, seed "
        f"{report.seed}) covers other dialogs and seeds of these {report.tested}s only"
    )
    if report.resampled_folds:
        return clause
    return clause + ", and treats each test set's seeds as separate runs"


def _terminal(report: Described) -> str:
    """The terminal's words: replicates, seed and what it covers."""
    return (
        f"paired hierarchical bootstrap ({report.n_boot} replicates, seed {report.seed}): "
        f"covers other dialogs and seeds of these {report.tested}s"
    )


BOOTSTRAP = ComparisonTest(
    name="bootstrap",
    scopes={"resampled": "these sessions", "fixed": "these test sets"},
    columns=("delta", "ci_low", "ci_high", "p", "p_tost"),
    compute=bootstrap_columns,
    legend=_legend,
    terminal=_terminal,
    p="p",
    p_tost="p_tost",
    delta="delta",
    verdict_column="bootstrap_verdict",
)
