"""The report's statistics: metrics from predictions, the bootstrap, Holm, pairing, n."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from test_report_fabricate import PLANTED, REFERENCE_NOISE, fabricate

import bench.report.bootstrap
from bench.errors import BenchError
from bench.metrics import ccc
from bench.report.bootstrap import ccc_from_moments, moments, paired_bootstrap, percentile_summary
from bench.report.stats import compare_to_reference
from bench.report.summary import trial_metrics, variant_summary

N_BOOT = 400


def compare(predictions: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return compare_to_reference(predictions, trial_metrics(predictions), n_boot=N_BOOT, **kwargs)


def row(table: pd.DataFrame, variant: str, dimension: str = "avg") -> pd.Series:
    return table.set_index(["variant", "dimension"]).loc[(variant, dimension)]


@pytest.mark.parametrize(
    ("true", "pred"),
    [
        (np.random.default_rng(1).normal(3, 1, 40), np.random.default_rng(2).normal(3, 1, 40)),
        (np.array([1.0, 2.0, 3.0]), np.array([-1.0, -2.0, -3.0])),
        (np.array([2.0, 2.0, 2.0]), np.array([1.0, 2.0, 4.0])),
        (np.array([1.0, 1.0]), np.array([1.0, 1.0])),
    ],
)
def test_ccc_from_moments_matches_bench_metrics(true: np.ndarray, pred: np.ndarray) -> None:
    m = moments(true, pred, np.zeros(len(true), dtype=int), 1)[0]
    expected = ccc(true, pred)
    assert ccc_from_moments(m) == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_planted_effects_are_detected_and_the_null_variant_is_not() -> None:
    table = compare(fabricate(PLANTED))
    for dimension in ("v", "a", "avg"):
        worse = row(table, "worse", dimension)
        assert worse["significant"] and worse["p_holm"] < 0.05
        assert worse["ci_low"] < worse["delta"] < worse["ci_high"] < 0
        assert not row(table, "no_film", dimension)["significant"]
    better = row(table, "better")
    assert better["significant"] and better["ci_low"] > 0
    null = row(table, "no_film")
    assert null["ci_low"] < 0 < null["ci_high"] and null["p"] > 0.05


def test_the_estimate_is_the_mean_of_per_trial_differences_of_pooled_ccc() -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE, "worse": 0.9}, seeds=(0, 1))
    trials = trial_metrics(predictions).set_index(["variant", "fold", "seed"])
    table = compare(predictions)
    for dimension in ("v", "a", "avg"):
        metric = trials[f"ccc_{dimension}"]
        difference = (metric.loc["worse"] - metric.loc["mamba_ema"]).mean()
        assert row(table, "worse", dimension)["delta"] == pytest.approx(difference, abs=1e-10)


def test_false_positive_rate_on_null_data_is_at_most_nominal() -> None:
    flagged, raw_p = 0, []
    for seed in range(20):
        predictions = fabricate(
            {"mamba_ema": REFERENCE_NOISE, "no_film": REFERENCE_NOISE}, seed=seed, seeds=(0, 1)
        )
        table = compare(predictions, seed=seed)
        flagged += bool(table["significant"].any())
        raw_p.append(row(table, "no_film")["p"])
    assert flagged <= 2  # a family-wise 5% test flags one data set in 20 on average
    assert np.mean(np.array(raw_p) < 0.05) <= 0.15
    assert 0.25 < np.mean(raw_p) < 0.75  # roughly uniform: neither liberal nor useless


def naive_holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment written out: max over the first i of (m - j) p_(j)."""
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def test_holm_over_variants_and_dimensions_matches_statsmodels_and_the_definition() -> None:
    noise = {"mamba_ema": REFERENCE_NOISE, "a": 0.62, "b": 0.7, "c": 0.5, "d": 0.65}
    table = compare(fabricate(noise, seeds=(0, 1)))
    assert len(table) == 4 * 3
    reject, corrected, _, _ = multipletests(table["p"], 0.05, method="holm")
    np.testing.assert_allclose(table["p_holm"], corrected)
    np.testing.assert_allclose(table["p_holm"], naive_holm(table["p"].to_numpy()))
    assert list(table["significant"]) == list(reject)


def test_identical_predictions_give_zero_difference_and_p_one() -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE}, seeds=(0, 1))
    twin = predictions.assign(variant="twin")
    table = compare(pd.concat([predictions, twin]))
    assert (table["delta"] == 0).all() and (table["p"] == 1).all()
    assert (table["ci_low"] == 0).all() and (table["ci_high"] == 0).all()


def test_bootstrap_is_seeded_and_independent_of_other_variants() -> None:
    noise = {"mamba_ema": REFERENCE_NOISE, "worse": 0.75, "other": 0.5}
    predictions = fabricate(noise, seeds=(0, 1))
    first, again = compare(predictions), compare(predictions)
    pd.testing.assert_frame_equal(first, again)
    alone = compare(predictions[predictions["variant"] != "other"])
    for column in ("delta", "ci_low", "ci_high", "p"):
        assert row(alone, "worse")[column] == row(first, "worse")[column]
    reseeded = compare(predictions, seed=1)
    assert row(reseeded, "worse")["ci_low"] != row(first, "worse")["ci_low"]


def test_missing_and_mismatched_trials_are_reported_not_averaged_over() -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE, "no_film": 0.7}, seeds=(0, 1))
    is_film = predictions["variant"] == "no_film"
    dropped = is_film & (predictions["fold"] == 3) & (predictions["seed"] == 1)
    extra = predictions[is_film & (predictions["fold"] == 1) & (predictions["seed"] == 0)]
    lost_utt = is_film & (predictions["utt_id"] == "S2_u005")
    predictions = pd.concat([predictions[~dropped & ~lost_utt], extra.assign(seed=7)])
    trials = trial_metrics(predictions)
    summary = variant_summary(trials)
    assert summary.loc["no_film", "n"] == 10 and summary.loc["mamba_ema", "n"] == 10
    assert summary.loc["no_film", "n_expected"] == 11
    assert summary.loc["no_film", "missing"] == "fold3/seed1"
    assert summary.loc["mamba_ema", "missing"] == "fold1/seed7"
    film = row(compare(predictions), "no_film")
    assert film["n_pairs"] == 9
    assert film["only_reference"] == "fold3/seed1" and film["only_variant"] == "fold1/seed7"
    assert film["unpaired_utts"] == 2  # S2_u005 of seeds 0 and 1, kept only by the reference


def test_unknown_reference_is_a_clean_error() -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE}, seeds=(0,))
    with pytest.raises(BenchError, match="reference variant 'gru_ema'"):
        compare(predictions, reference="gru_ema")


def test_secondary_wilcoxon_cannot_reach_five_percent_with_five_folds() -> None:
    table = compare(fabricate({"mamba_ema": REFERENCE_NOISE, "worse": 1.2}, seeds=(0,)))
    assert (table["wilcoxon_p_secondary"] >= 0.0625 - 1e-12).all()
    assert row(table, "worse")["wilcoxon_p_secondary"] == pytest.approx(0.0625)


def test_dialog_mean_ccc_is_the_mean_over_dialogs() -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE}, seeds=(0,))
    trial = predictions[predictions["fold"] == 2]
    per_dialog = [
        (ccc(d.valence_true, d.valence_pred) + ccc(d.arousal_true, d.arousal_pred)) / 2
        for _, d in trial.groupby("dialog")
    ]
    metrics = trial_metrics(predictions).set_index("fold").loc[2]
    assert metrics["dialog_ccc_avg"] == pytest.approx(np.mean(per_dialog))
    assert metrics["n_dialogs"] == 6 and metrics["n_utts"] == 72


def test_doctests() -> None:
    assert doctest.testmod(bench.report.bootstrap).failed == 0


def test_percentile_summary_p_value_and_interval() -> None:
    replicates = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    low, high, p, n = percentile_summary(replicates, confidence=0.5)
    assert (low, high, n) == (-0.25, 3.25, 8)  # numpy's linear quantiles of the finite 8
    assert p == pytest.approx(2 * (3 + 1) / 9)  # three replicates <= 0
    assert percentile_summary(np.full(5, 0.0))[2] == 1.0
    assert percentile_summary(-np.arange(1.0, 20.0))[2] == pytest.approx(2 / 20)
    assert np.isnan(percentile_summary(np.array([np.nan]))[2])


def test_paired_bootstrap_rejects_nothing_it_cannot_compute() -> None:
    fold = np.zeros((2, 1, 2, 2, 6))  # no utterances at all: every CCC undefined
    result = paired_bootstrap([fold], 50, np.random.default_rng(0))
    assert np.isnan(result.p_value).all() and (result.n_valid == 0).all()
