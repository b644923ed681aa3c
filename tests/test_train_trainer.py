"""fit: scheduled sampling runs its whole ramp before a model is kept or training stops."""

from __future__ import annotations

import pytest
import torch

from bench.model import ModelConfig, StreamingModel
from bench.testing.toy import toy_trial_data
from bench.train.config import TrainConfig
from bench.train.data import dialog_set, fit_standardisers
from bench.train.trainer import fit


def fit_toy(feedback: str, **train) -> tuple[list[dict], int]:
    data = toy_trial_data(sessions=3, dialogs_per_session=4, utterances=(8, 16))
    standardisers = fit_standardisers(data)
    sets = {name: dialog_set(data, name, standardisers) for name in ("train", "val")}
    updater = "none" if feedback == "none" else "gru"
    config = ModelConfig(updater=updater, feedback=feedback, d_model=8, d_c=8, d_p2=8)
    torch.manual_seed(0)
    model = StreamingModel(config, *(data.features[k].shape[1] for k in data.features))
    result = fit(model, sets["train"], sets["val"], TrainConfig(**train), "cpu", seed=0)
    return result.history, result.best_epoch


def test_scheduled_sampling_is_not_stopped_or_selected_inside_its_ramp():
    # lr 0 keeps validation flat, so patience 1 would stop a run after its second epoch.
    history, best = fit_toy("scheduled", epochs=10, patience=1, lr=0.0, batch_dialogs=2)
    ramp_end = next(h["epoch"] for h in history if h["eligible"])
    assert ramp_end >= 7  # 80% of the planned steps
    assert all(h["teacher_probability"] > 0 for h in history[:ramp_end])
    assert history[ramp_end]["teacher_probability"] == 0.0
    assert best >= ramp_end and history[best]["teacher_probability"] == 0.0
    assert len(history) >= ramp_end + 2  # patience counted from the first eligible epoch


@pytest.mark.parametrize(("feedback", "probability"), [("teacher", 1.0), ("none", 0.0)])
def test_other_feedback_modes_are_eligible_from_the_first_epoch(feedback, probability):
    history, _ = fit_toy(feedback, epochs=4, patience=1, lr=0.0, batch_dialogs=2)
    assert all(h["eligible"] for h in history)
    assert {h["teacher_probability"] for h in history} == {probability}
    assert len(history) == 2  # flat validation: patience 1 stops after the second epoch
