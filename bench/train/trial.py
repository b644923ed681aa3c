"""One trial: train on a fold's training dialogs, select on validation, stream the test dialogs."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.metrics import va_scores
from bench.model import StreamingModel
from bench.results import PREDICTION_COLUMNS, TrialOutcome
from bench.train.checkpoint import checkpoint_bytes, make_checkpoint
from bench.train.config import TrialSpec
from bench.train.data import (
    FEATURES,
    SPLITS,
    DialogSet,
    Standardiser,
    TrialData,
    dialog_set,
    fit_standardisers,
)
from bench.train.evaluate import predict
from bench.train.trainer import FitResult, fit


@dataclass
class TrialResult:
    """What a trial sends back to the driver; ``to_json``/``from_json`` round-trip it through
    plain values (the payload of a worker).

    spec: the resolved trial spec. outcome: the scores, best epoch, timings and counts that
    the driver stores in the trial's :class:`bench.results.TrialRecord`. predictions: one row
    per test utterance (``PREDICTION_COLUMNS``), labels and predictions on the corpus scale.
    history: per epoch ``epoch, train_loss, val_ccc_v, val_ccc_a, val_ccc_avg, seconds``.
    checkpoint: the ``torch.save`` bytes of ``bench.train.checkpoint`` when asked for, else
    None (base64 text in ``to_json``).
    """

    spec: dict[str, Any]
    outcome: TrialOutcome
    predictions: pd.DataFrame
    history: list[dict[str, float]]
    checkpoint: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "outcome": self.outcome.to_json(),
            "predictions": self.predictions.to_dict(orient="list"),
            "history": self.history,
            "checkpoint": (
                None if self.checkpoint is None else base64.b64encode(self.checkpoint).decode()
            ),
        }

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> TrialResult:
        checkpoint = values.get("checkpoint")
        return cls(
            spec=values["spec"],
            outcome=TrialOutcome.from_json(values["outcome"]),
            predictions=pd.DataFrame(values["predictions"], columns=PREDICTION_COLUMNS),
            history=values["history"],
            checkpoint=None if checkpoint is None else base64.b64decode(checkpoint),
        )


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA where available, else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def predictions_table(
    data: TrialData, dialogs: DialogSet, pred: np.ndarray
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-utterance labels and predictions on the corpus scale, and their scores."""
    lo, hi = data.label_scale
    true = lo + dialogs.labels[:-1].numpy().astype(np.float64) * (hi - lo)  # [n, 2]
    pred = lo + pred.astype(np.float64) * (hi - lo)  # [n, 2]
    table = data.table.iloc[dialogs.rows][["utt_id", "dialog", "speaker", "session"]]
    table = table.reset_index(drop=True).assign(
        valence_true=true[:, 0], valence_pred=pred[:, 0],
        arousal_true=true[:, 1], arousal_pred=pred[:, 1],
    )  # fmt: skip
    return table[PREDICTION_COLUMNS], va_scores(true, pred)


@dataclass
class TrainedModel:
    """A model trained on a fold's training dialogs and kept at its best validation epoch,
    with what it was trained with: the standardisers (fitted on the training rows), the
    splits as dialog sets, the device and the fit's history."""

    spec: TrialSpec
    model: StreamingModel
    fitted: FitResult
    standardisers: dict[str, Standardiser]
    splits: dict[str, DialogSet]
    device: torch.device


def train_model(
    spec: TrialSpec,
    data: TrialData,
    splits: Sequence[str] = SPLITS,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainedModel:
    """Train one configuration on ``data``'s training split, selecting on ``val``.

    Feature standardisers are fitted on the training rows. The seed, shifted by
    ``train.seed_offset`` (:attr:`TrialSpec.effective_seed`), fixes initialisation, batch
    order, dropout and scheduled-sampling draws (a CPU run is reproducible); the caller's
    global torch RNG state is left as it was. ``splits``: the splits that must be
    present (a tuner's data has no test split); ``on_epoch``: see :func:`fit`. ``spec`` is
    trained as it is (a plain one is read by :meth:`TrialSpec.from_dict` first).
    """
    data.validate(splits)
    device = resolve_device(spec.device)
    standardisers = fit_standardisers(data)
    sets = {name: dialog_set(data, name, standardisers) for name in splits}
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        seed = spec.effective_seed
        torch.manual_seed(seed)
        dims = [data.features[name].shape[1] for name in FEATURES]
        model = StreamingModel(spec.model, *dims).to(device)
        fitted = fit(model, sets["train"], sets["val"], spec.train, device, seed, on_epoch)
    return TrainedModel(spec, model, fitted, standardisers, sets, device)


def run_trial(spec: TrialSpec, data: TrialData, keep_checkpoint: bool = False) -> TrialResult:
    """Train and evaluate one configuration on one fold (:func:`train_model`), then stream
    the validation and test dialogs. ``keep_checkpoint`` puts the evaluated model's
    checkpoint in the result (``TrialResult.checkpoint``).
    """
    began = time.perf_counter()
    trained = train_model(spec, data)
    model, fitted, config = trained.model, trained.fitted, trained.spec.train
    trained_at = time.perf_counter()
    outputs = {}
    for name in ("val", "test"):
        dialogs = trained.splits[name]
        pred = predict(model, dialogs, config.eval_batch_dialogs, config.chunk_len, trained.device)
        outputs[name] = predictions_table(data, dialogs, pred)
    finished = time.perf_counter()
    counts = {f"{name}_utterances": len(s.rows) for name, s in trained.splits.items()}
    counts |= {f"{name}_dialogs": len(s.dialogs) for name, s in trained.splits.items()}
    counts |= {
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": fitted.steps,
        "epochs_run": len(fitted.history),
    }
    return TrialResult(
        spec=trained.spec.to_dict(),
        predictions=outputs["test"][0],
        outcome=TrialOutcome(
            metrics={"val": outputs["val"][1], "test": outputs["test"][1]},
            best_epoch=fitted.best_epoch,
            teacher_probability=fitted.history[fitted.best_epoch]["teacher_probability"],
            timings={
                "train_s": trained_at - began,
                "evaluate_s": finished - trained_at,
                "total_s": finished - began,
            },
            counts=counts,
        ),
        history=fitted.history,
        checkpoint=(
            checkpoint_bytes(make_checkpoint(model, trained.spec, trained.standardisers, data))
            if keep_checkpoint
            else None
        ),
    )
