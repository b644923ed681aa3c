"""The driver: claims the trials, hands them to an executor, and stores what comes back.

:func:`run_grid` is the library API under ``bench run``::

    selection = select_trials(grid="ablations", seeds=[0], folds=[1],
                              overrides=["train.epochs=1"])
    summary = run_grid(selection, "results", executor="local")

Only the driver writes ``results/``. Each finished trial is written the moment it arrives,
atomically, so a run killed half-way keeps every trial that finished and a rerun runs
exactly the missing ones.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from bench.atomic import Busy
from bench.errors import BenchError
from bench.results import TrialKey, TrialRecord, claim, write_trial
from bench.run.executors import Executor, RunOptions, executor_function
from bench.run.inputs import shared_inputs
from bench.run.plan import PlannedTrial
from bench.run.selection import Selection, check_output_folders, plan_selection
from bench.run.stored_plan import describe_plan, write_plan
from bench.run.worker import SharedInputs, Task, train_task
from bench.train.trial import TrialResult

log = logging.getLogger(__name__)
VERSIONED = ("torch", "numpy", "pandas", "transformers", "speechbrain", "opensmile", "ray")
REPO = Path(__file__).resolve().parents[2]


def git_commit() -> str:
    """The checkout's commit, with ``+dirty`` when it has uncommitted changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for package in ("bench", *VERSIONED):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


@dataclass
class RunSummary:
    """What a run did: trials skipped as done, finished, failed (with errors), busy; and
    replaced: the finished ones whose earlier record (stale or forced) was moved aside into
    ``replaced-<time>/`` of the trial's folder (:func:`bench.results.write_trial`)."""

    skipped: list[TrialKey] = field(default_factory=list)
    replaced: list[TrialKey] = field(default_factory=list)
    finished: list[TrialKey] = field(default_factory=list)
    failed: dict[TrialKey, str] = field(default_factory=dict)
    busy: list[TrialKey] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.busy


class Progress:
    """A live line: trials done, running, left and failed, with the ETA (tqdm)."""

    def __init__(self, total: int, enabled: bool):
        self.bar = tqdm(total=total, desc="trials", unit="trial", disable=not enabled)
        self.running = 0
        self.failures = 0

    def _show(self) -> None:
        left = self.bar.total - self.bar.n - self.running
        self.bar.set_postfix(running=self.running, left=left, failed=self.failures)

    def start(self) -> None:
        self.running += 1
        self._show()

    def finish(self, failed: bool) -> None:
        self.running = max(0, self.running - 1)
        self.failures += failed
        self.bar.update(1)
        self._show()

    def say(self, message: str) -> None:
        self.bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def trial_record(trial: PlannedTrial, result: TrialResult, worker: dict) -> TrialRecord:
    """The ``result.json`` of a trial: the plan's identity and config, the worker's outcome."""
    key = trial.key
    return TrialRecord(
        protocol=key.protocol,
        variant=key.variant,
        fold=key.fold,
        seed=key.seed,
        config=trial.config,
        config_hash=trial.config_hash,
        outcome=result.outcome,
        git_commit=git_commit(),
        versions=versions(),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        worker=worker,
        tuning=trial.tuning,
        data=trial.data,
    )


def run_jobs(
    task: Task,
    jobs: list[tuple[TrialKey, dict]],
    inputs: SharedInputs,
    executor: Executor,
    results_root: Path,
    store: Callable[[TrialKey, dict], None],
    progress: bool = True,
) -> RunSummary:
    """Claim each job's trial, hand the works to ``executor`` to run ``task`` on, and
    ``store`` each payload as it arrives (a payload that cannot be stored fails its job, not
    the run).

    ``jobs``: (trial, work) pairs; a work carries ``trial_id`` (``str(trial)``) and ``fold``.
    A trial another process holds is reported busy and left alone.
    """
    began = time.perf_counter()
    summary = RunSummary()
    by_id = {str(key): key for key, _ in jobs}
    if len(by_id) != len(jobs):
        raise BenchError("the plan names a trial twice")
    bar = Progress(len(jobs), progress)

    def on_start(work: dict) -> None:
        bar.start()

    def on_done(work: dict, payload: dict) -> None:
        key = by_id[work["trial_id"]]
        try:
            store(key, payload)
        except Exception:  # a result that cannot be stored fails its trial, not the run
            on_fail(work, traceback.format_exc())
            return
        summary.finished.append(key)
        bar.finish(failed=False)

    def on_fail(work: dict, error: str) -> None:
        key = by_id[work["trial_id"]]
        if key in summary.finished:  # stored already; its worker died after reporting it
            return
        summary.failed[key] = error
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        bar.say(f"FAILED {key}: {last}")
        bar.finish(failed=True)

    with ExitStack() as locks:
        works = []
        for key, work in jobs:
            try:
                locks.enter_context(claim(results_root, key))
            except Busy as exc:
                summary.busy.append(key)
                bar.say(f"skipped: {exc}")
                continue
            works.append(work)
        try:
            if works:
                executor(task, works, inputs, on_start, on_done, on_fail)
        finally:
            bar.close()
        for work in works:  # an executor that returned early (a stopped cluster) fails them
            key = by_id[work["trial_id"]]
            if key not in summary.finished and key not in summary.failed:
                summary.failed[key] = "no result came back: the executor ended before the trial"
    summary.seconds = time.perf_counter() - began
    return summary


def run_planned(
    plan: list[PlannedTrial],
    inputs: SharedInputs,
    executor: Executor,
    results_root: Path,
    progress: bool = True,
    save_checkpoints: bool = False,
) -> RunSummary:
    """Train every trial of ``plan`` that needs it (:func:`bench.run.worker.train_task`)
    and store each result as it arrives.

    ``save_checkpoints`` stores each trial's model as ``checkpoint.pt``; it changes neither
    ``result.json`` nor the config hash, so it never makes a stored trial stale.
    """
    needed = [t for t in plan if t.needs_run]
    todo = {t.key: t for t in needed}
    if len(todo) != len(needed):
        raise BenchError("the plan names a trial twice")

    def store(key: TrialKey, payload: dict) -> None:
        result = TrialResult.from_json(payload["result"])
        record = trial_record(todo[key], result, payload["worker"])
        history = pd.DataFrame(result.history)
        write_trial(results_root, record, result.predictions, history, result.checkpoint)

    extra = {"checkpoint": True} if save_checkpoints else {}
    jobs = [(key, trial.work() | extra) for key, trial in todo.items()]
    summary = run_jobs(train_task, jobs, inputs, executor, results_root, store, progress)
    summary.skipped = [t.key for t in plan if not t.needs_run]
    summary.replaced = [key for key in summary.finished if todo[key].stored is not None]
    return summary


def run_grid(
    selection: Selection,
    results: str | Path = "results",
    executor: str | Executor = "ray",
    options: RunOptions | None = None,
) -> RunSummary:
    """Run every selected trial that is not done and store each result as it arrives.

    Checks the output folders first, then prepares the corpus and plans, and stores the
    plan under ``results`` before any trial runs (:mod:`bench.run.stored_plan`: what
    ``bench ls`` and ``bench report`` read with no selection, even of a killed run);
    features are extracted only when a trial needs to run. A trial that fails is reported
    in the summary, and the others go on.

    Raises:
        BenchError: an unwritable output folder, an unknown fold, or bad configuration.
    """
    results, options = Path(results), options or RunOptions()
    check_output_folders(selection.protocol, results)
    run = executor_function(executor, options, results)
    corpus, folds, plan = plan_selection(selection, results, options.force, options.progress)
    write_plan(results, describe_plan(selection, folds, plan))
    for trial in plan:
        if trial.status == "stale":
            log.warning("%s is stale and reruns: %s", trial.key, trial.reason)
    if not any(t.needs_run for t in plan):
        return RunSummary(skipped=[t.key for t in plan])
    inputs = shared_inputs(selection.protocol, corpus, folds, options.progress)
    return run_planned(plan, inputs, run, results, options.progress, options.save_checkpoints)
