"""One model, many adaptations: the adapted layers with a separate copy per batch row.

Row ``b`` of a batch is one adaptation (a speaker and an enrolment size). Only the layers a
mode adapts are copied per row; the rest of the model is shared and frozen, and no layer
mixes rows, so row ``b``'s output, loss and gradients are those of a model holding copy
``b`` alone. AdamW is elementwise, so one optimiser over the stacked copies takes the same
steps as one optimiser per adaptation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.model.film import FiLM, modulate


def _per_row(values: Tensor, rows: int) -> Tensor:
    """``rows`` copies of ``values``: ``[rows, *values.shape]``."""
    return values.detach().unsqueeze(0).repeat(rows, *([1] * values.dim()))


def _broadcast(bias: Tensor, like: Tensor) -> Tensor:
    """A row bias ``[B, O]`` viewed against ``like [B, ..., I]``: ``[B, 1, ..., 1, O]``."""
    return bias.view(bias.shape[0], *([1] * (like.dim() - 2)), bias.shape[-1])


class RowFiLM(nn.Module):
    """A FiLM with one copy of its MLP per batch row: ``h'_b = modulate(h_b, MLP_b(s_b))``
    with ``MLP_b(s) = W2_b ReLU(W1_b s + b1_b) + b2_b``. ``trainable``: ``all`` the copies'
    parameters, or ``last`` only ``W2`` and ``b2``."""

    def __init__(self, film: FiLM, rows: int, trainable: str):
        super().__init__()
        first, last = film.net[0], film.net[-1]
        self.w1 = nn.Parameter(_per_row(first.weight, rows), trainable == "all")  # [B, H, Ds]
        self.b1 = nn.Parameter(_per_row(first.bias, rows), trainable == "all")  # [B, H]
        self.w2 = nn.Parameter(_per_row(last.weight, rows))  # [B, 2Dh, H]
        self.b2 = nn.Parameter(_per_row(last.bias, rows))  # [B, 2Dh]

    def forward(self, h: Tensor, s: Tensor) -> Tensor:
        """Modulate ``h [B, ..., Dh]`` by ``s [B, ..., Ds]``, row ``b`` by copy ``b``."""
        hidden = torch.einsum("b...i,boi->b...o", s, self.w1) + _broadcast(self.b1, s)
        hidden = F.relu(hidden)  # [B, ..., H]
        gamma_beta = torch.einsum("b...i,boi->b...o", hidden, self.w2) + _broadcast(self.b2, s)
        return modulate(h, gamma_beta)  # [B, ..., Dh]

    def row(self, b: int) -> dict[str, Tensor]:
        """Copy ``b`` as a :class:`FiLM`'s state dict."""
        values = (self.w1[b], self.b1[b], self.w2[b], self.b2[b])
        names = ("net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias")
        return {name: value.detach().clone() for name, value in zip(names, values, strict=True)}


class RowBias(nn.Module):
    """A linear layer with its weight shared and one bias per batch row:
    ``y_b = W x_b + bias_b``."""

    def __init__(self, linear: nn.Linear, rows: int):
        super().__init__()
        self.weight = nn.Parameter(linear.weight.detach(), requires_grad=False)  # [O, I]
        self.bias = nn.Parameter(_per_row(linear.bias, rows))  # [B, O]

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, ..., I] -> [B, ..., O]``."""
        return F.linear(x, self.weight) + _broadcast(self.bias, x)

    def row(self, b: int) -> dict[str, Tensor]:
        """Row ``b`` as an ``nn.Linear``'s state dict."""
        return {"weight": self.weight.detach().clone(), "bias": self.bias[b].detach().clone()}
