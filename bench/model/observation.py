"""The observation ``z_t = LayerNorm([FiLM(h_t, s) ; MLP_p(p_t)])`` (seed 1.1, 4.3, 5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.model.config import ModelConfig
from bench.model.film import FiLM


class Observation(nn.Module):
    """Fuse speech ``h``, prosody ``p`` and speaker ``s`` vectors of one utterance into ``z``.

    ``s`` is L2-normalised (seed 4.3) before FiLM. With ``film`` off ``h'_t = h_t``; with
    ``prosody`` off ``z_t = LayerNorm(h'_t)``. Stateless: works on any leading shape.
    """

    def __init__(self, d_speech: int, d_prosody: int, d_speaker: int, config: ModelConfig):
        super().__init__()
        self.film = FiLM(d_speaker, d_speech, config.film_hidden) if config.film else None
        self.mlp_p = (
            nn.Sequential(
                nn.Linear(d_prosody, config.d_p2),
                nn.GELU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.d_p2, config.d_p2),
            )
            if config.prosody
            else None
        )
        self.d_out = d_speech + (config.d_p2 if config.prosody else 0)
        self.norm = nn.LayerNorm(self.d_out)

    def forward(self, speech: Tensor, prosody: Tensor, speaker: Tensor) -> Tensor:
        """``speech [..., Dh], prosody [..., Dp], speaker [..., Ds] -> z [..., d_out]``."""
        h = speech  # [..., Dh]
        if self.film is not None:
            h = self.film(h, F.normalize(speaker, dim=-1, eps=1e-8))  # [..., Dh]
        parts = [h] if self.mlp_p is None else [h, self.mlp_p(prosody)]
        return self.norm(torch.cat(parts, dim=-1))  # [..., d_out]
