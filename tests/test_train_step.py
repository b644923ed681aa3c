"""One TBPTT step and a batch of them: the loss, the update and the carried state."""

from __future__ import annotations

import copy

import pytest
import torch

from bench.model import ModelConfig, StreamingModel, map_state
from bench.testing.toy import toy_trial_data
from bench.train.batching import Batch, make_batch
from bench.train.config import TrainConfig
from bench.train.data import dialog_set, fit_standardisers
from bench.train.evaluate import observe
from bench.train.loss import va_loss
from bench.train.optim import make_optimizer
from bench.train.step import train_batch, train_step

CONFIG = TrainConfig(lr=1e-2, chunk_len=6, grad_clip=0.5, mse_weight=0.3)


def setup() -> tuple[StreamingModel, torch.optim.Optimizer, Batch]:
    data = toy_trial_data(sessions=3, dialogs_per_session=3, utterances=(8, 15))
    train = dialog_set(data, "train", fit_standardisers(data))
    torch.manual_seed(0)
    config = ModelConfig(updater="gru", feedback="scheduled", d_model=8, d_c=4, d_p2=4,
                         film_hidden=8, head_hidden=8, dropout=0.0)  # fmt: skip
    model = StreamingModel(config, 16, 8, 6)
    return model, make_optimizer(model, CONFIG), make_batch(train, [0, 1, 2, 3])


def test_step_is_the_loss_a_clipped_update_and_the_detached_state() -> None:
    model, optimizer, batch = setup()
    chunk = next(batch.chunks(CONFIG.chunk_len))
    twin = copy.deepcopy(model)
    twin_optimizer = make_optimizer(twin, CONFIG)
    y, expected_state = twin.run_chunk(observe(twin, chunk), None, chunk.labels_prev, 1.0)
    expected = va_loss(y, chunk.labels, chunk.mask, CONFIG.mse_weight)
    expected.backward()
    norm = torch.nn.utils.clip_grad_norm_(twin.parameters(), CONFIG.grad_clip)
    assert norm > CONFIG.grad_clip  # so the clip matters below
    twin_optimizer.step()

    loss, state = train_step(model, chunk, None, optimizer, 1.0, CONFIG)
    assert loss == pytest.approx(expected.item())
    clipped = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    assert clipped.norm().item() == pytest.approx(CONFIG.grad_clip, rel=1e-4)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    leaves = []
    map_state(leaves.append, state)
    assert leaves and not any(t.requires_grad for t in leaves)
    map_state(leaves.append, expected_state)
    assert any(t.requires_grad for t in leaves)  # what detaching removed


def test_batch_is_one_step_per_chunk_with_the_state_carried() -> None:
    model, optimizer, batch = setup()
    twin = copy.deepcopy(model)
    twin_optimizer = make_optimizer(twin, CONFIG)
    asked: list[int] = []

    def p_true(k: int) -> float:
        asked.append(k)
        return 1.0 - 0.25 * k

    losses = train_batch(model, batch, optimizer, p_true, CONFIG, torch.Generator().manual_seed(1))
    chunks = list(batch.chunks(CONFIG.chunk_len))
    assert len(chunks) > 2 and asked == list(range(len(chunks))) and len(losses) == len(chunks)
    expected, state, sampler = [], None, torch.Generator().manual_seed(1)
    for k, chunk in enumerate(chunks):
        loss, state = train_step(twin, chunk, state, twin_optimizer, 1.0 - 0.25 * k, CONFIG,
                                 sampler)  # fmt: skip
        expected.append(loss)
    assert losses == expected
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=0, rtol=0)
