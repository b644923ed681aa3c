"""The Mamba block against mambapy (same weights) and a sequential fp64 reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mambapy.mamba import MambaBlock as MambapyBlock
from mambapy.mamba import MambaConfig as MambapyConfig

from bench.model import mamba
from bench.model.mamba import MambaBlock, cuda_selective_scan, scan_kernel, selective_scan

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
    """Length-1 chunks and ``step`` (its own code path) both match mambapy's ``step``."""
    ours, theirs = pair()
    x = torch.randn(2, 5, D_MODEL, generator=torch.Generator().manual_seed(3))
    chunked, stepped, cache = None, None, (None, torch.zeros(2, ours.d_inner, D_CONV - 1))
    for t in range(5):
        y_chunk, chunked = ours(x[:, t : t + 1], chunked)
        y_step, stepped = ours.step(x[:, t], stepped)
        y_theirs, cache = theirs.step(x[:, t], cache)
        torch.testing.assert_close(y_chunk[:, 0], y_theirs, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(y_step, y_theirs, atol=1e-5, rtol=1e-4)
    for state in (chunked, stepped):
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
    steps, state = [], None
    for t in range(x.shape[1]):
        y, state = ours.step(x[:, t], state)  # [B, d_model]
        steps.append(y)
    torch.testing.assert_close(whole, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.stack(steps, dim=1), expected, atol=1e-12, rtol=0)


def test_cuda_kernels_are_optional() -> None:
    """Without mamba-ssm the lookup answers None (and the CPU path ran in every test above)."""
    try:
        import mamba_ssm  # noqa: F401
    except ImportError:
        assert cuda_selective_scan() is None
    else:
        assert callable(cuda_selective_scan())


def reference_selective_scan_fn(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
    return_last_state=False,
):  # fmt: skip
    """A stand-in for mamba-ssm's ``selective_scan_fn`` (same signature and layout: ``u,
    delta, z [B, Di, T]``, ``B, C [B, N, T]``), computed by the reference ``selective_scan``."""
    delta = delta if delta_bias is None else delta + delta_bias[:, None]  # [B, Di, T]
    delta = F.softplus(delta) if delta_softplus else delta
    h0 = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # [B, Di, N]
    y, h = selective_scan(u.mT, delta.mT, A, B.mT, C.mT, h0)  # [B, T, Di], [B, Di, N]
    y = y if D is None else y + D * u.mT
    y = (y if z is None else y * F.silu(z.mT)).mT  # [B, Di, T]
    return (y, h) if return_last_state else y


def test_kernel_only_on_cuda_with_mamba_ssm_and_no_carried_state(monkeypatch) -> None:
    monkeypatch.setattr(mamba, "cuda_selective_scan", lambda: reference_selective_scan_fn)
    assert scan_kernel(on_cuda=True, carried=False) is reference_selective_scan_fn
    assert scan_kernel(on_cuda=True, carried=True) is None
    assert scan_kernel(on_cuda=False, carried=False) is None
    monkeypatch.setattr(mamba, "cuda_selective_scan", lambda: None)  # mamba-ssm missing
    assert scan_kernel(on_cuda=True, carried=False) is None


def test_kernel_path_runs_fresh_chunks_only_and_equals_the_reference(monkeypatch) -> None:
    """With CUDA faked and the kernel stubbed by the reference scan, the "kernel" branch
    runs on CPU: only the first chunk takes it, and every output equals the reference
    branch's, whole and chunked."""
    ours, _ = pair()
    x = torch.randn(2, 9, D_MODEL, generator=torch.Generator().manual_seed(5))
    expected, expected_state = ours(x)  # the reference branch (CPU)
    first_ref, state_ref = ours(x[:, :4])

    calls = []

    def kernel(*args, **kwargs):
        calls.append(args[0].shape[-1])  # the chunk's T
        return reference_selective_scan_fn(*args, **kwargs)

    monkeypatch.setattr(mamba, "cuda_selective_scan", lambda: kernel)
    real = scan_kernel
    monkeypatch.setattr(mamba, "scan_kernel", lambda on_cuda, carried: real(True, carried))
    whole, whole_state = ours(x)
    first, state = ours(x[:, :4])
    rest, last_state = ours(x[:, 4:], state)
    assert calls == [9, 4]  # the whole run and the first chunk; never the carried chunk
    close = {"atol": 1e-6, "rtol": 1e-5}
    torch.testing.assert_close(whole, expected, **close)
    torch.testing.assert_close(whole_state.ssm, expected_state.ssm, **close)
    torch.testing.assert_close(first, first_ref, **close)
    torch.testing.assert_close(state.ssm, state_ref.ssm, **close)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole, **close)
    torch.testing.assert_close(last_state.ssm, whole_state.ssm, **close)
    torch.testing.assert_close(last_state.conv, whole_state.conv)
