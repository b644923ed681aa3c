"""AdamW with weight decay on weight matrices only (nanoGPT's ``configure_optimizers``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.train.config import TrainConfig


def decays(parameter: nn.Parameter) -> bool:
    """Whether weight decay applies: to weight matrices and filters (``dim >= 2``: Linear,
    GRU ``weight_ih``/``weight_hh``, and the Mamba conv's ``[d_inner, 1, d_conv]`` filter,
    a weight like any other, as in nanoGPT) unless flagged ``_no_weight_decay``.

    Never decayed: biases, LayerNorm scales, Mamba's ``D`` and the EMA's ``theta`` (all
    1-D), and Mamba's ``A_log`` (2-D, flagged as in mamba-ssm). Decay pulls a parameter
    toward 0, which for these means something: ``theta = 0`` is the middle of the learnable
    ``a``'s range and ``A_log = 0`` is ``A = -1`` for every state channel.
    """
    return parameter.dim() >= 2 and not getattr(parameter, "_no_weight_decay", False)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups, ``[decayed, not decayed]``, of ``model``'s trainable parameters
    (each exactly once; frozen ones are left out), split by ``decays``."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in trainable if decays(p)], "weight_decay": weight_decay},
        {"params": [p for p in trainable if not decays(p)], "weight_decay": 0.0},
    ]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW at ``config.lr`` with ``config.weight_decay`` on the decayed group only."""
    return torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.lr)
