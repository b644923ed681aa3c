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
- the fold-level corrected resampled t-test of :mod:`bench.report.fold_test` over the
  per-trial differences (``nb_t``, ``nb_p``), with ``n_test / n_train = 1 / (k - 1)`` for
  the ``k`` folds of the results. Its scope: other sessions, approximately. Only where
  the folds resample one population (leave one unit out): where they are fixed test sets
  (a release's own splits, another corpus) there are no other splits to cover, and
  ``nb_t``/``nb_p`` are NaN;
- the random-effects test over test sessions with the Hartung-Knapp-Sidik-Jonkman
  adjustment (:mod:`bench.report.meta`: each session's seed-averaged difference and its
  within-session variance, REML ``tau^2``): ``re_delta`` (the difference across sessions),
  its 95% interval ``re_ci_low``/``re_ci_high``, ``re_tau2``, the two-sided ``re_p`` and the
  TOST ``re_p_tost``. Its scope: other sessions like these. Of the candidates, it is the one
  that held its level in every scenario of the calibration (``benchmarks/calibration.py``,
  ``docs/calibration.md``); the verdict does not use it yet. NaN on fixed test sets, as the
  fold-level test.

Families. The primary family is CCC-avg of every variant against the reference; CCC-V
and CCC-A of every variant form the secondary family. Each test's p-values are
Holm-corrected (:func:`holm`) within each family separately:
``p_holm``, ``p_tost_holm``, ``nb_p_holm``, ``re_p_holm`` and ``re_p_tost_holm``.

Verdict of a row, one word: ``better`` or ``worse`` where the bootstrap's difference test
rejects after Holm (by the sign of ``delta``), else ``equivalent`` where the TOST rejects
after Holm, else ``undecided``. A difference that is not significant is never read as
equivalence: that takes the TOST. The fold-level test does not enter the verdict; it
says whether the difference also holds across sessions.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.report.bootstrap import DIMENSIONS, MARGIN, MOMENTS, moments, paired_bootstrap
from bench.report.fold_test import corrected_resampled_t, leave_one_out_ratio
from bench.report.meta import random_effects_hksj, session_effects
from bench.report.summary import PRED, TRUE, format_trials, trial_pairs

ALPHA = 0.05
FAMILIES = {"avg": "primary", "v": "secondary", "a": "secondary"}
HOLM = {  # raw -> corrected
    "p": "p_holm", "p_tost": "p_tost_holm", "nb_p": "nb_p_holm", "re_p": "re_p_holm",
    "re_p_tost": "re_p_tost_holm",
}  # fmt: skip
ACROSS = ["re_delta", "re_ci_low", "re_ci_high", "re_tau2", "re_p", "re_p_tost"]
VERDICTS = ("better", "worse", "equivalent", "undecided")
COLUMNS = [
    "variant", "reference", "dimension", "family", "n_pairs", "n_folds", "variant_mean",
    "reference_mean", "delta", "ci_low", "ci_high", "p", "p_holm", "significant", "margin",
    "p_tost", "p_tost_holm", "verdict", "nb_t", "nb_p", "nb_p_holm", *ACROSS[:5], "re_p_holm",
    "re_p_tost", "re_p_tost_holm", "only_reference",
    "only_variant", "unpaired_utts", "n_boot", "seed",
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
    """The stats table: one row per (variant, dimension) against the reference.

    Args:
        predictions: per-utterance predictions with variant, fold and seed columns, as
            ``bench.results.load_table(root, protocol, PREDICTIONS_FILE)`` returns them.
        trials: their per-trial metrics (:func:`bench.report.summary.trial_metrics`).
        reference: the variant every other one is compared with.
        n_boot: bootstrap replicates per comparison.
        seed: seeds the bootstrap (with the variant's name), so a report is reproducible.
        margin: the equivalence margin ``delta`` in CCC, the smallest effect of interest.
        resampled_folds: the folds leave one unit out of one population; False for fixed
            test sets, which get no fold-level test.

    Returns:
        Columns ``COLUMNS``: ``family`` (primary for avg, secondary for v and a), ``delta``
        (variant minus reference, mean over paired trials), ``ci_low``/``ci_high`` (95%
        percentile CI), ``p`` (bootstrap, two-sided), ``p_tost`` (bootstrap TOST within
        ``(-margin, margin)``), ``nb_t``/``nb_p`` (fold-level corrected t-test), each with
        its Holm-corrected ``*_holm`` within the row's family, ``significant`` (the
        difference test rejects after Holm), ``verdict`` (see the module docstring),
        ``variant_mean``/``reference_mean`` (mean CCC over the paired trials) and the
        bookkeeping of what could not be paired.

    Raises:
        BenchError: the reference has no results, or the margin is not a positive number.
    """
    if not (math.isfinite(margin) and margin > 0):
        raise BenchError(f"the equivalence margin is a positive CCC difference, not {margin}")
    variants = sorted(predictions["variant"].unique())
    if reference not in variants:
        raise BenchError(f"reference variant {reference!r} has no results; have {variants}")
    ratio = leave_one_out_ratio(predictions["fold"].nunique()) if resampled_folds else math.nan
    ref_preds = predictions[predictions["variant"] == reference]
    rows = []
    for variant in (v for v in variants if v != reference):
        paired, unpaired = pair_trials(predictions[predictions["variant"] == variant], ref_preds)
        means = _paired_means(trials, variant, reference, paired)
        base = {"variant": variant, "reference": reference, "margin": margin}
        base |= {"n_pairs": paired.groupby(["fold", "seed"]).ngroups} | unpaired
        base |= {"n_folds": paired["fold"].nunique(), "n_boot": n_boot, "seed": seed}
        if paired.empty:
            rows += [base | {"dimension": d} | means[d] for d in DIMENSIONS]
            continue
        folds = fold_arrays(paired)
        result = paired_bootstrap(folds, n_boot, _rng(seed, variant), margin=margin)
        across = _across_sessions(folds, margin) if resampled_folds else {}
        for j, dimension in enumerate(DIMENSIONS):
            nb_t, nb_p = corrected_resampled_t(result.trial_deltas[:, j], ratio)
            rows.append(
                base | means[dimension] | across.get(dimension, {}) | {
                    "dimension": dimension, "delta": result.estimate[j],
                    "ci_low": result.ci_low[j], "ci_high": result.ci_high[j],
                    "p": result.p_value[j], "p_tost": result.p_tost[j], "nb_t": nb_t,
                    "nb_p": nb_p,
                }
            )  # fmt: skip
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["family"] = table["dimension"].map(FAMILIES)
    return corrected(table)


def _across_sessions(folds: list[np.ndarray], margin: float) -> dict[str, dict[str, float]]:
    """Per dimension, the ``ACROSS`` columns: the HKSJ random-effects test over the test
    sessions (:func:`bench.report.meta.random_effects_hksj` of
    :func:`bench.report.meta.session_effects`)."""
    d, v = session_effects(folds)  # [K, 3] each
    out = {}
    for j, dimension in enumerate(DIMENSIONS):
        test = random_effects_hksj(d[:, j], v[:, j], margin=margin)
        values = (test.estimate, test.ci_low, test.ci_high, test.tau2, test.p, test.p_tost)
        out[dimension] = dict(zip(ACROSS, values, strict=True))
    return out


def corrected(table: pd.DataFrame) -> pd.DataFrame:
    """Holm within each family over every row of ``table`` (several comparisons' tables
    concatenated form one family each), and the verdicts that follow."""
    return _verdicts(_holm(table))


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
    within each family; and ``significant``: the difference test's ``p_holm < ALPHA``."""
    for corrected in HOLM.values():
        table[corrected] = np.nan
    for _, family in table.groupby("family"):
        for raw, corrected in HOLM.items():
            finite = family.index[family[raw].notna()]
            if not finite.empty:
                table.loc[finite, corrected] = holm(table.loc[finite, raw].to_numpy())
    table["significant"] = table["p_holm"].lt(ALPHA)
    return table


def _verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """Fill ``verdict``: better/worse (difference ``p_holm < ALPHA``, by the sign of
    ``delta``), equivalent (``p_tost_holm < ALPHA``), else undecided."""
    equivalent = table["p_tost_holm"].lt(ALPHA)
    table["verdict"] = np.select(
        [table["significant"] & (table["delta"] > 0), table["significant"], equivalent],
        VERDICTS[:3],
        VERDICTS[3],
    )
    return table
