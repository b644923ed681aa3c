"""The synthetic corpus: determinism, planted acoustics and planted context."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.audio import load_audio
from bench.corpus.iemocap import read_iemocap
from bench.corpus.synth import META_FILE, SynthConfig, generate, plan_corpus
from bench.errors import BenchError


def measured_f0_and_level(audio: np.ndarray, rate: int = 16_000) -> tuple[float, float]:
    """Median autocorrelation F0 (Hz) and RMS level (dB) of the voiced 40 ms frames."""
    frame, hop = int(0.04 * rate), int(0.01 * rate)
    frames = np.lib.stride_tricks.sliding_window_view(audio, frame)[::hop]  # [n, frame]
    rms = np.sqrt((frames**2).mean(axis=1))  # [n]
    voiced = frames[rms > 0.1 * rms.max()]
    lags = np.arange(rate // 500, rate // 60)
    f0s = []
    for x in voiced:
        x = x - x.mean()
        ac = np.correlate(x, x, mode="full")[frame - 1 :]  # [frame]
        f0s.append(rate / lags[np.argmax(ac[lags])])
    level = 20 * np.log10(np.sqrt((voiced**2).mean()))
    return float(np.median(f0s)), float(level)


def lag1_autocorrelation(table: pd.DataFrame, column: str) -> float:
    """Pearson correlation of consecutive labels within each dialog."""
    pairs = [
        (g[column].to_numpy()[:-1], g[column].to_numpy()[1:]) for _, g in table.groupby("dialog")
    ]
    before = np.concatenate([p[0] for p in pairs])
    after = np.concatenate([p[1] for p in pairs])
    return float(np.corrcoef(before, after)[0, 1])


def test_same_arguments_give_byte_identical_files(tmp_path: Path, tiny_corpus_root: Path):
    again = generate(tmp_path / "again", SynthConfig(size="tiny"), progress=False)
    files = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert len(files) == 120 + 10 + 1  # wavs, label files, meta
    _, mismatch, errors = filecmp.cmpfiles(again, tiny_corpus_root, files, shallow=False)
    assert mismatch == [] and errors == []
    other = generate(tmp_path / "other", SynthConfig(size="tiny", seed=1), progress=False)
    assert (other / META_FILE).read_bytes() != (again / META_FILE).read_bytes()


def test_reads_back_with_the_iemocap_reader(tiny_corpus_root: Path):
    corpus = read_iemocap(tiny_corpus_root)
    table = corpus.table
    assert len(table) == 120 and table["dialog"].nunique() == 10
    assert table["session"].nunique() == 5 and table["speaker"].nunique() == 10
    assert table.groupby("session").size().tolist() == [24] * 5
    assert corpus.clipped_labels == 0
    assert table[["valence", "arousal", "dominance"]].stack().between(0, 1).all()
    # Mean of 2-3 integer raters: every label is a multiple of 1/2 or 1/3 on 1..5.
    raw = 1 + 4 * table["valence"].to_numpy()
    assert np.all(np.isclose(raw * 6, np.round(raw * 6), atol=1e-3))


def test_arousal_drives_measured_f0_and_loudness(small_corpus_root: Path):
    table = read_iemocap(small_corpus_root).table.iloc[::3]  # ~330 utterances
    measured = [measured_f0_and_level(load_audio(p)) for p in table["audio_path"]]
    table = table.assign(log_f0=np.log([m[0] for m in measured]), level=[m[1] for m in measured])
    # F0 differs by voice; compare within speaker.
    centred = table.groupby("speaker")[["log_f0", "level"]].transform(lambda x: x - x.mean())
    # Nuisance noise (synth.NUISANCE) keeps single utterances weak cues; with ~330
    # utterances a correlation of 0.2 is about four standard errors from none.
    assert np.corrcoef(table["arousal"], centred["log_f0"])[0, 1] > 0.2
    assert np.corrcoef(table["arousal"], centred["level"])[0, 1] > 0.2
    # Female voices are higher: the voice is real, not only the labels.
    f0_by_letter = table.groupby(table["speaker"].str[-1])["log_f0"].mean()
    assert np.exp(f0_by_letter["F"]) > 1.4 * np.exp(f0_by_letter["M"])


def _planned_labels(config: SynthConfig) -> pd.DataFrame:
    rows = [
        {"dialog": dialog, "valence": turn["vad"][0], "arousal": turn["vad"][1]}
        for dialog, turns in plan_corpus(config).items()
        for turn in turns
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("column", ["valence", "arousal"])
def test_context_switch_controls_label_persistence(small_corpus_root: Path, column: str):
    written = read_iemocap(small_corpus_root).table
    assert lag1_autocorrelation(written, column) > 0.5
    null = _planned_labels(SynthConfig(context=False))
    assert abs(lag1_autocorrelation(null, column)) < 0.1


def _largest_speaker_offset(config: SynthConfig, speaker_scale: float = 1.0) -> float:
    """Largest mean residual of a speaker after regressing loudness (dB) on arousal."""
    levels = pd.DataFrame(
        {
            "speaker": turn["utt_id"][:5] + turn["utt_id"][-4],
            "level": turn["prosody"].level_db,
            "arousal": turn["emotion"][1],
        }
        for turns in plan_corpus(config, speaker_scale).values()
        for turn in turns
    )
    slope, intercept = np.polyfit(levels["arousal"], levels["level"], 1)
    residual = levels["level"] - (slope * levels["arousal"] + intercept)
    return float(residual.groupby(levels["speaker"]).mean().abs().max())


def test_speaker_switch_controls_speaker_baselines():
    assert _largest_speaker_offset(SynthConfig(size="iemocap")) > 1.5
    assert _largest_speaker_offset(SynthConfig(size="iemocap", speaker_effect=False)) < 0.6


def test_speaker_scale_multiplies_the_speaker_effects_and_nothing_else():
    config = SynthConfig(size="small")
    plain, scaled = plan_corpus(config), plan_corpus(config, speaker_scale=3.0)
    assert plain.keys() == scaled.keys()
    for dialog, turns in plain.items():  # the same turns, moods and labels
        assert [t["emotion"] for t in turns] == [t["emotion"] for t in scaled[dialog]]
    assert _largest_speaker_offset(config, 3.0) > 2.5 * _largest_speaker_offset(config)


def test_refuses_to_overwrite_and_rejects_unknown_size(tmp_path: Path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(BenchError, match="not empty"):
        generate(tmp_path / "busy", SynthConfig(size="tiny"), progress=False)
    with pytest.raises(BenchError, match="unknown size"):
        SynthConfig(size="huge")


@pytest.mark.parametrize(
    ("config", "dialogs", "utterances"),
    [
        (SynthConfig(size="iemocap"), 151, [1819, 1811, 2136, 2103, 2170]),  # the release
        (SynthConfig(), 100, [400] * 5),  # the default, medium
    ],
)
def test_sizes_have_their_dialog_and_utterance_counts(config, dialogs, utterances):
    plan = plan_corpus(config)
    assert len(plan) == dialogs
    per_session = {}
    for dialog, turns in plan.items():
        per_session[dialog[:5]] = per_session.get(dialog[:5], 0) + len(turns)
    assert list(per_session.values()) == utterances
