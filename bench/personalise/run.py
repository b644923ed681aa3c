"""The library API under ``bench personalise``: personalise every selected trained trial.

>>> selection = select_trials(variants=["mamba_ema", "no_film"], seeds=[0])  # doctest: +SKIP
>>> summary = personalise_grid(selection, "results", executor="local")  # doctest: +SKIP

Trials that are not stored yet are trained first, with checkpoints (as ``bench run
--save-checkpoints``); a stored trial without ``checkpoint.pt``, or whose checkpoint cannot be
read (named in a warning), is left out. A ``k`` that no test speaker of a trial's fold has
enough turns for is skipped in that trial, with the reason; a trial left with no ``k > 0`` is
left out. Each trial's modes run together in one work, under the same executors as ``bench
run``, and each mode is stored as it arrives (:mod:`bench.personalise.store`); a rerun skips
what is stored with the current hash.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from bench.config import config_from_dict
from bench.errors import InputError
from bench.personalise.config import PersonaliseConfig
from bench.personalise.enrolment import unreachable_k
from bench.personalise.store import (
    PersonaliseRecord,
    personalise_hash,
    read_personalised,
    write_personalised,
)
from bench.personalise.trial import PERSONALISED_COLUMNS, personalise_trial
from bench.results import CHECKPOINT_FILE, TrialKey
from bench.run.driver import RunSummary, git_commit, run_grid, run_jobs
from bench.run.executors import Executor, RunOptions, executor_function
from bench.run.inputs import shared_inputs
from bench.run.plan import PlannedTrial
from bench.run.selection import Selection, corpus_and_folds, list_grid
from bench.run.worker import SharedInputs
from bench.train.checkpoint import load_checkpoint
from bench.train.data import TrialData
from bench.variants import resolve_personalise

log = logging.getLogger(__name__)


@dataclass
class PersonaliseSummary:
    """What :func:`personalise_grid` did: the training run of trials that had none, the
    personalisation run, and what it left out: trials without a checkpoint, trials whose
    checkpoint cannot be read (-> the message naming the file), per trial the ``k`` skipped
    for want of turns (-> why), trials with no ``k > 0`` left, per variant the modes it
    cannot run (FiLM modes without FiLM); and the folders where earlier personalisations of
    the trials personalised now were kept (:func:`bench.personalise.store.write_personalised`).
    """

    trained: RunSummary
    personalised: RunSummary
    no_checkpoint: list[TrialKey] = field(default_factory=list)
    unreadable: dict[TrialKey, str] = field(default_factory=dict)
    skipped_k: dict[TrialKey, dict[int, str]] = field(default_factory=dict)
    nothing_to_adapt: list[TrialKey] = field(default_factory=list)
    unsupported: dict[str, list[str]] = field(default_factory=dict)
    replaced: list[Path] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        """Whether some trial was personalised now or before, or was tried (failed, busy,
        unreadable checkpoint)."""
        run = self.personalised
        return bool(run.finished or run.skipped or run.failed or run.busy or self.unreadable)


def supported_modes(trial: PlannedTrial, config: PersonaliseConfig) -> list[str]:
    """The declared modes the trial's model has parameters for."""
    return [mode for mode in config.adapt if trial.spec.model.film or mode == "head_bias"]


def personalise_configs(selection: Selection) -> dict[str, PersonaliseConfig]:
    """Each selected variant's declared adaptation: the protocol's ``personalise:`` block,
    the variant file's, then the ``personalise.*`` overrides."""
    protocol, overrides = selection.protocol, selection.personalise_overrides
    return {name: resolve_personalise(name, protocol, overrides) for name in selection.variants}


def personalise_work(work: dict[str, Any], inputs: SharedInputs, data: TrialData) -> dict:
    """The task of ``bench personalise`` (:data:`bench.run.worker.Task`), on a worker:
    personalise one trial (``work["config"]``: its modes to run) from the checkpoint in
    ``inputs``; the JSON-ready result."""
    config = config_from_dict(PersonaliseConfig, work["config"], "personalise.")
    checkpoints = inputs.checkpoints or {}
    out = personalise_trial(checkpoints[work["trial_id"]], data, config)
    return {
        "predictions": out.predictions.to_dict(orient="list"),
        "skipped": out.skipped,
        "adapt_seconds": out.adapt_seconds,
        "adaptations": out.adaptations,
    }


def personalise_grid(
    selection: Selection,
    results: str | Path = "results",
    executor: str | Executor = "ray",
    options: RunOptions | None = None,
    config: PersonaliseConfig | None = None,
) -> PersonaliseSummary:
    """Personalise every selected trial (``config``: the same for every variant; default
    :func:`personalise_configs`); ``options.force`` redoes stored personalisations (never
    the training). A trial whose checkpoint cannot be read is named in a warning and left
    out; the others go on.

    Raises:
        BenchError: as :func:`bench.run.driver.run_grid`.
    """
    results = Path(results)
    options = options or RunOptions()
    configs = personalise_configs(selection)
    if config is not None:
        configs = dict.fromkeys(configs, config)
    training = replace(options, force=False, save_checkpoints=True)
    summary = PersonaliseSummary(run_grid(selection, results, executor, training), RunSummary())
    corpus, folds = corpus_and_folds(selection, options.progress)
    jobs, checkpoints, trials = [], {}, {}
    for trial in list_grid(selection, results):
        config = configs[trial.key.variant]
        modes = supported_modes(trial, config)
        left_out = [mode for mode in config.adapt if mode not in modes]
        if left_out:
            summary.unsupported[trial.key.variant] = left_out
        checkpoint = trial.key.folder(results) / CHECKPOINT_FILE
        if trial.status != "done" or not modes:
            continue
        if not checkpoint.is_file():
            summary.no_checkpoint.append(trial.key)
            continue
        todo = [m for m in modes if options.force or not _is_current(results, trial, m, config)]
        if not todo:
            summary.personalised.skipped.append(trial.key)
            continue
        unreachable = unreachable_k(corpus.table, folds[trial.key.fold].test, config.k)
        if unreachable:
            summary.skipped_k[trial.key] = unreachable
        ks = tuple(k for k in config.k if k not in unreachable)
        if not any(k > 0 for k in ks):
            summary.nothing_to_adapt.append(trial.key)
            continue
        try:
            checkpoints[str(trial.key)] = load_checkpoint(checkpoint)
        except InputError as exc:
            summary.unreadable[trial.key] = str(exc)
            log.warning("%s; %s is left out", exc, trial.key)
            continue
        trials[trial.key] = trial
        work_config = asdict(replace(config, adapt=tuple(todo), k=ks))
        work = {"trial_id": str(trial.key), "fold": trial.key.fold}
        jobs.append((trial.key, work | {"config": work_config, "modes": todo}))
    if not jobs:
        return summary
    inputs = replace(
        shared_inputs(selection.protocol, corpus, folds, options.progress), checkpoints=checkpoints
    )
    modes_of = {key: work["modes"] for key, work in jobs}

    def store(key: TrialKey, payload: dict) -> None:
        skipped_k = summary.skipped_k.get(key, {})
        trial, config = trials[key], configs[key.variant]
        result = payload["result"]
        summary.replaced += _store(results, trial, modes_of[key], config, result, skipped_k)

    run = executor_function(executor, options, results)
    skipped = summary.personalised.skipped
    summary.personalised = run_jobs(
        personalise_work, jobs, inputs, run, results, store, options.progress
    )
    summary.personalised.skipped = skipped
    return summary


def _is_current(results: Path, trial: PlannedTrial, mode: str, config: PersonaliseConfig) -> bool:
    stored = read_personalised(results, trial.key, mode)
    wanted = personalise_hash(trial.config_hash, mode, config)
    return stored is not None and stored.config_hash == wanted


def _store(
    results: Path,
    trial: PlannedTrial,
    modes: list[str],
    config: PersonaliseConfig,
    result: dict[str, Any],
    skipped_k: dict[int, str],
) -> list[Path]:
    """Write each mode of one trial's personalisation: its rows, then its record (``config``:
    the declared one, with the ``k`` of ``skipped_k`` that could not run). Returns where
    earlier personalisations were kept."""
    rows = pd.DataFrame(result["predictions"], columns=PERSONALISED_COLUMNS)
    key, kept = trial.key, []
    for mode in modes:
        own = rows[rows["adapt"] == mode]
        record = PersonaliseRecord(
            protocol=key.protocol,
            variant=key.variant,
            fold=key.fold,
            seed=key.seed,
            adapt=mode,
            trial_hash=trial.config_hash,
            config=asdict(replace(config, adapt=(mode,))),
            config_hash=personalise_hash(trial.config_hash, mode, config),
            counts={
                "speakers": int(own["speaker"].nunique()),
                "skipped_speakers": len(result["skipped"]),
                "scored_turns": int((own["k"] == 0).sum()),
                "adaptations": int(result["adaptations"][mode]),
            },
            skipped_speakers=result["skipped"],
            adapt_seconds=float(result["adapt_seconds"][mode]),
            git_commit=git_commit(),
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            skipped_k={str(k): why for k, why in skipped_k.items()},
        )
        kept.append(write_personalised(results, record, own))
    return [folder for folder in kept if folder is not None]
