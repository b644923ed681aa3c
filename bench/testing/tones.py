"""Short audio files for release-layout fixtures: what a reader and the extractors can load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_tone(path: Path, rng: np.random.Generator, stereo: bool = False) -> None:
    """0.5 s of a random tone (100-300 Hz) with a little noise: 16 kHz mono, or the 44.1 kHz
    stereo some releases hold."""
    rate = 44_100 if stereo else 16_000
    t = np.arange(int(0.5 * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) + 0.01 * rng.standard_normal(len(t))
    samples = np.stack([wave, wave], axis=1) if stereo else wave
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples.astype(np.float32), rate)
