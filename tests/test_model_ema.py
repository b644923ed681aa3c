"""The EMA state: closed form == recurrence, bounds, a = 0, long chunks."""

from __future__ import annotations

import pytest
import torch

from bench.model.config import EMAConfig
from bench.model.ema import EMA


def recurrence(a: torch.Tensor, u: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    c, out = c0, []
    for t in range(u.shape[1]):
        c = a * c + (1 - a) * u[:, t]
        out.append(c)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize(
    "config",
    [EMAConfig(), EMAConfig(alpha=0.0), EMAConfig(mode="learnable"),
     EMAConfig(mode="per_channel", alpha=0.65)],
    ids=["fixed", "off", "learnable", "per_channel"],
)  # fmt: skip
def test_closed_form_equals_recurrence(config: EMAConfig) -> None:
    ema = EMA(4, config).double()
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 13, 4, generator=g, dtype=torch.float64)
    c0 = torch.randn(2, 4, generator=g, dtype=torch.float64)
    c, last = ema(u, c0)
    expected = recurrence(ema.alpha(), u, c0)
    torch.testing.assert_close(c, expected, atol=1e-13, rtol=0)
    torch.testing.assert_close(last, expected[:, -1], atol=1e-13, rtol=0)
    state, stepped = c0, []
    for t in range(u.shape[1]):
        state = ema.step(u[:, t], state)  # [B, C]
        stepped.append(state)
    torch.testing.assert_close(torch.stack(stepped, dim=1), expected, atol=1e-13, rtol=0)


def test_alpha_zero_passes_u_through() -> None:
    ema = EMA(3, EMAConfig(alpha=0.0))
    u = torch.randn(2, 5, 3)
    assert torch.equal(ema(u, torch.ones(2, 3))[0], u)


def test_learnable_alpha_is_initialised_and_bounded() -> None:
    ema = EMA(3, EMAConfig(mode="learnable", alpha=0.8))
    assert ema.alpha().item() == pytest.approx(0.8)
    for value in (-1e3, 1e3):
        ema.theta.data.fill_(value)
        assert ema.alpha().item() == pytest.approx(0.6 if value < 0 else 0.9)
    per_channel = EMA(5, EMAConfig(mode="per_channel"))
    assert per_channel.alpha().shape == (5,)
    assert [n for n, _ in per_channel.named_parameters()] == ["theta"]
    assert list(EMA(5, EMAConfig()).parameters()) == []


def test_long_chunk_stays_finite_with_finite_gradients() -> None:
    ema = EMA(2, EMAConfig(mode="per_channel", alpha=0.61))
    u = torch.randn(1, 600, 2)  # 0.61^-600 ~ 1e128 overflows fp32
    c, _ = ema(u, torch.zeros(1, 2))
    c.sum().backward()
    assert torch.isfinite(c).all()
    assert torch.isfinite(ema.theta.grad).all()
    assert ema.theta.grad.abs().sum() > 0
