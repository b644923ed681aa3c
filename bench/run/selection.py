"""Which trials a run, a listing or a report covers: a :class:`Selection` of variants,
folds and seeds, the corpus and folds it needs, and its plan (each trial's configuration and
state in the results store).

>>> selection = select_trials(grid="ablations", seeds=[0], folds=[1],
...                           overrides=["train.epochs=1"])  # doctest: +SKIP
>>> [(str(t.key), t.status) for t in list_grid(selection, "results")]  # doctest: +SKIP
[('synthetic/mamba_ema/fold1/seed0', 'missing'), ...]

A trial is (protocol, variant, fold, seed); :func:`bench.run.driver.run_grid` runs every
selected trial that is not stored with its current config hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.corpus.prepare import prepare_protocol_corpus
from bench.corpus.registry import synthetic_root
from bench.corpus.synth import SIZES
from bench.corpus.table import Corpus
from bench.errors import BenchError
from bench.paths import data_dir, ensure_writable_dir
from bench.protocol import Fold, Protocol, absent_folds, load_protocol, make_folds
from bench.run.identity import fold_identities, pending_identity, selection_identity
from bench.run.plan import ConfigSource, PlannedTrial, plan_trials
from bench.variants import DEFAULT_GRID, TRIAL_SECTIONS, load_grid, resolve_variant, variant_name


@dataclass(frozen=True)
class Selection:
    """Which trials: every (variant, fold, seed) of ``variants`` x ``folds`` x ``seeds``.

    protocol: the loaded protocol, its overrides applied. overrides: ``model.*`` and
    ``train.*`` overrides, applied to every variant's configuration. folds: None for every
    fold of the protocol's corpus. reference: the variant a report compares the others with.
    tuning: where each variant's configuration per fold comes from instead of its own
    (``bench run --tuned``: :class:`bench.tune.apply.Tuning`), or None.
    personalise_overrides: the ``personalise.*`` overrides, which also win over a variant
    file's ``personalise:`` block (:func:`bench.variants.resolve_personalise`).
    grid: the grid whose variants these are (None where they were named one by one);
    protocol_overrides: the overrides applied to the protocol (every one not in
    ``overrides``); command: the command line that selected them, as typed (empty from the
    library API). These three are what the stored plan records
    (:mod:`bench.run.stored_plan`); they select nothing.
    """

    protocol: Protocol
    variants: tuple[str, ...]
    seeds: tuple[int, ...]
    folds: tuple[int, ...] | None = None
    overrides: tuple[str, ...] = ()
    reference: str | None = None
    tuning: ConfigSource | None = None
    personalise_overrides: tuple[str, ...] = ()
    grid: str | None = None
    protocol_overrides: tuple[str, ...] = ()
    command: str = ""


def select_trials(
    protocol: str | Path = "synthetic",
    overrides: Sequence[str] = (),
    grid: str | None = None,
    variants: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    folds: Sequence[int] | None = None,
    tuning: ConfigSource | None = None,
    command: str = "",
) -> Selection:
    """A :class:`Selection` from names, as the command line gives them.

    Args:
        protocol: a protocol name in ``protocols/`` or a YAML path.
        overrides: ``key=value``; ``model.*`` and ``train.*`` go to every variant, the rest
            to the protocol.
        grid: a grid in ``variants/grids/`` (default ``DEFAULT_GRID``); it gives the
            variants, the seeds and the reference unless ``variants``/``seeds`` are given.
        variants: these variants instead of the grid's (duplicates dropped), by name or as
            YAML paths (named by their stems, :func:`bench.variants.variant_name`). The
            reference is then the grid's if it is among them, else the first.
        seeds, folds: these instead of the grid's seeds and every fold.
        tuning: the configurations to train with instead of the variants' own
            (``bench run --tuned``: :class:`bench.tune.apply.Tuning`).
        command: the command line as typed, which the run's stored plan records.

    Raises:
        BenchError: an unknown protocol, grid, variant or override key, or a value out of
            its range.
    """
    trial = [o for o in overrides if o.split(".", 1)[0] in TRIAL_SECTIONS]
    rest = [o for o in overrides if o not in trial]
    loaded = load_protocol(str(protocol), rest)
    chosen = load_grid(grid or DEFAULT_GRID)
    names = tuple(dict.fromkeys(map(variant_name, variants))) if variants else chosen.variants
    reference = chosen.reference if chosen.reference in names else names[0]
    for name in names:  # a bad value fails here, before the corpus is read
        resolve_variant(name, loaded, trial)
    return Selection(
        protocol=loaded,
        variants=names,
        seeds=tuple(seeds) if seeds is not None else chosen.seeds,
        folds=tuple(folds) if folds is not None else None,
        overrides=tuple(trial),
        reference=reference,
        tuning=tuning,
        personalise_overrides=tuple(o for o in overrides if o.startswith("personalise.")),
        grid=None if variants else chosen.name,
        protocol_overrides=tuple(rest),
        command=command,
    )


def check_output_folders(protocol: Protocol, results: str | Path | None = None) -> None:
    """Fail before any work when a folder the work writes to cannot be written: ``results``
    (if given, and then the feature cache), and ``$BENCH_DATA`` if the synthetic corpus is
    still to be generated there.

    Raises:
        BenchError: one line naming the folder.
    """
    corpus = protocol.corpus
    if corpus.kind == "synthetic" and not corpus.root and not synthetic_root(corpus).is_dir():
        ensure_writable_dir(data_dir(), "BENCH_DATA folder")
    if results is not None:
        ensure_writable_dir(results, "results folder")
        ensure_writable_dir(protocol.features.cache_dir, "feature cache folder")


def corpus_and_folds(selection: Selection, progress: bool) -> tuple[Corpus, dict[int, Fold]]:
    """The selection's corpus (prepared on first use) and its selected folds by number.

    Raises:
        BenchError: a selected fold the protocol does not have.
    """
    corpus = prepare_protocol_corpus(selection.protocol, progress=progress)
    folds = {f.number: f for f in make_folds(corpus.table, selection.protocol)}
    absent = absent_folds(corpus.table, selection.protocol, set(selection.folds or ()) - set(folds))
    return corpus, {n: folds[n] for n in chosen_folds(selection, sorted(folds), absent)}


def chosen_folds(selection: Selection, available: list[int], absent: str = "") -> list[int]:
    """The selection's folds (all ``available`` ones when it names none); ``absent``: what
    the missing ones would test (:func:`bench.protocol.absent_folds`), for the message.

    Raises:
        BenchError: a selected fold the protocol does not have.
    """
    wanted = list(selection.folds) if selection.folds is not None else available
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        why = f": {absent}" if absent else ""
        raise BenchError(f"no fold(s) {unknown}{why}; this protocol has folds {_spans(available)}")
    return wanted


def _spans(numbers: list[int]) -> str:
    """``1..5``, or ``1, 2, 4`` where numbers are missing."""
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}..{numbers[-1]}"
    return ", ".join(map(str, numbers))


def pending_folds(selection: Selection) -> dict[int, dict[str, str]] | None:
    """The selected folds of a synthetic corpus that is not generated yet, each with its
    pending data identity (:func:`bench.run.identity.pending_identity`), so that listing
    them generates nothing; None where the corpus is there, or is not such a corpus (a
    synthetic one with leave-one-session-out folds: fold k tests ``Ses0k``)."""
    protocol = selection.protocol
    corpus, folds = protocol.corpus, protocol.folds
    generated = corpus.kind != "synthetic" or synthetic_root(corpus).is_dir()
    session_folds = folds.mode == "leave_one_out" and folds.unit == "group"
    if generated or not session_folds or protocol.test_corpus is not None:
        return None
    sessions = list(range(1, len(SIZES[corpus.synth.size][0]) + 1))
    return {n: pending_identity(f"Ses{n:02d}") for n in chosen_folds(selection, sessions)}


def fold_rows(folds: dict[int, Fold]) -> dict[int, dict[str, np.ndarray]]:
    """Each fold's row indices by split (``train``, ``val``, ``test``), by fold number."""
    return {n: {"train": f.train, "val": f.val, "test": f.test} for n, f in folds.items()}


def plan_selection(
    selection: Selection, results: Path, force: bool, progress: bool
) -> tuple[Corpus, dict[int, Fold], list[PlannedTrial]]:
    """The selection's corpus (prepared on first use), its folds and its plan against
    ``results``."""
    corpus, folds = corpus_and_folds(selection, progress)
    data = fold_identities(corpus.table, fold_rows(folds))
    tuned_on = tuning_sources(selection, corpus, folds)
    return corpus, folds, _planned(selection, results, force, data, tuned_on)


def _planned(
    selection: Selection,
    results: Path,
    force: bool,
    data: dict[int, dict[str, str]],
    tuned_on: dict[int, dict[str, str]] | None = None,
) -> list[PlannedTrial]:
    """:func:`bench.run.plan.plan_trials` of the selection on folds with data identities
    ``data`` (tuned choices checked against ``tuned_on``)."""
    return plan_trials(
        selection.protocol,
        selection.variants,
        selection.seeds,
        data,
        results,
        selection.overrides,
        force,
        selection.tuning,
        tuned_on,
    )


def tuning_sources(
    selection: Selection, corpus: Corpus, folds: dict[int, Fold]
) -> dict[int, dict[str, str]] | None:
    """What each fold that the selection's configurations were chosen on
    (:meth:`bench.run.plan.ConfigSource.source_fold`) trains and selects on now
    (:func:`bench.run.identity.selection_identity`), by fold number; None untuned.

    Raises:
        BenchError: a source fold the corpus does not have (``--tuned fold1`` without fold 1).
    """
    if selection.tuning is None:
        return None
    sources = {selection.tuning.source_fold(n) for n in folds}
    if not sources <= set(folds):
        folds = {f.number: f for f in make_folds(corpus.table, selection.protocol)}
        if not sources <= set(folds):
            raise BenchError(
                f"{selection.tuning} takes choices from fold(s) "
                f"{sorted(sources - set(folds))}, which this corpus does not have"
            )
    rows = fold_rows({n: folds[n] for n in sources})
    return {n: selection_identity(corpus.table, rows[n]) for n in sources}


def list_grid(
    selection: Selection, results: str | Path = "results", force: bool = False
) -> list[PlannedTrial]:
    """Every selected trial with its status (``done``, ``stale``, ``missing``; ``forced``
    with ``force``) and its stored record, in (variant, fold, seed) order. Writes nothing:
    a synthetic corpus not generated yet is not generated (:func:`pending_folds`)."""
    pending = pending_folds(selection)
    if pending is None:
        return list_grid_folds(selection, results, force)[1]
    return _planned(selection, Path(results), force, pending)


def list_grid_folds(
    selection: Selection, results: str | Path = "results", force: bool = False
) -> tuple[dict[int, Fold], list[PlannedTrial]]:
    """:func:`list_grid`, and the selected folds by number (what each tests)."""
    check_output_folders(selection.protocol)
    _, folds, plan = plan_selection(selection, Path(results), force, progress=False)
    return folds, plan
