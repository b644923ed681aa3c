"""Paired comparisons of every variant with the reference variant.

For each variant, the trials are paired with the reference's on the same (fold, seed) and
then on the same test utterances (``utt_id``). Trials or utterances that only one side has
are left out of the comparison and reported (``only_reference``, ``only_variant``,
``unpaired_utts``), never silently averaged over.

Primary test: the paired hierarchical bootstrap of :mod:`bench.report.bootstrap` (dialogs
resampled within each test session, seeds within each fold), for each dimension (v, a, avg).
The family of all variants x dimensions is Holm-corrected with statsmodels'
``multipletests``. Secondary, uncorrected and labelled as such: scipy's exact two-sided
Wilcoxon signed-rank test over the per-fold mean differences; with 5 folds its smallest
attainable p is 2 / 2^5 = 0.0625, so it can never reach 0.05 there.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from statsmodels.stats.multitest import multipletests

from bench.errors import BenchError
from bench.report.bootstrap import DIMENSIONS, MOMENTS, moments, paired_bootstrap
from bench.report.summary import PRED, TRUE, format_trials, trial_pairs

ALPHA = 0.05
COLUMNS = [
    "variant", "reference", "dimension", "n_pairs", "n_folds", "variant_mean",
    "reference_mean", "delta", "ci_low", "ci_high", "p", "p_holm", "significant",
    "wilcoxon_p_secondary", "only_reference", "only_variant", "unpaired_utts", "n_boot", "seed",
]  # fmt: skip


def _fold_arrays(paired: pd.DataFrame) -> list[np.ndarray]:
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


def _pair(variant: pd.DataFrame, reference: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
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


def _wilcoxon(fold_deltas: np.ndarray) -> float:
    """Exact two-sided Wilcoxon signed-rank p over per-fold differences; NaN if undefined."""
    finite = fold_deltas[np.isfinite(fold_deltas)]
    if not np.any(finite != 0):
        return float("nan")
    return float(wilcoxon(finite, alternative="two-sided").pvalue)


def _rng(seed: int, variant: str) -> np.random.Generator:
    """A generator per (seed, variant): a comparison does not depend on the other variants."""
    return np.random.default_rng([seed, zlib.crc32(variant.encode())])


def compare_to_reference(
    predictions: pd.DataFrame,
    trials: pd.DataFrame,
    reference: str = "mamba_ema",
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """The stats table: one row per (variant, dimension) against the reference.

    Args:
        predictions: per-utterance predictions with variant, fold and seed columns, as
            ``bench.results.load_table(root, protocol, PREDICTIONS_FILE)`` returns them.
        trials: their per-trial metrics (:func:`bench.report.summary.trial_metrics`).
        reference: the variant every other one is compared with.
        n_boot: bootstrap replicates per comparison.
        seed: seeds the bootstrap (with the variant's name), so a report is reproducible.

    Returns:
        Columns ``COLUMNS``: ``delta`` (variant minus reference, mean over paired trials),
        ``ci_low``/``ci_high`` (95% percentile CI), ``p`` (bootstrap, two-sided), ``p_holm``
        (Holm over every finite p of the table), ``significant`` (``p_holm < 0.05``),
        ``variant_mean``/``reference_mean`` (mean CCC over the paired trials) and the
        bookkeeping of what could not be paired.
    """
    variants = sorted(predictions["variant"].unique())
    if reference not in variants:
        raise BenchError(f"reference variant {reference!r} has no results; have {variants}")
    ref_preds = predictions[predictions["variant"] == reference]
    rows = []
    for variant in (v for v in variants if v != reference):
        paired, unpaired = _pair(predictions[predictions["variant"] == variant], ref_preds)
        means = _paired_means(trials, variant, reference, paired)
        base = {"variant": variant, "reference": reference, "n_boot": n_boot, "seed": seed}
        base |= {"n_pairs": paired.groupby(["fold", "seed"]).ngroups} | unpaired
        base["n_folds"] = paired["fold"].nunique()
        if paired.empty:
            rows += [base | {"dimension": d} | means[d] for d in DIMENSIONS]
            continue
        result = paired_bootstrap(_fold_arrays(paired), n_boot, _rng(seed, variant))
        for j, dimension in enumerate(DIMENSIONS):
            rows.append(
                base | means[dimension] | {
                    "dimension": dimension, "delta": result.estimate[j],
                    "ci_low": result.ci_low[j], "ci_high": result.ci_high[j],
                    "p": result.p_value[j],
                    "wilcoxon_p_secondary": _wilcoxon(result.fold_deltas[:, j]),
                }
            )  # fmt: skip
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    return _holm(table)


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


def _holm(table: pd.DataFrame) -> pd.DataFrame:
    """Fill ``p_holm`` and ``significant``: Holm over the finite p-values of the family."""
    finite = table["p"].notna()
    table["p_holm"] = np.nan
    table["significant"] = False
    if finite.any():
        reject, corrected, _, _ = multipletests(table.loc[finite, "p"], ALPHA, method="holm")
        table.loc[finite, "p_holm"] = corrected
        table.loc[finite, "significant"] = reject
    return table
