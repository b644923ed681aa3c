"""The one audio writer of the tests and fixtures: a sine tone, for readers, loaders and
extractors that need an audio file to exist (the synthetic corpus has its own, in
``bench/corpus/synth.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_tone(
    path: Path,
    rng: np.random.Generator | None = None,
    stereo: bool = False,
    *,
    frequency: float | None = None,
    seconds: float = 0.5,
    rate: int = 16_000,
    channels: int = 1,
    amplitude: float = 0.3,
    noise: float = 0.01,
    subtype: str | None = None,
) -> Path:
    """Write ``x[n] = amplitude * sin(2 pi f n / rate) + e[n]`` for ``n < round(seconds * rate)``,
    the same on every channel, and return ``path`` (its folders are made).

    Without ``rng`` the tone is ``f = frequency`` (220 Hz if not given) and ``e = 0``. With
    ``rng`` it varies from file to file: ``f ~ U(100, 300)`` Hz unless ``frequency`` is given,
    then ``e[n] ~ N(0, noise^2)`` i.i.d., drawn in that order (so a seeded fixture writes the
    same files). ``stereo`` is the file some releases hold: 44.1 kHz, two channels (it sets
    ``rate`` and ``channels``). ``subtype`` is soundfile's, which quantises the float64 samples
    (None: the format's default, 16-bit PCM for WAV and FLAC).
    """
    if stereo:
        rate, channels = 44_100, 2
    if frequency is None:
        frequency = 220.0 if rng is None else rng.uniform(100, 300)
    t = np.arange(round(seconds * rate)) / rate  # [n]
    wave = amplitude * np.sin(2 * np.pi * frequency * t)  # [n]
    if rng is not None:
        wave = wave + noise * rng.standard_normal(len(t))
    samples = np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave  # [n(, c)]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, rate, subtype=subtype)
    return path
