"""Protocols: which corpus, how it is split into folds, and how validation is chosen.

A protocol is ``protocols/<name>.yaml`` (or any YAML path) plus dotted overrides such as
``corpus.root=/data/IEMOCAP_full_release``. Each section is a dataclass, so an unknown or
mistyped key fails as one line naming the key and where it was set. Folds are
leave-one-unit-out by default: each fold tests one value of the fold unit column (IEMOCAP:
the session) and trains on the rest, minus a seeded validation share. A fold's number
says what it tests whatever else the corpus holds: fold 3 tests ``Ses03`` (the number in
the unit's name, :func:`fold_units`), so a session missing leaves its number unused instead
of renumbering the others. ``folds.mode: predefined`` takes a release's own partition
instead (fold ``k`` tests the ``k``-th name in ``folds.test``), and a ``test_corpus:``
section tests on another corpus entirely. A corpus section is a
:class:`~bench.corpus.section.CorpusSection`, whose kind must be registered in
:data:`bench.corpus.registry.CORPUS_READERS` (the one list of kinds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.config import (
    Origins,
    apply_overrides,
    checked_fields,
    config_from_dict,
    load_yaml,
    merge_known,
    override_origin,
    parse_override,
)
from bench.corpus.cross import TEST_PREFIX
from bench.corpus.registry import corpus_reader
from bench.corpus.section import CorpusSection
from bench.errors import BenchError
from bench.features.config import ROLES, FeaturesConfig, parse_features_config
from bench.features.config import role_defaults as features_role_defaults
from bench.model.config import ModelConfig
from bench.personalise.config import PersonaliseConfig
from bench.resources import protocols_dir
from bench.train.config import TrainConfig

PROTOCOL_DIR = protocols_dir()


FOLD_MODES = ("leave_one_out", "predefined")


@dataclass(frozen=True)
class FoldsSection:
    """``folds:``: how the corpus is split.

    mode: ``leave_one_out``: each fold tests one value of the column ``unit`` (fold ``k``
        the value numbered ``k``, :func:`fold_units`) and trains on the rest (validation as
        the ``validation:`` section says).
        ``predefined``: the release's own partition in the table column ``column``: rows
        whose value is in ``train`` train, those in ``validation`` select models, and fold
        ``k`` tests the rows of the ``k``-th name in ``test``, where the corpus has it (each
        test set its own fold, reported separately). Rows of other values are not used
        (:func:`bench.corpus.prepare.prepare_protocol_corpus` reports them as problems).
    """

    mode: str = "leave_one_out"
    unit: str = "group"
    column: str = "split"
    train: tuple[str, ...] = ("Train",)
    validation: tuple[str, ...] = ("Development", "Validation")
    test: tuple[str, ...] = ("Test1", "Test2")

    def __post_init__(self) -> None:
        if self.mode not in FOLD_MODES:
            modes = ", ".join(FOLD_MODES)
            raise BenchError(f"folds.mode must be one of {modes}, not {self.mode!r}")
        if self.mode == "predefined":
            named = [*self.train, *self.validation, *self.test]
            if not (self.train and self.validation and self.test) or len(set(named)) < len(named):
                raise BenchError(
                    "folds.train, folds.validation and folds.test must each name some values "
                    f"of folds.column, none twice; not {self.train}, {self.validation}, "
                    f"{self.test}"
                )

    def hashed(self) -> dict[str, Any]:
        """The keys that decide the folds: ``unit`` alone for ``leave_one_out`` (as before the
        predefined mode existed, so those trials keep their hashes)."""
        if self.mode == "leave_one_out":
            return {"unit": self.unit}
        return {key: value for key, value in asdict(self).items() if key != "unit"}


@dataclass(frozen=True)
class ValidationSection:
    """``validation:``: what model selection holds out from a fold's training part.

    unit: ``dialog`` holds out a seeded share ``fraction`` of the dialogs of every training
        fold unit (validation speakers are also training speakers). Any column of the
        utterance table (``session``, ``speaker``, ``group``) holds out whole values of that
        column instead, so validation speakers are unseen in training, as test speakers are.
        Values that share a dialog form one block (IEMOCAP's two speakers of a session), so
        ``speaker`` there means session-disjoint. ``ceil(fraction * n_blocks)`` blocks are
        held out, chosen by rotation from a seeded offset, so folds validate on different
        blocks.
    """

    unit: str = "dialog"
    fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise BenchError(f"validation.fraction must lie in (0, 1), not {self.fraction}")


@dataclass(frozen=True)
class Protocol:
    """A loaded, checked protocol.

    ``model`` and ``train`` are corpus-specific defaults for every variant: partial blocks,
    checked against :class:`ModelConfig` and :class:`TrainConfig` here, merged into each
    variant's configuration by :func:`bench.variants.resolve_variant`. ``test_corpus``, where
    set, is tested on instead of a part of ``corpus`` (:func:`cross_folds`).
    """

    name: str
    path: Path
    corpus: CorpusSection
    folds: FoldsSection
    validation: ValidationSection
    features: FeaturesConfig
    personalise: PersonaliseConfig = field(default_factory=PersonaliseConfig)
    test_corpus: CorpusSection | None = None
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)

    @property
    def fixed_test_sets(self) -> bool:
        """The folds are fixed test sets (a release's own splits, or a ``test_corpus``), each
        reported on its own too, not left-out units that resample one population."""
        return self.folds.mode == "predefined" or self.test_corpus is not None

    def hashed(self) -> dict[str, Any]:
        """The sections that change a trial's numbers, as plain values, defaults filled in
        (the feature cache folder, run-time settings such as the device, and ``personalise``,
        which acts only after training, left out)."""
        features = {
            role: {"extractor": spec.name, **spec.hashed_params()}
            for role, spec in self.features.extractors.items()
        }
        features["speaker"]["level"] = self.features.speaker_level
        hashed = {
            "corpus": self.corpus.hashed(),
            "folds": self.folds.hashed(),
            "validation": asdict(self.validation),
            "features": features,
        }
        if self.test_corpus is not None:
            hashed["test_corpus"] = self.test_corpus.hashed()
        return hashed


def corpus_label(corpus: CorpusSection) -> str:
    """A corpus by name: its kind, a manifest's file name, a synthetic corpus's seed.

    >>> corpus_label(CorpusSection(kind="jsonl", manifest="/data/podcasts.jsonl"))
    'podcasts.jsonl'
    """
    if corpus_reader(corpus).setting == "manifest" and corpus.manifest:
        return Path(corpus.manifest).name
    if corpus.kind == "synthetic":
        return f"synthetic seed {corpus.synth.seed}"
    return corpus.kind


def corpora_note(protocol: Protocol) -> str:
    """``trained and selected on A, tested on B`` for a cross-corpus protocol, else ``""``."""
    if protocol.test_corpus is None:
        return ""
    return (
        f"trained and selected on {corpus_label(protocol.corpus)}, "
        f"tested on {corpus_label(protocol.test_corpus)}"
    )


SECTIONS = {
    "corpus": CorpusSection,
    "folds": FoldsSection,
    "validation": ValidationSection,
    "personalise": PersonaliseConfig,
}
TRIAL_DEFAULTS = {"model": ModelConfig, "train": TrainConfig}
TEST_CORPUS = "test_corpus"  # an optional corpus: test on it, train and select on ``corpus``


def protocol_path(name_or_path: str) -> Path:
    """Resolve a protocol name (``synthetic``) or a YAML path to a file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise BenchError(f"protocol file {candidate} not found")
        return candidate
    path = PROTOCOL_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml")))
        raise BenchError(f"unknown protocol {name_or_path!r} (known: {known})")
    return path


def load_protocol(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> Protocol:
    """Read a protocol, apply ``key=value`` overrides and check every section.

    Every section is first filled with its defaults, so an override may set any known key.
    An override of ``features.<role>.extractor`` to another extractor resets that role's
    parameters to the new extractor's defaults; the role's other overrides still apply.

    Raises:
        BenchError: an unknown key or a wrongly typed value, naming the key and its origin
            (the protocol file or the command-line override).
    """
    path = protocol_path(name_or_path)
    raw = load_yaml(path)
    origins = Origins(str(path))
    known = {"name", "description", *SECTIONS, TEST_CORPUS, "features", *TRIAL_DEFAULTS}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BenchError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    if not isinstance(raw.get("name"), str):
        raise BenchError(f"{path}: needs a 'name:' (a string)")
    filled: dict[str, Any] = {"name": raw["name"]}
    for section, cls in SECTIONS.items():
        defaults = asdict(cls(**({"kind": "synthetic"} if cls is CorpusSection else {})))
        given = _mapping(raw, section, path)
        filled[section] = merge_known(defaults, given, str(path), origins, f"{section}.")
    if TEST_CORPUS in raw:
        given = _mapping(raw, TEST_CORPUS, path)
        defaults = asdict(CorpusSection())
        filled[TEST_CORPUS] = merge_known(defaults, given, str(path), origins, f"{TEST_CORPUS}.")
    filled["features"] = _filled_features(_mapping(raw, "features", path), path, origins)
    for section in TRIAL_DEFAULTS:
        filled[section] = _mapping(raw, section, path)
    trial = [o for o in overrides if o.partition(".")[0] in TRIAL_DEFAULTS]
    if trial:
        raise BenchError(
            f"override {trial[0]!r}: model.* and train.* overrides apply to each variant's "
            f"configuration; give them to bench run, ls or report"
        )
    switches = [o for o in overrides if _is_extractor_switch(o)]
    for text in switches:
        (_, role, _), extractor = parse_override(text)
        filled["features"][role] = features_role_defaults(role, extractor)
        origins.set(f"features.{role}", override_origin(text))
    rest = [o for o in overrides if o not in switches]
    filled = apply_overrides(filled, rest, origins)
    return _checked_protocol(filled, path, origins)


def _mapping(raw: dict[str, Any], section: str, path: Path) -> dict[str, Any]:
    value = raw.get(section) or {}
    if not isinstance(value, dict):
        raise BenchError(f"{path}: {section} must be a mapping, not {value!r}")
    return value


def _is_extractor_switch(text: str) -> bool:
    keys = text.partition("=")[0].split(".")
    return len(keys) == 3 and keys[0] == "features" and keys[1] in ROLES and keys[2] == "extractor"


def _filled_features(block: dict[str, Any], path: Path, origins: Origins) -> dict[str, Any]:
    """A ``features:`` block with every role and parameter present (defaults filled in)."""
    filled: dict[str, Any] = {"cache_dir": None}
    for role in ROLES:
        given = block.get(role) or {}
        if not isinstance(given, dict):
            raise BenchError(f"{path}: features.{role} must be a mapping, not {given!r}")
        filled[role] = features_role_defaults(role, given.get("extractor"))
    return merge_known(filled, block, str(path), origins, "features.")


def _checked_protocol(filled: dict[str, Any], path: Path, origins: Origins) -> Protocol:
    sections = {
        name: config_from_dict(cls, filled[name], f"{name}.", origins)
        for name, cls in SECTIONS.items()
    }
    for name, cls in TRIAL_DEFAULTS.items():
        checked_fields(cls, filled[name], f"{name}.", origins)
    if TEST_CORPUS in filled:
        sections[TEST_CORPUS] = config_from_dict(
            CorpusSection, filled[TEST_CORPUS], f"{TEST_CORPUS}.", origins
        )
    for key in ("corpus", TEST_CORPUS):
        if key in sections:
            corpus_reader(sections[key], key)  # a registered kind, and a dialog unit it takes
    return Protocol(
        name=filled["name"],
        path=path,
        features=parse_features_config(filled["features"], origins),
        model=filled["model"],
        train=filled["train"],
        **sections,
    )


@dataclass(frozen=True)
class Fold:
    """One leave-one-unit-out fold: row indices into the utterance table.

    ``val_unit`` is the column validation is disjoint in (``dialog`` or ``validation.unit``)
    and ``val_values`` its held-out values. ``test_disjoint``: the columns test shares no
    value of with train and validation (a predefined partition promises speakers and
    dialogs, not sessions: MSP-Podcast's Test1 has podcasts that Train also has).
    ``partition``: the column whose values put each row in train, val or test where the
    corpus's own partition does (``folds.mode: predefined``), which a leakage message names;
    None where the protocol's settings split it.
    """

    number: int  # 1-based
    test_unit: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    val_unit: str = "dialog"
    val_values: tuple[str, ...] = ()
    test_disjoint: tuple[str, ...] = ("speaker", "session", "dialog")
    partition: str | None = None


NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")  # Ses03, session5, g2


def _named_numbers(units: Sequence[str]) -> dict[int, str] | None:
    """``units`` by the number their names end in, where all are one prefix and a number,
    the numbers distinct and at least 1; else None."""
    numbered: dict[int, str] = {}
    prefixes = set()
    for unit in units:
        match = NUMBERED.match(unit)
        if match is None:
            return None
        prefixes.add(match["prefix"])
        numbered[int(match["number"])] = unit
    if len(prefixes) != 1 or len(numbered) < len(units) or min(numbered) < 1:
        return None
    return dict(sorted(numbered.items()))


def fold_units(table: pd.DataFrame, column: str) -> dict[int, str]:
    """The values of the fold unit column ``column`` by fold number, in number order.

    Where every value is one prefix and a number (``Ses03``, ``session5``, ``g2``), the
    numbers distinct and at least 1, a value's fold number is its number, so a fold keeps
    its number and what it tests when another unit is missing (fold 4 tests ``Ses04`` with
    or without a ``Ses03``). Other values (``A``, ``B``; ``s0``) are numbered 1, 2, ... in
    sorted order; what each fold tests is then shown beside its number (``test_unit``).

    >>> fold_units(pd.DataFrame({"group": ["Ses05", "Ses01", "Ses04"]}), "group")
    {1: 'Ses01', 4: 'Ses04', 5: 'Ses05'}
    >>> fold_units(pd.DataFrame({"group": ["b", "a", "c1"]}), "group")
    {1: 'a', 2: 'b', 3: 'c1'}
    """
    if column not in table:
        raise BenchError(f"folds.unit {column!r} is not a column of the utterance table")
    units = sorted(table[column].astype(str).unique())
    return _named_numbers(units) or dict(enumerate(units, start=1))


def _absent_unit(units: Sequence[str], number: int) -> str | None:
    """The name the unit numbered ``number`` would have among numbered ``units`` (``Ses03``
    among ``Ses01``, ``Ses02``, ``Ses04``), or None where ``units`` are not numbered.

    >>> _absent_unit(["Ses01", "Ses02", "Ses04"], 3), _absent_unit(["A", "B"], 3)
    ('Ses03', None)
    """
    if _named_numbers(units) is None:
        return None
    matches = [NUMBERED.match(unit) for unit in units]
    widths = {len(match["number"]) for match in matches if match}
    prefix = next(match["prefix"] for match in matches if match)
    return f"{prefix}{number:0{widths.pop() if len(widths) == 1 else 0}d}"


def _validation_dialogs(
    train: pd.DataFrame, column: str, fraction: float, rng: np.random.Generator
) -> set[str]:
    """Hold out ``ceil(fraction * n)`` of the ``n`` dialogs of every training unit (n > 1)."""
    chosen: set[str] = set()
    for _, unit in train.groupby(column, sort=True):
        dialogs = sorted(unit["dialog"].unique())
        if len(dialogs) < 2:
            continue
        n_val = min(len(dialogs) - 1, max(1, math.ceil(fraction * len(dialogs))))
        chosen.update(rng.choice(dialogs, n_val, replace=False).tolist())
    return chosen


def unit_blocks(table: pd.DataFrame, column: str) -> list[tuple[str, ...]]:
    """The values of ``column`` grouped into blocks that share no dialog, sorted.

    Two values are in one block when some dialog holds both (transitively), so holding out
    whole blocks never splits a dialog.

    >>> rows = {"dialog": ["d1", "d1", "d2", "d3"], "speaker": ["A", "B", "B", "C"]}
    >>> unit_blocks(pd.DataFrame(rows), "speaker")
    [('A', 'B'), ('C',)]
    """
    parent: dict[str, str] = {}

    def root(value: str) -> str:
        while parent.setdefault(value, value) != value:
            value = parent[value]
        return value

    pairs = table[["dialog", column]].astype(str).drop_duplicates()
    for _, values in pairs.groupby("dialog", sort=True)[column]:
        first, *rest = sorted(values)
        for value in rest:
            parent[root(value)] = root(first)
    blocks: dict[str, list[str]] = {}
    for value in sorted(pairs[column].unique()):
        blocks.setdefault(root(value), []).append(value)
    return sorted(tuple(block) for block in blocks.values())


def _validation_values(
    train: pd.DataFrame, validation: ValidationSection, number: int
) -> tuple[str, ...]:
    """Whole blocks of ``validation.unit`` held out of fold ``number``'s training part."""
    blocks = unit_blocks(train, validation.unit)
    if len(blocks) < 2:
        raise BenchError(
            f"fold {number}: validation.unit {validation.unit!r} leaves {len(blocks)} "
            f"dialog-disjoint block(s) in training; need at least 2"
        )
    n_val = min(len(blocks) - 1, max(1, math.ceil(validation.fraction * len(blocks))))
    offset = int(np.random.default_rng(validation.seed).integers(len(blocks)))
    start = offset + number - 1
    chosen = [blocks[(start + j) % len(blocks)] for j in range(n_val)]
    return tuple(sorted(value for block in chosen for value in block))


def predefined_folds(table: pd.DataFrame, folds: FoldsSection) -> list[Fold]:
    """The release's partition (``folds.mode: predefined``): one fold per test set present,
    each training on ``folds.train`` and validating on ``folds.validation``; fold ``k``
    tests the ``k``-th name of ``folds.test``, so a test set missing leaves its number
    unused instead of renumbering the others."""
    column = folds.column
    if column not in table or table[column].isna().all():
        raise BenchError(
            f"folds.mode predefined reads the column {column!r} (folds.column), which this "
            f"corpus does not fill"
        )
    split = table[column].astype(str)
    present = set(split.unique())
    tests = [name for name in folds.test if name in present]
    if not tests:
        raise BenchError(
            f"folds.test names {', '.join(folds.test)}; none is among the corpus's {column} "
            f"values ({', '.join(sorted(present))})"
        )
    is_train, is_val, values = _partition(split, folds)
    result = []
    for number, name in enumerate(folds.test, start=1):
        if name not in tests:
            continue
        fold = Fold(
            number=number,
            test_unit=name,
            train=np.flatnonzero(is_train),
            val=np.flatnonzero(is_val),
            test=np.flatnonzero((split == name).to_numpy()),
            val_unit=column,
            val_values=values,
            test_disjoint=("speaker", "dialog"),
            partition=column,
        )
        check_fold(table, fold)
        result.append(fold)
    return result


def _partition(split: pd.Series, folds: FoldsSection) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Which rows train and which validate under a predefined partition (``split``: each
    row's value of ``folds.column``), and the validation names the corpus has.

    Raises:
        BenchError: the corpus has none of ``folds.train`` or of ``folds.validation``.
    """
    present = set(split.unique())
    for key, names in (("train", folds.train), ("validation", folds.validation)):
        if not present & set(names):
            raise BenchError(
                f"folds.{key} names {', '.join(names)}; the corpus's {folds.column} values "
                f"are {', '.join(sorted(present))}"
            )
    values = tuple(v for v in folds.validation if v in present)
    return split.isin(folds.train).to_numpy(), split.isin(values).to_numpy(), values


def _held_out(
    train: pd.DataFrame, column: str, validation: ValidationSection, number: int
) -> tuple[str, ...]:
    """The values of ``validation.unit`` that fold ``number`` validates on, out of its
    training part ``train`` (whose fold units are the values of ``column``)."""
    if validation.unit == "dialog":
        rng = np.random.default_rng([validation.seed, number])
        return tuple(sorted(_validation_dialogs(train, column, validation.fraction, rng)))
    return _validation_values(train, validation, number)


def cross_folds(table: pd.DataFrame, protocol: Protocol) -> list[Fold]:
    """Train and select on ``corpus``, test on ``test_corpus`` (the rows whose ids carry
    :data:`~bench.corpus.cross.TEST_PREFIX`).

    The training corpus splits as its protocol says, less a test part: ``folds.mode:
    predefined`` trains on ``folds.train`` and validates on ``folds.validation``; otherwise
    the ``validation:`` section holds out its share of the whole corpus. The test corpus
    is one fold, or, where its split column has names in ``folds.test`` (MSP-Podcast's
    Test1), one fold per such name, fold ``k`` testing the ``k``-th name.
    """
    folds = protocol.folds
    is_test_corpus = table["utt_id"].astype(str).str.startswith(TEST_PREFIX).to_numpy()
    source = table[~is_test_corpus]
    partition = folds.column if folds.mode == "predefined" else None
    if partition is not None:
        val_unit = partition
        in_train, in_val, values = _partition(
            table[val_unit].where(~is_test_corpus).astype(str), folds
        )
        is_train, is_val = in_train & ~is_test_corpus, in_val & ~is_test_corpus
    else:
        val_unit = protocol.validation.unit
        values = _held_out(source, folds.unit, protocol.validation, 1)
        is_val = ~is_test_corpus & table[val_unit].astype(str).isin(values).to_numpy()
        is_train = ~is_test_corpus & ~is_val
    target_split = table["split"].where(is_test_corpus).astype(str)
    parts = [
        (number, name, (target_split == name).to_numpy())
        for number, name in enumerate(folds.test, start=1)
        if (target_split == name).any()
    ]
    parts = parts or [(1, str(table["corpus"][is_test_corpus].iloc[0]), is_test_corpus)]
    result = []
    for number, name, is_test in parts:
        fold = Fold(number, name, np.flatnonzero(is_train), np.flatnonzero(is_val),
                    np.flatnonzero(is_test), val_unit, values, partition=partition)  # fmt: skip
        check_fold(table, fold)
        result.append(fold)
    return result


def make_folds(table: pd.DataFrame, protocol: Protocol) -> list[Fold]:
    """Every fold of the protocol, each checked for leakage."""
    if protocol.test_corpus is not None:
        return cross_folds(table, protocol)
    if protocol.folds.mode == "predefined":
        return predefined_folds(table, protocol.folds)
    column, validation = protocol.folds.unit, protocol.validation
    units = fold_units(table, column)
    if len(units) < 2:
        found = list(units.values())
        raise BenchError(f"need at least 2 values of folds.unit {column!r}, found {found}")
    if validation.unit != "dialog" and validation.unit not in table:
        raise BenchError(
            f"validation.unit {validation.unit!r} is not 'dialog' or a column of the "
            f"utterance table ({', '.join(table.columns)})"
        )
    unit_of = table[column].astype(str)
    folds = []
    for number, unit in units.items():
        is_test = (unit_of == unit).to_numpy()
        values = _held_out(table[~is_test], column, validation, number)
        held_out = table[validation.unit].astype(str).isin(values).to_numpy()
        is_val = ~is_test & held_out
        fold = Fold(
            number=number,
            test_unit=unit,
            train=np.flatnonzero(~is_test & ~is_val),
            val=np.flatnonzero(is_val),
            test=np.flatnonzero(is_test),
            val_unit=validation.unit,
            val_values=values,
        )
        check_fold(table, fold)
        folds.append(fold)
    return folds


def absent_folds(table: pd.DataFrame, protocol: Protocol, numbers: Iterable[int]) -> str:
    """What the folds ``numbers`` that :func:`make_folds` did not make would test, by the
    protocol's numbering, for a message: ``"the corpus has no Ses03"``; ``""`` where no
    fold would (units numbered in sorted order, numbers past the last unit or test name).

    >>> protocol = load_protocol("msp_podcast")
    >>> absent_folds(pd.DataFrame(), protocol, [2, 3])
    'the corpus has no Test2'
    """
    absent = [name for number in sorted(numbers) if (name := _tested_by(table, protocol, number))]
    return f"the corpus has no {', '.join(absent)}" if absent else ""


def _tested_by(table: pd.DataFrame, protocol: Protocol, number: int) -> str | None:
    """What fold ``number`` would test by the protocol's numbering (the ``number``-th name
    of ``folds.test``; the fold unit numbered ``number``, below the highest number there
    is), or None where nothing would."""
    tests = protocol.folds.test
    if protocol.test_corpus is not None or protocol.folds.mode == "predefined":
        return tests[number - 1] if 1 <= number <= len(tests) else None
    units = fold_units(table, protocol.folds.unit)
    return _absent_unit(list(units.values()), number) if 1 <= number < max(units) else None


def check_fold(table: pd.DataFrame, fold: Fold) -> None:
    """Assert no leakage: test shares no value of ``fold.test_disjoint`` (speaker, session,
    dialog) with train or val, and val shares no dialog with train; under a
    ``fold.val_unit`` other than ``dialog``, val shares no value of that unit and no speaker
    with train (the unit promises validation speakers unseen in training, also where a
    speaker records in several sessions).

    Raises:
        BenchError: naming the leaking values and what put them in both parts: the setting
            to change (``folds.unit``, ``validation.unit``), or the corpus's own partition
            (``fold.partition``), whose values no setting here changes.
    """
    parts = {name: table.iloc[getattr(fold, name)] for name in ("train", "val", "test")}
    if not len(parts["train"]) or not len(parts["test"]):
        raise BenchError(f"fold {fold.number}: empty train or test part")
    checks = [("test", "train", c) for c in fold.test_disjoint]
    checks += [("test", "val", c) for c in fold.test_disjoint]
    unit_disjoint = () if fold.val_unit == "dialog" else (fold.val_unit, "speaker")
    checks += [("val", "train", c) for c in dict.fromkeys(("dialog", *unit_disjoint))]
    for left, right, column in checks:
        shared = set(parts[left][column]) & set(parts[right][column])
        if not shared:
            continue
        if fold.partition is not None:
            hint = (
                f"the corpus's own partition (its {fold.partition!r} column, folds.column) "
                f"puts them in both; correct those rows' {fold.partition} values"
            )
        else:
            setting = "folds.unit" if left == "test" else "validation.unit"
            hint = f"choose a unit that keeps them apart ({setting})"
        raise BenchError(
            f"fold {fold.number}: {left} and {right} share {column}(s) "
            f"{', '.join(sorted(map(str, shared))[:10])}; {hint}"
        )


def describe_folds(table: pd.DataFrame, folds: list[Fold]) -> list[dict[str, Any]]:
    """Per fold: what it tests, what validation holds out, and the size of each part."""
    rows = []
    for fold in folds:
        row: dict[str, Any] = {"fold": fold.number, "test": fold.test_unit}
        for part in ("train", "val", "test"):
            rows_of = table.iloc[getattr(fold, part)]
            row[f"{part}_utterances"] = len(rows_of)
            row[f"{part}_speakers"] = int(rows_of["speaker"].nunique())
        row["validation_unit"] = fold.val_unit
        row["validation_values"] = list(fold.val_values)
        rows.append(row)
    return rows
