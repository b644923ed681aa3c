"""AdamW's parameter groups: weight decay on Linear/Conv/GRU weights only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.model import EMAConfig, ModelConfig, StreamingModel
from bench.model.config import EMA_MODES
from bench.model.updaters import UPDATERS
from bench.train.config import TrainConfig
from bench.train.optim import make_optimizer, parameter_groups


def small_model(updater: str, ema: str) -> StreamingModel:
    torch.manual_seed(0)
    config = ModelConfig(updater=updater, feedback="none" if updater == "none" else "teacher",
                         d_model=16, d_c=8, d_p2=8, film_hidden=16, head_hidden=16,
                         ema=EMAConfig(mode=ema))  # fmt: skip
    return StreamingModel(config, 12, 8, 6)


def weight_names(model: nn.Module) -> set[str]:
    """The names expected to decay, by module type: Linear and Conv1d ``weight``, GRU
    ``weight_ih_l0`` and ``weight_hh_l0``."""
    names = set()
    for prefix, module in model.named_modules():
        if isinstance(module, nn.Linear | nn.Conv1d):
            names.add(f"{prefix}.weight")
        elif isinstance(module, nn.GRU):
            names |= {f"{prefix}.weight_ih_l0", f"{prefix}.weight_hh_l0"}
    return names


@pytest.mark.parametrize("ema", EMA_MODES)
@pytest.mark.parametrize("updater", list(UPDATERS))
def test_only_linear_conv_and_gru_weights_decay(updater: str, ema: str) -> None:
    model = small_model(updater, ema)
    name_of = {id(p): name for name, p in model.named_parameters()}
    decayed, kept = parameter_groups(model, 0.1)
    assert (decayed["weight_decay"], kept["weight_decay"]) == (0.1, 0.0)
    decayed_names = [name_of[id(p)] for p in decayed["params"]]
    kept_names = [name_of[id(p)] for p in kept["params"]]
    assert sorted(decayed_names + kept_names) == sorted(name_of.values())  # each exactly once
    assert set(decayed_names) == weight_names(model)
    biases = {name for name in name_of.values() if name.split(".")[-1].startswith("bias")}
    norms = {f"{prefix}.weight" for prefix, module in model.named_modules()
             if isinstance(module, nn.LayerNorm)}  # fmt: skip
    assert biases and norms and biases | norms <= set(kept_names)
    assert ("ema.theta" in kept_names) == (ema != "fixed")
    if updater == "mamba":
        mixer = "updater.core.mixer."
        assert {mixer + "A_log", mixer + "D", mixer + "conv1d.bias"} <= set(kept_names)
        assert mixer + "conv1d.weight" in decayed_names  # [Di, 1, K]: a filter, decayed
    if updater == "gru":
        assert {"updater.core.gru.bias_ih_l0", "updater.core.gru.bias_hh_l0"} <= set(kept_names)


def test_frozen_parameters_are_left_out() -> None:
    model = small_model("mlp", "learnable")
    model.head.requires_grad_(False)
    grouped = [p for group in parameter_groups(model, 0.1) for p in group["params"]]
    assert {id(p) for p in grouped} == {id(p) for p in model.parameters() if p.requires_grad}
    assert not any(p is model.head.out.weight for p in grouped)


def test_adamw_decays_the_decayed_group_only() -> None:
    """With zero gradients Adam's update is 0, so a step only applies the decay
    ``p <- (1 - lr wd) p``: to weights, not to ``theta``, ``A_log``, ``D`` or biases."""
    model = small_model("mamba", "per_channel")
    with torch.no_grad():
        model.ema.theta.fill_(1.0)  # nonzero, so a decay would show
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = make_optimizer(model, TrainConfig(lr=0.1, weight_decay=0.5))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    expected = weight_names(model)
    for name, p in model.named_parameters():
        factor = 1 - 0.1 * 0.5 if name in expected else 1.0
        torch.testing.assert_close(p.detach(), before[name] * factor, msg=name)
