"""The training loss ``1 - mean(CCC_v, CCC_a) + w (MSE_v + MSE_a)`` over valid positions."""

from __future__ import annotations

from torch import Tensor

EPS = 1e-8


def masked_ccc(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """CCC per output column, pooled over the valid positions of a batch.

    ``CCC = 2 s_xy / (s_x^2 + s_y^2 + (m_x - m_y)^2 + eps)`` with population moments (as
    ``bench.metrics.ccc``, plus ``eps`` against a zero denominator).

    Args:
        pred, target: ``[B, T, K]``; mask: ``[B, T]`` bool. Returns ``[K]``.
    """
    weight = mask.unsqueeze(-1).to(pred.dtype)  # [B, T, 1]
    count = weight.sum().clamp(min=1)
    mx = (pred * weight).sum(dim=(0, 1)) / count  # [K]
    my = (target * weight).sum(dim=(0, 1)) / count  # [K]
    dx, dy = (pred - mx) * weight, (target - my) * weight  # [B, T, K]
    vx = (dx**2).sum(dim=(0, 1)) / count  # [K]
    vy = (dy**2).sum(dim=(0, 1)) / count  # [K]
    cov = (dx * dy).sum(dim=(0, 1)) / count  # [K]
    return 2 * cov / (vx + vy + (mx - my) ** 2 + EPS)


def va_loss(pred: Tensor, target: Tensor, mask: Tensor, mse_weight: float = 0.1) -> Tensor:
    """``1 - (CCC_v + CCC_a) / 2 + mse_weight (MSE_v + MSE_a)`` for ``[B, T, 2]`` inputs."""
    weight = mask.unsqueeze(-1).to(pred.dtype)  # [B, T, 1]
    mse = (((pred - target) * weight) ** 2).sum(dim=(0, 1)) / weight.sum().clamp(min=1)  # [2]
    return 1 - masked_ccc(pred, target, mask).mean() + mse_weight * mse.sum()
