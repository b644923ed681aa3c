"""The regression head ``y_t = Head([z_t ; c_t])`` (seed 7)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Head(nn.Module):
    """A shared MLP trunk with sigmoid outputs: ``(v, a) = sigmoid(W_2 GELU(W_1 x))``.

    The two output units of ``W_2`` are the valence and arousal heads; labels are
    normalised to [0, 1].
    """

    def __init__(self, d_in: int, hidden: int, dropout: float):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout))
        self.out = nn.Linear(hidden, 2)

    def forward(self, x: Tensor) -> Tensor:
        """``x [..., d_in] -> y [..., 2]`` (valence, arousal) in (0, 1)."""
        return torch.sigmoid(self.out(self.trunk(x)))  # [..., 2]
