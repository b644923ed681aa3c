"""The plan a run stored beside its records, so a results folder describes itself.

``bench run`` (and ``bench personalise``, which runs the trials it adapts) writes
``results/<protocol>/plans/<name>.json`` when it starts, before any trial, so a killed run
still says what it was running. The plan holds the command line as typed, the selection
(grid or variants, reference, seeds, folds, overrides, tuning mode), the protocol as
resolved (its name, whether its folds are fixed test sets, its hashed sections), what each
fold tests with its data identity, and every expected trial with its configuration, config
hash and tuning marker. ``bench ls`` and ``bench report`` with no selection arguments read
it instead of a selection: they need neither the corpus nor the tuning folder, and no
override is repeated, so a results folder copied to another machine is reported there.

A plan is named by the trials it covers (the grid's name or the variants', and a hash of
its (variant, fold, seed) keys): a rerun of those trials, with other overrides too, replaces
the plan atomically and keeps each earlier one as ``<name>.json.previous-<time>`` (none is
overwritten); another selection in the same folder gets a plan of its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write, write_json
from bench.errors import BenchError
from bench.protocol import Fold, corpora_note
from bench.results import TrialKey, from_plain, read_record
from bench.run.plan import PlannedTrial, _status
from bench.run.selection import Selection
from bench.train.config import TrialSpec
from bench.variants import aa_controls, resolve_personalise

PLAN_SCHEMA = "bench.plan/1"
PLANS_FOLDER = "plans"  # results/<protocol>/plans/<name>.json
PLAN_SUFFIX = ".json"
PREVIOUS_SUFFIX = ".previous"  # + "-<time>": a plan a rerun of the same trials replaced
LABEL_LENGTH = 40  # characters of variant names in a plan's name; more are counted


def plain(value: Any) -> dict[str, Any]:
    """A configuration as plain JSON-ready values, whether a dict or a dataclass."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return dict(value)


@dataclass(frozen=True)
class PlanSelection:
    """Which trials, as the command line chose them. grid: the grid whose variants these are
    (None for ``--variant``); folds: the folds the run had (resolved: all of the corpus's
    when none were named); overrides: the ``model.*``/``train.*`` ones, protocol_overrides
    the rest (``personalise.*`` among them); tuned: where the configurations came from
    (``--tuned nested``), None untuned."""

    grid: str | None
    variants: tuple[str, ...]
    reference: str
    seeds: tuple[int, ...]
    folds: tuple[int, ...]
    overrides: tuple[str, ...]
    protocol_overrides: tuple[str, ...]
    tuned: str | None


@dataclass(frozen=True)
class PlanProtocol:
    """The protocol as resolved: its name, whether its folds are fixed test sets (each then
    reported on its own too), the corpora note of a cross-corpus protocol, and the sections
    that every config hash covers (:meth:`bench.protocol.Protocol.hashed`)."""

    name: str
    fixed_test_sets: bool
    corpora: str
    hashed: dict[str, Any]


@dataclass(frozen=True)
class PlanFold:
    """What a fold tests (a session, a release's test set) and its data identity
    (:func:`bench.run.identity.fold_identity`), which its trials' config hashes cover."""

    tests: str
    data: dict[str, str]


@dataclass(frozen=True)
class PlanVariant:
    """What a report needs of a variant beyond its trials: its declared personalisation
    (the ``personalise:`` configuration its personalisations are checked against) and its
    A/A controls among the plan's variants, were it the reference
    (:func:`bench.variants.aa_controls`)."""

    personalise: dict[str, Any]
    aa_controls: tuple[str, ...]


@dataclass(frozen=True)
class PlanEntry:
    """One variant on one fold, for each of ``seeds``: the resolved configuration, its config
    hash (:func:`bench.variants.config_hash`, the same for every seed) and its tuning marker
    (None untuned)."""

    variant: str
    fold: int
    seeds: tuple[int, ...]
    config_hash: str
    config: dict[str, Any]
    tuning: dict[str, Any] | None = None


@dataclass(frozen=True)
class StoredPlan:
    """A run's plan, as ``plans/<name>.json`` stores it: written (local ISO time) and
    command (as typed, quoted for a shell; empty from the library API) say when and how."""

    command: str
    written: str
    selection: PlanSelection
    protocol: PlanProtocol
    folds: dict[int, PlanFold]
    variants: dict[str, PlanVariant]
    trials: tuple[PlanEntry, ...]
    schema: str = PLAN_SCHEMA

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, values: Any) -> StoredPlan:
        """Check and read a plan's JSON values.

        Raises:
            BenchError: not a mapping, another schema, a missing, unknown or wrongly typed
                key, or a trial on a fold or of a variant the plan does not have.
        """
        if not isinstance(values, Mapping):
            raise BenchError(f"a plan is a JSON object, not a {type(values).__name__}")
        if values.get("schema") != PLAN_SCHEMA:
            found = repr(values["schema"]) if "schema" in values else "none"
            raise BenchError(f"its schema is {found}, not {PLAN_SCHEMA!r}")
        parsed = dict(values)
        if isinstance(values.get("folds"), Mapping):
            parsed["folds"] = {
                _fold_number(number): from_plain(PlanFold, fold, f"folds.{number}.")
                for number, fold in values["folds"].items()
            }
        if isinstance(values.get("variants"), Mapping):
            parsed["variants"] = {
                name: from_plain(PlanVariant, variant, f"variants.{name}.")
                for name, variant in values["variants"].items()
            }
        if isinstance(values.get("trials"), list):
            parsed["trials"] = tuple(
                from_plain(PlanEntry, entry, f"trials.{i}.")
                for i, entry in enumerate(values["trials"])
            )
        plan = from_plain(cls, parsed, "")
        for i, entry in enumerate(plan.trials):
            if entry.fold not in plan.folds or entry.variant not in plan.variants:
                raise BenchError(
                    f"trials.{i} ({entry.variant}, fold {entry.fold}) is not among the plan's "
                    "variants and folds"
                )
        return plan

    def on_fold(self, number: int) -> StoredPlan:
        """The plan cut to one of its folds (a fixed test set reported on its own)."""
        return replace(
            self,
            selection=replace(self.selection, folds=(number,)),
            folds={number: self.folds[number]},
            trials=tuple(entry for entry in self.trials if entry.fold == number),
        )


def _fold_number(text: str) -> int:
    """A fold number from a JSON key. Raises: BenchError: not a whole number."""
    try:
        return int(text)
    except ValueError as exc:
        raise BenchError(f"folds.{text}: a fold is named by its number") from exc


def describe_plan(
    selection: Selection, folds: Mapping[int, Fold], trials: Sequence[PlannedTrial]
) -> StoredPlan:
    """The plan of ``selection``: its selected ``folds`` by number and its ``trials``
    (:func:`bench.run.selection.list_grid_folds` or ``plan_selection``)."""
    protocol = selection.protocol
    entries: dict[tuple[str, int], PlanEntry] = {}
    for trial in trials:
        at = (trial.key.variant, trial.key.fold)
        if at in entries:
            entries[at] = replace(entries[at], seeds=(*entries[at].seeds, trial.key.seed))
        else:
            config = plain(trial.config)
            key = trial.key
            entries[at] = PlanEntry(
                key.variant, key.fold, (key.seed,), trial.config_hash, config, trial.tuning
            )
    data = {trial.key.fold: trial.data or {} for trial in trials}
    personalise = selection.personalise_overrides
    return StoredPlan(
        command=selection.command,
        written=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        selection=PlanSelection(
            grid=selection.grid,
            variants=selection.variants,
            reference=selection.reference or selection.variants[0],
            seeds=selection.seeds,
            folds=tuple(sorted(folds)),
            overrides=selection.overrides,
            protocol_overrides=selection.protocol_overrides,
            tuned=None if selection.tuning is None else str(selection.tuning),
        ),
        protocol=PlanProtocol(
            protocol.name, protocol.fixed_test_sets, corpora_note(protocol), protocol.hashed()
        ),
        folds={n: PlanFold(folds[n].test_unit, data.get(n, {})) for n in sorted(folds)},
        variants={
            name: PlanVariant(
                plain(resolve_personalise(name, protocol, personalise)),
                aa_controls(name, selection.variants, protocol, selection.overrides),
            )
            for name in selection.variants
        },
        trials=tuple(entries.values()),
    )


def plan_name(plan: StoredPlan) -> str:
    """The plan's name: its grid's name or its variants' (cut to ``LABEL_LENGTH``), and 8 hex
    digits of SHA-256 over its (variant, fold, seed) keys, so that only a plan of the same
    trials replaces it.

    >>> entry = PlanEntry("stateless", 1, (0,), "h", {})
    >>> selection = PlanSelection(None, ("stateless",), "stateless", (0,), (1,), (), (), None)
    >>> plan_name(StoredPlan("", "", selection, None, {}, {}, (entry,)))  # doctest: +ELLIPSIS
    'stateless-...'
    """
    keys = sorted(
        (entry.variant, entry.fold, seed) for entry in plan.trials for seed in entry.seeds
    )
    digest = hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:8]
    variants = plan.selection.variants
    label = plan.selection.grid or "+".join(variants)
    if len(label) > LABEL_LENGTH:
        label = f"{variants[0]}+{len(variants) - 1}-more"
    return f"{re.sub(r'[^A-Za-z0-9_.+-]+', '_', label)}-{digest}"


def plans_folder(results: str | Path, protocol: str) -> Path:
    return Path(results) / protocol / PLANS_FOLDER


def _comparable(values: Any) -> Any:
    """A plan's JSON values without when and how it was written, as JSON reads them back."""
    if not isinstance(values, Mapping):
        return values
    kept = {key: value for key, value in values.items() if key not in ("written", "command")}
    return json.loads(json.dumps(kept, sort_keys=True, default=str))


def previous_path(path: Path) -> Path:
    """Where the plan at ``path`` goes when a rerun replaces it: ``<name>.json.previous-<time>``
    (UTC, to the second), with ``.2``, ``.3``, ... where that name is taken already."""
    stem = f"{path.name}{PREVIOUS_SUFFIX}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    candidate, number = path.with_name(stem), 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{stem}.{number}")
    return candidate


def write_plan(results: str | Path, plan: StoredPlan) -> Path:
    """Store ``plan`` under ``results`` atomically (:func:`bench.atomic.write_json`). An
    earlier plan of the same trials that differs from it (beyond its time and command line)
    is kept as ``<name>.json.previous-<time>`` first (:func:`previous_path`), itself written
    atomically, so no earlier plan is overwritten; one that does not
    differ is left as it is (a rerun that runs nothing writes nothing). Returns the path."""
    path = plans_folder(results, plan.protocol.name) / f"{plan_name(plan)}{PLAN_SUFFIX}"
    values = plan.to_json()
    try:
        earlier = path.read_bytes()
    except FileNotFoundError:
        earlier = None
    if earlier is not None:
        try:
            same = _comparable(json.loads(earlier)) == _comparable(values)
        except (json.JSONDecodeError, UnicodeDecodeError):
            same = False
        if same:
            return path
        previous = previous_path(path)
        atomic_write(previous, lambda f: f.write(earlier))
    write_json(path, values)
    return path


def read_plan(path: Path) -> StoredPlan:
    """The plan stored in ``path``.

    Raises:
        BenchError: one line naming the file, when it cannot be read or is not a plan.
    """
    fix = "rerun the bench run that wrote it, or move it away"
    try:
        return StoredPlan.from_json(json.loads(path.read_bytes().decode("utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, BenchError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise BenchError(f"{path} is not a readable stored plan ({why}); {fix}") from exc


def stored_plans(results: str | Path, name: str | None = None) -> dict[str, StoredPlan]:
    """The plans stored under ``results`` (every protocol's) by name, sorted; only the one
    named ``name`` if given.

    Raises:
        BenchError: ``name`` is not stored there (the message lists what is), or a plan file
            is not a readable plan.
    """
    found = sorted(Path(results).glob(f"*/{PLANS_FOLDER}/*{PLAN_SUFFIX}"))
    paths = {path.name[: -len(PLAN_SUFFIX)]: path for path in found}
    if name is not None:
        if name not in paths:
            stored = ", ".join(paths) or "none"
            raise BenchError(f"no stored plan {name!r} under {results}; stored: {stored}")
        paths = {name: paths[name]}
    return {stored: read_plan(path) for stored, path in paths.items()}


def only_plan(plans: Mapping[str, StoredPlan], results: str | Path) -> tuple[str, StoredPlan]:
    """The one plan of ``plans`` (the name and the plan).

    Raises:
        BenchError: several, listed by name with the command that wrote each.
    """
    if len(plans) == 1:
        [(name, plan)] = plans.items()
        return name, plan
    listed = "; ".join(f"{name} ({plan.command or 'no command line'}, {plan.written})"
                       for name, plan in plans.items())  # fmt: skip
    raise BenchError(
        f"{results} holds {len(plans)} stored plans; name one with --plan NAME (or select "
        f"trials with --grid/--variant and overrides): {listed}"
    )


def planned_trials(plan: StoredPlan, results: str | Path) -> list[PlannedTrial]:
    """Every trial of ``plan`` with its state in ``results``, in (variant, fold, seed) order:
    ``done`` where a record is stored with the plan's config hash, ``stale`` (with the
    reason) where one is stored with another, else ``missing``. Reads only the records."""
    trials = []
    for entry in plan.trials:
        data = plan.folds[entry.fold].data
        for seed in entry.seeds:
            key = TrialKey(plan.protocol.name, entry.variant, entry.fold, seed)
            stored = read_record(key.folder(results))
            status, reason = _status(stored, entry.config_hash, data, force=False)
            spec = TrialSpec.from_dict({**entry.config, "seed": seed})
            trials.append(PlannedTrial(key, spec, entry.config_hash, status, stored,
                                       entry.tuning, data, reason))  # fmt: skip
    return trials
