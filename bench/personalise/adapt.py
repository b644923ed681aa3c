"""Few-shot adaptation of a trained model to one speaker (seed section 11).

Everything is frozen except the declared parameters ``theta_m`` of one mode, which take
``steps`` full-batch AdamW steps on the enrolment turns ``1..k``:

    theta_m <- theta_m - AdamW(grad L),   L = va_loss(y_{1..k}, labels_{1..k})

where ``y_{1..k}`` is the model run over the ``k`` turns as one dialog, in order, from the
initial state, feeding back its own predictions as at test time. The model is in eval mode
(no dropout), so an adaptation is deterministic: the protocol and ``StreamingPredictor``
give the same weights from the same turns.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bench.errors import BenchError
from bench.model import StreamingModel
from bench.personalise.config import PersonaliseConfig
from bench.train.loss import va_loss


@dataclass(frozen=True)
class Enrolment:
    """One speaker's labelled turns, in order: ``features`` role -> ``[k, D]`` (standardised
    as the model's training rows were) and ``labels [k, 2]`` on [0, 1]."""

    features: dict[str, Tensor]
    labels: Tensor

    def __len__(self) -> int:
        return len(self.labels)


def adapted_parameters(model: StreamingModel, mode: str) -> dict[str, nn.Parameter]:
    """The parameters ``mode`` adapts, by name: ``film`` all of FiLM's, ``film_last`` its last
    linear layer's, ``head_bias`` the output bias of the head (a per-speaker logit offset).

    Raises:
        BenchError: a FiLM mode on a model without FiLM.
    """
    film = model.observe.film
    if mode in ("film", "film_last") and film is None:
        raise BenchError(f"adapt {mode} needs FiLM, which this model lacks; head_bias needs none")
    modules: dict[str, nn.Module] = {
        "film": film,
        "film_last": None if film is None else film.net[-1],
        "head_bias": model.head.out,
    }
    if mode not in modules:
        raise BenchError(f"unknown adapt mode {mode!r}")
    names = {id(p): name for name, p in model.named_parameters()}
    chosen = modules[mode].parameters() if mode != "head_bias" else [model.head.out.bias]
    return {names[id(p)]: p for p in chosen}


def supports(model: StreamingModel, mode: str) -> bool:
    """Whether ``model`` has the parameters ``mode`` adapts (FiLM modes need FiLM)."""
    return mode == "head_bias" or model.observe.film is not None


def adapt(
    model: StreamingModel,
    mode: str,
    enrolment: Enrolment,
    config: PersonaliseConfig,
    mse_weight: float,
) -> StreamingModel:
    """A copy of ``model`` with the ``mode`` parameters fitted to ``enrolment`` (see the module
    docstring); ``model`` itself is unchanged. No turns: the copy is the model as it was."""
    adapted = copy.deepcopy(model).eval().requires_grad_(False)
    parameters = list(adapted_parameters(adapted, mode).values())
    if len(enrolment) == 0:
        return adapted
    for parameter in parameters:
        parameter.requires_grad_(True)
    device = adapted.head.out.weight.device
    x = {role: values.to(device)[None] for role, values in enrolment.features.items()}  # [1, k, D]
    labels = enrolment.labels.to(device)[None]  # [1, k, 2]
    mask = torch.ones(labels.shape[:2], dtype=torch.bool, device=device)  # [1, k]
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    for _ in range(config.steps):
        z = adapted.observe(x["speech"], x["prosody"], x["speaker"])  # [1, k, Dz]
        y, _ = adapted.run_chunk(z, None)  # [1, k, 2]
        loss = va_loss(y, labels, mask, mse_weight)  # []
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return adapted.requires_grad_(False)
