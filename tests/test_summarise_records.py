"""``benchmarks/summarise_records.py`` and ``benchmarks/summary_stats.py``: raw trial records
written as the studies write them (``bench.results.write_trial``,
``bench.personalise.store.write_personalised``) are summarised to per-dialog moments, and
every number the report computes from the raw predictions follows from the summary: each
trial's pooled CCC, the bootstrap's and HKSJ's per-fold inputs, the comparison tables and
the personalisation section's comparisons."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_rederive_claims import SYMMETRIC, per_session, personalised
from test_report_fabricate import history, near_twin, write_results

from bench.errors import BenchError
from bench.metrics import ccc
from bench.personalise.store import load_personalised, read_personalised
from bench.report import power, stats
from bench.report.bootstrap import ccc_from_moments
from bench.report.meta import session_effects
from bench.report.personalisation import personalisation_report
from bench.report.summary import trial_metrics
from bench.results import load_table, stored_trials
from bench.tune.store import (
    Choice,
    ConfigurationRecord,
    TuningKey,
    write_choice,
    write_configuration,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import summary_stats  # noqa: E402
from personalise_effects import K, offset_gains  # noqa: E402
from summarise_records import (  # noqa: E402
    MOMENTS,
    file_name,
    personalise_moments,
    study_tables,
    trial_moments,
    write_summary,
)

N_BOOT = 300
NUMBERS = ["delta", "ci_low", "ci_high", "p", "p_tost", "nb_t", "nb_p", "re_delta", "re_ci_low",
           "re_ci_high", "re_se", "re_tau2", "re_p", "re_p_tost", "variant_mean",
           "reference_mean", "verdict_delta", "verdict_low", "verdict_high", "p_holm",
           "re_p_holm"]  # fmt: skip
WORDS = ["variant", "reference", "dimension", "verdict", "bootstrap_verdict", "n_pairs",
         "n_folds", "unpaired_utts", "only_reference", "only_variant"]  # fmt: skip


def raw_predictions(root: Path) -> pd.DataFrame:
    """Every trial's stored predictions under one results store."""
    keys = [key for key, _ in stored_trials(root, "synthetic")]
    return load_table(root, keys, "predictions.parquet")


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """Planted-effects records of one corpus, methods ``old`` and ``ramp`` (``ramp``: each
    variant again up to small noise), and their summary tables."""
    root = tmp_path_factory.mktemp("planted")
    old = per_session(SYMMETRIC)
    ramp = pd.concat(
        [near_twin(old, v, v, sd=0.05, seed=i) for i, v in enumerate(old["variant"].unique())]
    )
    for method, frame in (("old", old), ("ramp", ramp)):
        write_results(root / "seed7-context-true" / method, frame)
    write_search(root / "seed7-context-true" / "tuning-ramp")
    return root, study_tables("planted_effects", root)


def write_search(store: Path) -> None:
    """A tuning store as ``bench tune`` leaves it: mamba_ema on fold 1, two configurations
    (the first stopped before any eligible epoch, so unscored), the second chosen."""
    key = TuningKey("synthetic", "mamba_ema", 1)
    curve = history(0.4).assign(teacher_probability=1.0)
    for index, eligible in ((0, False), (1, True)):
        rows = curve.assign(eligible=eligible).to_dict("records")
        status = "finished" if eligible else "stopped"
        record = ConfigurationRecord.from_history(index, {"train.lr": 1e-3 * (index + 1)},
                                                  f"hash{index}", status, rows)  # fmt: skip
        write_configuration(store, key, record)
    write_choice(store, key, Choice(1, {"train.lr": 2e-3}, record.score, 2, "ramp", "", "base"))


def test_each_trials_ccc_from_its_moments_is_the_ccc_of_its_predictions(planted) -> None:
    root, tables = planted
    summary = tables["moments"]
    assert set(summary["method"]) == {"old", "ramp"}
    for method in ("old", "ramp"):
        raw = raw_predictions(root / "seed7-context-true" / method)
        from_raw = trial_metrics(raw).set_index(["variant", "fold", "seed"])
        own = summary[summary["method"] == method]
        scores = summary_stats.trial_scores(own).set_index(["variant", "fold", "seed"])
        assert len(scores) == len(from_raw) == 60  # 4 variants x 5 folds x 3 seeds
        for column in ("ccc_v", "ccc_a", "ccc_avg"):
            assert np.allclose(scores[column], from_raw.loc[scores.index, column], atol=1e-12)
        assert own["n"].sum() == len(raw)  # one row per dialog holds every utterance


def test_the_bootstrap_and_hksj_inputs_of_the_summary_are_the_reports(planted) -> None:
    root, tables = planted
    raw = raw_predictions(root / "seed7-context-true" / "old")
    summary = tables["moments"][tables["moments"]["method"] == "old"]
    side = raw["variant"]
    paired, unpaired = stats.pair_trials(raw[side == "gru_ema"], raw[side == "stateless"])
    mine, mine_unpaired = summary_stats.pair_dialogs(
        *(summary[summary["variant"] == v] for v in ("gru_ema", "stateless"))
    )
    assert mine_unpaired == unpaired
    reports, ours = stats.fold_arrays(paired), summary_stats.fold_arrays(mine)
    assert [f.shape for f in ours] == [f.shape for f in reports]  # [D, S, 2, 2, 6] per fold
    for report, our in zip(reports, ours, strict=True):
        assert np.array_equal(report[..., 0], our[..., 0])  # n per dialog, seed, side
        # the report centres the values (CCC does not change); per dialog and seed alike
        assert np.allclose(
            ccc_from_moments(report), ccc_from_moments(our), atol=1e-12, equal_nan=True
        )
    for a, b in zip(session_effects(reports), session_effects(ours), strict=True):
        assert np.allclose(a, b, atol=1e-12)  # HKSJ's d_k and v_k


def test_the_comparison_table_from_the_summary_is_the_reports(planted) -> None:
    root, tables = planted
    raw = raw_predictions(root / "seed7-context-true" / "old")
    summary = tables["moments"][tables["moments"]["method"] == "old"]
    report = stats.compare_to_reference(raw, trial_metrics(raw), "stateless", N_BOOT, seed=3)
    ours = stats.corrected(summary_stats.comparison_rows(summary, "stateless", N_BOOT, seed=3))
    assert ours[WORDS].equals(report[WORDS])
    assert np.allclose(ours[NUMBERS].to_numpy(float), report[NUMBERS].to_numpy(float),
                       atol=1e-10, equal_nan=True)  # fmt: skip
    assert {"better", "worse"} & set(ours["verdict"])  # the planted differences are found


def test_moments_pair_only_the_same_utterances(planted) -> None:
    _, tables = planted
    summary = tables["moments"][tables["moments"]["method"] == "old"]
    gru = summary[summary["variant"] == "gru_ema"]
    stateless = summary[summary["variant"] == "stateless"]
    short = stateless.copy()
    short.loc[short.index[0], "n"] -= 1  # one dialog of one trial has lost an utterance
    with pytest.raises(BenchError, match="moments pair only the same utterances"):
        summary_stats.pair_dialogs(gru, short)
    lost = gru[gru["dialog"] != "S1_d0"]  # a dialog the variant lacks on fold 1
    paired, unpaired = summary_stats.pair_dialogs(lost, stateless)
    dropped = stateless[stateless["dialog"] == "S1_d0"]
    assert unpaired["unpaired_utts"] == dropped["n"].sum()  # counted, as the report counts
    assert len(paired) == len(lost)


def test_the_summary_keeps_its_values_through_parquet(planted, tmp_path: Path) -> None:
    _, tables = planted
    write_summary(tables, "planted_effects", tmp_path)
    back = pd.read_parquet(tmp_path / file_name("planted_effects", "moments"))
    pd.testing.assert_frame_equal(
        back, tables["moments"], check_dtype=False, check_column_type=False
    )
    assert (back[MOMENTS[1:]].dtypes == "float64").all()  # exact: no float32 moments
    trials = pd.read_parquet(tmp_path / "planted_effects.trials.parquet")
    assert len(trials) == 120 and "outcome.metrics.test.ccc_avg" in trials
    epochs = pd.read_parquet(tmp_path / "planted_effects.epochs.parquet")
    assert epochs.groupby(["method", "variant", "fold", "seed"]).ngroups == 120
    tuning = pd.read_parquet(tmp_path / "planted_effects.tuning.parquet")
    pd.testing.assert_frame_equal(tuning, tables["tuning"], check_column_type=False)


def test_the_searches_are_summarised_with_their_choice(planted) -> None:
    _, tables = planted
    tuning = tables["tuning"]
    assert tuning[["method", "variant", "fold", "configuration"]].values.tolist() == [
        ["tuning-ramp", "mamba_ema", 1, 0], ["tuning-ramp", "mamba_ema", 1, 1]
    ]  # fmt: skip
    assert tuning["chosen"].tolist() == [False, True]
    assert tuning["score"].isna().tolist() == [True, False]  # no eligible epoch: no score
    assert tuning["values.train.lr"].tolist() == [1e-3, 2e-3]
    epochs = tables["epochs"]
    searched = epochs[epochs["configuration"].notna()]
    assert len(searched) == 12 and searched["seed"].isna().all()  # 2 configurations x 6
    assert not searched["eligible"].iloc[:6].any() and searched["eligible"].iloc[6:].all()


def test_a_folder_without_records_is_named(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no planted_effects records at"):
        study_tables("planted_effects", tmp_path / "none")
    (tmp_path / "empty" / "seed7-context-true" / "old").mkdir(parents=True)
    with pytest.raises(BenchError, match="no stored trial under"):
        study_tables("planted_effects", tmp_path / "empty")


def test_trial_moments_are_the_summarys(planted) -> None:
    root, tables = planted
    raw = raw_predictions(root / "seed7-context-true" / "ramp")
    summary = tables["moments"]
    ramp = summary[summary["method"] == "ramp"].drop(columns=["corpus", "method"])
    pd.testing.assert_frame_equal(trial_moments(raw), ramp.reset_index(drop=True),
                                  check_dtype=False)  # fmt: skip


@pytest.fixture(scope="module")
def personalisations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """One corpus of personalisation records (film halves mamba_ema's noise at k = 10) and
    its summary's moments."""
    root = tmp_path_factory.mktemp("personalise")
    corpus = root / "seed7-nocontext-speaker-truex6"
    personalised(corpus)
    return corpus, study_tables("personalise_effects", root)["moments"]


def stored_rows(corpus: Path) -> pd.DataFrame:
    """Every stored personalisation of a corpus, as ``bench report`` loads them."""
    frames = []
    for key, _ in stored_trials(corpus, "synthetic"):
        for mode in ("film", "film_last", "head_bias"):
            record = read_personalised(corpus, key, mode)
            if record is not None:
                frames.append(load_personalised(corpus, record))
    return pd.concat(frames, ignore_index=True)


def test_the_personalisation_comparisons_are_the_reports(personalisations) -> None:
    corpus, summary = personalisations
    assert set(summary["part"]) == {"trial", "scored", "enrolment"}
    report = personalisation_report(stored_rows(corpus), {}, N_BOOT, 1, 0.02).comparisons
    ours = summary_stats.personalisation_comparisons(summary, N_BOOT, 1, 0.02)
    words = [*WORDS, "model", "adapt", "k"]
    assert ours[words].reset_index(drop=True).equals(report[words].reset_index(drop=True))
    assert np.allclose(ours[NUMBERS].to_numpy(float), report[NUMBERS].to_numpy(float),
                       atol=1e-10, equal_nan=True)  # fmt: skip
    film = ours.set_index(["model", "adapt", "k", "dimension"]).loc[("mamba_ema", "film", 10, "a")]
    assert film["delta"] > 0.05  # the planted gain


def test_the_offsets_from_the_summary_are_those_of_the_predictions(personalisations) -> None:
    corpus, summary = personalisations
    oracle, enrolled = [], []
    for key, _ in stored_trials(corpus, "synthetic"):
        if key.variant != "mamba_ema":
            continue
        folder = key.folder(corpus)
        scored = pd.read_parquet(folder / "personalise" / "film" / "k0.parquet")
        streamed = pd.read_parquet(folder / "predictions.parquet")
        unscored = streamed[~streamed["utt_id"].isin(scored["utt_id"])]
        first = unscored.groupby("speaker", sort=False).head(K)
        true, pred = scored["arousal_true"], scored["arousal_pred"]
        base = ccc(true, pred)
        error = (true - pred).groupby(scored["speaker"]).transform("mean")
        oracle.append(ccc(true, pred + error) - base)
        learnt = (first["arousal_true"] - first["arousal_pred"]).groupby(first["speaker"]).mean()
        enrolled.append(ccc(true, pred + scored["speaker"].map(learnt)) - base)
    assert len(oracle) == 10  # 5 folds x 2 seeds
    assert np.allclose(offset_gains(summary), (np.mean(oracle), np.mean(enrolled)), atol=1e-12)
    assert offset_gains(summary)[0] > 0  # in-sample, an offset cannot lose
    assert offset_gains(personalise_moments(corpus)) == offset_gains(summary)  # the live path


def test_the_power_table_from_the_summary_is_the_reports(planted) -> None:
    root, tables = planted
    raw = raw_predictions(root / "seed7-context-true" / "old")
    summary = tables["moments"][tables["moments"]["method"] == "old"]
    report = power.power_table(raw, "mamba_ema", target=0.02)
    ours = summary_stats.power_table(summary, "mamba_ema", target=0.02)
    assert list(ours.columns) == list(report.columns) and len(ours) == 3
    for column in report.columns:
        for a, b in zip(ours[column], report[column], strict=True):
            if isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-9, abs=1e-12, nan_ok=True), column
            else:
                assert a == b, column
    with pytest.raises(BenchError, match="has no results"):
        summary_stats.power_table(summary, "no_such_variant")
