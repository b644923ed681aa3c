"""``logmel``: utterance statistics of log-Mel filterbank energies (no weights needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.audio import SAMPLE_RATE
from bench.features.base import ExtractorSpec
from bench.features.torch_versions import check_torchaudio

LOG_FLOOR = 1e-10


@dataclass(frozen=True)
class LogMelSpec(ExtractorSpec):
    """Per-utterance mean and standard deviation of log-Mel energies, and of their deltas.

    For frames ``t = 1..T`` (Hann window ``win_ms``, hop ``hop_ms``) with power spectrum
    ``|X_t(f)|^2`` and HTK triangular Mel filters ``W_m(f)`` between ``f_min`` and 8 kHz::

        e_t(m) = log(max(sum_f W_m(f) |X_t(f)|^2, 1e-10))
        d_t(m) = sum_{k=1..2} k (e_{t+k}(m) - e_{t-k}(m)) / (2 sum_k k^2)   (edges repeated)
        out    = [mean_t e ; std_t e ; std_t d]      (population std; dim 3 n_mels)

    The mean of the deltas telescopes to about zero, so only their spread is kept;
    ``deltas: false`` drops it (dim ``2 n_mels``).
    """

    name = "logmel"
    packages = ("torch", "torchaudio")

    n_mels: int = 40
    win_ms: float = 25.0
    hop_ms: float = 10.0
    f_min: float = 20.0
    deltas: bool = True

    def build(self) -> LogMel:
        return LogMel(self)


class LogMel:
    """Runner for :class:`LogMelSpec` (CPU, one utterance at a time)."""

    def __init__(self, spec: LogMelSpec):
        check_torchaudio()
        import torch
        import torchaudio.functional as F

        self.spec = spec
        self.win = round(spec.win_ms * SAMPLE_RATE / 1000)
        self.hop = round(spec.hop_ms * SAMPLE_RATE / 1000)
        self.n_fft = 1 << (self.win - 1).bit_length()  # next power of two >= window
        self.window = torch.hann_window(self.win)  # [win]
        self.filters = F.melscale_fbanks(  # [n_fft // 2 + 1, n_mels]
            self.n_fft // 2 + 1, spec.f_min, SAMPLE_RATE / 2, spec.n_mels, SAMPLE_RATE
        )
        self.dim = spec.n_mels * (3 if spec.deltas else 2)

    def __call__(self, waves: list[np.ndarray]) -> np.ndarray:
        return np.stack([self.one(wave) for wave in waves])  # [n, dim]

    def one(self, wave: np.ndarray) -> np.ndarray:
        """Statistics of one waveform ``[t]`` -> ``[dim]``."""
        import torch
        import torchaudio.functional as F

        x = torch.from_numpy(wave)  # [t]
        if x.numel() < self.win:
            x = torch.nn.functional.pad(x, (0, self.win - x.numel()))
        spec = torch.stft(
            x, self.n_fft, self.hop, self.win, self.window, center=False, return_complex=True
        )  # [n_fft // 2 + 1, T]
        power = spec.abs().square().T  # [T, F]
        logmel = (power @ self.filters).clamp_min(LOG_FLOOR).log().T  # [n_mels, T]
        stats = [logmel.mean(dim=1), logmel.std(dim=1, correction=0)]  # 2 x [n_mels]
        if self.spec.deltas:
            stats.append(F.compute_deltas(logmel, win_length=5).std(dim=1, correction=0))
        return torch.cat(stats).numpy()  # [dim]
