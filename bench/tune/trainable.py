"""What a tuning worker runs: one configuration trained on a fold's training part, reporting
each epoch.

A configuration never sees the test rows: :func:`tuning_inputs` drops them from the table and
the features before anything is sent to a worker, so no test label, feature or row count can
inform a choice. The executors that run these tasks are in :mod:`bench.tune.executors`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from bench.run.worker import SharedInputs
from bench.train.trial import train_model

EpochReport = Callable[[dict[str, Any]], None]


def tuning_inputs(shared: SharedInputs, fold: int) -> SharedInputs:
    """The inputs of a fold's search: only its training and validation rows of ``shared``,
    renumbered; the test rows and the other folds are gone."""
    splits = shared.folds[fold]
    rows = np.sort(np.concatenate([splits["train"], splits["val"]]))  # [n_kept]
    position = {int(row): i for i, row in enumerate(rows)}
    renumbered = {
        name: np.array([position[int(r)] for r in splits[name]], dtype=np.int64)
        for name in ("train", "val")
    }
    valid = shared.valid
    return replace(
        shared,
        table=shared.table.iloc[rows].reset_index(drop=True),
        features={role: values[rows] for role, values in shared.features.items()},
        folds={fold: renumbered},
        valid=None if valid is None else {role: v[rows] for role, v in valid.items()},
        checkpoints=None,
    )


def is_eligible(row: dict[str, Any]) -> bool:
    """Whether an epoch's model could be kept (``bench.train.trainer``: after the ramp of
    scheduled sampling; every epoch of other feedback modes).

    ASHA counts only these epochs: a rung at ``g`` eligible epochs compares every
    configuration at ``g`` epochs after its ramp, so each one has a score before it can be
    stopped, and every variant chooses among the same number of scored configurations. On
    the epoch count instead, ASHA stopped most scheduled-sampling configurations during
    their ramp, where they have no score.
    """
    return bool(row.get("eligible", True))


def train_configuration(work: dict[str, Any], inputs: SharedInputs, report: EpochReport) -> None:
    """Train one configuration (``work``: ``trial_id``, ``fold``, ``spec``) on its fold's
    training dialogs, calling ``report(row)`` with each epoch's history row."""
    train_model(work["spec"], inputs.trial_data(work["fold"]), ("train", "val"), report)


def configuration_task(
    work: dict[str, Any], inputs: SharedInputs, report: Callable[[float, float, dict], None]
) -> None:
    """The task of a search under Ray (:func:`bench.run.ray_adapter.stream_ray`):
    :func:`train_configuration`, reporting each epoch's row with ASHA's clock, the eligible
    epochs so far (:func:`is_eligible`), and the value it compares, validation CCC-avg."""
    eligible = 0

    def each(row: dict[str, Any]) -> None:
        nonlocal eligible
        eligible += is_eligible(row)
        report(eligible, row["val_ccc_avg"], row)

    train_configuration(work, inputs, each)
