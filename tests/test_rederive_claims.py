"""The planted-effects table of ``benchmarks/planted_effects.py`` (which
``benchmarks/rederive_claims.py`` applies to the studies' summaries) on the moments of
fabricated predictions with planted differences: what it counts as detected across sessions,
and what only for these sessions; and the re-derivation script end to end on the summaries
of fabricated records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_report_fabricate import REFERENCE_NOISE, fabricate, near_twin, write_results

from bench.personalise.store import PersonaliseRecord, write_personalised

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from planted_effects import PLANNED_PAIRS, counts, planned_tests  # noqa: E402
from planted_effects import family_table as summary_table  # noqa: E402
from rederive_claims import gain_contrasts  # noqa: E402
from summarise_records import trial_moments  # noqa: E402

N_BOOT = 500
CONSISTENT = {"stateless": REFERENCE_NOISE, "mamba_ema": 0.45, "no_prosody": 0.8}
# gru_ema - stateless per session: +0.09, -0.15, +0.11, -0.12, 0.00 (seed 0): an interaction
# of the variant with the session, and no difference on average
SYMMETRIC = (0.35, 0.84, 0.35, 0.84, REFERENCE_NOISE)
# +0.09, -0.15, +0.11, +0.01, +0.13: these sessions' mean is positive (+0.04), but one
# session goes the other way by more (an interaction that these sessions happen to tilt)
TILTED = (0.35, 0.84, 0.35, REFERENCE_NOISE, 0.35)


def per_session(gru_noise: tuple[float, ...], seed: int = 0) -> pd.DataFrame:
    """mamba_ema, stateless and no_prosody with one noise level on every fold (mamba_ema
    better than stateless, no_prosody worse than mamba_ema, in every session), and gru_ema
    with its own level per fold (``gru_noise[k]`` on fold ``k + 1``). Every variant scores
    the same labels: :func:`test_report_fabricate.fabricate` draws the same number of values
    whatever the noise levels, so its draws with one seed share their labels."""
    folds = []
    for k, noise in enumerate(gru_noise):
        made = fabricate(CONSISTENT | {"gru_ema": noise}, seed=seed, dialogs=8, utterances=16)
        folds.append(made[made["fold"] == k + 1])
    return pd.concat(folds, ignore_index=True)


def family_table(predictions: pd.DataFrame, *args) -> pd.DataFrame:
    """``planted_effects.family_table`` of the predictions' per-dialog moments."""
    return summary_table(trial_moments(predictions), *args)


def test_the_fabricated_variants_share_labels_and_plant_what_they_say() -> None:
    predictions = per_session(SYMMETRIC)
    labels = predictions.groupby("utt_id")[["valence_true", "arousal_true"]].nunique()
    assert (labels == 1).all().all()  # one label per utterance, whichever variant
    table = family_table(predictions, [("gru_ema", "stateless")], N_BOOT)
    d = table.loc[("gru_ema", "stateless", "avg")]
    assert d["re_tau2"] > 0.005  # the sessions disagree: an interaction


def test_a_planted_effect_is_detected_across_sessions_and_an_interaction_is_not() -> None:
    table = family_table(per_session(SYMMETRIC), PLANNED_PAIRS, N_BOOT)
    mamba, gru, prosody = planned_tests(table, context=True)
    assert mamba.across.verdict == "better" and mamba.across.significant
    assert prosody.across.verdict == "worse" and prosody.planted == -1
    assert not gru.across.significant and gru.across.verdict == "undecided"
    assert abs(gru.across.delta) < 0.05
    line = counts({"context": [mamba, gru, prosody]}, "across")
    assert "planted effects detected 2 of 3 (wrong direction: 0)" in line
    # Holm over exactly the three planned tests of CCC-avg
    avg = table.xs("avg", level="dimension")
    assert len(avg) == 3 and (avg["re_p_holm"] >= avg["re_p"]).all()
    assert avg["re_p_holm"].max() <= min(1.0, 3 * avg["re_p"].max())


def test_an_interaction_that_tilts_these_sessions_counts_for_them_only() -> None:
    table = family_table(per_session(TILTED), PLANNED_PAIRS, N_BOOT)
    _, gru, _ = planned_tests(table, context=True)
    assert gru.these.significant and gru.these.delta > 0.02  # the bootstrap: these sessions
    assert not gru.across.significant  # HKSJ: other sessions like these
    tests = planned_tests(table, context=True)
    assert "detected 3 of 3" in counts({"c": tests}, "these")
    assert "detected 2 of 3" in counts({"c": tests}, "across")


def test_on_a_null_corpus_a_stateful_difference_counts_two_sided() -> None:
    table = family_table(per_session(SYMMETRIC), PLANNED_PAIRS, N_BOOT)
    tests = planned_tests(table, context=False)
    assert [t.planted for t in tests] == [0, 0, -1]
    line = counts({"null": tests}, "across")
    assert "planted effects detected 1 of 1" in line  # no_prosody
    assert "significant (two-sided) 1 of 2 (better 1, worse 0)" in line  # mamba_ema


def test_a_contrast_of_two_trainings_tests_their_difference_across_sessions() -> None:
    first = per_session(SYMMETRIC)
    # the second training: mamba_ema no better than stateless (a near twin of it)
    others = first[first["variant"] != "mamba_ema"]
    second = pd.concat([others, near_twin(first, "stateless", "mamba_ema")], ignore_index=True)
    first, second = trial_moments(first), trial_moments(second)
    table = gain_contrasts(first, second, PLANNED_PAIRS).set_index(["variant", "dimension"])
    gain = table.loc[("mamba_ema - stateless", "avg")]
    assert gain["verdict"] == "better" and gain["verdict_low"] > 0  # a larger gain in first
    loss = table.loc[("no_prosody - mamba_ema", "avg")]
    assert loss["verdict"] == "worse"  # the larger gap to the better mamba_ema
    same = table.loc[("gru_ema - stateless", "avg")]  # the same trials on both sides
    assert same["verdict"] == "undecided" and pd.isna(same["re_p"])
    assert (table["scope"] == "across sessions").all() and table["p"].isna().all()
    with pytest.raises(Exception, match="folds"):
        gain_contrasts(first, second[second["fold"] != 5], PLANNED_PAIRS[:1])


def personalised(root: Path) -> None:
    """mamba_ema (film, film_last, head_bias) and no_film (head_bias) trials with their
    personalisations at k = 0 and 10: film halves the noise (a planted gain), the others
    leave the predictions as they were (up to tiny noise). Scored: every dialog but the
    first, whose turns enrol."""
    made = fabricate(
        {"mamba_ema": REFERENCE_NOISE, "no_film": REFERENCE_NOISE, "film": REFERENCE_NOISE / 2},
        seeds=(0, 1),
    )
    write_results(root, made[made["variant"] != "film"])
    scored = made[~made["dialog"].str.endswith("_d0")]
    for model, modes in (("mamba_ema", ("film", "film_last", "head_bias")),
                         ("no_film", ("head_bias",))):  # fmt: skip
        base = scored[scored["variant"] == model]
        for mode in modes:
            source = "film" if mode == "film" else model
            adapted = near_twin(scored, source, model, sd=0.001)
            rows = pd.concat([base.assign(k=0), adapted.assign(k=10)], ignore_index=True)
            for (fold, seed), trial in rows.groupby(["fold", "seed"]):
                record = PersonaliseRecord(
                    protocol="synthetic", variant=model, fold=int(fold), seed=int(seed),
                    adapt=mode, trial_hash="fabricated", config={"k": [0, 10]},
                    config_hash="fabricated", counts={}, skipped_speakers={},
                    adapt_seconds=0.0, git_commit="fabricated", created="2026-01-01T00:00:00",
                )  # fmt: skip
                write_personalised(root, record, trial)


@pytest.mark.slow
def test_the_script_rederives_both_sections_from_stored_records(tmp_path: Path) -> None:
    old = per_session(SYMMETRIC)
    names = old["variant"].unique()  # ramp: each variant again, up to small noise
    ramp = pd.concat([near_twin(old, v, v, sd=0.05, seed=i) for i, v in enumerate(names)])
    for method, frame in (("old", old), ("ramp", ramp)):
        write_results(tmp_path / "planted" / "seed7-context-true" / method, frame)
    personalised(tmp_path / "personalise" / "seed7-nocontext-speaker-truex6")
    summaries = tmp_path / "summaries"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "summarise_records.py"), "--planted",
         str(tmp_path / "planted"), "--personalise", str(tmp_path / "personalise"), "--out",
         str(summaries)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "rederive_claims.py"), "--bootstrap", "200",
         "--planted", str(summaries / "planted_effects.parquet"), "--unadjusted",
         "--personalise", str(summaries / "personalise_effects.parquet")],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    out = done.stdout
    assert "### Planted effects, generator seeds 7, 8, 9" in out
    assert "| context, seed 7 | old | +0." in out and "| context, seed 7 | ramp | +0." in out
    assert "old, across sessions (HKSJ): planted effects detected 2 of 3" in out
    assert "old, these sessions (bootstrap): planted effects detected" in out
    assert "### `ramp` against `old`: the planned contrasts" in out
    assert "| context, seed 7 | mamba_ema | " in out  # each variant, ramp - old
    row = next(line for line in out.splitlines()
               if line.startswith("| seed 7, speaker effects on x6, no context |"))  # fmt: skip
    film = row.split(" | ")[1]
    assert film.startswith("+0.") and "these sessions +0." in film  # the planted film gain
    assert "| speaker effects on x6, no context | 7 | 0, 1 |" in out
    unadjusted = out.split("HKSJ tests before Holm", 1)[1]
    assert "| seed 7, speaker effects on x6, no context | mamba_ema film | +0." in unadjusted
    skipped = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "rederive_claims.py"), "--planted", "",
         "--personalise", "", "--bootstrap", "10"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert "## " not in skipped.stdout.replace("# The README", "")
