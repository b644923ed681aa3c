"""The masked CCC + MSE loss, the sampling schedule, and that training lowers the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.metrics import ccc
from bench.model import ModelConfig, StreamingModel
from bench.testing.toy import toy_trial_data
from bench.train.batching import make_batch
from bench.train.config import TrainConfig
from bench.train.data import dialog_set, fit_standardisers
from bench.train.loss import masked_ccc, va_loss
from bench.train.optim import make_optimizer
from bench.train.step import train_step
from bench.train.trainer import feed_probability, teacher_probability


def test_masked_ccc_matches_metric_and_ignores_padding() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(3, 7, 2, generator=g), torch.rand(3, 7, 2, generator=g)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 4:] = False
    mask[2, 2:] = False
    got = masked_ccc(pred, target, mask)
    for k in range(2):
        assert got[k].item() == pytest.approx(ccc(target[..., k][mask], pred[..., k][mask]), 1e-5)
    garbage = torch.where(mask.unsqueeze(-1), pred, torch.full_like(pred, 1e3))
    torch.testing.assert_close(masked_ccc(garbage, target, mask), got)


def test_loss_formula() -> None:
    target = torch.tensor([[[0.1, 0.2], [0.5, 0.9], [0.3, 0.4]]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    assert va_loss(target, target, mask).item() == pytest.approx(0.0, abs=1e-6)
    pred = target + 0.1
    c = masked_ccc(pred, target, mask)
    expected = 1 - c.mean() + 0.1 * (0.01 + 0.01)
    assert va_loss(pred, target, mask).item() == pytest.approx(expected.item(), 1e-6)


def test_scheduled_sampling_probability() -> None:
    values = [teacher_probability(x, 0.3, 0.8) for x in (0.0, 0.29, 0.3, 0.55, 0.8, 1.0)]
    assert values == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.0, 0.0])
    config = TrainConfig()
    assert feed_probability("teacher", 0.9, config) == 1.0
    assert feed_probability("autoregressive", 0.0, config) == 0.0
    assert feed_probability("scheduled", 0.55, config) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("updater", "feedback"), [("mamba", "scheduled"), ("gru", "autoregressive"), ("mlp", "none")]
)
def test_training_lowers_the_loss_with_finite_gradients(updater: str, feedback: str) -> None:
    data = toy_trial_data(sessions=2, dialogs_per_session=4, utterances=(10, 20))
    train = dialog_set(data, "train", fit_standardisers(data))
    torch.manual_seed(0)
    config = ModelConfig(updater=updater, feedback=feedback, d_model=16, d_c=8, d_p2=8,
                         film_hidden=16, head_hidden=16, dropout=0.0)  # fmt: skip
    model = StreamingModel(config, 16, 8, 6)
    train_config = TrainConfig(lr=3e-3, chunk_len=8)
    optimizer = make_optimizer(model, train_config)
    batch = make_batch(train, list(range(len(train.dialogs))))

    def epoch() -> float:
        losses, state = [], None
        for chunk in batch.chunks(train_config.chunk_len):
            loss, state = train_step(model, chunk, state, optimizer, 0.5, train_config)
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            assert grads and all(torch.isfinite(g).all() for g in grads)
            losses.append(loss)
        return float(np.mean(losses))

    first = epoch()
    for _ in range(8):
        last = epoch()
    assert last < first - 0.1
