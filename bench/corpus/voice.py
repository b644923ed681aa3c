"""A small source-filter speech synthesiser for the synthetic corpus.

An utterance is a run of syllables. Each syllable is a glottal pulse train at the
instantaneous F0 (with jitter), shaped by a spectral-tilt low-pass, passed through a
cascade of three formant resonators for its vowel, and given a raised-cosine envelope.
Short pauses separate syllables. Everything is numpy/scipy and deterministic given the rng.

Resonator for a formant at ``f`` Hz with bandwidth ``b`` Hz (sample rate ``fs``)::

    r = exp(-pi b / fs),   H(z) = (1 - r) / (1 - 2 r cos(2 pi f / fs) z^-1 + r^2 z^-2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

FS = 16_000
# (F1, F2, F3) in Hz of an adult male vocal tract for five vowels.
VOWELS = np.array(
    [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]],
    dtype=np.float64,
)
BANDWIDTHS = np.array([80.0, 100.0, 150.0])


@dataclass(frozen=True)
class Prosody:
    """The acoustic settings of one utterance.

    Attributes:
        f0_hz: mean F0 level.
        f0_range_st: depth of the F0 movement in semitones.
        f0_slope_st: F0 change from the start to the end of the utterance in semitones.
        level_db: loudness, RMS in dB full scale.
        rate_syl_s: speaking rate in syllables per second.
        tilt: spectral tilt, the pole of a one-pole low-pass (larger = darker voice).
        jitter: relative cycle-to-cycle F0 perturbation (0.01 = 1 %).
        formant_scale: multiplies the vowel formants (vocal tract length, smile).
        n_syllables: how many syllables.
    """

    f0_hz: float
    f0_range_st: float
    f0_slope_st: float
    level_db: float
    rate_syl_s: float
    tilt: float
    jitter: float
    formant_scale: float
    n_syllables: int


def _resonator_sos(freqs: np.ndarray) -> np.ndarray:
    """Second-order sections ``[3, 6]`` of the formant cascade."""
    r = np.exp(-np.pi * BANDWIDTHS / FS)  # [3]
    theta = 2 * np.pi * np.minimum(freqs, 0.45 * FS) / FS  # [3]
    sos = np.zeros((len(freqs), 6))
    sos[:, 0] = 1 - r
    sos[:, 3] = 1.0
    sos[:, 4] = -2 * r * np.cos(theta)
    sos[:, 5] = r**2
    return sos


def _glottal_source(f0: np.ndarray, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Pulse train ``[n]`` at the instantaneous F0 ``[n]``, with per-cycle jitter."""
    block = FS // 200  # jitter is held for 5 ms blocks (about one cycle)
    n_blocks = -(-len(f0) // block)
    wobble = 1 + jitter * rng.standard_normal(n_blocks)  # [n_blocks]
    f0 = f0 * np.repeat(wobble, block)[: len(f0)]  # [n]
    phase = np.cumsum(f0 / FS)  # [n], cycles
    pulses = np.diff(np.floor(phase), prepend=0.0) > 0  # [n]
    source = pulses.astype(np.float64)
    # Glottal flow: two real poles (-12 dB/oct), then lip radiation (+6 dB/oct).
    source = signal.lfilter([1.0], [1.0, -0.95], source)
    source = signal.lfilter([1.0], [1.0, -0.95], source)
    return np.diff(source, prepend=0.0)


def _envelope(n: int) -> np.ndarray:
    """Raised-cosine on/off ramps of 20 ms over ``n`` samples."""
    ramp = min(int(0.02 * FS), n // 2)
    env = np.ones(n)
    if ramp:
        rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        env[:ramp] = rise
        env[n - ramp :] = rise[::-1]
    return env


def synthesise(prosody: Prosody, rng: np.random.Generator) -> np.ndarray:
    """Render one utterance as float32 samples at 16 kHz, peak below 1."""
    syllable_s = rng.uniform(0.75, 1.25, prosody.n_syllables) / prosody.rate_syl_s
    pause_s = rng.uniform(0.02, 0.09, prosody.n_syllables)
    lengths = np.maximum((syllable_s * FS).astype(int), int(0.05 * FS))
    total = int(lengths.sum() + (pause_s * FS).astype(int).sum())
    accents = rng.normal(0.0, 0.5, prosody.n_syllables)
    pieces = [np.zeros(int(0.08 * FS))]
    done = 0
    for k, n in enumerate(lengths):
        t = (done + np.arange(n)) / max(total, 1)  # [n], position in the utterance 0..1
        semitones = (
            prosody.f0_slope_st * (t - 0.5)
            + 0.5 * prosody.f0_range_st * np.sin(np.pi * np.arange(n) / n)
            + prosody.f0_range_st * accents[k] * 0.5
        )  # [n]
        f0 = prosody.f0_hz * 2.0 ** (semitones / 12)  # [n]
        source = _glottal_source(f0, prosody.jitter, rng)  # [n]
        source = signal.lfilter([1 - prosody.tilt], [1, -prosody.tilt], source)
        vowel = VOWELS[rng.integers(len(VOWELS))] * prosody.formant_scale  # [3]
        voiced = signal.sosfilt(_resonator_sos(vowel), source) * _envelope(n)  # [n]
        pieces += [voiced, np.zeros(int(pause_s[k] * FS))]
        done += n + int(pause_s[k] * FS)
    pieces.append(np.zeros(int(0.08 * FS)))
    audio = np.concatenate(pieces)
    audio += 1e-4 * rng.standard_normal(len(audio))  # room noise floor (-80 dB)
    loud = np.abs(audio) > 0.01 * np.abs(audio).max()  # the voiced part, not the pauses
    voiced_rms = np.sqrt(np.mean(audio[loud] ** 2))
    audio *= 10 ** (prosody.level_db / 20) / voiced_rms
    return np.clip(audio, -0.99, 0.99).astype(np.float32)
