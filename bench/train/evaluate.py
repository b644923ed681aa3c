"""Streaming evaluation: every dialog runs from its first utterance to its last, state carried."""

from __future__ import annotations

import numpy as np
import torch

from bench.model import StreamingModel, map_state
from bench.train.batching import Batch, length_groups, make_batch
from bench.train.data import DialogSet


def observe(model: StreamingModel, batch: Batch) -> torch.Tensor:
    """The observation ``z [B, T, Dz]`` of a batch's utterances, computed at valid positions
    only (the padding, which can be a third of a batch, stays 0)."""
    m = batch.mask  # [B, T]
    z = batch.speech.new_zeros(*m.shape, model.observe.d_out)  # [B, T, Dz]
    z[m] = model.observe(batch.speech[m], batch.prosody[m], batch.speaker[m])  # [n, Dz]
    return z


@torch.no_grad()
def predict(
    model: StreamingModel,
    dialogs: DialogSet,
    batch_dialogs: int,
    chunk_len: int,
    device: torch.device | str,
) -> np.ndarray:
    """Predictions ``[n, 2]`` (normalised scale) for every position of ``dialogs``.

    Dialogs are batched (exact: everything is causal and padding only follows a dialog's
    end) and run in chunks of ``chunk_len`` with the state carried. A model with feedback
    is fed its own predictions: there is no ground truth at test time.
    """
    was_training = model.training
    model.eval()
    out = np.zeros((dialogs.padding + 1, 2), dtype=np.float32)
    lengths = [len(d) for d in dialogs.dialogs]
    for ids in length_groups(lengths, batch_dialogs):
        batch, state = make_batch(dialogs, ids).to(device), None
        for chunk in batch.chunks(chunk_len):
            y, state = model.run_chunk(observe(model, chunk), state)  # [B, T, 2]
            state = map_state(torch.Tensor.detach, state)
            out[chunk.positions.cpu().numpy()] = y.float().cpu().numpy()
    model.train(was_training)
    return out[:-1]
