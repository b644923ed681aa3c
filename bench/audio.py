"""Audio input: any file soundfile reads becomes 16 kHz mono float32.

What happens to awkward audio (documented contract, tested in tests/test_audio.py):

- a missing or unreadable file raises :class:`~bench.errors.InputError` naming the file;
- several channels are averaged to one (``x = mean_c x_c``);
- any sample rate is resampled to 16 kHz with soxr (high-quality polyphase resampler);
- an empty file returns an empty array; a silent file returns its zeros unchanged.
  Loading never rejects short or silent audio: each feature extractor decides what it can
  take (see ``bench.features``) and reports, with a count, what it had to fall back on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from bench.errors import InputError

SAMPLE_RATE = 16_000


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Average channels and resample to 16 kHz.

    Args:
        samples: ``[n]`` or ``[n, channels]`` audio samples.
        sample_rate: their rate in Hz.

    Returns:
        ``[m]`` float32 samples at 16 kHz, ``m ≈ n * 16000 / sample_rate``.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)  # [n, c] -> [n]
    if sample_rate != SAMPLE_RATE and x.size:
        x = soxr.resample(x, sample_rate, SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32)


def load_audio(path: str | Path) -> np.ndarray:
    """Read an audio file as 16 kHz mono float32 in [-1, 1].

    Raises:
        InputError: the file is missing or soundfile cannot decode it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("audio file not found", path=path)
    try:
        samples, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise InputError(f"cannot read audio ({exc})", path=path) from exc
    return to_mono_16k(samples, sample_rate)


def duration_seconds(path: str | Path) -> float:
    """Length of an audio file in seconds, read from its header only."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InputError(f"cannot read audio header ({exc})", path=path) from exc
    return info.frames / info.samplerate
