"""EMA state ``c_t = a c_{t-1} + (1 - a) u_t``, fixed, learnable or per channel."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from bench.model.config import EMAConfig


class EMA(nn.Module):
    """Exponential moving average over time, computed in closed form over a chunk.

    With ``c_{-1}`` the carried state and ``t = 0 .. T-1`` the chunk's positions,

        c_t = a^(t+1) c_{-1} + sum_{s <= t} (1 - a) a^(t-s) u_s,

    i.e. a lower-triangular ``[T, T]`` matrix of powers times ``u`` plus a decayed
    ``c_{-1}``. Only non-negative powers of ``a`` appear, so nothing overflows (a cumsum of
    ``a^-t`` would). A learnable ``a`` is ``lo + (hi - lo) sigmoid(theta)``: always inside
    the bounds ``[lo, hi]`` and never stuck at a clip boundary.
    """

    def __init__(self, channels: int, config: EMAConfig):
        super().__init__()
        self.channels = channels
        self.bounds = (config.min_alpha, config.max_alpha)
        if config.mode == "fixed":
            self.register_buffer("fixed_alpha", torch.tensor(config.alpha))
            self.theta = None
        else:
            lo, hi = self.bounds
            share = (config.alpha - lo) / (hi - lo)
            size = channels if config.mode == "per_channel" else 1
            self.theta = nn.Parameter(torch.full((size,), math.log(share / (1 - share))))

    def alpha(self) -> Tensor:
        """The smoothing factor ``a``: shape ``[]`` (fixed), ``[1]`` or ``[channels]``."""
        if self.theta is None:
            return self.fixed_alpha
        lo, hi = self.bounds
        return lo + (hi - lo) * torch.sigmoid(self.theta)

    def initial_state(self, batch: int) -> Tensor:
        """``c_{-1} = 0``, shape ``[batch, channels]``."""
        return self.alpha().new_zeros(batch, self.channels)

    def forward(self, u: Tensor, c0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Smooth ``u [B, T, C]`` from ``c0 [B, C]``; returns (c [B, T, C], c_last [B, C])."""
        steps = u.shape[1]
        if c0 is None:
            c0 = u.new_zeros(u.shape[0], self.channels)
        a = self.alpha().to(u.dtype).expand(self.channels)  # [C]
        t = torch.arange(steps, device=u.device)  # [T]
        lag = t[:, None] - t[None, :]  # [T, T]
        causal = (lag >= 0).to(u.dtype)  # [T, T]
        powers = a[:, None, None] ** lag.clamp(min=0) * causal  # [C, T, T]
        weights = (1 - a)[:, None, None] * powers  # [C, T, T]
        decay = a[None, :] ** (t[:, None] + 1)  # [T, C]
        c = torch.einsum("cts,bsc->btc", weights, u) + decay * c0[:, None, :]  # [B, T, C]
        return c, c[:, -1]

    def step(self, u: Tensor, c0: Tensor | None = None) -> Tensor:
        """One step, ``c = a c0 + (1 - a) u``: ``u [B, C] -> c [B, C]``."""
        if c0 is None:
            c0 = u.new_zeros(u.shape[0], self.channels)
        a = self.alpha().to(u.dtype)  # [], [1] or [C]
        return torch.lerp(u, c0, a)  # [B, C]
