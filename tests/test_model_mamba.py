"""The Mamba block against mambapy (same weights) and a sequential fp64 reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mambapy.mamba import MambaBlock as MambapyBlock
from mambapy.mamba import MambaConfig as MambapyConfig

from bench.model.mamba import MambaBlock, cuda_selective_scan

D_MODEL, D_STATE, D_CONV = 16, 4, 3


def pair() -> tuple[MambaBlock, MambapyBlock]:
    torch.manual_seed(0)
    ours = MambaBlock(D_MODEL, D_STATE, D_CONV)
    theirs = MambapyBlock(MambapyConfig(d_model=D_MODEL, n_layers=1, d_state=D_STATE,
                                        d_conv=D_CONV))  # fmt: skip
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return ours, theirs


def test_parameter_names_and_shapes_match_both_ways() -> None:
    ours, theirs = pair()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    ours.load_state_dict(theirs.state_dict(), strict=True)


def test_initialisation_follows_mamba_ssm() -> None:
    block = MambaBlock(32, d_state=8)
    assert torch.equal(block.A_log[3], torch.log(torch.arange(1.0, 9.0)))
    assert torch.equal(block.D, torch.ones(64))
    dt = F.softplus(block.dt_proj.bias)  # initial step sizes in [dt_min, dt_max]
    assert dt.min() >= 1e-3 - 1e-7 and dt.max() <= 0.1 + 1e-6
    assert block.dt_proj.weight.abs().max() <= 2**-0.5  # uniform(+-dt_rank^-1/2), rank 2


@pytest.mark.parametrize("steps", [1, 7, 16])
def test_forward_and_gradients_match_mambapy(steps: int) -> None:
    ours, theirs = pair()
    x = torch.randn(3, steps, D_MODEL, generator=torch.Generator().manual_seed(2))
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ours, _ = ours(x_ours)
    y_theirs = theirs(x_theirs)
    torch.testing.assert_close(y_ours, y_theirs, atol=1e-5, rtol=1e-4)
    weights = torch.randn_like(y_ours)
    (y_ours * weights).sum().backward()
    (y_theirs * weights).sum().backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, atol=1e-5, rtol=1e-4)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs_params[name].grad, atol=1e-5, rtol=1e-4)


def test_step_matches_mambapy_step() -> None:
    ours, theirs = pair()
    x = torch.randn(2, 5, D_MODEL, generator=torch.Generator().manual_seed(3))
    state, cache = None, (None, torch.zeros(2, ours.d_inner, D_CONV - 1))
    for t in range(5):
        y_ours, state = ours(x[:, t : t + 1], state)
        y_theirs, cache = theirs.step(x[:, t], cache)
        torch.testing.assert_close(y_ours[:, 0], y_theirs, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(state.ssm, cache[0], atol=1e-5, rtol=1e-4)


def reference(block: MambaBlock, x: torch.Tensor) -> torch.Tensor:
    """The block's equations, one time step and one channel pair at a time (fp64)."""
    W = {k: v.double() for k, v in block.state_dict().items()}
    batch, steps, _ = x.shape
    di, n, k, r = block.d_inner, block.d_state, block.d_conv, block.dt_rank
    A = -torch.exp(W["A_log"])
    out = torch.zeros(batch, steps, x.shape[-1], dtype=torch.float64)
    for b in range(batch):
        xz = x[b] @ W["in_proj.weight"].T  # [T, 2 Di]
        xs, z = xz[:, :di], xz[:, di:]
        h = torch.zeros(di, n, dtype=torch.float64)
        for t in range(steps):
            conv = W["conv1d.bias"].clone()
            for j in range(k):  # causal depthwise conv: tap j sees x_{t - (k - 1 - j)}
                if t - (k - 1 - j) >= 0:
                    conv += W["conv1d.weight"][:, 0, j] * xs[t - (k - 1 - j)]
            u = F.silu(conv)  # [Di]
            dbc = W["x_proj.weight"] @ u
            dt, Bt, Ct = dbc[:r], dbc[r : r + n], dbc[r + n :]
            delta = F.softplus(W["dt_proj.weight"] @ dt + W["dt_proj.bias"])  # [Di]
            for d in range(di):
                h[d] = torch.exp(delta[d] * A[d]) * h[d] + delta[d] * Bt * u[d]
            y = h @ Ct + W["D"] * u
            out[b, t] = W["out_proj.weight"] @ (y * F.silu(z[t]))
    return out


def test_matches_sequential_fp64_reference_whole_and_chunked() -> None:
    ours, _ = pair()
    ours = ours.double()
    x = torch.randn(2, 9, D_MODEL, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    expected = reference(ours, x)
    whole, _ = ours(x)
    first, state = ours(x[:, :2])
    rest, _ = ours(x[:, 2:], state)
    torch.testing.assert_close(whole, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), expected, atol=1e-12, rtol=0)


def test_cuda_kernels_are_optional() -> None:
    """Without mamba-ssm the lookup answers None (and the CPU path ran in every test above)."""
    try:
        import mamba_ssm  # noqa: F401
    except ImportError:
        assert cuda_selective_scan() is None
    else:
        assert callable(cuda_selective_scan())
