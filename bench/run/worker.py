"""What runs on a worker: one trial on one fold (or the personalisation of a trained one),
from inputs shared by every trial."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.train.data import TrialData
from bench.train.trial import run_trial


@dataclass
class SharedInputs:
    """Everything every trial needs, sent to the workers once.

    table: the utterance table; features: role -> ``[N, d]`` rows aligned with it;
    folds: fold number -> ``{"train", "val", "test"}`` row indices (a tuner's inputs have no
    ``test``: :func:`bench.tune.local.tuning_inputs`); label_scale: (lo, hi);
    features_config: the plain features block the features came from (for checkpoints);
    valid: role -> ``[N]`` bool, False for an extractor's zero fallback;
    checkpoints: trial id -> its loaded checkpoint, for ``bench personalise`` (sent with the
    inputs, so workers on other machines need no shared folder).
    """

    table: pd.DataFrame
    features: dict[str, np.ndarray]
    folds: dict[int, dict[str, np.ndarray]]
    label_scale: tuple[float, float]
    features_config: dict[str, Any] | None = None
    valid: dict[str, np.ndarray] | None = None
    checkpoints: dict[str, dict[str, Any]] | None = None

    def trial_data(self, fold: int) -> TrialData:
        return TrialData(
            self.table,
            self.features,
            self.folds[fold],
            self.label_scale,
            self.features_config,
            self.valid,
        )


def execute(work: dict[str, Any], inputs: SharedInputs, threads: int | None = None) -> dict:
    """Run one work and return a JSON-ready payload: the result and where it ran.

    A work is a trial (``PlannedTrial.work()``, plus ``"checkpoint": True`` to keep the
    model's checkpoint), or with ``"task": "personalise"`` the personalisation of a trained
    trial (:func:`bench.personalise.run.personalise_work`).
    """
    if threads:
        torch.set_num_threads(threads)
    started = time.time()
    data = inputs.trial_data(work["fold"])
    if work.get("task") == "personalise":
        from bench.personalise.run import personalise_work

        result = personalise_work(work, inputs, data)
    else:
        keep = work.get("checkpoint", False)
        result = run_trial(work["spec"], data, keep_checkpoint=keep).to_json()
    worker = {
        "host": platform.node(),
        "pid": os.getpid(),
        "torch_threads": torch.get_num_threads(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "started": started,  # wall clock (s since the epoch): when trials overlapped
        "finished": time.time(),
    }
    return {"result": result, "worker": worker}
