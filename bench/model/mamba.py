"""The Mamba block (selective SSM) in pure PyTorch, with a state carried across chunks.

Parameter names, shapes and initialisation are those of mamba-ssm's ``Mamba`` mixer
(``in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj``), so state dicts load strictly in
either direction (and into mambapy's ``MambaBlock``). Unlike both, ``forward`` takes and
returns the recurrent state, so a dialog can run whole, in chunks or one step at a time.

For input ``x_t`` (after ``in_proj``, the depthwise causal conv and SiLU) the SSM is

    Δ_t = softplus(dt_proj(x_proj_dt(x_t)))                        # [d_inner]
    h_t = exp(Δ_t A) ⊙ h_{t-1} + (Δ_t x_t) B_t^T                  # [d_inner, d_state]
    y_t = h_t C_t + D ⊙ x_t,  out_t = out_proj(y_t ⊙ SiLU(z_t))

with ``A = -exp(A_log)``. The state is the last ``d_conv - 1`` conv inputs and ``h``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.config import ranged


@dataclass(frozen=True)
class MambaConfig:
    """The Mamba block's sizes (``model.mamba``, mamba-ssm's names): ``d_inner = expand *
    d_model``; the causal convolution spans ``d_conv >= 2`` positions (:class:`MambaBlock`
    carries ``d_conv - 1`` of them as state)."""

    d_state: int = ranged(16, 1)
    d_conv: int = ranged(4, 2)
    expand: int = ranged(2, 1)


class MambaState(NamedTuple):
    """Carried state: the last ``d_conv - 1`` conv inputs and the SSM state."""

    conv: Tensor  # [B, d_inner, d_conv - 1]
    ssm: Tensor  # [B, d_inner, d_state]


@functools.cache
def cuda_selective_scan() -> Callable | None:
    """mamba-ssm's fused CUDA selective scan, or None where mamba-ssm is not installed."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    return selective_scan_fn


def scan_kernel(on_cuda: bool, carried: bool) -> Callable | None:
    """Which scan runs a chunk: mamba-ssm's fused ``selective_scan_fn`` (returned), or None
    for the reference ``selective_scan``. Both compute the same ``y`` and last state.

    The kernel runs only when all three hold:

    - the input is on CUDA (``on_cuda``): the kernel is CUDA-only;
    - mamba-ssm is importable (``cuda_selective_scan``): it is an optional extra;
    - no state is carried in (``not carried``): ``selective_scan_fn`` takes no initial SSM
      state (its scan always starts from ``h = 0``), so it can run a dialog's first chunk
      but not a chunk that continues one.

    So on CUDA with mamba-ssm, the first TBPTT chunk of a batch takes the kernel and the
    later chunks the reference scan.
    """
    if carried or not on_cuda:
        return None
    return cuda_selective_scan()


def selective_scan(
    x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, h0: Tensor
) -> tuple[Tensor, Tensor]:
    """``h_t = exp(Δ_t A) ⊙ h_{t-1} + (Δ_t x_t) B_t^T``, ``y_t = h_t C_t``; returns (y, h_T).

    One step at a time: each step's tensors are ``[B, d_inner, d_state]`` and stay in cache,
    which on CPU beats both discretising the whole chunk at once (``[B, T, d_inner,
    d_state]`` tensors) and a log-depth parallel scan at TBPTT lengths.

    Args:
        x, delta: ``[B, T, d_inner]``; A: ``[d_inner, d_state]``; B, C: ``[B, T, d_state]``;
        h0: ``[B, d_inner, d_state]``.
    """
    h = h0  # [B, Di, N]
    ys = []
    steps = zip(delta.unbind(1), (delta * x).unbind(1), B.unbind(1), C.unbind(1), strict=True)
    for delta_t, drive_t, B_t, C_t in steps:  # [B, Di], [B, Di], [B, N], [B, N]
        decay = torch.exp(delta_t.unsqueeze(-1) * A)  # [B, Di, N]
        h = torch.addcmul(drive_t.unsqueeze(-1) * B_t.unsqueeze(1), decay, h)  # [B, Di, N]
        ys.append(torch.bmm(h, C_t.unsqueeze(-1)).squeeze(-1))  # [B, Di]
    return torch.stack(ys, dim=1), h  # [B, T, Di], [B, Di, N]


def causal_depthwise_conv(padded: Tensor, conv: nn.Conv1d) -> Tensor:
    """``conv``'s depthwise convolution of ``padded [B, Di, K-1+T]`` (its first ``K - 1``
    columns the carried inputs), as ``out_t = bias + sum_k w_k ⊙ padded_{t+k}``: ``[B, Di, T]``.

    The same numbers as ``F.conv1d(padded, w, b, groups=Di)``, as ``K`` multiply-adds of
    shifted views: for small ``B`` and ``T`` (a TBPTT chunk, a single step) faster on CPU,
    forward and backward, than the convolution kernel (1.4-1.7x at ``B = 4``, ``Di = 128``,
    ``T`` 1 and 20, measured alternating in one run on a loaded 2-core machine).
    """
    weight = conv.weight.squeeze(1)  # [Di, K]
    kernel_size = weight.shape[-1]
    steps = padded.shape[-1] - kernel_size + 1
    out = conv.bias.unsqueeze(-1)  # [Di, 1]
    for k in range(kernel_size):
        out = torch.addcmul(out, weight[:, k : k + 1], padded[..., k : k + steps])  # [B, Di, T]
    return out


class MambaBlock(nn.Module):
    """mamba-ssm's ``Mamba`` mixer, ``[B, T, d_model] -> [B, T, d_model]``, with state.

    ``forward(x, state)`` with ``state = None`` starts from zeros; there, on CUDA with
    mamba-ssm installed, the scan uses mamba-ssm's kernel (``scan_kernel``).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
    ):
        super().__init__()
        if d_conv < 2:
            raise ValueError(f"d_conv must be at least 2, not {d_conv}")
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.dt_rank = math.ceil(d_model / 16)
        di = self.d_inner
        self.in_proj = nn.Linear(d_model, 2 * di, bias=False)
        self.conv1d = nn.Conv1d(di, di, d_conv, groups=di, padding=d_conv - 1)
        self.x_proj = nn.Linear(di, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, di)
        nn.init.uniform_(self.dt_proj.weight, -(self.dt_rank**-0.5), self.dt_rank**-0.5)
        log_dt = torch.rand(di) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        dt = torch.exp(log_dt).clamp(min=dt_init_floor)  # [Di]
        with torch.no_grad():  # bias = softplus^-1(dt)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(di, 1)  # [Di, N]
        self.A_log = nn.Parameter(torch.log(A))
        self.A_log._no_weight_decay = True  # as in mamba-ssm; read by bench.train.optim
        self.D = nn.Parameter(torch.ones(di))
        self.D._no_weight_decay = True
        self.out_proj = nn.Linear(di, d_model, bias=False)

    def initial_state(self, batch: int) -> MambaState:
        """Zero conv inputs and SSM state for ``batch`` sequences."""
        weight = self.D
        return MambaState(
            conv=weight.new_zeros(batch, self.d_inner, self.d_conv - 1),
            ssm=weight.new_zeros(batch, self.d_inner, self.d_state),
        )

    def step(self, x: Tensor, state: MambaState | None = None) -> tuple[Tensor, MambaState]:
        """One position, ``x [B, d_model] -> out [B, d_model]``: ``forward`` on a length-1
        sequence, with the conv a dot product over the window and the scan a single update
        (a rollout runs this once per utterance, so fewer ops matter)."""
        if state is None:
            state = self.initial_state(x.shape[0])
        xs, z = self.in_proj(x).chunk(2, dim=-1)  # [B, Di] each
        window = torch.cat([state.conv, xs.unsqueeze(-1)], dim=-1)  # [B, Di, K]
        conv = (window * self.conv1d.weight.squeeze(1)).sum(-1) + self.conv1d.bias  # [B, Di]
        xs = F.silu(conv)  # [B, Di]
        dt, B, C = self.x_proj(xs).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))  # [B, Di]
        decay = torch.exp(delta.unsqueeze(-1) * -torch.exp(self.A_log))  # [B, Di, N]
        h = torch.addcmul((delta * xs).unsqueeze(-1) * B.unsqueeze(1), decay, state.ssm)
        y = torch.bmm(h, C.unsqueeze(-1)).squeeze(-1) + self.D * xs  # [B, Di]
        out = self.out_proj(y * F.silu(z))  # [B, d_model]
        return out, MambaState(conv=window[..., 1:], ssm=h)

    def forward(self, x: Tensor, state: MambaState | None = None) -> tuple[Tensor, MambaState]:
        """Run ``x [B, T, d_model]`` on from ``state``; returns (out [B, T, d_model], state)."""
        kernel = scan_kernel(on_cuda=x.is_cuda, carried=state is not None)
        if state is None:
            state = self.initial_state(x.shape[0])
        xs, z = self.in_proj(x).chunk(2, dim=-1)  # [B, T, Di] each
        conv_in = torch.cat([state.conv, xs.transpose(1, 2)], dim=-1)  # [B, Di, K-1+T]
        xs = F.silu(causal_depthwise_conv(conv_in, self.conv1d)).transpose(1, 2)  # [B, T, Di]
        dt, B, C = self.x_proj(xs).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        A = -torch.exp(self.A_log)  # [Di, N]
        if kernel is None:
            delta = F.softplus(self.dt_proj(dt))  # [B, T, Di]
            y, h = selective_scan(xs, delta, A, B, C, state.ssm)  # [B, T, Di], [B, Di, N]
            y = (y + self.D * xs) * F.silu(z)  # [B, T, Di]
        else:
            y, h = kernel(
                xs.transpose(1, 2).contiguous(),  # [B, Di, T]
                (dt @ self.dt_proj.weight.T).transpose(1, 2).contiguous(),  # [B, Di, T]
                A.float(),
                B.transpose(1, 2).contiguous(),  # [B, N, T]
                C.transpose(1, 2).contiguous(),  # [B, N, T]
                self.D.float(),
                z=z.transpose(1, 2).contiguous(),  # [B, Di, T]
                delta_bias=self.dt_proj.bias.float(),
                delta_softplus=True,
                return_last_state=True,
            )
            y = y.transpose(1, 2)  # [B, T, Di]
        new_conv = conv_in[..., conv_in.shape[-1] - (self.d_conv - 1) :]  # [B, Di, K-1]
        return self.out_proj(y), MambaState(conv=new_conv, ssm=h)
