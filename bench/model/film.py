"""Feature-wise linear modulation of the speech vector by the speaker embedding (seed 5)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class FiLM(nn.Module):
    """``h' = gamma ⊙ h + beta`` with ``[gamma~ ; beta] = MLP(s)`` and ``gamma = tanh(gamma~) + 1``.

    ``gamma`` lies in (0, 2), so the modulation starts near the identity scale.
    """

    def __init__(self, d_speaker: int, d_feature: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_speaker, hidden), nn.ReLU(), nn.Linear(hidden, 2 * d_feature)
        )

    def forward(self, h: Tensor, s: Tensor) -> Tensor:
        """Modulate ``h [..., d_feature]`` by ``s [..., d_speaker]``."""
        return modulate(h, self.net(s))  # [..., d_feature]


def modulate(h: Tensor, gamma_beta: Tensor) -> Tensor:
    """``(tanh(gamma~) + 1) ⊙ h + beta`` for ``h [..., D]`` and ``gamma_beta [..., 2D]``."""
    gamma, beta = gamma_beta.chunk(2, dim=-1)  # [..., D] each
    return (torch.tanh(gamma) + 1.0) * h + beta  # [..., D]
