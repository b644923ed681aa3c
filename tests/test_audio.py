from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.audio import SAMPLE_RATE, duration_seconds, load_audio
from bench.errors import InputError
from bench.testing.tones import write_tone


def dominant_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("rate,channels", [(16_000, 1), (44_100, 2), (8_000, 1), (48_000, 6)])
def test_any_rate_and_channel_count_becomes_16k_mono(tmp_path: Path, rate: int, channels: int):
    path = write_tone(tmp_path / "a.wav", seconds=1.0, rate=rate, channels=channels)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - SAMPLE_RATE) <= 2
    assert dominant_frequency(audio, SAMPLE_RATE) == pytest.approx(220, abs=2)
    assert np.abs(audio).max() == pytest.approx(0.3, abs=0.02)


def test_channels_are_averaged(tmp_path: Path):
    left_only = np.zeros((1600, 2), dtype=np.float32)
    left_only[:, 0] = 0.5
    sf.write(tmp_path / "st.wav", left_only, SAMPLE_RATE, subtype="FLOAT")
    assert np.allclose(load_audio(tmp_path / "st.wav"), 0.25)


def test_flac_reads_too(tmp_path: Path):
    tone = 0.1 * np.sin(np.arange(800) / 3)
    sf.write(tmp_path / "a.flac", tone, 22_050)
    assert len(load_audio(tmp_path / "a.flac")) == pytest.approx(800 * 16_000 / 22_050, abs=2)


def test_empty_and_silent_audio_load_as_they_are(tmp_path: Path):
    sf.write(tmp_path / "empty.wav", np.zeros(0), SAMPLE_RATE)
    sf.write(tmp_path / "silent.wav", np.zeros(400), SAMPLE_RATE)
    assert load_audio(tmp_path / "empty.wav").shape == (0,)
    silent = load_audio(tmp_path / "silent.wav")
    assert silent.shape == (400,) and not silent.any()


def test_missing_and_corrupt_files_name_the_file(tmp_path: Path):
    with pytest.raises(InputError, match="nope.wav: audio file not found"):
        load_audio(tmp_path / "nope.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(InputError, match="bad.wav: cannot read audio"):
        load_audio(tmp_path / "bad.wav")
    with pytest.raises(InputError, match="bad.wav"):
        duration_seconds(tmp_path / "bad.wav")


def test_duration_from_header(tmp_path: Path):
    path = write_tone(tmp_path / "a.wav", seconds=0.75, rate=8_000)
    assert duration_seconds(path) == pytest.approx(0.75)
