"""The personalisation store, beside the trial it adapts.

``results/<protocol>/<variant>/fold<k>/seed<s>/personalise/<adapt>/`` holds

- ``k<k>.parquet``: one row per scored turn (``PERSONALISED_COLUMNS`` less ``adapt`` and
  ``k``), labels and predictions on the corpus scale;
- ``result.json``: the :class:`PersonaliseRecord`, written last; it marks the mode complete.

A record is current when its ``config_hash`` equals :func:`personalise_hash` of the trial's
config hash, the mode and the declared adaptation; a rerun skips what is current. Files are
written atomically, and a ``result.json`` that is not a valid record is moved aside and
counts as missing, as for trials (:mod:`bench.results`). A new run never writes beside an
earlier one: whatever an earlier run left in the folder (its record and ``k`` files, complete
or not) moves into ``replaced-<time>/`` inside it first, so one folder never mixes two runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.atomic import atomic_write, keep_previous, read_json, write_json
from bench.personalise.config import PersonaliseConfig
from bench.results import PREDICTION_COLUMNS, RESULT_FILE, StoredRecord, TrialKey

SCHEMA = "bench.personalise/1"
FOLDER = "personalise"


def mode_folder(root: str | Path, key: TrialKey, mode: str) -> Path:
    return key.folder(root) / FOLDER / mode


def personalise_hash(trial_hash: str, mode: str, config: PersonaliseConfig) -> str:
    """A short hash of what a mode's numbers depend on: the trained trial (its config hash),
    the mode, the ``k`` values, steps, lr and weight decay.

    >>> a = personalise_hash("abc", "film", PersonaliseConfig())
    >>> a == personalise_hash("abc", "film", PersonaliseConfig(adapt=("film",)))
    True
    >>> a == personalise_hash("abc", "film", PersonaliseConfig(steps=20))
    False
    """
    values = asdict(config) | {"adapt": mode, "k": sorted(config.k), "trial": trial_hash}
    text = json.dumps(values, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class PersonaliseRecord(StoredRecord):
    """One adapt mode of one trial, as ``result.json`` stores it.

    trial_hash: the config hash of the trial adapted; config: the declared adaptation (with
    this mode); config_hash: :func:`personalise_hash`. counts: ``speakers`` personalised,
    ``skipped_speakers`` (too few turns), ``scored_turns`` per k, ``adaptations``.
    adapt_seconds: the time spent adapting (not streaming), summed over speakers and k.
    skipped_k: each ``k`` of the config that no test speaker has enough turns for (as a
    string, JSON's keys) -> why; it has no ``k<k>.parquet``.
    """

    protocol: str
    variant: str
    fold: int
    seed: int
    adapt: str
    trial_hash: str
    config: dict[str, Any]
    config_hash: str
    counts: dict[str, int]
    skipped_speakers: dict[str, int]
    adapt_seconds: float
    git_commit: str
    created: str
    skipped_k: dict[str, str] = field(default_factory=dict)
    schema: str = SCHEMA

    @property
    def stored_k(self) -> list[int]:
        """The ``k`` with a ``k<k>.parquet``: the config's, less those skipped."""
        return [k for k in sorted(self.config["k"]) if str(k) not in self.skipped_k]


def k_file(folder: Path, k: int) -> Path:
    return folder / f"k{k}.parquet"


def write_personalised(
    root: str | Path, record: PersonaliseRecord, rows: pd.DataFrame
) -> Path | None:
    """Store one mode's predictions (rows with a ``k`` column), one file per ``k``, then its
    record. What an earlier run left in the mode's folder moves into ``replaced-<time>/``
    first (:func:`bench.atomic.keep_previous`), so a kill leaves the mode missing and never
    mixes two runs. Returns that folder, or None when the mode's folder held nothing.
    """
    folder = mode_folder(root, record.key, record.adapt)
    earlier = [RESULT_FILE, *sorted(path.name for path in folder.glob("k*.parquet"))]
    kept = keep_previous(folder, earlier)  # the record first: the old run stops being complete
    for k, part in rows.groupby("k", sort=True):
        table = part[PREDICTION_COLUMNS].reset_index(drop=True)
        atomic_write(k_file(folder, int(k)), lambda f, t=table: t.to_parquet(f, index=False))
    write_json(folder / RESULT_FILE, record.to_json())
    return kept


def read_personalised(root: str | Path, key: TrialKey, mode: str) -> PersonaliseRecord | None:
    """The record of a stored mode, or None when it is missing, incomplete or corrupt."""
    folder = mode_folder(root, key, mode)
    record = read_json(folder / RESULT_FILE, PersonaliseRecord.from_json, "personalise result")
    if record is None or not all(k_file(folder, k).is_file() for k in record.stored_k):
        return None
    return record


def load_personalised(root: str | Path, record: PersonaliseRecord) -> pd.DataFrame:
    """A stored mode's predictions with variant, fold, seed, adapt and k columns (the ``k``
    that were not skipped)."""
    folder = mode_folder(root, record.key, record.adapt)
    frames = [pd.read_parquet(k_file(folder, k)).assign(k=k) for k in record.stored_k]
    return pd.concat(frames, ignore_index=True).assign(
        variant=record.variant, fold=record.fold, seed=record.seed, adapt=record.adapt
    )
