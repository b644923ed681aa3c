"""A protocol's folds: which rows of the utterance table train, validate and test.

Folds are leave-one-unit-out by default: each fold tests one value of the fold unit column
(IEMOCAP: the session) and trains on the rest, minus a seeded validation share. A fold's
number says what it tests whatever else the corpus holds: fold 3 tests ``Ses03`` (the number
in the unit's name, :func:`fold_units`), so a session missing leaves its number unused
instead of renumbering the others. ``folds.mode: predefined`` takes a release's own
partition instead (fold ``k`` tests the ``k``-th name in ``folds.test``), and a
``test_corpus:`` section tests on another corpus entirely (:func:`cross_folds`). Every fold
is checked for leakage (:func:`check_fold`). The settings are the protocol's
(:mod:`bench.protocol.config`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.corpus.cross import TEST_PREFIX
from bench.corpus.table import shared_speakers
from bench.errors import BenchError
from bench.protocol.config import FoldsSection, Protocol, ValidationSection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fold:
    """One leave-one-unit-out fold: row indices into the utterance table.

    ``val_unit`` is the column validation is disjoint in (``dialog`` or ``validation.unit``)
    and ``val_values`` its held-out values. ``test_disjoint``: the columns test shares no
    value of with train and validation (a predefined partition promises speakers and
    dialogs, not sessions: MSP-Podcast's Test1 has podcasts that Train also has).
    ``partition``: the column whose values put each row in train, val or test where the
    corpus's own partition does (``folds.mode: predefined``), which a leakage message names;
    None where the protocol's settings split it. ``speakers_disjoint``: whether a speaker in
    two parts is leakage (False: a partition under ``folds.speaker_overlap: warn``).
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
    speakers_disjoint: bool = True


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
    strict = _speakers_disjoint(table, folds)
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
            speakers_disjoint=strict,
        )
        check_fold(table, fold)
        result.append(fold)
    return result


def _speakers_disjoint(table: pd.DataFrame, folds: FoldsSection) -> bool:
    """Whether a predefined partition's parts must share no speaker (``folds.speaker_overlap:
    error``); under ``warn``, the speakers each pair of parts of ``table`` shares are logged."""
    if folds.speaker_overlap == "error":
        return True
    named = (*folds.train, *folds.validation, *folds.test)
    shared = shared_speakers(table[table[folds.column].isin(named)], folds.column, named)
    if shared:
        counts = ", ".join(f"{pair} {n}" for pair, n in shared.items())
        log.warning(
            "the corpus's partition (its %r column) puts speakers in more than one part: %s "
            "(folds.speaker_overlap=error refuses this)",
            folds.column,
            counts,
        )
    return False


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
    strict = partition is None or _speakers_disjoint(source, folds)
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
                    np.flatnonzero(is_test), val_unit, values, partition=partition,
                    speakers_disjoint=strict)  # fmt: skip
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

    >>> from bench.protocol.config import load_protocol
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
    speaker records in several sessions). Speakers are not checked where
    ``fold.speakers_disjoint`` is False.

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
    checks = [check for check in checks if fold.speakers_disjoint or check[2] != "speaker"]
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
