"""TBPTT training with feedback modes, early stopping and model selection on validation CCC.

Scheduled sampling must run before a model is kept as "scheduled": an epoch is *eligible*
for selection only once the teacher-forcing probability has reached 0 (the ramp ended at
``sampling_end`` of the planned steps), and patience counts only eligible epochs. So early
stopping never ends a run inside its ramp, and the kept model was trained to the end of
its schedule; the cost is that a scheduled variant cannot be kept at an earlier, teacher-
forced peak. Other feedback modes have no ramp: every epoch is eligible.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from bench.metrics import va_scores
from bench.model import StreamingModel
from bench.train.batching import make_batch, shuffled_groups
from bench.train.config import TrainConfig
from bench.train.data import DialogSet
from bench.train.evaluate import predict
from bench.train.optim import make_optimizer
from bench.train.step import train_batch


@dataclass
class FitResult:
    """Per-epoch history (train loss, validation CCC, the teacher probability of the epoch's
    end, where the schedule stood at evaluation; eligibility), the kept epoch and step count."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    steps: int = 0


def teacher_probability(progress: float, start: float, end: float) -> float:
    """Scheduled-sampling probability of feeding the ground truth at training ``progress``
    (fraction of planned steps): 1 before ``start``, 0 from ``end``, linear in between."""
    if progress < start:
        return 1.0
    if progress >= end:
        return 0.0
    return (end - progress) / (end - start)


def feed_probability(feedback: str, progress: float, config: TrainConfig) -> float:
    """Probability of feeding the ground-truth ``y_{t-1}`` in training."""
    if feedback == "scheduled":
        return teacher_probability(progress, config.sampling_start, config.sampling_end)
    return 1.0 if feedback == "teacher" else 0.0


def fit(
    model: StreamingModel,
    train: DialogSet,
    val: DialogSet,
    config: TrainConfig,
    device: torch.device | str,
    seed: int,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train ``model`` in place; on return it holds the weights of the best validation epoch.

    Each batch holds ``batch_dialogs`` dialogs, cut into chunks of ``chunk_len``; the state
    is carried, detached, from one chunk of a dialog to the next. One optimiser step per
    chunk (``train_step``): AdamW on ``va_loss`` with the gradient norm clipped, weight
    decay on weight matrices only (``make_optimizer``). ``on_epoch`` sees each epoch's
    history row as it is made (a tuner reports it, and may stop the run by raising).
    """
    rng = np.random.default_rng(seed)
    sampler = torch.Generator().manual_seed(seed)
    lengths = [len(d) for d in train.dialogs]
    plan = [shuffled_groups(lengths, config.batch_dialogs, rng) for _ in range(config.epochs)]
    planned_steps = sum(
        -(-max(lengths[i] for i in ids) // config.chunk_len) for epoch in plan for ids in epoch
    )
    optimizer = make_optimizer(model, config)
    result, best_score, best_weights = FitResult(), -np.inf, None
    feedback = model.config.feedback

    def p_true(k: int) -> float:  # the k-th chunk of a batch that starts at result.steps
        return feed_probability(feedback, (result.steps + k) / planned_steps, config)

    first_eligible = None

    for epoch, groups in enumerate(plan):
        start, losses = time.perf_counter(), []
        model.train()
        for ids in groups:
            batch = make_batch(train, ids).to(device)
            batch_losses = train_batch(model, batch, optimizer, p_true, config, sampler)
            losses += batch_losses
            result.steps += len(batch_losses)
        pred = predict(model, val, config.eval_batch_dialogs, config.chunk_len, device)
        scores = va_scores(val.labels[:-1].numpy(), pred)
        eligible = feedback != "scheduled" or result.steps >= config.sampling_end * planned_steps
        result.history.append({
            "epoch": epoch,
            "train_loss": float(np.mean(losses)),
            "val_ccc_v": scores["ccc_v"],
            "val_ccc_a": scores["ccc_a"],
            "val_ccc_avg": scores["ccc_avg"],
            "teacher_probability": p_true(0),  # where the schedule stands at evaluation
            "eligible": eligible,
            "seconds": time.perf_counter() - start,
        })  # fmt: skip
        if on_epoch is not None:
            on_epoch(result.history[-1])
        if not eligible:
            continue
        first_eligible = epoch if first_eligible is None else first_eligible
        if scores["ccc_avg"] > best_score:
            best_score, result.best_epoch = scores["ccc_avg"], epoch
            best_weights = copy.deepcopy(model.state_dict())
        elif epoch - max(result.best_epoch, first_eligible) >= config.patience:
            break
    if best_weights is not None:
        model.load_state_dict(best_weights)
    return result
