"""The report's statistics: metrics from predictions, the bootstrap and its TOST, the
fold-level test, Holm within the primary and secondary families, verdicts, pairing, n."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t
from scipy.stats import ttest_1samp
from statsmodels.stats.multitest import multipletests
from test_report_fabricate import PLANTED, REFERENCE_NOISE, fabricate, near_twin

import bench.report.bootstrap
from bench.errors import BenchError
from bench.metrics import ccc
from bench.report.bootstrap import (
    DIMENSIONS,
    ccc_from_moments,
    moments,
    paired_bootstrap,
    percentile_summary,
    tost_p,
)
from bench.report.meta import random_effects_hksj, session_effects
from bench.report.nadeau_bengio import corrected_resampled_t
from bench.report.stats import compare_to_reference, fold_arrays, holm, holm_columns, pair_trials
from bench.report.summary import trial_metrics, variant_summary
from bench.testing.fabricate import Components, fabricate_grid, predictions_frame

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


def test_the_estimate_and_the_fold_level_test_use_per_trial_differences_of_pooled_ccc() -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE, "worse": 0.9}, seeds=(0, 1))
    trials = trial_metrics(predictions).set_index(["variant", "fold", "seed"])
    table = compare(predictions)
    for dimension in ("v", "a", "avg"):
        metric = trials[f"ccc_{dimension}"]
        differences = (metric.loc["worse"] - metric.loc["mamba_ema"]).to_numpy()  # [10]
        found = row(table, "worse", dimension)
        assert found["delta"] == pytest.approx(differences.mean(), abs=1e-10)
        t, p = corrected_resampled_t(differences, 1 / (5 - 1))  # 5 folds, leave one out
        assert found["nb_t"] == pytest.approx(t) and found["nb_p"] == pytest.approx(p)
        assert found["nb_t"] < 0 and found["nb_p_holm"] >= found["nb_p"]


def test_the_across_session_test_is_hksj_over_each_sessions_seed_averaged_difference() -> None:
    """re_*: the random-effects test over sessions, on each fold's difference averaged over
    seeds (the per-trial differences of pooled CCC), Holm-corrected in its family."""
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE, "worse": 0.9}, seeds=(0, 1))
    trials = trial_metrics(predictions).set_index(["variant", "fold", "seed"])
    table = compare(predictions)
    for dimension in ("v", "a", "avg"):
        metric = trials[f"ccc_{dimension}"]
        by_fold = (metric.loc["worse"] - metric.loc["mamba_ema"]).groupby("fold").mean()  # [5]
        found = row(table, "worse", dimension)
        d, v = session_effects(fold_arrays(pair_for_test(predictions)))
        expected = random_effects_hksj(by_fold.to_numpy(), v[:, DIMENSIONS.index(dimension)])
        assert d[:, DIMENSIONS.index(dimension)] == pytest.approx(by_fold.to_numpy())
        assert found["re_delta"] == pytest.approx(expected.estimate)
        assert found["re_p"] == pytest.approx(expected.p) and found["re_p"] < 0.05
        assert found["re_ci_low"] < found["re_delta"] < found["re_ci_high"] < 0
        assert found["re_p_holm"] >= found["re_p"] and found["re_tau2"] >= 0
    fixed = compare(predictions, resampled_folds=False)
    assert fixed[["re_delta", "re_p", "re_p_holm", "re_p_tost_holm"]].isna().all().all()


def pair_for_test(predictions: pd.DataFrame) -> pd.DataFrame:
    """The worse variant's predictions paired with the reference's, as the report pairs them."""
    by = predictions.groupby("variant")
    return pair_trials(by.get_group("worse"), by.get_group("mamba_ema"))[0]


def test_fixed_test_sets_get_the_same_bootstrap_and_no_fold_level_test() -> None:
    """Folds that are a release's own test sets (or another corpus) resample nothing: the
    bootstrap's numbers stay, the fold-level test is left out (NaN), not run on them."""
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE, "worse": 0.9}, seeds=(0, 1))
    resampled, fixed = compare(predictions), compare(predictions, resampled_folds=False)
    assert resampled["nb_p"].notna().all()
    assert fixed[["nb_t", "nb_p", "nb_p_holm"]].isna().all().all()
    bootstrap = ["delta", "ci_low", "ci_high", "p", "p_holm", "p_tost", "bootstrap_verdict"]
    pd.testing.assert_frame_equal(fixed[bootstrap], resampled[bootstrap])
    # There the t-test over the training runs gives the verdict, scoped to these test sets:
    # each seed's difference averaged over the test sets, a t-test over the seeds.
    assert (fixed["test"] == "runs t").all() and (fixed["scope"] == "these test sets").all()
    assert fixed[["re_p", "re_p_holm"]].isna().all().all()
    assert resampled[["runs_p", "runs_p_holm"]].isna().all().all()
    trials = trial_metrics(predictions).set_index(["variant", "fold", "seed"])["ccc_avg"]
    runs = (trials.loc["worse"] - trials.loc["mamba_ema"]).groupby("seed").mean()  # [2]
    test = ttest_1samp(runs.to_numpy(), 0.0)
    worse = row(fixed, "worse")
    assert worse["runs_delta"] == pytest.approx(runs.mean()) and worse["runs_n"] == 2
    assert worse["runs_p"] == pytest.approx(test.pvalue) and worse["runs_df"] == 1
    assert worse["verdict_delta"] == worse["runs_delta"]
    assert list(fixed["significant"]) == list(fixed["runs_p_holm"] < 0.05)
    assert (resampled["test"] == "HKSJ").all() and (resampled["scope"] == "across sessions").all()


def test_false_positive_rate_on_null_data_is_at_most_nominal() -> None:
    flagged, raw_p = 0, []
    for seed in range(20):
        predictions = fabricate(
            {"mamba_ema": REFERENCE_NOISE, "no_film": REFERENCE_NOISE}, seed=seed, seeds=(0, 1)
        )
        table = compare(predictions, seed=seed)
        flagged += bool(table.query("family == 'primary'")["significant"].any())
        raw_p.append(row(table, "no_film")["p"])
    assert flagged <= 2  # a 5% test of the primary family flags one data set in 20 on average
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


@pytest.mark.parametrize("m", [1, 2, 7, 40])
def test_holm_equals_statsmodels_with_ties_and_values_near_one(m: int) -> None:
    rng = np.random.default_rng(m)
    p = rng.uniform(0, 1, m) ** 3  # many small p-values, and some whose adjustment exceeds 1
    p[: m // 3] = p[0]  # ties
    p = rng.permutation(p)
    np.testing.assert_allclose(holm(p), multipletests(p, 0.05, method="holm")[1], rtol=0, atol=0)
    np.testing.assert_allclose(holm(p), naive_holm(p))


def test_holm_within_each_family_matches_statsmodels_and_the_definition() -> None:
    noise = {"mamba_ema": REFERENCE_NOISE, "a": 0.62, "b": 0.7, "c": 0.5, "d": 0.65}
    table = compare(fabricate(noise, seeds=(0, 1)))
    assert len(table) == 4 * 3
    families = {"primary": {"avg"}, "secondary": {"v", "a"}}
    for family, dimensions in families.items():
        members = table[table["family"] == family]
        assert set(members["dimension"]) == dimensions and len(members) == 4 * len(dimensions)
        for raw, corrected in holm_columns().items():
            if raw.startswith("runs_"):  # fixed test sets only
                assert members[raw].isna().all() and members[corrected].isna().all()
                continue
            assert members[raw].notna().all()
            adjusted = multipletests(members[raw], 0.05, method="holm")[1]
            np.testing.assert_allclose(members[corrected], adjusted)
            np.testing.assert_allclose(members[corrected], naive_holm(members[raw].to_numpy()))
        assert list(members["significant"]) == list(members["re_p_holm"] < 0.05)  # HKSJ
    # Over one family of all twelve tests the correction would be larger.
    assert (table["p_holm"] <= naive_holm(table["p"].to_numpy()) + 1e-12).all()


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


def test_identical_predictions_leave_the_fold_level_test_undefined() -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE}, seeds=(0, 1))
    table = compare(pd.concat([predictions, predictions.assign(variant="twin")]))
    assert table["nb_t"].isna().all() and table["nb_p_holm"].isna().all()  # zero variance


def test_verdicts_better_worse_equivalent_undecided() -> None:
    predictions = fabricate(PLANTED)
    twin = near_twin(predictions, "mamba_ema", "twin")
    table = compare(pd.concat([predictions, twin]))
    avg = table[table["dimension"] == "avg"].set_index("variant")
    assert avg["verdict"].to_dict() == {
        "better": "better", "twin": "equivalent", "no_film": "undecided", "worse": "worse",
    }  # fmt: skip
    assert avg.loc["twin", "p_tost_holm"] < 0.05 and not avg.loc["twin", "significant"]
    # The null variant is not significantly different, and still not equivalent: its CI
    # reaches beyond the margin, so the TOST cannot reject.
    null = avg.loc["no_film"]
    assert null["p_holm"] > 0.05 and null["p_tost_holm"] > 0.05
    assert null["ci_low"] < -0.02 or null["ci_high"] > 0.02
    assert set(table["verdict"]) <= {"better", "worse", "equivalent", "undecided"}
    assert (table["margin"] == 0.02).all()


def test_a_wider_margin_makes_a_null_variant_equivalent_but_not_a_worse_one() -> None:
    predictions = fabricate(PLANTED)
    table = compare(predictions, margin=0.2)
    assert row(table, "no_film")["verdict"] == "equivalent"
    worse = row(table, "worse")  # inside +-0.2 too, but the difference test comes first
    assert worse["verdict"] == "worse" and worse["p_tost_holm"] < 0.05
    narrow = compare(predictions, margin=0.001)
    assert set(narrow["verdict"]) == {"better", "worse", "undecided"}


@pytest.mark.parametrize("margin", [0.0, -0.02, float("nan")])
def test_a_margin_that_is_not_positive_is_a_clean_error(margin: float) -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE}, seeds=(0,))
    with pytest.raises(BenchError, match="equivalence margin is a positive CCC difference"):
        compare(predictions, margin=margin)


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


def naive_tost(replicates: np.ndarray, margin: float) -> float:
    """TOST p from the definition, by counting in a loop over the finite replicates."""
    finite = [r for r in replicates if np.isfinite(r)]
    below = sum(1 for r in finite if r <= -margin)
    above = sum(1 for r in finite if r >= margin)
    return max((1 + below) / (len(finite) + 1), (1 + above) / (len(finite) + 1))


@pytest.mark.parametrize("shift", [0.0, 0.005, 0.015, -0.03])
def test_tost_p_matches_its_definition_and_the_90_percent_interval(shift: float) -> None:
    replicates = np.random.default_rng(4).normal(shift, 0.006, 999)
    replicates[::50] = np.nan
    p = tost_p(replicates, 0.02)
    assert p == pytest.approx(naive_tost(replicates, 0.02))
    low, high = np.nanquantile(replicates, [0.05, 0.95])
    assert (p < 0.05) == (low > -0.02 and high < 0.02)


def test_tost_p_edge_cases() -> None:
    assert tost_p(np.zeros(99), 0.02) == pytest.approx(1 / 100)  # all inside
    assert tost_p(np.full(99, 0.02), 0.02) == 1.0  # on the margin is not inside
    assert tost_p(np.array([-0.5, 0.5]), 0.02) == pytest.approx(2 / 3)
    assert np.isnan(tost_p(np.array([np.nan, np.nan]), 0.02))


def test_paired_bootstrap_rejects_nothing_it_cannot_compute() -> None:
    fold = np.zeros((2, 1, 2, 2, 6))  # no utterances at all: every CCC undefined
    result = paired_bootstrap([fold], 50, np.random.default_rng(0))
    assert np.isnan(result.p_value).all() and (result.n_valid == 0).all()
    assert np.isnan(result.p_tost).all()


def test_the_verdict_is_across_sessions_where_the_bootstrap_holds_them_fixed() -> None:
    """With a variant x session interaction (tau 0.08) and no difference on average, the
    bootstrap, which holds the five sessions fixed, calls many grids better or worse; the
    verdict, HKSJ over the sessions, keeps its level, and the bootstrap's call stays
    beside it as a statement about these sessions."""
    components = Components(seeds=3, tau=0.08)
    verdicts, bootstrap = [], []
    for seed in range(20):
        grid = fabricate_grid(components, 0.0, np.random.default_rng(seed))
        avg = row(compare(predictions_frame(grid, "no_film", "mamba_ema"), seed=seed), "no_film")
        assert avg["test"] == "HKSJ" and avg["scope"] == "across sessions"
        verdicts.append(avg["verdict"])
        bootstrap.append(avg["bootstrap_verdict"])
    wrong = sum(v in ("better", "worse") for v in verdicts)
    wrong_bootstrap = sum(v in ("better", "worse") for v in bootstrap)
    assert wrong <= 2 and wrong_bootstrap >= 5, (verdicts, bootstrap)


def test_the_interval_beside_the_verdict_is_the_verdict_tests_at_holms_level() -> None:
    """Better or worse exactly where the interval excludes 0, equivalent exactly where the
    TOST's interval lies inside the margin; HKSJ's t interval at 1 - 0.05 p / p_Holm."""
    predictions = fabricate(PLANTED)
    table = compare(pd.concat([predictions, near_twin(predictions, "mamba_ema", "twin")]))
    assert set(table["verdict"]) == {"better", "worse", "equivalent", "undecided"}
    for _, r in table.iterrows():
        excludes_zero = r["verdict_low"] > 0 or r["verdict_high"] < 0
        assert excludes_zero == (r["verdict"] in ("better", "worse")), r
        assert r["verdict_low"] < r["verdict_delta"] == r["re_delta"] < r["verdict_high"]
        if r["verdict"] == "equivalent":
            gamma = 0.05 * r["re_p_tost"] / r["re_p_tost_holm"]
            assert r["verdict_low"] > -0.02 and r["verdict_high"] < 0.02
            assert r["verdict_level"] == pytest.approx(1 - 2 * gamma)
            continue
        gamma = 0.05 * r["re_p"] / r["re_p_holm"]
        assert r["verdict_level"] == pytest.approx(1 - gamma) and r["verdict_level"] >= 0.95
        half = student_t.isf(gamma / 2, r["re_df"]) * r["re_se"]
        assert r["verdict_high"] - r["verdict_delta"] == pytest.approx(half)
        # Wider than the unadjusted 95% interval wherever Holm tests at a smaller level.
        assert r["verdict_high"] - r["verdict_low"] >= r["re_ci_high"] - r["re_ci_low"] - 1e-12


def test_on_fixed_test_sets_the_interval_is_the_runs_t_tests_at_holms_level() -> None:
    predictions = fabricate(PLANTED, seeds=(0, 1, 2, 3))
    table = compare(predictions, resampled_folds=False)
    for _, r in table.iterrows():
        excludes_zero = r["verdict_low"] > 0 or r["verdict_high"] < 0
        assert excludes_zero == (r["verdict"] in ("better", "worse")), r
        if r["verdict"] != "equivalent":
            gamma = 0.05 * r["runs_p"] / r["runs_p_holm"]
            assert r["verdict_level"] == pytest.approx(1 - gamma)
            half = student_t.isf(gamma / 2, r["runs_df"]) * r["runs_se"]
            assert r["verdict_high"] - r["runs_delta"] == pytest.approx(half)


def test_one_session_gives_no_verdict_across_sessions() -> None:
    """HKSJ needs two sessions: with one the verdict is undecided, with no interval, and the
    bootstrap's verdict about that session stays."""
    predictions = fabricate(PLANTED)
    table = compare(predictions[predictions["fold"] == 1])
    assert (table["verdict"] == "undecided").all() and not table["significant"].any()
    assert table[["verdict_low", "verdict_high", "verdict_level", "re_p"]].isna().all().all()
    assert row(table, "better")["bootstrap_verdict"] == "better"
