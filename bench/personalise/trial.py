"""Personalise one trained trial: every test speaker, every adapt mode and every ``k``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.personalise.adapt import Enrolment, adapt_many, supports
from bench.personalise.config import PersonaliseConfig
from bench.personalise.enrolment import SpeakerPlan, plan_enrolment
from bench.results import PREDICTION_COLUMNS
from bench.train.checkpoint import checkpoint_model, checkpoint_standardisers
from bench.train.config import TrialSpec
from bench.train.data import FEATURES, TrialData, dialog_set
from bench.train.evaluate import predict
from bench.train.trial import predictions_table

PERSONALISED_COLUMNS = [*PREDICTION_COLUMNS, "adapt", "k"]


@dataclass(frozen=True)
class Personalised:
    """The scored turns' predictions (``PERSONALISED_COLUMNS``, one row per adapt mode, ``k``
    and turn; corpus scale), the modes this model could not run (FiLM modes without FiLM),
    the speakers skipped for too few turns (with their counts), and per mode the number of
    adaptations and the seconds they took (adapting only, not streaming)."""

    predictions: pd.DataFrame
    unsupported: list[str]
    skipped: dict[str, int]
    adapt_seconds: dict[str, float]
    adaptations: dict[str, int]


def personalise_trial(
    checkpoint: dict[str, Any], data: TrialData, config: PersonaliseConfig
) -> Personalised:
    """Adapt the checkpoint's model to each test speaker of ``data`` and stream the test
    dialogs with the adapted model, for every mode of ``config.adapt`` and every ``k``.

    Each speaker's first ``k`` test turns enrol (:mod:`bench.personalise.enrolment`), with
    the features standardised by the checkpoint's training standardisers; the turns after
    the first ``max(k)`` are scored, the same turns for every ``k`` (``k = 0``: the model as
    trained). Only enrolment turns' labels reach the adaptation. A mode's adaptations (every
    speaker and ``k``) run together (:func:`bench.personalise.adapt.adapt_many`), on the CPU
    (a trial's personalisation costs a fraction of its training; see the README).
    """
    spec = TrialSpec.from_dict(checkpoint["spec"])
    model = checkpoint_model(checkpoint)
    test = dialog_set(data, "test", checkpoint_standardisers(checkpoint))
    position = {row: i for i, row in enumerate(test.rows)}
    plan = plan_enrolment(data.table, np.asarray(data.splits["test"]), config.k_max)
    modes = [mode for mode in config.adapt if supports(model, mode)]

    def streamed(trained: torch.nn.Module) -> pd.DataFrame:
        pred = predict(trained, test, spec.train.eval_batch_dialogs, spec.train.chunk_len, "cpu")
        return predictions_table(data, test, pred)[0]

    def enrolment(rows: np.ndarray) -> Enrolment:
        enrolled = [position[row] for row in rows]
        features = {role: test.features[role][enrolled] for role in FEATURES}
        return Enrolment(features, test.labels[enrolled])

    def scored(speaker: SpeakerPlan) -> list[int]:
        return [position[row] for row in speaker.scored]

    unadapted = streamed(model)
    jobs = [(speaker, k) for k in sorted(config.k) if k > 0 for speaker in plan.speakers]
    frames = []
    seconds, adaptations = {}, {}
    for mode in modes:
        frames += [unadapted.iloc[scored(s)].assign(adapt=mode, k=0) for s in plan.speakers]
        enrolments = [enrolment(speaker.enrolment(k)) for speaker, k in jobs]
        began = time.perf_counter()
        adapted = adapt_many(model, mode, enrolments, config, spec.train.mse_weight)
        seconds[mode], adaptations[mode] = time.perf_counter() - began, len(jobs)
        for (speaker, k), personal in zip(jobs, adapted, strict=True):
            frames.append(streamed(personal).iloc[scored(speaker)].assign(adapt=mode, k=k))
    predictions = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=PERSONALISED_COLUMNS)
    )
    return Personalised(
        predictions[PERSONALISED_COLUMNS],
        [mode for mode in config.adapt if mode not in modes],
        plan.skipped,
        seconds,
        adaptations,
    )
