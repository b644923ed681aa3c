"""The verdict test on fixed test sets: a t-test over the training runs.

Fixed test sets (a release's own test splits, or another corpus) are not resamples of one
population of sessions, so no test can speak for other test sets; and one training run per
seed scores every test set (the training data are the same), so the run, not the test set,
is the replicate. With ``Delta_ks`` seed ``s``'s CCC difference (variant minus reference) on
test set ``k`` and ``D_s = mean_k Delta_ks`` the run's difference averaged over the ``K``
test sets, the one-sample t-test over the ``S`` runs:

    t = mean_s D_s / (sd(D) / sqrt(S)),    df = S - 1,

two-sided ``p = 2 P(T_{S-1} >= |t|)``, intervals ``mean D +- t_{S-1} se`` and
the TOST of equivalence within a margin on the same footing
(:func:`bench.report.meta.tost_t`). Its scope: other training runs scored on these test sets
(these utterances), not other dialogs, speakers or test sets. Only seeds that every test set
has are used (a seed missing on one test set would change what ``D_s`` averages).

In the calibration's MSP-Podcast shape (two test sets, three seeds; ``docs/calibration.md``)
it rejected 6.3% of true nulls where the paired bootstrap, which resamples the seeds of each
test set as if they were separate runs, rejected 28.7%.

In the report it is the comparison test :data:`RUNS_T` (:mod:`bench.report.comparisons`),
named ``runs t``: the verdict on fixed test sets, and only there.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from bench.report.bootstrap import DIMENSIONS
from bench.report.comparison import HOLM_INTERVAL, Columns, ComparisonTest, Described, Paired
from bench.report.meta import tost_t

RUNS = ["runs_delta", "runs_se", "runs_df", "runs_p", "runs_p_tost", "runs_n"]


def runs_t_test(per_trial: pd.Series, margin: float) -> dict[str, float]:
    """The ``RUNS`` columns of one comparison and dimension.

    Args:
        per_trial: the CCC difference of each paired trial, indexed by (fold, seed).
        margin: the TOST's equivalence margin (CCC units).

    Returns:
        ``runs_delta`` (mean over runs of the difference averaged over the test sets),
        ``runs_se``, ``runs_df``, ``runs_p``, ``runs_p_tost`` and ``runs_n`` (the runs used);
        NaN (``runs_n`` still counted) with fewer than two runs or no spread between them.

    >>> trials = pd.Series([0.01, 0.03, 0.02, 0.04, 0.03, 0.05],
    ...                    index=pd.MultiIndex.from_product([[1, 2], [0, 1, 2]]))
    >>> r = runs_t_test(trials, margin=0.02)  # runs 0.025, 0.03, 0.035: t = 0.03 / 0.0029
    >>> round(r["runs_delta"], 4), round(r["runs_p"], 4), r["runs_df"], r["runs_n"]
    (0.03, 0.0091, 2, 3)
    """
    by_run = per_trial.unstack(level=0).dropna()  # [seeds that every test set has, K]
    runs = by_run.mean(axis=1).to_numpy()  # [S] D_s
    n = int(runs.size)
    undefined = dict.fromkeys(RUNS, math.nan) | {"runs_df": n - 1, "runs_n": n}
    if n < 2 or np.ptp(runs) == 0:
        return undefined
    estimate, se = float(runs.mean()), float(runs.std(ddof=1) / math.sqrt(n))
    t = estimate / se
    return {
        "runs_delta": estimate, "runs_se": se, "runs_df": n - 1,
        "runs_p": float(2 * student_t.sf(abs(t), n - 1)),
        "runs_p_tost": tost_t(estimate, se, n - 1, margin), "runs_n": n,
    }  # fmt: skip


def runs_columns(paired: Paired) -> Columns:
    """The ``RUNS`` columns of one comparison, per dimension (:func:`runs_t_test`)."""
    return {d: runs_t_test(paired.deltas[d], paired.margin) for d in DIMENSIONS}


def _legend(report: Described) -> str:
    """The legend's sentence on the verdict test: the test sets, the test, what it covers and
    why, its calibration and the interval beside the verdict."""
    tested = ", ".join(report.fold_tests[f] for f in sorted(report.fold_tests))
    which = f" ({tested})" if tested else ""
    return (
        f"Verdict test, these test sets{which}: a t-test over the training runs (each "
        "seed's difference averaged over the test sets; Student's t with seeds - 1 degrees "
        "of freedom). It covers other training runs scored on these test sets, not other "
        "dialogs, speakers or test sets: the folds are a release's own splits or another "
        "corpus, not resamples of one population, and one run per seed scores them all. "
        "It held its type-I error in the calibration's fixed-test-set scenario (6.3%; the "
        "bootstrap 28.7%, docs/calibration.md). {Delta}CCC-avg: its estimate, variant "
        f"minus {report.reference}, {HOLM_INTERVAL}."
    )


def _terminal(report: Described) -> str:
    """The terminal's words: the test, what it covers and what no test covers."""
    return (
        "t-test over the training runs (each seed's difference averaged over the test sets): "
        "other training runs on these test sets; no test covers other test sets (the folds "
        "are fixed test sets, not resamples of one population)"
    )


RUNS_T = ComparisonTest(
    name="runs t",
    scopes={"fixed": "these test sets"},
    columns=tuple(RUNS),
    compute=runs_columns,
    legend=_legend,
    terminal=_terminal,
    p="runs_p",
    p_tost="runs_p_tost",
    delta="runs_delta",
    se="runs_se",
    df="runs_df",
)
