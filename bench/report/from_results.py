"""The report of a plan of trials: only trials stored with their planned config hash.

A report never pools configurations. A plan (:class:`bench.run.stored_plan.StoredPlan`)
gives every expected trial and each variant's config hash: the plan a ``bench run`` stored
in the results folder (:func:`report_plan`, with no corpus), or the one a selection (a grid
or variants, seeds, folds, the protocol and its overrides) gives now, computed as
``bench run`` computes it (:func:`report_grid`). The report uses the trials stored with that
hash (so each variant's trials share one configuration), shows the expected ones that are
not stored as missing, and names every stored trial it leaves out: stale ones (stored with
another hash) and those outside the plan.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pandas as pd

from bench.config import config_from_dict
from bench.errors import BenchError
from bench.personalise.config import PersonaliseConfig
from bench.protocol import Fold
from bench.report.analysis import Report, build_report
from bench.report.bootstrap import MARGIN
from bench.report.personalisation import load_personalisation, personalisation_report
from bench.report.summary import format_trials
from bench.report.tuning import MODE_NOTES, UNTUNED, TuningView, tuning_view
from bench.results import HISTORY_FILE, PREDICTIONS_FILE, load_table, stored_trials
from bench.run.plan import PlannedTrial
from bench.run.selection import Selection, list_grid_folds
from bench.run.stored_plan import StoredPlan, describe_plan
from bench.tune.apply import DEFAULT_ROOT, Tuning

Listed = tuple[dict[int, Fold], list[PlannedTrial]]  # a selection's folds and trials


def left_out_notes(plan: list[PlannedTrial], results: str | Path) -> list[str]:
    """One note per stale trial of ``plan``, and per variant with stored trials of the same
    protocol outside ``plan`` (``not in the selection``)."""
    notes = [f"{t.key}: stale, {t.reason}" for t in plan if t.status == "stale"]
    planned = {t.key for t in plan}
    outside: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for protocol in {t.key.protocol for t in plan}:
        for key, _ in stored_trials(results, protocol):
            if key not in planned:
                outside[f"{protocol}/{key.variant}"].add((key.fold, key.seed))
    notes += [
        f"{name}: {format_trials(pairs)}: not in the selection"
        for name, pairs in sorted(outside.items())
    ]
    return notes


def report_grid(
    selection: Selection,
    results: str | Path = "results",
    reference: str | None = None,
    n_boot: int = 10_000,
    seed: int = 0,
    margin: float = MARGIN,
    listed: Listed | None = None,
) -> Report:
    """The report of the selection's current trials under ``results``: :func:`report_plan`
    of the plan the selection gives now (:func:`bench.run.stored_plan.describe_plan`).
    ``listed``: the selection's folds and trials as
    :func:`bench.run.selection.list_grid_folds` gives them, where the caller has them
    already (listing reads the corpus).

    Raises:
        BenchError: no current trial, or none of the reference.
    """
    folds, trials = listed or list_grid_folds(selection, results)
    plan = describe_plan(selection, folds, trials)
    root = selection.tuning.root if isinstance(selection.tuning, Tuning) else DEFAULT_ROOT
    return report_plan(plan, trials, results, reference, n_boot, seed, margin, root)


def report_plan(
    plan: StoredPlan,
    trials: list[PlannedTrial],
    results: str | Path = "results",
    reference: str | None = None,
    n_boot: int = 10_000,
    seed: int = 0,
    margin: float = MARGIN,
    tuning_root: Path = DEFAULT_ROOT,
) -> Report:
    """The report of the current trials of ``plan`` under ``results``; ``trials``: the plan's
    trials with their state there (:func:`bench.run.stored_plan.planned_trials`, or the
    selection's listing). Reads only the stored records, and the tuning folder
    ``tuning_root`` where the plan was tuned (:func:`plan_tuning_view`).

    ``reference`` defaults to the plan's; ``margin`` is the equivalence margin in CCC (see
    :func:`bench.report.analysis.build_report`). Expected trials come from the plan, so a
    fold that every variant lacks shows as missing. Where ``bench personalise`` stored
    personalisations of these trials with each variant's planned ``personalise:``
    configuration, the report has a personalisation section
    (:mod:`bench.report.personalisation`). Variants that are the reference trained again
    with other seeds are marked as its A/A controls (:func:`bench.variants.aa_controls`, as
    the plan records them).

    Raises:
        BenchError: no current trial, or none of the reference.
    """
    folds = sorted({t.key.fold for t in trials})
    resampled = not plan.protocol.fixed_test_sets  # else no fold-level test
    current = [t.key for t in trials if t.status == "done"]
    notes = left_out_notes(trials, results)
    if not current:
        why = f"; {len(notes)} left out, the first: {notes[0]}" if notes else ""
        raise BenchError(f"no current trials of the selection under {results}{why}")
    kept = pd.DataFrame(
        [
            {"variant": t.key.variant, "best_epoch": t.stored.outcome.best_epoch,
             "teacher_probability": t.stored.outcome.teacher_probability}
            for t in trials
            if t.status == "done" and t.stored is not None
        ]
    )  # fmt: skip
    report = build_report(
        load_table(results, current, PREDICTIONS_FILE),
        load_table(results, current, HISTORY_FILE),
        plan.protocol.name,
        reference or plan.selection.reference,
        n_boot,
        seed,
        expected={(t.key.fold, t.key.seed) for t in trials},
        grid=plan.selection.variants,
        left_out=notes,
        kept=kept,
        margin=margin,
        tuning=plan_tuning_view(plan, tuning_root, folds),
        resampled_folds=resampled,
    )
    configs = {
        name: config_from_dict(PersonaliseConfig, variant.personalise, "personalise.")
        for name, variant in plan.variants.items()
    }
    rows, stale = load_personalisation(trials, results, configs)
    section = (
        None
        if rows is None
        else personalisation_report(rows, configs, n_boot, seed, margin, resampled)
    )
    controls = plan.variants.get(report.reference)
    return replace(
        report,
        personalisation=section,
        left_out=(*report.left_out, *stale),
        corpora=plan.protocol.corpora,
        fold_tests={number: fold.tests for number, fold in plan.folds.items()},
        aa_controls=controls.aa_controls if controls else (),
    )


def plan_tuning_view(plan: StoredPlan, root: Path, folds: list[int]) -> TuningView:
    """How the plan's configurations were chosen (:func:`bench.report.tuning.tuning_view`):
    untuned, or tuned in the mode its trials' tuning markers name, read from the tuning
    folder ``root``. Where that folder lacks the plan's protocol (a results folder copied
    alone), the legend names the mode, its leakage and the search from the markers, and says
    that the chosen values (tuning.csv), the searches' compute and the budget plot are left
    out."""
    markers = [entry.tuning for entry in plan.trials if entry.tuning]
    if not markers:
        return TuningView(UNTUNED)
    mode = markers[0]["mode"]
    if (root / plan.protocol.name).is_dir():
        return tuning_view(Tuning(mode, root), plan.protocol.name, plan.selection.variants, folds)
    searches = "; ".join(sorted({str(marker.get("described")) for marker in markers}))
    return TuningView(
        f"Tuned (bench tune, mode {mode}): each variant's nuisance hyperparameters were "
        f"{MODE_NOTES.get(mode, 'chosen by bench tune')}; the same search for every variant, "
        f"from: {searches}. The tuning folder {root}/ is not here, so the chosen values "
        "(tuning.csv), the searches' compute and the budget plot are left out."
    )


def per_test_set(
    plan: StoredPlan, trials: list[PlannedTrial]
) -> dict[str, tuple[StoredPlan, list[PlannedTrial]]]:
    """Each fold's own plan and trials (cut from ``plan`` and ``trials``, so nothing is read
    again), by what it tests, where the protocol's folds are distinct test sets
    (``folds.mode: predefined``, or a ``test_corpus``: MSP-Podcast's Test1 and Test2), which
    are then reported one by one as well as pooled; none for leave-one-out folds, which
    sample one population and are reported pooled."""
    if not plan.protocol.fixed_test_sets or len(plan.folds) < 2:
        return {}
    return {
        fold.tests: (plan.on_fold(number), [t for t in trials if t.key.fold == number])
        for number, fold in sorted(plan.folds.items())
    }
