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
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bench.errors import BenchError
from bench.model import StreamingModel
from bench.personalise.config import PersonaliseConfig
from bench.personalise.rows import RowBias, RowFiLM
from bench.train.data import FEATURES
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
    return adapt_many(model, mode, [enrolment], config, mse_weight)[0]


def adapt_many(
    model: StreamingModel,
    mode: str,
    enrolments: Sequence[Enrolment],
    config: PersonaliseConfig,
    mse_weight: float,
) -> list[StreamingModel]:
    """:func:`adapt` for each enrolment, run together: row ``b`` of one batch holds
    enrolment ``b``'s turns and its own copy of the adapted layers
    (:mod:`bench.personalise.rows`), shorter enrolments padded and masked out of the loss
    ``sum_b va_loss(y_b, labels_b)``. The sequential rollout, which dominates the cost with
    feedback, then runs once per step for all of them."""
    adapted_parameters(model, mode)  # refuses a FiLM mode without FiLM
    active = [b for b, enrolment in enumerate(enrolments) if len(enrolment) > 0]
    results = [copy.deepcopy(model).eval().requires_grad_(False) for _ in enrolments]
    if not active:
        return results
    batch = copy.deepcopy(model).eval().requires_grad_(False)
    rows = len(active)
    if mode == "head_bias":
        batch.head.out = RowBias(batch.head.out, rows)
    else:
        batch.observe.film = RowFiLM(batch.observe.film, rows, "all" if mode == "film" else "last")
    device = batch.head.out.weight.device
    lengths = [len(enrolments[b]) for b in active]
    x = {
        role: _padded([enrolments[b].features[role] for b in active]).to(device)
        for role in FEATURES
    }  # role -> [B, T, D]
    labels = _padded([enrolments[b].labels for b in active]).to(device)  # [B, T, 2]
    trainable = [p for p in batch.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    for _ in range(config.steps):
        z = batch.observe(x["speech"], x["prosody"], x["speaker"])  # [B, T, Dz]
        y, _ = batch.run_chunk(z, None)  # [B, T, 2]
        loss = sum(
            va_loss(y[b : b + 1, :n], labels[b : b + 1, :n], _all(n, device), mse_weight)
            for b, n in enumerate(lengths)
        )  # [], the rows' losses summed: each row's gradient is its own
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    layer = "head.out" if mode == "head_bias" else "observe.film"
    for row, b in enumerate(active):
        results[b].get_submodule(layer).load_state_dict(batch.get_submodule(layer).row(row))
    return results


def _padded(values: list[Tensor]) -> Tensor:
    """``[n_b, D]`` tensors zero-padded to ``[B, max n_b, D]``."""
    return nn.utils.rnn.pad_sequence(values, batch_first=True)


def _all(n: int, device: torch.device) -> Tensor:
    return torch.ones(1, n, dtype=torch.bool, device=device)  # [1, n]
