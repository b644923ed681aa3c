"""Paired comparisons of every variant with the reference variant, and their verdicts.

For each variant, the trials are paired with the reference's on the same (fold, seed) and
then on the same test utterances (``utt_id``). Trials or utterances that only one side has
are left out of the comparison and reported (``only_reference``, ``only_variant``,
``unpaired_utts``), never silently averaged over.

Tests, per variant and dimension (v, a, avg):

- the paired hierarchical bootstrap of :mod:`bench.report.bootstrap` (dialogs resampled
  within each test session, seeds within each fold): ``delta`` with its 95% CI, the
  two-sided ``p`` of a difference and the TOST ``p_tost`` of equivalence within
  ``(-margin, margin)``. Its scope: other dialogs and seeds of these test sessions;
- the fold-level corrected resampled t-test of :mod:`bench.report.nadeau_bengio` over the
  per-trial differences (``nb_t``, ``nb_p``), with ``n_test / n_train = 1 / (k - 1)`` for
  the ``k`` folds of the results. Its scope: other sessions, approximately. Only where
  the folds resample one population (leave one unit out): where they are fixed test sets
  (a release's own splits, another corpus) there are no other splits to cover, and
  ``nb_t``/``nb_p`` are NaN;
- the random-effects test over test sessions with the Hartung-Knapp-Sidik-Jonkman
  adjustment (:mod:`bench.report.meta`: each session's seed-averaged difference and its
  within-session variance, REML ``tau^2``): ``re_delta`` (the difference across sessions),
  its 95% interval ``re_ci_low``/``re_ci_high`` (standard error ``re_se``, ``re_df`` degrees
  of freedom), ``re_tau2``, the two-sided ``re_p`` and the TOST ``re_p_tost``. Its scope:
  other sessions like these. Of the candidates, it is the one that held its level in every
  scenario of the calibration (``benchmarks/calibration.py``, ``docs/calibration.md``). NaN
  on fixed test sets, as the fold-level test.

Families. The primary family is CCC-avg of every variant against the reference; CCC-V
and CCC-A of every variant form the secondary family. Each test's p-values are
Holm-corrected (:func:`holm`) within each family separately: ``p_holm``, ``p_tost_holm``,
``nb_p_holm``, ``re_p_holm``, ``re_p_tost_holm``, ``runs_p_holm`` and ``runs_p_tost_holm``.

The verdict of a row, one word, comes from one test, named in ``test`` with its ``scope``:

- where the folds leave one session out: ``HKSJ``, "across sessions" (other sessions like
  these);
- where they are fixed test sets: ``runs t``, "these test sets", the t-test over the
  training runs of :mod:`bench.report.runs_test` (``runs_delta``, ``runs_se``, ``runs_df``,
  ``runs_p``, ``runs_p_tost``, ``runs_n``): other training runs scored on these test sets.
  The bootstrap resamples each test set's seeds as separate runs although one run scores
  them all, and rejected 28.7% of true nulls there in the calibration; this test 6.3%.

``better`` or ``worse`` where that test's difference test rejects after Holm (by the sign of
its estimate), else ``equivalent`` where its TOST rejects after Holm, else ``undecided``
(also where the test is undefined: HKSJ with fewer than two sessions, the runs' test with
fewer than two runs). A difference that is not significant is never read as equivalence:
that takes the TOST. ``bootstrap_verdict`` is the bootstrap's verdict by the same rule, a
secondary statement scoped to these sessions (other dialogs and seeds of them); the
fold-level test enters no verdict.

The interval beside the verdict (``verdict_delta``, ``verdict_low``, ``verdict_high``) is
that test's, at the level Holm's procedure gives its row, so that it agrees with the verdict
(:func:`_verdict_interval`): with ``p`` and ``p_Holm`` the row's difference test,
``gamma = alpha p / p_Holm`` (``alpha / (m - i + 1)`` at Holm's ``i``-th step of ``m``), the
two-sided ``1 - gamma`` interval, which excludes 0 exactly when the verdict is better or
worse; for an ``equivalent`` row, with ``gamma`` from the TOST's ``p`` and ``p_Holm``, the
``1 - 2 gamma`` interval, which lies inside ``(-margin, margin)`` exactly when the TOST
rejects. ``verdict_level`` holds the interval's coverage.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from bench.errors import BenchError
from bench.report.bootstrap import DIMENSIONS, MARGIN, MOMENTS, moments, paired_bootstrap
from bench.report.meta import random_effects_hksj, session_effects
from bench.report.nadeau_bengio import corrected_resampled_t, leave_one_out_ratio
from bench.report.runs_test import RUNS, runs_t_test
from bench.report.summary import PRED, TRUE, format_trials, trial_pairs

ALPHA = 0.05
FAMILIES = {"avg": "primary", "v": "secondary", "a": "secondary"}
HOLM = {  # raw -> corrected
    "p": "p_holm", "p_tost": "p_tost_holm", "nb_p": "nb_p_holm", "re_p": "re_p_holm",
    "re_p_tost": "re_p_tost_holm", "runs_p": "runs_p_holm", "runs_p_tost": "runs_p_tost_holm",
}  # fmt: skip
ACROSS = ["re_delta", "re_ci_low", "re_ci_high", "re_se", "re_df", "re_tau2", "re_p", "re_p_tost"]
VERDICTS = ("better", "worse", "equivalent", "undecided")


@dataclass(frozen=True)
class VerdictTest:
    """A test with a verdict: its name, what its verdict covers, and its columns (the
    estimate, the two-sided p of a difference, the TOST p of equivalence and, for a t-test,
    the standard error and degrees of freedom of its intervals)."""

    name: str
    scope: str
    delta: str
    p: str
    p_tost: str
    se: str = ""
    df: str = ""

    @property
    def p_holm(self) -> str:
        """The column of its Holm-corrected difference p."""
        return HOLM[self.p]


HKSJ = VerdictTest("HKSJ", "across sessions", "re_delta", "re_p", "re_p_tost", "re_se", "re_df")
RUNS_T = VerdictTest(
    "runs t", "these test sets", "runs_delta", "runs_p", "runs_p_tost", "runs_se", "runs_df"
)
BOOTSTRAP = VerdictTest("bootstrap", "these sessions", "delta", "p", "p_tost")
VERDICT_TESTS = {test.name: test for test in (HKSJ, RUNS_T)}
COLUMNS = [
    "variant", "reference", "dimension", "family", "n_pairs", "n_folds", "variant_mean",
    "reference_mean", "test", "scope", "verdict", "verdict_delta", "verdict_low",
    "verdict_high", "verdict_level", "significant", "delta", "ci_low", "ci_high", "p",
    "p_holm", "margin", "p_tost", "p_tost_holm", "bootstrap_verdict", "nb_t", "nb_p",
    "nb_p_holm", *ACROSS, "re_p_holm", "re_p_tost_holm", *RUNS, "runs_p_holm",
    "runs_p_tost_holm", "only_reference", "only_variant", "unpaired_utts", "n_boot", "seed",
]  # fmt: skip


def fold_arrays(paired: pd.DataFrame) -> list[np.ndarray]:
    """Per fold, the bootstrap's moments ``[dialogs, seeds, 2 sides, 2 dims, 6]``."""
    folds = []
    for _, fold in paired.groupby("fold", sort=True):
        dialogs, dialog_values = pd.factorize(fold["dialog"], sort=True)
        seeds, seed_values = pd.factorize(fold["seed"], sort=True)
        shape = (len(dialog_values), len(seed_values))
        groups = dialogs * shape[1] + seeds
        array = np.empty((*shape, 2, 2, MOMENTS))
        for j, (true, pred) in enumerate(zip(TRUE, PRED, strict=True)):
            centre = fold[true].mean()  # one constant per dimension, see moments()
            for side, suffix in enumerate(("_var", "_ref")):
                m = moments(
                    fold[true].to_numpy() - centre,
                    fold[pred + suffix].to_numpy() - centre,
                    groups,
                    shape[0] * shape[1],
                )  # [D*S, 6]
                array[:, :, side, j] = m.reshape(*shape, MOMENTS)
        folds.append(array)
    return folds


def _in_trials(frame: pd.DataFrame, pairs: set[tuple[int, int]]) -> np.ndarray:
    """Which rows of ``frame`` belong to one of the (fold, seed) ``pairs``."""
    return frame.set_index(["fold", "seed"]).index.isin(list(pairs))


def pair_trials(variant: pd.DataFrame, reference: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Inner join on (fold, seed, utt_id) and what could not be paired."""
    var_trials, ref_trials = trial_pairs(variant), trial_pairs(reference)
    keys = ["fold", "seed", "utt_id"]
    paired = reference[[*keys, "dialog", *TRUE, *PRED]].merge(
        variant[[*keys, *PRED]], on=keys, suffixes=("_ref", "_var"), validate="one_to_one"
    )
    common = var_trials & ref_trials
    in_common = [int(_in_trials(frame, common).sum()) for frame in (variant, reference)]
    unpaired = {
        "only_reference": format_trials(ref_trials - var_trials),
        "only_variant": format_trials(var_trials - ref_trials),
        "unpaired_utts": sum(in_common) - 2 * len(paired),
    }
    return paired, unpaired


def _rng(seed: int, variant: str) -> np.random.Generator:
    """A generator per (seed, variant): a comparison does not depend on the other variants."""
    return np.random.default_rng([seed, zlib.crc32(variant.encode())])


def compare_to_reference(
    predictions: pd.DataFrame,
    trials: pd.DataFrame,
    reference: str = "mamba_ema",
    n_boot: int = 10_000,
    seed: int = 0,
    margin: float = MARGIN,
    resampled_folds: bool = True,
) -> pd.DataFrame:
    """The stats table: one row per (variant, dimension) against the reference, with its
    tests Holm-corrected and its verdict (:func:`corrected` of :func:`comparison_rows`).

    Args:
        predictions: per-utterance predictions with variant, fold and seed columns, as
            ``bench.results.load_table(root, protocol, PREDICTIONS_FILE)`` returns them.
        trials: their per-trial metrics (:func:`bench.report.summary.trial_metrics`).
        reference: the variant every other one is compared with.
        n_boot: bootstrap replicates per comparison.
        seed: seeds the bootstrap (with the variant's name), so a report is reproducible.
        margin: the equivalence margin ``delta`` in CCC, the smallest effect of interest.
        resampled_folds: the folds leave one unit out of one population (the verdict is
            HKSJ's, across sessions); False for fixed test sets (no fold-level or HKSJ test;
            the verdict is the t-test over the training runs', these test sets).

    Returns:
        Columns ``COLUMNS``: ``family`` (primary for avg, secondary for v and a); the
        verdict (``test``, ``scope``, ``verdict``, its estimate and Holm-level interval
        ``verdict_delta``/``verdict_low``/``verdict_high`` of coverage ``verdict_level``,
        ``significant``: its difference test rejects after Holm); the bootstrap's ``delta``
        (variant minus reference, mean over paired trials), ``ci_low``/``ci_high`` (95%
        percentile CI), ``p``, ``p_tost`` and ``bootstrap_verdict``; the fold-level
        ``nb_t``/``nb_p``; the HKSJ ``re_*`` columns (resampled folds); the runs' t-test
        ``runs_*`` columns (fixed test sets); each p with its Holm-corrected
        ``*_holm`` within the row's family; ``variant_mean``/``reference_mean`` (mean CCC
        over the paired trials) and the bookkeeping of what could not be paired.

    Raises:
        BenchError: the reference has no results, or the margin is not a positive number.
    """
    return corrected(
        comparison_rows(predictions, trials, reference, n_boot, seed, margin, resampled_folds)
    )


def comparison_rows(
    predictions: pd.DataFrame,
    trials: pd.DataFrame,
    reference: str = "mamba_ema",
    n_boot: int = 10_000,
    seed: int = 0,
    margin: float = MARGIN,
    resampled_folds: bool = True,
) -> pd.DataFrame:
    """The rows of :func:`compare_to_reference` before Holm's correction and the verdicts:
    several such tables concatenated and passed to :func:`corrected` form one family each."""
    if not (math.isfinite(margin) and margin > 0):
        raise BenchError(f"the equivalence margin is a positive CCC difference, not {margin}")
    variants = sorted(predictions["variant"].unique())
    if reference not in variants:
        raise BenchError(f"reference variant {reference!r} has no results; have {variants}")
    ratio = leave_one_out_ratio(predictions["fold"].nunique()) if resampled_folds else math.nan
    test = HKSJ if resampled_folds else RUNS_T
    ref_preds = predictions[predictions["variant"] == reference]
    rows = []
    for variant in (v for v in variants if v != reference):
        paired, unpaired = pair_trials(predictions[predictions["variant"] == variant], ref_preds)
        means = _paired_means(trials, variant, reference, paired)
        base = {"variant": variant, "reference": reference, "margin": margin}
        base |= {"n_pairs": paired.groupby(["fold", "seed"]).ngroups} | unpaired
        base |= {"n_folds": paired["fold"].nunique(), "n_boot": n_boot, "seed": seed}
        base |= {"test": test.name, "scope": test.scope}
        if paired.empty:
            rows += [base | {"dimension": d} | means[d] for d in DIMENSIONS]
            continue
        folds = fold_arrays(paired)
        result = paired_bootstrap(folds, n_boot, _rng(seed, variant), margin=margin)
        across = _across_sessions(folds, margin) if resampled_folds else {}
        keys = pd.MultiIndex.from_tuples(sorted(trial_pairs(paired)))  # the deltas' order
        for j, dimension in enumerate(DIMENSIONS):
            nb_t, nb_p = corrected_resampled_t(result.trial_deltas[:, j], ratio)
            per_trial = pd.Series(result.trial_deltas[:, j], index=keys)
            runs = {} if resampled_folds else runs_t_test(per_trial, margin)
            rows.append(
                base | means[dimension] | across.get(dimension, {}) | runs | {
                    "dimension": dimension, "delta": result.estimate[j],
                    "ci_low": result.ci_low[j], "ci_high": result.ci_high[j],
                    "p": result.p_value[j], "p_tost": result.p_tost[j], "nb_t": nb_t,
                    "nb_p": nb_p,
                }
            )  # fmt: skip
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["family"] = table["dimension"].map(FAMILIES)
    return table


def _across_sessions(folds: list[np.ndarray], margin: float) -> dict[str, dict[str, float]]:
    """Per dimension, the ``ACROSS`` columns: the HKSJ random-effects test over the test
    sessions (:func:`bench.report.meta.random_effects_hksj` of
    :func:`bench.report.meta.session_effects`)."""
    d, v = session_effects(folds)  # [K, 3] each
    out = {}
    for j, dimension in enumerate(DIMENSIONS):
        r = random_effects_hksj(d[:, j], v[:, j], margin=margin)
        values = (r.estimate, r.ci_low, r.ci_high, r.se, r.df, r.tau2, r.p, r.p_tost)
        out[dimension] = dict(zip(ACROSS, values, strict=True))
    return out


def corrected(table: pd.DataFrame) -> pd.DataFrame:
    """Holm within each family over every row of :func:`comparison_rows` tables (several
    concatenated form one family each), the verdicts that follow and the intervals beside
    them."""
    table = _holm(table.reset_index(drop=True))
    table["bootstrap_verdict"] = _verdict(table, BOOTSTRAP)
    hksj = (table["test"] == HKSJ.name).to_numpy()
    table["verdict"] = np.where(hksj, _verdict(table, HKSJ), _verdict(table, RUNS_T))
    table["verdict_delta"] = np.where(hksj, table[HKSJ.delta], table[RUNS_T.delta])
    p_holm = np.where(hksj, table[HKSJ.p_holm], table[RUNS_T.p_holm])
    table["significant"] = p_holm < ALPHA  # NaN compares False
    intervals = [_verdict_interval(row) for _, row in table.iterrows()]
    table["verdict_low"], table["verdict_high"], table["verdict_level"] = (
        zip(*intervals, strict=True) if intervals else ([], [], [])
    )
    return table


def _verdict(table: pd.DataFrame, test: VerdictTest) -> np.ndarray:
    """better/worse (the test's difference ``p_Holm < ALPHA``, by the sign of its estimate),
    equivalent (its TOST ``p_Holm < ALPHA``), else undecided (NaN p-values included)."""
    different = table[test.p_holm].lt(ALPHA)
    equivalent = table[HOLM[test.p_tost]].lt(ALPHA)
    return np.select(
        [different & (table[test.delta] > 0), different, equivalent], VERDICTS[:3], VERDICTS[3]
    )


def _holm_level(p: float, p_holm: float) -> float:
    """``gamma = ALPHA p / p_Holm``: the level at which Holm's procedure tests this row
    (``ALPHA / (m - i + 1)`` at its ``i``-th of ``m`` steps, smaller where the step-down's
    running maximum or the cap at 1 raised ``p_Holm``), so ``p < gamma`` exactly when
    ``p_Holm < ALPHA``. NaN where the test is undefined.

    >>> _holm_level(0.01, 0.03)  # the first of three steps: alpha / 3
    0.016666666666666666
    """
    if not (math.isfinite(p) and math.isfinite(p_holm)):
        return math.nan
    return ALPHA * p / p_holm if p_holm > 0 else ALPHA  # p underflowed to 0: rejects anyway


def _verdict_interval(row: pd.Series) -> tuple[float, float, float]:
    """The verdict test's interval for one row and its coverage (module docstring): two-sided
    ``1 - gamma`` for a difference, ``1 - 2 gamma`` (the TOST's) for an equivalent verdict;
    ``estimate +- t_{df, tail} se`` of the test's t statistic."""
    test = VERDICT_TESTS[row["test"]]
    tost = row["verdict"] == "equivalent"
    raw = test.p_tost if tost else test.p
    gamma = _holm_level(row[raw], row[HOLM[raw]])
    if not math.isfinite(gamma):
        return math.nan, math.nan, math.nan
    tail = gamma if tost else gamma / 2
    half = float(student_t.isf(tail, row[test.df])) * row[test.se]
    return row[test.delta] - half, row[test.delta] + half, 1 - 2 * tail


def _paired_means(
    trials: pd.DataFrame, variant: str, reference: str, paired: pd.DataFrame
) -> dict[str, dict[str, float]]:
    """Per dimension, the mean CCC of both sides over the paired trials."""
    selected = trials[_in_trials(trials, trial_pairs(paired))]
    out = {}
    for dimension in DIMENSIONS:
        mean = selected.groupby("variant")[f"ccc_{dimension}"].mean()
        out[dimension] = {
            "variant_mean": mean.get(variant, np.nan),
            "reference_mean": mean.get(reference, np.nan),
        }
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values of ``m`` tests, in the order given.

    With the p-values sorted, ``p_(1) <= ... <= p_(m)``:
    ``p_holm_(i) = min(1, max_{j <= i} (m - j + 1) * p_(j))``; rejecting where
    ``p_holm < alpha`` is Holm's procedure at family-wise level ``alpha``. The numbers of
    statsmodels' ``multipletests(p, method="holm")[1]`` (a test compares them), without its
    ``gc.collect()`` on every call (0.1-0.25 s each in a process holding torch: 40 s of the
    test suite).

    >>> holm(np.array([0.01, 0.04, 0.03]))  # sorted: 3 * 0.01, 2 * 0.03, max(1 * 0.04, 0.06)
    array([0.03, 0.06, 0.06])
    """
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((p.size - np.arange(p.size)) * p[order])  # [m]
    adjusted = np.empty(p.size)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _holm(table: pd.DataFrame) -> pd.DataFrame:
    """Fill the ``*_holm`` columns of ``HOLM``: Holm over the finite p-values of each test
    within each family."""
    for corrected in HOLM.values():
        table[corrected] = np.nan
    for _, family in table.groupby("family"):
        for raw, corrected in HOLM.items():
            finite = family.index[family[raw].notna()]
            if not finite.empty:
                table.loc[finite, corrected] = holm(table.loc[finite, raw].to_numpy())
    return table
