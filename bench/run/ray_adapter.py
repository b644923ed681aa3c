"""The ``ray`` executors of ``bench run`` and ``bench tune``. This is the only module that
imports Ray.

Trials (or a search's configurations) run as Ray Tune trials of one ``Tuner`` over the grid;
a search adds Ray Tune's ``ASHAScheduler`` on validation CCC-avg reported every epoch. The
shared inputs go to the object store once (``tune.with_parameters``); each trial reserves
``cpus`` CPUs and a fraction ``gpus`` of a GPU (``0.25`` packs four trials per GPU); torch
in a trial uses as many threads as it has CPUs. A trial's result travels back to the driver
in its report, so a multi-node cluster needs no shared filesystem; the driver alone writes
``results/`` (and ``tuning/``). Tune's own files go under ``<results>/.ray/``, not the home
directory.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.run.worker import SharedInputs, execute

os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no per-trial CSV/JSON logs
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Ctrl-C raises KeyboardInterrupt (exit 130) instead of Tune stopping its trials and returning
# as if the run had ended.
os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from bench.tune.local import Schedule, is_eligible, train_configuration

PAYLOAD = "bench_payload"
EPOCH, METRIC, ROW, FINISHED = "epoch", "val_ccc_avg", "bench_row", "bench_finished"
ELIGIBLE = "eligible_epochs"  # ASHA's clock (bench.tune.local.is_eligible)


@dataclass(frozen=True)
class RayOptions:
    """Resources per trial and where the cluster is.

    address: an existing cluster that this machine is a node of (``auto``, ``head:6379``);
    None starts a local one, unless ``RAY_ADDRESS`` is set. A Ray Client address
    (``ray://``) is refused: under Ray Client, Tune runs its loop, and with it the driver's
    result handlers, in an actor on the head node, so ``results/`` would be written there
    and this process would see no trial finish. init_kwargs: extra ``ray.init`` arguments
    for a local cluster (tests declare GPUs with ``{"num_gpus": 4}``).

    Raises:
        BenchError: no CPUs or a negative GPU share per trial (before Ray starts).
    """

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None
    init_kwargs: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.cpus_per_trial > 0:
            raise BenchError(f"--cpus-per-trial {self.cpus_per_trial:g}: a trial needs more "
                             "than 0 CPUs")  # fmt: skip
        if not self.gpus_per_trial >= 0:
            raise BenchError(f"--gpus-per-trial {self.gpus_per_trial:g}: a GPU share cannot "
                             "be negative")  # fmt: skip


def _amount(value: float, unit: str) -> str:
    """``0 GPUs``, ``1 GPU``, ``2.5 CPUs``."""
    return f"{value:g} {unit}" + ("" if value == 1 else "s")


def unmet_request(options: RayOptions, nodes: list[dict[str, float]]) -> str | None:
    """Why no trial of ``options`` could ever start on a cluster of ``nodes`` (each node's
    total resources, as Ray names them: ``CPU``, ``GPU``), or None when one node has both
    the CPUs and the GPU share a trial asks for. A trial runs on one node, so the request
    is compared with each node, and the line names what the cluster has.

    >>> unmet_request(RayOptions(gpus_per_trial=1), [{"CPU": 2.0}])
    '--gpus-per-trial 1 cannot be met: the cluster has 0 GPUs and 2 CPUs'
    """
    cpus, gpus = options.cpus_per_trial, options.gpus_per_trial
    fits = [n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus for n in nodes]
    if any(fits):
        return None
    asked = [f"--cpus-per-trial {cpus:g}", f"--gpus-per-trial {gpus:g}"]
    alone = [  # the options that no node meets even alone; else the two together
        option
        for option, key, want in zip(asked, ("CPU", "GPU"), (cpus, gpus), strict=True)
        if all(n.get(key, 0) < want for n in nodes)
    ]
    total = {key: sum(n.get(key, 0) for n in nodes) for key in ("CPU", "GPU")}
    has = f"{_amount(total['GPU'], 'GPU')} and {_amount(total['CPU'], 'CPU')}"
    if len(nodes) > 1:
        most = {key: max(n.get(key, 0) for n in nodes) for key in ("CPU", "GPU")}
        has += (f" on {len(nodes)} nodes, at most {_amount(most['GPU'], 'GPU')} and "
                f"{_amount(most['CPU'], 'CPU')} on one node, where a trial runs")  # fmt: skip
    return f"{' with '.join(alone or asked)} cannot be met: the cluster has {has}"


def _trainable(config: dict[str, Any], inputs: SharedInputs, threads: int) -> None:
    payload = execute(config["trial"], inputs, threads=threads)
    payload["worker"]["ray_gpu_ids"] = [str(g) for g in ray.get_gpu_ids()]
    payload["worker"]["ray_node_id"] = ray.get_runtime_context().get_node_id()  # hex
    tune.report({PAYLOAD: json.dumps(payload)})


class _Relay(tune.Callback):
    """Passes trial events to the driver's handlers as they happen."""

    def __init__(self, on_start: Callable, on_done: Callable, on_fail: Callable):
        self.on_start, self.on_done, self.on_fail = on_start, on_done, on_fail

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.on_start(trial.config["trial"])

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info):
        if PAYLOAD in result:
            self.on_done(trial.config["trial"], json.loads(result[PAYLOAD]))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = Path(trial.error_file).read_text() if trial.error_file else "unknown error"
        self.on_fail(trial.config["trial"], error)


def _connect(options: RayOptions) -> bool:
    """Join or start a cluster; True when this call started it (and must shut it down)."""
    address = options.address or os.environ.get("RAY_ADDRESS")
    if (address or "").startswith("ray://") or ray.util.client.ray.is_connected():
        raise BenchError(
            "Ray Client (ray://) is not supported: Tune would store the results on the head "
            "node, not here; run bench on a node of the cluster (--address auto or "
            "head:6379), e.g. with ray job submit"
        )
    if ray.is_initialized():
        return False
    common = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(**common, **(options.init_kwargs or {}))
    return True


def _fit(
    trainable: Callable,
    works: list[dict[str, Any]],
    callback: tune.Callback,
    options: RayOptions,
    storage: Path,
    scheduler: Any = None,
) -> None:
    """One ``Tuner`` over ``works`` (a grid search over the trial specs), each trial with the
    resources of ``options``; failures reach ``callback``, never raise.

    Raises:
        BenchError: no node of the cluster has the resources a trial asks for.
    """
    started = _connect(options)
    try:
        unmet = unmet_request(options, [n["Resources"] for n in ray.nodes() if n["Alive"]])
        if unmet:  # Tune would wait for the resources forever
            raise BenchError(unmet)
        storage.mkdir(parents=True, exist_ok=True)
        tuner = tune.Tuner(
            tune.with_resources(
                trainable, {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
            ),
            param_space={"trial": tune.grid_search(works)},
            tune_config=tune.TuneConfig(reuse_actors=True, scheduler=scheduler),
            run_config=tune.RunConfig(
                name="bench",
                storage_path=str(storage.resolve()),
                verbose=0,
                callbacks=[callback],
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            ),
        )
        tuner.fit()
    finally:
        if started:
            ray.shutdown()


def _threads(options: RayOptions) -> int:
    """Torch threads of a trial: as many as the CPUs it reserves."""
    return max(1, int(options.cpus_per_trial))


def run_ray(
    works: list[dict[str, Any]],
    inputs: SharedInputs,
    on_start: Callable[[dict], None],
    on_done: Callable[[dict, dict], None],
    on_fail: Callable[[dict, str], None],
    options: RayOptions,
    storage: Path,
) -> None:
    """Run every trial spec under Ray Tune; failures are reported, never raised."""
    trainable = tune.with_parameters(_trainable, inputs=inputs, threads=_threads(options))
    _fit(trainable, works, _Relay(on_start, on_done, on_fail), options, storage)


def _search_trainable(config: dict[str, Any], inputs: SharedInputs, threads: int) -> None:
    last: dict[str, Any] = {ELIGIBLE: 0}

    def report(row: dict[str, Any]) -> None:
        eligible = last[ELIGIBLE] + is_eligible(row)
        last.update({EPOCH: row["epoch"] + 1, ELIGIBLE: eligible, METRIC: row["val_ccc_avg"]})
        tune.report({**last, ROW: json.dumps(row)})

    train_configuration(config["trial"], inputs, report, threads)
    tune.report({**last, FINISHED: True})  # Tune refuses a result without the metric


class _SearchRelay(tune.Callback):
    """Passes each epoch of each configuration, and its end, to the driver's handlers.

    A configuration finished if it reported its last epoch (ASHA then ends it, at
    ``max_t``) or its training returned (patience ended it); else ASHA stopped it."""

    def __init__(self, max_epochs: int, on_epoch: Callable, on_done: Callable, on_fail: Callable):
        self.max_epochs = max_epochs
        self.on_epoch, self.on_done, self.on_fail = on_epoch, on_done, on_fail
        self.finished: set[str] = set()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info):
        if ROW in result:
            self.on_epoch(trial.config["trial"], json.loads(result[ROW]))
        if result.get(FINISHED) or result.get(EPOCH, 0) >= self.max_epochs:
            self.finished.add(trial.trial_id)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        status = "finished" if trial.trial_id in self.finished else "stopped"
        self.on_done(trial.config["trial"], status)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = Path(trial.error_file).read_text() if trial.error_file else "unknown error"
        self.on_fail(trial.config["trial"], error)


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
    """Train every configuration under Ray Tune's ``ASHAScheduler`` on validation CCC-avg,
    reported after each epoch, with eligible epochs as its clock; the handlers are those of
    :func:`bench.tune.local.search_local`. Configurations stored before a resume do not
    enter the scheduler's rungs (Ray's scheduler cannot be given past results)."""
    rules = schedule.scheduler
    scheduler = ASHAScheduler(
        time_attr=ELIGIBLE,
        metric=METRIC,
        mode="max",
        max_t=schedule.max_epochs,
        grace_period=min(rules.grace_period, schedule.max_epochs),  # longer: no stop at all
        reduction_factor=rules.reduction_factor,
    )
    trainable = tune.with_parameters(_search_trainable, inputs=inputs, threads=_threads(options))
    relay = _SearchRelay(schedule.max_epochs, on_epoch, on_done, on_fail)
    _fit(trainable, works, relay, options, storage, scheduler)
