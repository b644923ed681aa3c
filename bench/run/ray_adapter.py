"""The ``ray`` executors. This is the only module that imports Ray.

Work items run as Ray Tune trials of one ``Tuner``: :func:`run_ray` runs a task that returns
one result per work item (:mod:`bench.run.worker`); :func:`stream_ray` runs a task that
reports a value after each step under Ray Tune's ``ASHAScheduler`` (a search brings its own
task and handlers to it: :mod:`bench.tune.executors`). :class:`RaySearch` lends one of Ray
Tune's searchers to a search (:class:`bench.tune.searchers.RaySearcher`).

The shared inputs go to the object store once (``tune.with_parameters``); each trial reserves
``cpus`` CPUs and a fraction ``gpus`` of a GPU (``0.25`` packs four trials per GPU); torch
in a trial uses as many threads as it has CPUs. What a trial produces travels back to the
driver in its reports, so a multi-node cluster needs no shared filesystem; the driver alone
writes ``results/`` (and ``tuning/``). Tune's own files go under ``<results>/.ray/``, not
the home directory.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.run.worker import SharedInputs, Task, execute, use_threads

os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no per-trial CSV/JSON logs
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Ctrl-C raises KeyboardInterrupt (exit 130) instead of Tune stopping its trials and returning
# as if the run had ended.
os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import SEARCH_ALG_IMPORT, Searcher

PAYLOAD = "bench_payload"  # a result or a reported row, as JSON text
TIME, VALUE, RETURNED = "bench_time", "bench_value", "bench_returned"  # what ASHA reads
StreamReport = Callable[[float, float, dict[str, Any]], None]  # (time, value, row)
StreamTask = Callable[[dict[str, Any], SharedInputs, StreamReport], None]


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


def _trainable(config: dict[str, Any], task: Task, inputs: SharedInputs, threads: int) -> None:
    payload = execute(task, config["trial"], inputs, threads=threads)
    payload["worker"]["ray_gpu_ids"] = [str(g) for g in ray.get_gpu_ids()]
    payload["worker"]["ray_node_id"] = ray.get_runtime_context().get_node_id()  # hex
    tune.report({PAYLOAD: json.dumps(payload)})


class _Relay(tune.Callback):
    """Passes a trial's failure (its traceback) to the driver's ``on_fail``; the subclasses
    pass the rest of a trial's events."""

    def __init__(self, on_fail: Callable[[dict, str], None]):
        self.on_fail = on_fail

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = Path(trial.error_file).read_text() if trial.error_file else "unknown error"
        self.on_fail(trial.config["trial"], error)


class _ResultRelay(_Relay):
    """Passes a trial's start and its one result to the driver's handlers as they happen."""

    def __init__(self, on_start: Callable, on_done: Callable, on_fail: Callable):
        super().__init__(on_fail)
        self.on_start, self.on_done = on_start, on_done

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.on_start(trial.config["trial"])

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info):
        if PAYLOAD in result:
            self.on_done(trial.config["trial"], json.loads(result[PAYLOAD]))


class _StreamRelay(_Relay):
    """Passes each row a trial reports, and its end (whether its task returned), to the
    driver's handlers."""

    def __init__(self, on_report: Callable, on_end: Callable, on_fail: Callable):
        super().__init__(on_fail)
        self.on_report, self.on_end = on_report, on_end
        self.returned: set[str] = set()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info):
        if PAYLOAD in result:
            self.on_report(trial.config["trial"], json.loads(result[PAYLOAD]))
        if result.get(RETURNED):
            self.returned.add(trial.trial_id)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.on_end(trial.config["trial"], trial.trial_id in self.returned)


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
    task: Task,
    works: list[dict[str, Any]],
    inputs: SharedInputs,
    on_start: Callable[[dict], None],
    on_done: Callable[[dict, dict], None],
    on_fail: Callable[[dict, str], None],
    options: RayOptions,
    storage: Path,
) -> None:
    """Run ``task`` on every work item under Ray Tune; failures are reported, never raised."""
    trainable = tune.with_parameters(
        _trainable, task=task, inputs=inputs, threads=_threads(options)
    )
    _fit(trainable, works, _ResultRelay(on_start, on_done, on_fail), options, storage)


@dataclass(frozen=True)
class Halving:
    """ASHA (Li et al. 2020; Ray Tune's ``ASHAScheduler``) on the value a stream task
    reports, maximised, with the time it reports as the clock: rungs at ``grace_period *
    reduction_factor**k`` up to ``max_t``; at each rung a trial goes on only among the best
    ``1 / reduction_factor`` of those recorded there."""

    max_t: int
    grace_period: int
    reduction_factor: int


def _stream_trainable(
    config: dict[str, Any], task: StreamTask, inputs: SharedInputs, threads: int
) -> None:
    use_threads(threads)
    last: dict[str, Any] = {TIME: 0}

    def report(time: float, value: float, row: dict[str, Any]) -> None:
        last.update({TIME: time, VALUE: value})
        tune.report({**last, PAYLOAD: json.dumps(row)})

    task(config["trial"], inputs, report)
    tune.report({**last, RETURNED: True})  # Tune refuses a result without the metric


def stream_ray(
    task: StreamTask,
    works: list[dict[str, Any]],
    inputs: SharedInputs,
    halving: Halving,
    on_report: Callable[[dict, dict], None],
    on_end: Callable[[dict, bool], None],
    on_fail: Callable[[dict, str], None],
    options: RayOptions,
    storage: Path,
) -> None:
    """Run ``task`` on every work item under Ray Tune's ``ASHAScheduler`` (``halving``).

    The task calls ``report(time, value, row)`` after each step: ``time`` is the scheduler's
    clock, ``value`` what it compares, ``row`` a JSON-ready dict. ``on_report(work, row)``
    sees each row as it arrives; ``on_end(work, returned)`` ends a work item, ``returned``
    True when its task returned, False when the scheduler stopped it (at a rung, or at
    ``max_t``); a failure goes to ``on_fail(work, error)``, never raised. Rows stored before
    a resume cannot enter the rungs (Ray's scheduler cannot be given past results).
    """
    scheduler = ASHAScheduler(
        time_attr=TIME,
        metric=VALUE,
        mode="max",
        max_t=halving.max_t,
        grace_period=min(halving.grace_period, halving.max_t),  # longer: no stop at all
        reduction_factor=halving.reduction_factor,
    )
    trainable = tune.with_parameters(
        _stream_trainable, task=task, inputs=inputs, threads=_threads(options)
    )
    relay = _StreamRelay(on_report, on_end, on_fail)
    _fit(trainable, works, relay, options, storage, scheduler)


SCORE = "score"  # the value a RaySearch's searcher maximises
NOT_SEARCHERS = ("variant_generator", "random")  # Ray's search algorithms, not Searchers


class RaySearch:
    """One of Ray Tune's searchers (a ``ray.tune.search.Searcher``, by the name
    ``ray.tune.search.create_searcher`` knows: ``optuna``, ``hyperopt``, ...) proposing points
    of the unit cube ``[0, 1]^dimensions``, told the score of each (maximised).

    ``seed`` goes to the searcher's ``seed`` argument where it has one; ``options`` are its
    other keyword arguments.

    Raises:
        BenchError: an unknown name, a searcher whose package is not installed, or an option
            it does not take.
    """

    def __init__(self, algorithm: str, dimensions: int, seed: int, options: dict[str, Any]):
        names = [name for name in SEARCH_ALG_IMPORT if name not in NOT_SEARCHERS]
        if algorithm not in names:
            raise BenchError(f"unknown Ray searcher {algorithm!r} (known: {', '.join(names)})")
        try:
            kind = SEARCH_ALG_IMPORT[algorithm]()
        except ImportError as exc:
            raise BenchError(f"Ray's {algorithm} searcher needs its package: {exc}") from exc
        taken = list(inspect.signature(kind).parameters)
        unknown = sorted(set(options) - set(taken))
        if unknown:
            raise BenchError(f"Ray's {algorithm} searcher takes no {', '.join(unknown)} "
                             f"(it takes {', '.join(taken)})")  # fmt: skip
        seeded = {"seed": seed} if "seed" in taken else {}
        self.searcher: Searcher = kind(**seeded, **options)
        space = {f"u{i}": tune.uniform(0.0, 1.0) for i in range(dimensions)}
        self.searcher.set_search_properties(SCORE, "max", space)
        self.dimensions = dimensions
        self.count = 0

    def suggest(self) -> tuple[str, list[float]]:
        """A new point: its id (for :meth:`observe`) and its coordinates.

        Raises:
            BenchError: the searcher has no point to give.
        """
        point = f"point{self.count}"
        self.count += 1
        config = self.searcher.suggest(point)
        if not isinstance(config, dict):
            raise BenchError(f"Ray's searcher gave no {point} ({config!r})")
        return point, [float(config[f"u{i}"]) for i in range(self.dimensions)]

    def observe(self, point: str, score: float | None) -> None:
        """The score at ``point``; None: it has none (an error, as Ray reports one)."""
        if score is None:
            self.searcher.on_trial_complete(point, None, error=True)
        else:
            self.searcher.on_trial_complete(point, {SCORE: score})
