"""What runs on a worker: a task on one work item, from inputs shared by every work item.

A task is a picklable module-level function ``task(work, inputs, data) -> dict`` that
returns a JSON-ready result: :func:`train_task` (``bench run``) trains one trial; other
layers bring their own (``bench personalise``: :func:`bench.personalise.run.personalise_work`).
The executors (:mod:`bench.run.local`, :mod:`bench.run.ray_adapter`) run whichever task the
caller hands them, so this layer imports nothing above it.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.train.data import TrialData
from bench.train.trial import run_trial


@dataclass
class SharedInputs:
    """Everything every work item needs, sent to the workers once.

    table: the utterance table; features: role -> ``[N, d]`` rows aligned with it;
    folds: fold number -> ``{"train", "val", "test"}`` row indices (a tuner's inputs have no
    ``test``: :func:`bench.tune.trainable.tuning_inputs`); label_scale: (lo, hi);
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


# (work, inputs, the work's fold as TrialData) -> a JSON-ready result
Task = Callable[[dict[str, Any], SharedInputs, TrialData], dict[str, Any]]


def train_task(work: dict[str, Any], inputs: SharedInputs, data: TrialData) -> dict[str, Any]:
    """The task of ``bench run``: train, select and test one trial (``work``:
    ``PlannedTrial.work()``, whose ``spec`` is the plan's :class:`bench.train.config.TrialSpec`,
    trained as it is; plus ``"checkpoint": True`` to keep the model's checkpoint); the JSON
    form of its :class:`bench.train.trial.TrialResult`."""
    keep = work.get("checkpoint", False)
    return run_trial(work["spec"], data, keep_checkpoint=keep).to_json()


def use_threads(threads: int | None) -> None:
    """Torch computes on ``threads`` threads (None: leave it as it is)."""
    if threads:
        torch.set_num_threads(threads)


def execute(
    task: Task, work: dict[str, Any], inputs: SharedInputs, threads: int | None = None
) -> dict[str, Any]:
    """Run ``task`` on one work item (it carries ``trial_id`` and ``fold``) and return a
    JSON-ready payload: the task's result and where it ran."""
    use_threads(threads)
    started = time.time()
    result = task(work, inputs, inputs.trial_data(work["fold"]))
    worker = {
        "host": platform.node(),
        "pid": os.getpid(),
        "torch_threads": torch.get_num_threads(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "started": started,  # wall clock (s since the epoch): when trials overlapped
        "finished": time.time(),
    }
    return {"result": result, "worker": worker}
