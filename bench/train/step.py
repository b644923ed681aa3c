"""One TBPTT optimiser step, and a batch of them: the trainer's inner loop, in one place."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bench.model import ModelState, StreamingModel, map_state
from bench.train.batching import Batch
from bench.train.config import TrainConfig
from bench.train.evaluate import observe
from bench.train.loss import va_loss


def train_step(
    model: StreamingModel,
    chunk: Batch,
    state: ModelState | None,
    optimizer: torch.optim.Optimizer,
    p_true: float,
    config: TrainConfig,
    sampler: torch.Generator | None = None,
) -> tuple[float, ModelState]:
    """Train on one chunk: ``loss = va_loss(model.run_chunk(z, state), labels)``, then
    zero the gradients, backpropagate, clip their norm to ``config.grad_clip`` and step.

    ``state`` is the state carried in from the previous chunk of the same dialogs (None at
    a dialog's start); ``p_true`` is the probability of feeding the ground-truth
    ``y_{t-1}``, drawn with ``sampler``. The gradients stay on the parameters until the
    next step. Returns (the loss as a float, the state at the chunk's end, detached: the
    truncation of TBPTT).
    """
    y, state = model.run_chunk(
        observe(model, chunk), state, chunk.labels_prev, p_true, sampler
    )  # [B, T, 2]
    loss = va_loss(y, chunk.labels, chunk.mask, config.mse_weight)  # []
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    return loss.item(), map_state(torch.Tensor.detach, state)


def train_batch(
    model: StreamingModel,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    p_true: Callable[[int], float],
    config: TrainConfig,
    sampler: torch.Generator | None = None,
) -> list[float]:
    """Train on a batch of whole dialogs: one ``train_step`` per chunk of ``config.chunk_len``
    utterances, the state carried (detached) from each chunk to the next.

    ``p_true(k)`` is the ground-truth feeding probability of the batch's ``k``-th chunk.
    Returns the chunks' losses, in order (one per optimiser step).
    """
    losses, state = [], None
    for k, chunk in enumerate(batch.chunks(config.chunk_len)):
        loss, state = train_step(model, chunk, state, optimizer, p_true(k), config, sampler)
        losses.append(loss)
    return losses
