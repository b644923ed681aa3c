"""The tuning store: one folder per (protocol, variant, fold), written only by the driver.

``tuning/<protocol>/<variant>/fold<k>/`` holds

- ``config-<i>.json``: configuration ``i`` of the search (a :class:`ConfigurationRecord`):
  its values, its learning curve (one row per epoch it ran), whether it ran to its end or
  ASHA stopped it, and its score, the best validation CCC-avg among epochs eligible for
  selection (as ``bench run`` selects);
- ``chosen.json``: once every configuration of the budget is stored, the one with the
  highest score (a :class:`Choice`; ties go to the lower index).

Each file is written atomically, as ``results/`` is. A record made with another search,
protocol or variant configuration carries another ``tuning_hash``, counts as missing and is
run again; so a kill loses at most the configurations that were running, and a larger
budget reuses the configurations a smaller one stored (the Sobol sequence is a prefix).
"""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.atomic import lock_folder, read_json, write_json
from bench.errors import BenchError
from bench.results import from_plain

SCHEMA = "bench.tuning/1"
CHOSEN_FILE = "chosen.json"


@dataclass(frozen=True)
class TuningKey:
    """What one search tunes: a variant on the training part of a protocol's fold."""

    protocol: str
    variant: str
    fold: int

    def folder(self, root: str | Path) -> Path:
        return Path(root) / self.protocol / self.variant / f"fold{self.fold}"

    def __str__(self) -> str:
        return f"{self.protocol}/{self.variant}/fold{self.fold}"


def tuning_hash(trial_hash: str, search: dict[str, Any]) -> str:
    """Short hash of a configuration's trial config hash (its values applied) and the
    search settings that change its run (scheduler, training seed)."""
    text = json.dumps({"trial": trial_hash, "search": search}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _checked(cls: type, values: Any) -> Any:
    if not isinstance(values, dict) or values.get("schema") != SCHEMA:
        raise BenchError(f"not a {SCHEMA} record")
    return from_plain(cls, values, "")


@dataclass(frozen=True)
class ConfigurationRecord:
    """``config-<i>.json``. status: ``finished`` (ran its epochs, or patience ended it),
    ``stopped`` (ASHA stopped it) or ``cut`` (an equal-epoch budget ran out). score: the
    best validation CCC-avg among eligible epochs, None when it stopped before any epoch was
    eligible. history: the trainer's rows."""

    index: int
    values: dict[str, Any]
    tuning_hash: str
    status: str
    score: float | None
    best_epoch: int | None
    history: list[dict[str, Any]]
    schema: str = SCHEMA

    @classmethod
    def from_history(
        cls, index: int, values: dict[str, Any], digest: str, status: str, history: list[dict]
    ) -> ConfigurationRecord:
        """The record of a configuration whose epochs produced ``history``."""
        eligible = [row for row in history if row.get("eligible", True)]
        best = max(eligible, key=lambda row: row["val_ccc_avg"], default=None)
        return cls(
            index=index,
            values=values,
            tuning_hash=digest,
            status=status,
            score=None if best is None else float(best["val_ccc_avg"]),
            best_epoch=None if best is None else int(best["epoch"]),
            history=history,
        )

    @classmethod
    def from_json(cls, values: Any) -> ConfigurationRecord:
        return _checked(cls, values)


@dataclass(frozen=True)
class Choice:
    """``chosen.json``: the configuration a tuned run trains with, and how it was found.

    index, values, score: the chosen configuration. tried: configurations stored (the
    budget); search: the search file's name; described: its one-line description (space,
    searcher, scheduler); base_hash: the untuned variant's config hash on this protocol;
    data: what the search trained and selected on
    (:func:`bench.run.identity.selection_identity`), None in a choice of an older bench.
    """

    index: int
    values: dict[str, Any]
    score: float
    tried: int
    search: str
    described: str
    base_hash: str
    data: dict[str, str] | None = None
    schema: str = SCHEMA

    @classmethod
    def from_json(cls, values: Any) -> Choice:
        return _checked(cls, values)


def configuration_path(root: str | Path, key: TuningKey, index: int) -> Path:
    return key.folder(root) / f"config-{index:03d}.json"


def read_configuration(root: str | Path, key: TuningKey, index: int) -> ConfigurationRecord | None:
    """The stored configuration ``index``, or None (absent, or corrupt and moved aside)."""
    path = configuration_path(root, key, index)
    return read_json(path, ConfigurationRecord.from_json, "tuning record")


def write_configuration(root: str | Path, key: TuningKey, record: ConfigurationRecord) -> None:
    write_json(configuration_path(root, key, record.index), asdict(record))


def read_choice(root: str | Path, key: TuningKey) -> Choice | None:
    return read_json(key.folder(root) / CHOSEN_FILE, Choice.from_json, "tuning choice")


def write_choice(root: str | Path, key: TuningKey, choice: Choice) -> None:
    write_json(key.folder(root) / CHOSEN_FILE, asdict(choice))


def lock_search(root: str | Path, key: TuningKey) -> AbstractContextManager[None]:
    """Hold the search of ``key``, so two tuners never write it.

    Raises:
        BenchError: another process holds it.
    """
    return lock_folder(key.folder(root), f"{key} is being tuned by another bench tune")
