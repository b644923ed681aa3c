"""The report of a selection of trials: only trials stored with their current config hash.

A report never pools configurations. The selection (a grid or variants, seeds, folds, the
protocol and its overrides) gives every expected trial and each variant's config hash,
computed as ``bench run`` computes them. The report uses the trials stored with that hash
(so each variant's trials share one configuration), shows the expected ones that are not
stored as missing, and names every stored trial it leaves out: stale ones (stored with
another hash) and those outside the selection.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.personalise.run import personalise_configs
from bench.protocol import Fold, corpora_note
from bench.report.analysis import Report, build_report
from bench.report.bootstrap import MARGIN
from bench.report.personalisation import load_personalisation, personalisation_report
from bench.report.summary import format_trials
from bench.report.tuning import tuning_view
from bench.results import HISTORY_FILE, PREDICTIONS_FILE, load_table, stored_trials
from bench.run.plan import PlannedTrial
from bench.run.selection import Selection, list_grid_folds
from bench.variants import aa_controls

Listed = tuple[dict[int, Fold], list[PlannedTrial]]  # a selection's folds and trials


def left_out_notes(plan: list[PlannedTrial], results: str | Path) -> list[str]:
    """One note per stale trial of ``plan``, and per variant with stored trials of the same
    protocol outside ``plan``."""
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
    """The report of the selection's current trials under ``results``.

    ``reference`` defaults to the selection's; ``margin`` is the equivalence margin in CCC
    (see :func:`bench.report.analysis.build_report`). Expected trials come from the selection, so
    a fold that every variant lacks shows as missing. Where ``bench personalise`` stored
    personalisations of these trials with each variant's ``personalise:`` configuration, the
    report has a personalisation section (:mod:`bench.report.personalisation`). Variants that
    are the reference trained again with other seeds are marked as its A/A controls
    (:func:`bench.variants.aa_controls`). ``listed``:
    the selection's folds and trials as :func:`bench.run.selection.list_grid_folds` gives them,
    where the caller has them already (listing reads the corpus).

    Raises:
        BenchError: no current trial, or none of the reference.
    """
    fold_parts, plan = listed or list_grid_folds(selection, results)
    folds = sorted({t.key.fold for t in plan})
    resampled = not selection.protocol.fixed_test_sets  # else no fold-level test
    current = [t.key for t in plan if t.status == "done"]
    notes = left_out_notes(plan, results)
    if not current:
        why = f"; {len(notes)} left out, the first: {notes[0]}" if notes else ""
        raise BenchError(f"no current trials of the selection under {results}{why}")
    kept = pd.DataFrame(
        [
            {"variant": t.key.variant, "best_epoch": t.stored.outcome.best_epoch,
             "teacher_probability": t.stored.outcome.teacher_probability}
            for t in plan
            if t.status == "done" and t.stored is not None
        ]
    )  # fmt: skip
    report = build_report(
        load_table(results, current, PREDICTIONS_FILE),
        load_table(results, current, HISTORY_FILE),
        selection.protocol.name,
        reference or selection.reference or selection.variants[0],
        n_boot,
        seed,
        expected={(t.key.fold, t.key.seed) for t in plan},
        grid=selection.variants,
        left_out=notes,
        kept=kept,
        margin=margin,
        tuning=tuning_view(selection.tuning, selection.protocol.name, selection.variants, folds),
        resampled_folds=resampled,
    )
    configs = personalise_configs(selection)
    rows, stale = load_personalisation(plan, results, configs)
    section = (
        None
        if rows is None
        else personalisation_report(rows, configs, n_boot, seed, margin, resampled)
    )
    return replace(
        report,
        personalisation=section,
        left_out=(*report.left_out, *stale),
        corpora=corpora_note(selection.protocol),
        fold_tests={number: fold.test_unit for number, fold in fold_parts.items()},
        aa_controls=aa_controls(
            report.reference, selection.variants, selection.protocol, selection.overrides
        ),
    )


def per_test_set(selection: Selection, listed: Listed) -> dict[str, tuple[Selection, Listed]]:
    """Each fold's own selection and listing (cut from ``listed``, so the corpus is not read
    again), by what it tests, where the protocol's folds are distinct test sets
    (``folds.mode: predefined``, or a ``test_corpus``: MSP-Podcast's Test1 and Test2), which
    are then reported one by one as well as pooled; none for leave-one-out folds, which
    sample one population and are reported pooled."""
    folds, plan = listed
    if not selection.protocol.fixed_test_sets or len(folds) < 2:
        return {}
    return {
        fold.test_unit: (
            replace(selection, folds=(number,)),
            ({number: fold}, [t for t in plan if t.key.fold == number]),
        )
        for number, fold in sorted(folds.items())
    }
