"""The executors of a search: ``local`` (:func:`search_local`, configurations one after
another under :class:`bench.tune.asha.Asha`) and ``ray`` (:func:`search_ray`, in parallel
under Ray Tune's ASHA, through the generic :func:`bench.run.ray_adapter.stream_ray`).

Both run :mod:`bench.tune.trainable`'s task on each configuration and call the same
handlers: ``on_epoch(work, row)`` for every epoch, ``on_done(work, status)`` when a
configuration ends (``finished``, ``stopped`` by ASHA, or ``cut`` by an equal-epoch budget),
``on_fail(work, error)``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.run.worker import SharedInputs
from bench.tune.asha import Asha
from bench.tune.trainable import configuration_task, is_eligible, train_configuration

if TYPE_CHECKING:
    from bench.run.ray_adapter import RayOptions
    from bench.tune.space import Scheduler  # scipy.stats, which workers do not need


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


def search_ray(
    works: list[dict[str, Any]],
    inputs: SharedInputs,
    schedule: Schedule,
    on_epoch: Callable[[dict, dict], None],
    on_done: Callable[[dict, str], None],
    on_fail: Callable[[dict, str], None],
    options: RayOptions,
    storage: Path,
) -> None:
    """Train every configuration under Ray Tune's ASHA on validation CCC-avg, reported after
    each epoch, with eligible epochs as its clock (:func:`bench.tune.trainable.configuration_task`).

    A configuration finished if its training returned (it ran its epochs, or patience ended
    it) or it reported its last epoch (ASHA ends it there, at ``max_t``); else ASHA stopped
    it. Configurations stored before a resume do not enter the scheduler's rungs (Ray's
    scheduler cannot be given past results).
    """
    from bench.run.ray_adapter import Halving, stream_ray

    rules = schedule.scheduler
    halving = Halving(schedule.max_epochs, rules.grace_period, rules.reduction_factor)
    last_epoch: set[str] = set()

    def on_report(work: dict, row: dict) -> None:
        if row["epoch"] + 1 >= schedule.max_epochs:
            last_epoch.add(work["trial_id"])
        on_epoch(work, row)

    def on_end(work: dict, returned: bool) -> None:
        finished = returned or work["trial_id"] in last_epoch
        on_done(work, "finished" if finished else "stopped")

    stream_ray(
        configuration_task, works, inputs, halving, on_report, on_end, on_fail, options, storage
    )
