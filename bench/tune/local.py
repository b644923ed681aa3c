"""What a tuning worker runs, and the ``local`` search executor.

A configuration trains on a fold's training part only: :func:`tuning_inputs` drops the test
rows from the table and the features before anything is sent to a worker, so no test
label, feature or row count can inform a choice.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.run.worker import SharedInputs
from bench.train.trial import train_model
from bench.tune.asha import Asha

if TYPE_CHECKING:  # the space module imports scipy.stats, which workers do not need
    from bench.tune.space import Scheduler

EpochReport = Callable[[dict[str, Any]], None]


class Stopped(Exception):
    """Raised from an epoch report: the configuration ends here, with ``status`` ``stopped``
    (ASHA stopped it) or ``cut`` (an equal-epoch budget ran out)."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Schedule:
    """How a search stops configurations: ASHA settings, the epochs a configuration may run
    (its ``train.epochs``), curves already stored (name -> history rows), which the
    ``local`` executor replays so that a resumed search decides as an unbroken one, and
    ``epoch_budget``: the epochs the configurations given may train in all (an equal-epoch
    budget's remainder, :func:`search_local`; None: no limit)."""

    scheduler: Scheduler
    max_epochs: int
    stored: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    epoch_budget: int | None = None


def tuning_inputs(
    table, features: dict[str, np.ndarray], valid: dict[str, np.ndarray] | None,
    splits: dict[str, np.ndarray], label_scale: tuple[float, float], fold: int,
) -> SharedInputs:  # fmt: skip
    """The inputs of a fold's search: only its training and validation rows, renumbered;
    the test rows are gone. ``splits``: the fold's ``train`` and ``val`` row indices."""
    rows = np.sort(np.concatenate([splits["train"], splits["val"]]))  # [n_kept]
    position = {int(row): i for i, row in enumerate(rows)}
    renumbered = {
        name: np.array([position[int(r)] for r in splits[name]], dtype=np.int64)
        for name in ("train", "val")
    }
    return SharedInputs(
        table=table.iloc[rows].reset_index(drop=True),
        features={role: values[rows] for role, values in features.items()},
        folds={fold: renumbered},
        label_scale=label_scale,
        valid=None if valid is None else {role: v[rows] for role, v in valid.items()},
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


def train_configuration(
    work: dict[str, Any], inputs: SharedInputs, report: EpochReport, threads: int | None = None
) -> None:
    """Train one configuration (``work``: ``trial_id``, ``fold``, ``spec``) on its fold's
    training dialogs, calling ``report(row)`` with each epoch's history row."""
    if threads:
        torch.set_num_threads(threads)
    train_model(work["spec"], inputs.trial_data(work["fold"]), ("train", "val"), report)


def search_local(
    works: list[dict[str, Any]],
    inputs: SharedInputs,
    schedule: Schedule,
    on_epoch: Callable[[dict, dict], None],
    on_done: Callable[[dict, str], None],
    on_fail: Callable[[dict, str], None],
) -> None:
    """Train each configuration in turn under ASHA (:class:`bench.tune.asha.Asha`), whose
    clock is a configuration's eligible epochs (:func:`is_eligible`).

    ``on_epoch(work, row)`` sees every epoch; ``on_done(work, status)`` ends a configuration
    as ``finished``, ``stopped`` (by ASHA) or ``cut``; a configuration that raises is reported
    to ``on_fail`` and the others go on. Under ``schedule.epoch_budget`` a configuration
    starts only while the epochs trained so far (every epoch) are below it, the one that
    reaches it is cut there (unless that was its epoch ``max_epochs``, or ASHA stops it
    there; one that patience would have ended there is cut too), and a failure ends the
    call: what the next configuration may spend depends on the failed one.
    """
    rules = schedule.scheduler
    rule = Asha(rules.grace_period, rules.reduction_factor, schedule.max_epochs)
    clock: dict[str, int] = {}  # configuration -> eligible epochs so far, ASHA's time
    budget = schedule.epoch_budget
    spent = 0  # epochs trained in this call, against ``budget``

    def goes_on(name: str, row: dict[str, Any]) -> bool:
        clock[name] = clock.get(name, 0) + is_eligible(row)
        return rule.goes_on(name, clock[name], row["val_ccc_avg"])

    for name, history in schedule.stored.items():
        for row in history:
            goes_on(name, row)
    for work in works:
        if budget is not None and spent >= budget:
            return

        def report(row: dict[str, Any], work: dict = work) -> None:
            nonlocal spent
            spent += 1
            on_epoch(work, row)
            last = row["epoch"] + 1 == schedule.max_epochs  # its rung records, stops nothing
            if not goes_on(work["trial_id"], row) and not last:
                raise Stopped("stopped")
            if budget is not None and spent >= budget and not last:
                raise Stopped("cut")

        try:
            train_configuration(work, inputs, report)
        except Stopped as stop:
            on_done(work, stop.status)
            continue
        except Exception:  # a failed configuration stops no unbudgeted search
            on_fail(work, traceback.format_exc())
            if budget is not None:
                return
            continue
        on_done(work, "finished")
