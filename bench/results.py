"""The results store: one folder per trial, named by the trial's identity.

``results/<protocol>/<variant>/fold<k>/seed<s>/`` holds

- ``predictions.parquet``: one row per test utterance: utt_id, dialog, speaker, session,
  valence_true, valence_pred, arousal_true, arousal_pred (on the corpus's label scale);
- ``history.csv``: per epoch, train_loss, val_ccc_v, val_ccc_a, val_ccc_avg;
- ``checkpoint.pt`` (only from ``bench run --save-checkpoints``): the evaluated model, see
  :mod:`bench.train.checkpoint`;
- ``result.json``: the :class:`TrialRecord` (identity, resolved config and its hash, git
  commit, versions, timings, validation and test metrics, counts). It is written last and
  marks the trial complete.

Every file is written to a temporary name and renamed into place, so a crash or kill leaves
either the old complete trial, or no ``result.json`` (the trial then counts as missing and
is run again), never a partial file that looks finished. A ``result.json`` that is not a
valid record (garbage, another schema) is moved aside to ``result.json.corrupt-<time>``,
named in a warning, and the trial counts as missing.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from bench.atomic import atomic_write, keep_previous, lock_folder, read_json, write_json
from bench.config import config_from_dict
from bench.errors import BenchError

RESULT_FILE = "result.json"
PREDICTIONS_FILE = "predictions.parquet"
HISTORY_FILE = "history.csv"
CHECKPOINT_FILE = "checkpoint.pt"
PERSONALISE_FOLDER = "personalise"  # bench.personalise.store's, beside the trial it adapts
# What a trial's run leaves in its folder; a rerun moves them aside together.
TRIAL_FILES = (RESULT_FILE, PREDICTIONS_FILE, HISTORY_FILE, CHECKPOINT_FILE, PERSONALISE_FOLDER)
SCHEMA = "bench.trial/1"
PREDICTION_COLUMNS = [
    "utt_id", "dialog", "speaker", "session",
    "valence_true", "valence_pred", "arousal_true", "arousal_pred",
]  # fmt: skip
TRIAL_FOLDER = re.compile(r"fold(\d+)/seed(\d+)")

Plain = TypeVar("Plain")
Record = TypeVar("Record", bound="StoredRecord")


@dataclass(frozen=True, order=True)
class TrialKey:
    """A trial's identity: (protocol, variant, fold, seed)."""

    protocol: str
    variant: str
    fold: int
    seed: int

    def folder(self, root: str | Path) -> Path:
        return Path(root) / self.protocol / self.variant / f"fold{self.fold}" / f"seed{self.seed}"

    def __str__(self) -> str:
        return f"{self.protocol}/{self.variant}/fold{self.fold}/seed{self.seed}"


def from_plain(cls: type[Plain], values: Any, where: str) -> Plain:
    """Dataclass ``cls`` from JSON values: every field present, no other key, each of its type
    (nested dataclass fields too).

    Raises:
        BenchError: a missing or unknown key, or a value of the wrong type, named by its path.
    """
    if isinstance(values, Mapping):
        hints = typing.get_type_hints(cls)
        missing = [
            f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.name not in values
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]  # fmt: skip
        if missing:
            raise BenchError(f"missing key(s) {', '.join(where + m for m in missing)}")
        values = {
            key: from_plain(hints[key], value, f"{where}{key}.")
            if dataclasses.is_dataclass(hints.get(key))
            else value
            for key, value in values.items()
        }
    return config_from_dict(cls, values, where)


@dataclass(frozen=True)
class TrialOutcome:
    """What a trial measured, as ``result.json`` stores it.

    metrics: ``val`` and ``test`` -> ``ccc_v, ccc_a, ccc_avg, rmse_v, rmse_a`` (RMSE on the
    corpus scale). best_epoch: the epoch whose weights were evaluated; teacher_probability:
    the scheduled-sampling probability of feeding the ground truth at that epoch's end (1
    for teacher forcing, 0 without feedback or once a schedule has run). timings: seconds
    (``train_s``, ``evaluate_s``, ``total_s``). counts: utterances and dialogs per split,
    parameters, optimiser steps, epochs run.
    """

    metrics: dict[str, dict[str, float]]
    best_epoch: int
    teacher_probability: float
    timings: dict[str, float]
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, values: Any) -> TrialOutcome:
        """Raises: BenchError: a missing, unknown or wrongly typed key."""
        return from_plain(cls, values, "outcome.")


class StoredRecord:
    """What the stores' ``result.json`` records share (a frozen dataclass with ``protocol``,
    ``variant``, ``fold``, ``seed`` and a ``schema`` field whose default is its schema): the
    trial's key, and JSON out and in, checked."""

    @property
    def key(self) -> TrialKey:
        return TrialKey(self.protocol, self.variant, self.fold, self.seed)  # type: ignore[attr-defined]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[Record], values: Any) -> Record:
        """Check and read the JSON values of a record.

        Raises:
            BenchError: not a mapping, a schema other than the class's (or none), a missing or
                unknown key, or a value of the wrong type.
        """
        schema = cls.__dataclass_fields__["schema"].default  # type: ignore[attr-defined]
        if not isinstance(values, Mapping):
            raise BenchError(f"a trial record is a JSON object, not a {type(values).__name__}")
        if values.get("schema") != schema:
            found = repr(values["schema"]) if "schema" in values else "none"
            raise BenchError(f"the record's schema is {found}, not {schema!r}")
        return from_plain(cls, values, "")


@dataclass(frozen=True)
class TrialRecord(StoredRecord):
    """A finished trial's ``result.json``: the one schema that ``bench run``, ``bench ls``,
    ``bench report`` and :class:`bench.online.StreamingPredictor` read.

    config: the variant's resolved ``{"model", "train"}`` configuration; config_hash: its
    short hash with the protocol's sections and the fold's data identity
    (:func:`bench.variants.config_hash`), which says whether a stored trial is current;
    data: that data identity (:mod:`bench.run.identity`: hashes of the corpus and of the
    training, validation and test utterances, and the sessions tested), None in records
    of an older bench, which are therefore stale. git_commit (``+dirty`` with uncommitted changes),
    versions (package -> version), created (local ISO time) and worker (host, pid, threads,
    devices, wall-clock start and finish) say how it was made. tuning: where the config's
    tuned values came from (``bench run --tuned``, :mod:`bench.tune.apply`), else None.
    """

    protocol: str
    variant: str
    fold: int
    seed: int
    config: dict[str, Any]
    config_hash: str
    outcome: TrialOutcome
    git_commit: str
    versions: dict[str, str]
    created: str
    worker: dict[str, Any]
    tuning: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    schema: str = SCHEMA


def write_trial(
    root: str | Path,
    record: TrialRecord,
    predictions: pd.DataFrame,
    history: pd.DataFrame,
    checkpoint: bytes | None = None,
) -> Path:
    """Store one finished trial; ``result.json`` goes last and marks it complete.

    ``checkpoint`` (``torch.save`` bytes) becomes ``checkpoint.pt``. A complete trial stored
    there before (a stale or forced one) is never overwritten: its files, and the
    personalisations of it, move into ``replaced-<time>/`` inside the trial's folder
    (:func:`bench.atomic.keep_previous`). Files of an incomplete earlier run are replaced.
    Returns the trial's folder.
    """
    key = record.key
    missing = set(PREDICTION_COLUMNS) - set(predictions.columns)
    if missing:
        raise BenchError(f"{key}: predictions lack column(s) {', '.join(sorted(missing))}")
    folder = key.folder(root)
    if (folder / RESULT_FILE).is_file():
        keep_previous(folder, TRIAL_FILES)
    (folder / CHECKPOINT_FILE).unlink(missing_ok=True)  # an incomplete run's
    if checkpoint is not None:
        atomic_write(folder / CHECKPOINT_FILE, lambda f: f.write(checkpoint))
    atomic_write(
        folder / PREDICTIONS_FILE,
        lambda f: predictions[PREDICTION_COLUMNS].to_parquet(f, index=False),
    )
    atomic_write(folder / HISTORY_FILE, lambda f: history.to_csv(f, index=False))
    write_json(folder / RESULT_FILE, record.to_json())
    return folder


def read_record(folder: str | Path) -> TrialRecord | None:
    """The record of a trial folder, or None when the trial is not complete.

    Not complete: no ``result.json``, no ``predictions.parquet``, or a ``result.json`` that is
    not a valid record; that file is moved aside (:func:`bench.atomic.read_json`) with a
    warning.
    """
    record = read_json(Path(folder) / RESULT_FILE, TrialRecord.from_json, "result")
    if record is None or not (Path(folder) / PREDICTIONS_FILE).is_file():
        return None
    return record


def claim(root: str | Path, key: TrialKey) -> AbstractContextManager[None]:
    """Hold an exclusive lock on a trial, so two runs never write the same trial.

    Raises:
        BenchError: another process holds the trial.
    """
    return lock_folder(key.folder(root), f"{key} is being written by another bench run")


def stored_trials(root: str | Path, protocol: str) -> Iterator[tuple[TrialKey, TrialRecord]]:
    """Every complete trial of a protocol (a valid record with predictions), in sorted order."""
    for result in sorted(Path(root, protocol).glob(f"*/fold*/seed*/{RESULT_FILE}")):
        folder = result.parent
        match = TRIAL_FOLDER.fullmatch(f"{folder.parent.name}/{folder.name}")
        record = read_record(folder) if match else None
        if record is not None:
            key = TrialKey(protocol, folder.parents[1].name, int(match[1]), int(match[2]))
            yield key, record


def load_table(root: str | Path, keys: Iterable[TrialKey], file_name: str) -> pd.DataFrame:
    """One file of each trial, concatenated with variant, fold and seed columns.

    Raises:
        BenchError: no trials given.
    """
    read = pd.read_parquet if file_name.endswith(".parquet") else pd.read_csv
    frames = [
        read(key.folder(root) / file_name).assign(variant=key.variant, fold=key.fold, seed=key.seed)
        for key in keys
    ]
    if not frames:
        raise BenchError(f"no trials to read {file_name} from under {root}")
    return pd.concat(frames, ignore_index=True)
