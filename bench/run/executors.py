"""The executors by name (``--executor local`` or ``ray``) and the options they run with.

An executor runs a task (:mod:`bench.run.worker`) on a list of work items and reports each
one's start, result or failure to the driver's handlers:
``executor(task, works, inputs, on_start, on_done, on_fail)``. ``local`` runs them in this
process (:func:`bench.run.local.run_local`); ``ray`` under Ray Tune
(:func:`bench.run.ray_adapter.run_ray`), which loads only when it is named.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.run.local import run_local
from bench.run.worker import SharedInputs, Task

Executor = Callable[[Task, list[dict], SharedInputs, Callable, Callable, Callable], None]
EXECUTORS = ("ray", "local")


@dataclass(frozen=True)
class RunOptions:
    """How a run goes: ``force`` reruns stored trials; ``progress`` shows bars;
    ``save_checkpoints`` stores each model as ``checkpoint.pt`` (the config hash stays);
    ``cpus_per_trial``, ``gpus_per_trial`` (0.25: four trials per GPU) and ``address`` (a
    Ray cluster, else ``$RAY_ADDRESS`` or a local one) apply to the ``ray`` executor."""

    force: bool = False
    progress: bool = True
    save_checkpoints: bool = False
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None


def named_executor(
    executor: str | Callable,
    options: RunOptions,
    storage: Path,
    local: Callable,
    ray: Callable[[], Callable],
) -> Callable:
    """``executor`` itself when it is a callable; else ``local`` for ``local``, or for
    ``ray`` the function that ``ray()`` loads (a function of :mod:`bench.run.ray_adapter`, or
    one built on it), bound to the options' resources and to ``storage/.ray``.

    Raises:
        BenchError: a name that is not one of ``EXECUTORS``, or resources no trial can have.
    """
    if callable(executor):
        return executor
    if executor == "local":
        return local
    if executor != "ray":
        raise BenchError(f"executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    from bench.run.ray_adapter import RayOptions

    where = RayOptions(options.cpus_per_trial, options.gpus_per_trial, options.address)
    return functools.partial(ray(), options=where, storage=storage / ".ray")


def _run_ray() -> Executor:
    """:func:`bench.run.ray_adapter.run_ray`, imported (with Ray) on first use."""
    from bench.run.ray_adapter import run_ray

    return run_ray


def executor_function(executor: str | Executor, options: RunOptions, results: Path) -> Executor:
    """The executor named ``ray`` or ``local``, or ``executor`` itself when it is one
    (a callable ``(task, works, inputs, on_start, on_done, on_fail) -> None``)."""
    return named_executor(executor, options, results, run_local, _run_ray)
