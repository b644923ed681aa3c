"""Paired comparisons of every variant with the reference variant, and their verdicts.

For each variant, the trials are paired with the reference's on the same (fold, seed) and
then on the same test utterances (``utt_id``). Trials or utterances that only one side has
are left out of the comparison and reported (``only_reference``, ``only_variant``,
``unpaired_utts``), never silently averaged over.

Tests, per variant and dimension (v, a, avg): those of the registry,
:mod:`bench.report.comparisons`, that apply to the folds at hand, each computing its columns
from the comparison's paired per-fold arrays (:class:`bench.report.comparison.Paired`); the
table's columns follow the registry's order (:func:`columns`). The built-in ones:

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
``nb_p_holm``, ``re_p_holm``, ``re_p_tost_holm``, ``runs_p_holm`` and ``runs_p_tost_holm``
(:func:`holm_columns`).

The verdict of a row, one word, comes from one test, named in ``test`` with its ``scope``
(the registry's declared choice, :data:`bench.report.comparisons.VERDICT`):

- where the folds leave one session out: ``HKSJ``, "across sessions" (other sessions like
  these);
- where they are fixed test sets: ``runs t``, "these test sets", the t-test over the
  training runs of :mod:`bench.report.runs_t` (``runs_delta``, ``runs_se``, ``runs_df``,
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

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from bench.errors import BenchError
from bench.report.bootstrap import DIMENSIONS, MARGIN, MOMENTS, moments, trial_deltas
from bench.report.comparison import Columns, ComparisonTest, Paired, fold_kind
from bench.report.comparisons import COMPARISONS, applying, comparison, verdict_test
from bench.report.summary import PRED, TRUE, format_trials, trial_pairs

ALPHA = 0.05
FAMILIES = {"avg": "primary", "v": "secondary", "a": "secondary"}
VERDICTS = ("better", "worse", "equivalent", "undecided")
HEAD = [
    "variant", "reference", "dimension", "family", "n_pairs", "n_folds", "variant_mean",
    "reference_mean", "test", "scope", "verdict", "verdict_delta", "verdict_low",
    "verdict_high", "verdict_level", "significant", "margin",
]  # fmt: skip
TAIL = ["only_reference", "only_variant", "unpaired_utts", "n_boot", "seed"]


def columns() -> list[str]:
    """The stats table's columns: the comparison's, then every registered test's
    (:attr:`bench.report.comparison.ComparisonTest.table_columns`, in the registry's order),
    then what could not be paired and the bootstrap's settings."""
    return [*HEAD, *(c for test in COMPARISONS.values() for c in test.table_columns), *TAIL]


def holm_columns() -> dict[str, str]:
    """Every registered test's p-value columns and their Holm-corrected ones."""
    return {raw: adjusted for test in COMPARISONS.values() for raw, adjusted in test.holm.items()}


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
        Columns :func:`columns`: ``family`` (primary for avg, secondary for v and a); the
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
    kind = fold_kind(resampled_folds)
    verdict, tests = verdict_test(kind), applying(kind)
    n_folds = predictions["fold"].nunique()
    ref_preds = predictions[predictions["variant"] == reference]
    rows = []
    for variant in (v for v in variants if v != reference):
        paired, unpaired = pair_trials(predictions[predictions["variant"] == variant], ref_preds)
        means = _paired_means(trials, variant, reference, paired)
        base = {"variant": variant, "reference": reference, "margin": margin}
        base |= {"n_pairs": paired.groupby(["fold", "seed"]).ngroups} | unpaired
        base |= {"n_folds": paired["fold"].nunique(), "n_boot": n_boot, "seed": seed}
        base |= {"test": verdict.name, "scope": verdict.scopes[kind]}
        if paired.empty:
            rows += [base | {"dimension": d} | means[d] for d in DIMENSIONS]
            continue
        folds = fold_arrays(paired)
        keys = pd.MultiIndex.from_tuples(sorted(trial_pairs(paired)))  # the deltas' order
        deltas = pd.DataFrame(trial_deltas(folds), index=keys, columns=list(DIMENSIONS))
        data = Paired(folds, deltas, n_folds, margin, n_boot, _rng(seed, variant))
        computed = [_compute(test, data) for test in tests]
        for dimension in DIMENSIONS:
            row = base | means[dimension] | {"dimension": dimension}
            for values in computed:
                row |= values[dimension]
            rows.append(row)
    table = pd.DataFrame(rows, columns=columns())
    table["family"] = table["dimension"].map(FAMILIES)
    return table


def _compute(test: ComparisonTest, paired: Paired) -> Columns:
    """``test``'s columns of one comparison, per dimension.

    Raises:
        BenchError: it returned other dimensions or other columns than it declares.
    """
    values = test.compute(paired)
    returned = {d: sorted(v) for d, v in values.items()}
    if returned != {d: sorted(test.columns) for d in DIMENSIONS}:
        raise BenchError(
            f"comparison test {test.name!r} returned {returned}, not its columns "
            f"{list(test.columns)} for each of {list(DIMENSIONS)}"
        )
    return values


def corrected(table: pd.DataFrame) -> pd.DataFrame:
    """Holm within each family over every row of :func:`comparison_rows` tables (several
    concatenated form one family each), the verdicts that follow and the intervals beside
    them: each row's from the test its ``test`` column names, and each registered test's own
    in its ``verdict_column``."""
    table = _holm(table.reset_index(drop=True))
    for test in COMPARISONS.values():
        if test.verdict_column:
            table[test.verdict_column] = _verdict(table, test)
    verdict = np.full(len(table), VERDICTS[3], dtype=object)
    delta, p_holm = np.full(len(table), math.nan), np.full(len(table), math.nan)
    for name in table["test"].dropna().unique():
        test, rows = comparison(name), (table["test"] == name).to_numpy()
        verdict[rows] = _verdict(table, test)[rows]
        delta[rows] = table.loc[rows, test.delta]
        p_holm[rows] = table.loc[rows, test.holm[test.p]]
    table["verdict"], table["verdict_delta"] = verdict, delta
    table["significant"] = p_holm < ALPHA  # NaN compares False
    intervals = [_verdict_interval(row) for _, row in table.iterrows()]
    table["verdict_low"], table["verdict_high"], table["verdict_level"] = (
        zip(*intervals, strict=True) if intervals else ([], [], [])
    )
    return table


def _verdict(table: pd.DataFrame, test: ComparisonTest) -> np.ndarray:
    """better/worse (the test's difference ``p_Holm < ALPHA``, by the sign of its estimate),
    equivalent (its TOST ``p_Holm < ALPHA``; never without a TOST), else undecided (NaN
    p-values included)."""
    different = table[test.holm[test.p]].lt(ALPHA)
    equivalent = table[test.holm[test.p_tost]].lt(ALPHA) if test.p_tost else False
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
    test = comparison(row["test"])
    tost = row["verdict"] == "equivalent"
    raw = test.p_tost if tost else test.p
    gamma = _holm_level(row[raw], row[test.holm[raw]])
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
    """Fill the ``*_holm`` columns of :func:`holm_columns`: Holm over the finite p-values of
    each test within each family."""
    pairs = holm_columns()
    for corrected in pairs.values():
        table[corrected] = np.nan
    for _, family in table.groupby("family"):
        for raw, corrected in pairs.items():
            finite = family.index[family[raw].notna()]
            if not finite.empty:
                table.loc[finite, corrected] = holm(table.loc[finite, raw].to_numpy())
    return table
