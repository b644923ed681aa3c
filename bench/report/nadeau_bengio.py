"""The fold-level test: Nadeau and Bengio's corrected resampled t-test.

The bootstrap of :mod:`bench.report.bootstrap` holds the test sessions fixed, so it speaks
for other dialogs and seeds of these sessions only. This test treats each paired
(fold, seed) trial as one resampled train/test split and asks whether the mean difference
would hold for other splits of the population of sessions. Splits share most of their
training data, so their differences are correlated and the ordinary t-test's variance
``var(d) / J`` is too small; Nadeau and Bengio's correction inflates it by the test/train
size ratio:

    t = mean(d) / sqrt((1 / J + n_test / n_train) * var(d)),   df = J - 1,

with ``var`` the sample variance (ddof 1) of the ``J`` per-trial differences ``d_j`` and a
two-sided p from Student's t. Their correction assumes random resampling; applied to
k-fold cross-validation (Bouckaert and Frank) it is an approximation, and with only
``k`` sessions it covers other sessions only approximately.

References: C. Nadeau and Y. Bengio (2003), "Inference for the Generalization Error",
Machine Learning 52:239-281; R. R. Bouckaert and E. Frank (2004), "Evaluating the
Replicability of Significance Tests for Comparing Learning Algorithms", PAKDD, LNCS 3056.

In the report it is the comparison test :data:`NADEAU_BENGIO` (:mod:`bench.report.comparisons`),
named ``fold-level``: secondary where the folds leave one unit out, never on fixed test sets
(there are no other splits to cover), and without a verdict of its own (no TOST).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import t as student_t

from bench.report.bootstrap import DIMENSIONS
from bench.report.comparison import Columns, ComparisonTest, Described, Paired


def leave_one_out_ratio(n_folds: int, validation_units: int = 0) -> float:
    """``n_test / n_train`` of leave-one-unit-out over ``k`` folds of equal units, where one
    unit tests, ``validation_units`` units validate and the rest train:
    ``1 / (k - 1 - validation_units)``. NaN where no unit is left to train.

    With the default 0 it ignores the validation units held out of training (what the
    report uses today); a protocol validating on one whole session trains on ``k - 2``.

    >>> leave_one_out_ratio(5)
    0.25
    >>> round(leave_one_out_ratio(5, validation_units=1), 4)  # 3 sessions train, 1 tests
    0.3333
    """
    n_train = n_folds - 1 - validation_units
    return 1.0 / n_train if n_train >= 1 else float("nan")


def corrected_resampled_t(differences: np.ndarray, test_train_ratio: float) -> tuple[float, float]:
    """Nadeau-Bengio corrected resampled t statistic and its two-sided p-value.

    ``t = mean(d) / sqrt((1 / J + test_train_ratio) * var(d, ddof=1))`` over the ``J``
    finite differences ``d`` (non-finite ones are dropped), ``df = J - 1``,
    ``p = 2 * P(T_df >= |t|)``. Both are NaN when the test is undefined: fewer than two
    differences, zero variance, or a non-finite ratio. With ``test_train_ratio = 0`` it is
    the ordinary one-sample t-test.

    >>> t, p = corrected_resampled_t(np.array([0.02, 0.04, 0.03, 0.05, 0.01]), 0.25)
    >>> round(t, 3), round(p, 3)  # mean 0.03, var 2.5e-4: t = 0.03 / sqrt(0.45 * 2.5e-4)
    (2.828, 0.047)
    """
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 2 or not np.isfinite(test_train_ratio):
        return float("nan"), float("nan")
    variance = d.var(ddof=1)
    if variance <= 0:
        return float("nan"), float("nan")
    t = d.mean() / np.sqrt((1.0 / d.size + test_train_ratio) * variance)
    return float(t), float(2.0 * student_t.sf(abs(t), df=d.size - 1))


def nadeau_bengio_columns(paired: Paired) -> Columns:
    """``nb_t``, ``nb_p`` of one comparison: every paired (fold, seed) trial a resampled
    split, ``n_test / n_train = 1 / (k - 1)`` for the ``k`` folds of the results (the
    validation units held out of training ignored, :func:`leave_one_out_ratio`)."""
    ratio = leave_one_out_ratio(paired.n_folds)
    return {
        d: dict(zip(NADEAU_BENGIO.columns, corrected_resampled_t(paired.deltas[d], ratio),
                    strict=True))
        for d in DIMENSIONS
    }  # fmt: skip


def _legend(report: Described) -> str:
    """The legend's clause: the test, its column and the ratio it assumes."""
    return (
        "a fold-level Nadeau-Bengio corrected resampled t-test (nb_p_holm, n_test/n_train "
        "taken as 1/(folds - 1))"
    )


def _terminal(report: Described) -> str:
    """The terminal's words: the test and what it covers."""
    return "fold-level corrected resampled t-test (fold-level): other sessions, approximately"


NADEAU_BENGIO = ComparisonTest(
    name="fold-level",
    scopes={"resampled": "across sessions"},  # approximately: k-fold is not random resampling
    columns=("nb_t", "nb_p"),
    compute=nadeau_bengio_columns,
    legend=_legend,
    terminal=_terminal,
    p="nb_p",
)
