"""The report's comparisons computed from a study's summary: per-dialog moments instead of
per-utterance predictions (:mod:`summarise_records`).

The report pairs two variants' trials on (fold, seed, utterance) and reduces each test
dialog to its six sufficient statistics per dimension (:func:`bench.report.stats.fold_arrays`)
before any test runs. Here the summary holds those statistics already: two trials are paired
on (fold, seed, dialog), and where both scored the same utterances (every comparison of the
studies: a fold's trials score its whole test set, a personalisation's every k the same
turns) the moment arrays are the report's, up to the order of floating-point sums, so every
number follows: each trial's pooled CCC, the paired hierarchical bootstrap (same seeds, same
draws), the HKSJ test over the test sessions, the fold-level test, Holm and the verdicts
(:func:`bench.report.stats.corrected`). A dialog both sides have with different utterance
counts cannot be paired from moments and is an error; a dialog or trial one side lacks is
left out and counted, as the report counts what it cannot pair.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
from summarise_records import DIMENSIONS as LABELS
from summarise_records import MOMENTS, SUMS, TRIAL

from bench.errors import BenchError
from bench.report.bootstrap import DIMENSIONS, MARGIN, ccc_from_moments, trial_deltas
from bench.report.comparison import Paired
from bench.report.comparisons import applying, verdict_test
from bench.report.meta import HKSJ
from bench.report.personalisation import UNADAPTED
from bench.report.power import COLUMNS as POWER_COLUMNS
from bench.report.power import TARGET, power_row, variance_components
from bench.report.stats import FAMILIES, _rng, columns, corrected
from bench.report.summary import format_trials, trial_pairs

PAIRED = ["fold", "seed", "dialog"]  # what two trials' moments pair on
KIND = "resampled"  # the studies' folds leave one session out


def moment_array(frame: pd.DataFrame, suffix: str = "") -> np.ndarray:
    """The moments of each row as ``[rows, 2 (valence, arousal), 6]`` (n, St, Sp, Stt, Spp,
    Stp: :func:`bench.report.bootstrap.moments`' order), from the columns named with
    ``suffix``."""
    n = frame[f"n{suffix}"].to_numpy(float)  # [R]
    return np.stack(
        [np.column_stack([n, *(frame[f"{d}_{s}{suffix}"].to_numpy(float) for s in SUMS)])
         for d in LABELS],
        axis=1,
    )  # fmt: skip


def dialog_moments(frame: pd.DataFrame) -> pd.DataFrame:
    """The moments per trial and test dialog (a summary per speaker summed over speakers)."""
    return frame.groupby([*TRIAL, "dialog"], sort=True)[MOMENTS].sum().reset_index()


def trial_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Per trial (variant, fold, seed): ``ccc_v``, ``ccc_a`` and ``ccc_avg`` pooled over its
    test utterances, from the moments."""
    trials = frame.groupby(TRIAL, sort=True)[MOMENTS].sum()
    scores = ccc_from_moments(moment_array(trials))  # [J, 2]
    return trials.index.to_frame(index=False).assign(
        ccc_v=scores[:, 0], ccc_a=scores[:, 1], ccc_avg=scores.mean(axis=1)
    )


def pair_dialogs(variant: pd.DataFrame, reference: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per-dialog moments (:func:`dialog_moments`) of two sides joined on (fold, seed,
    dialog), columns suffixed ``_var`` and ``_ref``, and what could not be paired
    (``only_reference``, ``only_variant``: trials; ``unpaired_utts``: the utterances of
    dialogs that one side of a common trial lacks).

    Raises:
        BenchError: a dialog that both sides have holds different numbers of utterances.
    """
    var_trials, ref_trials = trial_pairs(variant), trial_pairs(reference)
    paired = reference[[*PAIRED, *MOMENTS]].merge(
        variant[[*PAIRED, *MOMENTS]], on=PAIRED, suffixes=("_ref", "_var"), validate="one_to_one"
    )
    differ = paired[paired["n_ref"] != paired["n_var"]]
    if not differ.empty:
        row = differ.iloc[0]
        raise BenchError(
            f"fold {row['fold']} seed {row['seed']} dialog {row['dialog']}: {row['n_var']} "
            f"utterances against {row['n_ref']}; moments pair only the same utterances"
        )
    common = var_trials & ref_trials
    in_common = [
        int(side.loc[side.set_index(["fold", "seed"]).index.isin(list(common)), "n"].sum())
        for side in (variant, reference)
    ]
    return paired, {
        "only_reference": format_trials(ref_trials - var_trials),
        "only_variant": format_trials(var_trials - ref_trials),
        "unpaired_utts": sum(in_common) - 2 * int(paired["n_ref"].sum()),
    }


def fold_arrays(paired: pd.DataFrame) -> list[np.ndarray]:
    """Per fold (sorted), the bootstrap's moments ``[dialogs, seeds, 2 (variant,
    reference), 2 dims, 6]`` of :func:`pair_dialogs`' rows, dialogs and seeds sorted."""
    folds = []
    for _, fold in paired.groupby("fold", sort=True):
        dialogs, dialog_values = pd.factorize(fold["dialog"], sort=True)
        seeds, seed_values = pd.factorize(fold["seed"], sort=True)
        array = np.zeros((len(dialog_values), len(seed_values), 2, 2, len(SUMS) + 1))
        for side, suffix in enumerate(("_var", "_ref")):
            array[dialogs, seeds, side] = moment_array(fold, suffix)  # [rows, 2, 6]
        folds.append(array)
    return folds


def against_reference(
    dialogs: pd.DataFrame, reference: str
) -> Iterator[tuple[str, pd.DataFrame, dict]]:
    """Each other variant of the per-dialog moments ``dialogs`` (sorted), paired with
    ``reference`` (:func:`pair_dialogs`): the variant, the paired rows, what was not paired.

    Raises:
        BenchError: ``reference`` has no trial.
    """
    variants = sorted(dialogs["variant"].unique())
    if reference not in variants:
        raise BenchError(f"reference variant {reference!r} has no results; have {variants}")
    side = dialogs["variant"]
    for variant in (v for v in variants if v != reference):
        yield variant, *pair_dialogs(dialogs[side == variant], dialogs[side == reference])


def paired_means(
    scores: pd.DataFrame, variant: str, reference: str, pairs: set[tuple[int, int]]
) -> dict[str, dict[str, float]]:
    """Per dimension, the mean CCC of both sides over the paired (fold, seed) trials."""
    keys = scores.set_index(["fold", "seed"]).index
    means = scores[keys.isin(list(pairs))].groupby("variant")[[f"ccc_{d}" for d in DIMENSIONS]]
    means = means.mean()
    return {
        d: {"variant_mean": means[f"ccc_{d}"].get(variant, np.nan),
            "reference_mean": means[f"ccc_{d}"].get(reference, np.nan)}
        for d in DIMENSIONS
    }  # fmt: skip


def comparison_rows(
    summary: pd.DataFrame, reference: str, n_boot: int, seed: int = 0, margin: float = MARGIN
) -> pd.DataFrame:
    """:func:`bench.report.stats.comparison_rows` (folds that leave one session out) of a
    summary's trials: every variant against ``reference`` with every test of the registry
    (:mod:`bench.report.comparisons`) that applies, before Holm and the verdicts.

    Raises:
        BenchError: the reference has no trial, the margin is not a positive number, or two
            paired dialogs differ in their utterances.
    """
    if not (math.isfinite(margin) and margin > 0):
        raise BenchError(f"the equivalence margin is a positive CCC difference, not {margin}")
    dialogs = dialog_moments(summary)
    verdict, tests = verdict_test(KIND), applying(KIND)
    scores = trial_scores(dialogs)
    rows = []
    for variant, paired, unpaired in against_reference(dialogs, reference):
        pairs = trial_pairs(paired)
        means = paired_means(scores, variant, reference, pairs)
        base = {"variant": variant, "reference": reference, "margin": margin, "n_boot": n_boot,
                "seed": seed, "test": verdict.name, "scope": verdict.scopes[KIND],
                "n_pairs": len(pairs), "n_folds": paired["fold"].nunique()} | unpaired  # fmt: skip
        if paired.empty:
            rows += [base | {"dimension": d} | means[d] for d in DIMENSIONS]
            continue
        folds = fold_arrays(paired)
        keys = pd.MultiIndex.from_tuples(sorted(pairs))  # the deltas' order: fold, then seed
        deltas = pd.DataFrame(trial_deltas(folds), index=keys, columns=list(DIMENSIONS))
        data = Paired(folds, deltas, dialogs["fold"].nunique(), margin, n_boot, _rng(seed, variant))
        computed = [test.compute(data) for test in tests]  # in the registry's order
        for dimension in DIMENSIONS:
            row = base | means[dimension] | {"dimension": dimension}
            rows.append(row | {c: v for values in computed for c, v in values[dimension].items()})
    table = pd.DataFrame(rows, columns=columns())
    table["family"] = table["dimension"].map(FAMILIES)
    return table


def personalisation_comparisons(
    summary: pd.DataFrame, n_boot: int, seed: int = 0, margin: float = MARGIN
) -> pd.DataFrame:
    """The comparisons of the report's personalisation section
    (:func:`bench.report.personalisation.personalisation_report`) from one corpus's
    personalisation summary: per model, each (adapt, k > 0) against the unadapted model
    (``k = 0``, the first mode's where several hold it) on the same scored turns, Holm over
    all of them together; the columns of :func:`bench.report.stats.columns` with
    ``model``, ``adapt`` and ``k``."""
    scored = summary[summary["part"] == "scored"]
    parts = []
    for model, own in scored.groupby("variant", sort=True):
        unadapted = own[own["k"] == 0].drop_duplicates(["fold", "seed", "dialog", "speaker"])
        adapted = own[own["k"] > 0]
        adapted = adapted.assign(variant=adapted["adapt"] + " k=" + adapted["k"].astype(str))
        both = pd.concat([unadapted.assign(variant=UNADAPTED), adapted], ignore_index=True)
        names = adapted.drop_duplicates("variant")[["variant", "adapt", "k"]]
        table = comparison_rows(both, UNADAPTED, n_boot, seed, margin)
        parts.append(table.merge(names, on="variant", how="left").assign(model=model))
    comparisons = corrected(pd.concat(parts, ignore_index=True))
    return comparisons.sort_values(["model", "adapt", "k"], kind="stable")


def power_table(
    summary: pd.DataFrame, reference: str, target: float = TARGET, dimension: str = "avg"
) -> pd.DataFrame:
    """:func:`bench.report.power.power_table` (folds that leave one session out) of a
    summary's trials: per variant against ``reference``, the power analysis of the HKSJ test
    on ``dimension`` (:func:`bench.report.power.power_row` of the variance components of the
    paired moments).

    Raises:
        BenchError: ``reference`` has no trial, or two paired dialogs differ in their
            utterances.
    """
    rows = []
    for variant, paired, _ in against_reference(dialog_moments(summary), reference):
        base = {"variant": variant, "reference": reference, "dimension": dimension}
        if paired.empty:
            rows.append(base | {"test": HKSJ.name, "target": target, "seeds": []})
            continue
        components = variance_components(fold_arrays(paired), dimension)
        rows.append(base | power_row(components, target))
    return pd.DataFrame(rows, columns=POWER_COLUMNS, dtype=object)
