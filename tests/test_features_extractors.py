"""The weight-free and packaged extractors on synthetic audio: logmel, egemaps, resemblyzer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.audio import SAMPLE_RATE, load_audio
from bench.corpus.iemocap import read_iemocap
from bench.features.egemaps import EgemapsSpec
from bench.features.load import speaker_means
from bench.features.logmel import LogMelSpec
from bench.features.speaker import ResemblyzerSpec

F0_MEAN = "F0semitoneFrom27.5Hz_sma3nz_amean"
LOUDNESS_MEAN = "loudness_sma3_amean"


def harmonic_tone(f0: float, seconds: float = 1.5, amplitude: float = 0.3) -> np.ndarray:
    """A glottal-like source: harmonics ``k f0`` below 4 kHz with amplitude ``k^-1.5``."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE  # [n]
    ks = np.arange(1, int(4000 / f0) + 1)  # [K]
    x = (np.sin(2 * np.pi * f0 * ks[:, None] * t) / ks[:, None] ** 1.5).sum(axis=0)  # [n]
    return (amplitude * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def egemaps():
    return EgemapsSpec().build()


def test_logmel_gain_shifts_means_by_log_power_and_keeps_spreads() -> None:
    runner = LogMelSpec(n_mels=24).build()
    rng = np.random.default_rng(0)
    x = (0.05 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)  # [16000]
    quiet, loud = runner([x, 2 * x])  # [72] each: mean, std, delta std
    assert runner.dim == quiet.size == 72
    np.testing.assert_allclose(loud[:24] - quiet[:24], np.log(4.0), atol=1e-4)
    np.testing.assert_allclose(loud[24:], quiet[24:], atol=1e-4)


def test_logmel_peaks_in_the_band_of_a_pure_tone() -> None:
    runner = LogMelSpec(deltas=False).build()
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    means = runner([tone])[0, :40]  # [40]
    mel = 2595 * np.log10(
        1 + np.array([20.0, 1000.0, 8000.0]) / 700
    )  # HTK mel of f_min, tone, f_max
    expected_band = (mel[1] - mel[0]) / (mel[2] - mel[0]) * 41 - 1  # centre m is at (m+1)/41
    assert abs(int(np.argmax(means)) - expected_band) <= 1
    assert runner.dim == 80


@pytest.mark.parametrize("f0", [110.0, 180.0, 260.0])
def test_egemaps_f0_follows_the_synthesised_f0(egemaps, f0: float) -> None:
    features = egemaps([harmonic_tone(f0)])  # [1, 88]
    assert features.shape == (1, 88)
    semitones = 12 * np.log2(f0 / 27.5)
    assert features[0, egemaps.names.index(F0_MEAN)] == pytest.approx(semitones, abs=0.5)


def test_egemaps_loudness_grows_with_amplitude(egemaps) -> None:
    quiet, loud = egemaps([harmonic_tone(150, amplitude=0.05), harmonic_tone(150, amplitude=0.5)])
    column = egemaps.names.index(LOUDNESS_MEAN)
    assert loud[column] > 2 * quiet[column]


def test_planted_arousal_moves_prosody_and_energy_up(egemaps, tiny_corpus_root: Path) -> None:
    table = read_iemocap(tiny_corpus_root, name="synthetic").table.sort_values("arousal")
    extremes = {"low": table.head(12), "high": table.tail(12)}
    logmel = LogMelSpec().build()
    means = {}
    for name, part in extremes.items():
        waves = [load_audio(p) for p in part["audio_path"]]
        prosody = egemaps(waves)  # [12, 88]
        means[name] = {
            "f0": prosody[:, egemaps.names.index(F0_MEAN)].mean(),
            "loudness": prosody[:, egemaps.names.index(LOUDNESS_MEAN)].mean(),
            "log_mel_energy": logmel(waves)[:, :40].mean(),
        }
    for feature in means["low"]:
        assert means["high"][feature] > means["low"][feature], feature


def test_resemblyzer_embeddings_are_unit_and_tell_voices_apart() -> None:
    runner = ResemblyzerSpec().build()
    low_a, low_b, high = runner(
        [harmonic_tone(100, 2.0), harmonic_tone(105, 2.5), harmonic_tone(300, 2.0)]
    )
    assert runner.dim == low_a.size == 256
    np.testing.assert_allclose(np.linalg.norm([low_a, low_b, high], axis=1), 1.0, atol=1e-5)
    assert low_a @ low_b > low_a @ high


def test_speaker_means_use_only_each_speakers_valid_rows() -> None:
    values = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0], [0.0, 2.0], [0.0, 0.0]])  # [5, 2]
    speakers = pd.Series(["a", "a", "a", "b", "c"])
    valid = np.array([True, True, False, True, False])
    means, has = speaker_means(values, speakers, valid)
    np.testing.assert_allclose(means[:3], [[0.5**0.5, 0.5**0.5]] * 3, atol=1e-6)
    np.testing.assert_allclose(means[3], [0.0, 1.0], atol=1e-6)
    np.testing.assert_array_equal(means[4], [0.0, 0.0])
    np.testing.assert_array_equal(has, [True, True, True, True, False])
