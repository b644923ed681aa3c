"""run_trial end to end on the toy data: result contents, reproducibility, config errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from bench.testing.toy import toy_trial_data
from bench.train import trial
from bench.train.config import TrialSpec
from bench.train.trainer import fit
from bench.train.trial import PREDICTION_COLUMNS, TrialResult, run_trial

TINY = {"d_model": 16, "d_c": 8, "d_p2": 8, "film_hidden": 16, "head_hidden": 16}


@pytest.fixture(scope="module")
def data():
    return toy_trial_data(sessions=3, dialogs_per_session=4, utterances=(8, 16), seed=2)


def spec(epochs: int = 2, **model) -> TrialSpec:
    return TrialSpec.from_dict({"model": TINY | model, "train": {"epochs": epochs,
                                "chunk_len": 6, "batch_dialogs": 3}, "seed": 7,
                                "device": "cpu"})  # fmt: skip


def test_result_contents(data) -> None:
    result = run_trial(spec(), data)
    test_rows = data.table.iloc[data.splits["test"]]
    assert list(result.predictions.columns) == PREDICTION_COLUMNS
    assert sorted(result.predictions["utt_id"]) == sorted(test_rows["utt_id"])
    merged = result.predictions.merge(test_rows, on="utt_id")
    np.testing.assert_allclose(merged["valence_true"], 1 + 4 * merged["valence"], rtol=1e-6)
    assert result.predictions[["valence_pred", "arousal_pred"]].stack().between(1, 5).all()
    outcome = result.outcome
    assert set(outcome.metrics) == {"val", "test"}
    assert set(outcome.metrics["test"]) == {"ccc_v", "ccc_a", "ccc_avg", "rmse_v", "rmse_a"}
    assert [h["epoch"] for h in result.history] == [0, 1]
    # Scheduled sampling (the default): only epochs after its ramp can be kept.
    eligible = [h for h in result.history if h["eligible"]]
    assert outcome.best_epoch == max(eligible, key=lambda h: h["val_ccc_avg"])["epoch"]
    assert outcome.teacher_probability == 0.0
    assert outcome.counts["test_utterances"] == len(test_rows)
    assert outcome.counts["test_dialogs"] == 4
    assert result.spec["model"]["updater"] == "mamba"
    assert result.spec["train"]["patience"] == 5
    assert outcome.timings["total_s"] >= outcome.timings["train_s"] > 0
    again = TrialResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.predictions.equals(result.predictions)
    assert again.outcome == outcome and again.history == result.history


def test_same_seed_same_result_and_caller_rng_untouched(data) -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = run_trial(spec(1, updater="gru"), data)
    assert torch.equal(torch.rand(1), before)
    second = run_trial(spec(1, updater="gru"), data)
    assert first.predictions.equals(second.predictions)
    other = run_trial(replace(spec(1, updater="gru"), seed=8), data)
    assert not first.predictions.equals(other.predictions)


def test_early_stopping_keeps_the_best_epoch(data) -> None:
    result = run_trial(
        TrialSpec.from_dict({"model": TINY | {"updater": "mlp", "feedback": "none"},
                             "train": {"epochs": 50, "patience": 1, "lr": 0.3}, "seed": 0,
                             "device": "cpu"}),
        data,
    )  # fmt: skip
    assert len(result.history) < 50
    best_epoch = result.outcome.best_epoch
    assert len(result.history) == best_epoch + 2
    best = result.history[best_epoch]["val_ccc_avg"]
    assert result.outcome.metrics["val"]["ccc_avg"] == pytest.approx(best, abs=1e-5)


def test_stateful_model_beats_stateless_on_drifting_moods() -> None:
    data = toy_trial_data(sessions=3, dialogs_per_session=8, seed=0)
    train = {"epochs": 8, "patience": 8}
    stateless = run_trial(TrialSpec.from_dict({"model": TINY | {"updater": "none",
                          "feedback": "none"}, "train": train, "device": "cpu"}), data)  # fmt: skip
    stateful = run_trial(TrialSpec.from_dict({"model": TINY | {"updater": "gru",
                         "feedback": "none"}, "train": train, "device": "cpu"}), data)  # fmt: skip
    ccc = [r.outcome.metrics["test"]["ccc_avg"] for r in (stateless, stateful)]
    assert ccc[1] > ccc[0] + 0.03


@pytest.mark.parametrize(
    ("bad", "message"),
    [({"model": {"updatr": "gru"}}, "model.updatr"), ({"train": {"epoch": 3}}, "train.epoch"),
     ({"seeds": 1}, "seeds"), ({"device": "tpu"}, "device")],
)  # fmt: skip
def test_a_bad_spec_fails_when_it_is_read(bad: dict, message: str) -> None:
    """A plain spec becomes a :class:`TrialSpec` (what ``run_trial`` takes) through the config
    layer, which refuses an unknown key or a wrong value."""
    with pytest.raises(BenchError, match=message):
        TrialSpec.from_dict(bad)


def test_a_seed_offset_shifts_the_initialisation_and_shuffling_seeds(data, monkeypatch) -> None:
    """``train.seed_offset`` k trains seed s as seed s + 1000 k: the initial weights and the
    seed of batch order and sampling draws (``fit``'s) are seed 1007's for seed 7 at offset 1,
    and so is the whole trial; offset 0 is seed 7 itself."""
    seen: list[tuple[dict[str, torch.Tensor], int]] = []

    def recording_fit(model, train, val, config, device, seed, on_epoch=None):
        seen.append(({k: v.clone() for k, v in model.state_dict().items()}, seed))
        return fit(model, train, val, config, device, seed, on_epoch)

    monkeypatch.setattr(trial, "fit", recording_fit)
    base = spec(1, updater="gru")
    shifted = replace(base, train=replace(base.train, seed_offset=1))
    results = [run_trial(s, data) for s in (base, shifted, replace(base, seed=1007))]
    (plain, plain_seed), (offset, offset_seed), (far, far_seed) = seen
    assert (plain_seed, offset_seed, far_seed) == (7, 1007, 1007)
    assert all(torch.equal(offset[k], far[k]) for k in offset)
    assert not all(torch.equal(offset[k], plain[k]) for k in offset)
    assert results[1].predictions.equals(results[2].predictions)
    assert not results[1].predictions.equals(results[0].predictions)
    assert results[1].spec["train"]["seed_offset"] == 1 and results[1].spec["seed"] == 7
