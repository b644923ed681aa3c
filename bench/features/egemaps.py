"""``egemaps``: openSMILE eGeMAPSv02 functionals (88 prosodic/voice-quality statistics)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.audio import SAMPLE_RATE
from bench.features.base import ExtractorSpec, sigint_deferred


@dataclass(frozen=True)
class EgemapsSpec(ExtractorSpec):
    """The extended Geneva Minimalistic Acoustic Parameter Set v02, utterance functionals.

    Eyben et al. (2016), IEEE Trans. Affective Computing 7(2). 25 low-level descriptors
    (F0 in semitones from 27.5 Hz, jitter, shimmer, loudness, HNR, formants, spectral
    slopes, ...) smoothed over 3 frames, summarised by arithmetic mean, coefficient of
    variation, percentiles and rise/fall slopes, plus temporal features: 88 values.
    Values are raw (e.g. ``F0semitoneFrom27.5Hz_sma3nz_amean = mean 12 log2(F0 / 27.5)``
    over voiced frames); z-scoring is fitted per fold at trial time, never cached.
    """

    name = "egemaps"
    packages = ("opensmile",)

    def build(self) -> Egemaps:
        return Egemaps()


class Egemaps:
    """Runner for :class:`EgemapsSpec` (single-threaded C++; one utterance at a time).

    A Ctrl-C waits for the utterance at hand (tens of milliseconds): raised inside
    openSMILE's callback, it would be dropped and the utterance stored as ``non_finite``
    (:func:`~bench.features.base.sigint_deferred`).
    """

    def __init__(self) -> None:
        import opensmile

        self.smile = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02,
            feature_level=opensmile.FeatureLevel.Functionals,
        )
        self.names: list[str] = list(self.smile.feature_names)
        self.dim = len(self.names)  # 88

    def __call__(self, waves: list[np.ndarray]) -> np.ndarray:
        rows = []
        for wave in waves:
            with sigint_deferred():
                rows.append(self.smile.process_signal(wave, SAMPLE_RATE).to_numpy()[0])  # [88]
        return np.stack(rows).astype(np.float32)  # [n, 88]
