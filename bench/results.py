"""The results store: one folder per trial, named by the trial's identity.

``results/<protocol>/<variant>/fold<k>/seed<s>/`` holds

- ``predictions.parquet``: one row per test utterance: utt_id, dialog, speaker, session,
  valence_true, valence_pred, arousal_true, arousal_pred (on the corpus's label scale);
- ``history.csv``: per epoch, train_loss, val_ccc_v, val_ccc_a, val_ccc_avg;
- ``checkpoint.pt`` (only from ``bench run --save-checkpoints``): the evaluated model, see
  :mod:`bench.train.checkpoint`;
- ``result.json``: identity, resolved config and its hash, git commit, versions, timings,
  validation and test metrics, counts. It is written last and marks the trial complete.

Every file is written to a temporary name and renamed into place, so a crash or kill leaves
either the old complete trial, or no ``result.json`` (the trial then counts as missing and
is run again), never a partial file that looks finished.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.atomic import atomic_write
from bench.errors import BenchError

RESULT_FILE = "result.json"
PREDICTIONS_FILE = "predictions.parquet"
HISTORY_FILE = "history.csv"
CHECKPOINT_FILE = "checkpoint.pt"
LOCK_FILE = ".lock"
PREDICTION_COLUMNS = [
    "utt_id", "dialog", "speaker", "session",
    "valence_true", "valence_pred", "arousal_true", "arousal_pred",
]  # fmt: skip


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


def write_trial(
    root: str | Path,
    key: TrialKey,
    record: dict[str, Any],
    predictions: pd.DataFrame,
    history: pd.DataFrame,
    checkpoint: bytes | None = None,
) -> Path:
    """Store one finished trial; ``result.json`` goes last and marks it complete.

    ``checkpoint`` (``torch.save`` bytes) becomes ``checkpoint.pt``; without one, a
    checkpoint left by an earlier run of the trial is removed (it no longer matches).
    """
    missing = set(PREDICTION_COLUMNS) - set(predictions.columns)
    if missing:
        raise BenchError(f"{key}: predictions lack column(s) {', '.join(sorted(missing))}")
    folder = key.folder(root)
    (folder / RESULT_FILE).unlink(missing_ok=True)  # an older result is no longer valid
    (folder / CHECKPOINT_FILE).unlink(missing_ok=True)
    if checkpoint is not None:
        atomic_write(folder / CHECKPOINT_FILE, lambda f: f.write(checkpoint))
    atomic_write(
        folder / PREDICTIONS_FILE,
        lambda f: predictions[PREDICTION_COLUMNS].to_parquet(f, index=False),
    )
    atomic_write(folder / HISTORY_FILE, lambda f: history.to_csv(f, index=False))
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    atomic_write(folder / RESULT_FILE, lambda f: f.write(text.encode()))
    return folder


def read_record(folder: Path) -> dict[str, Any] | None:
    """The ``result.json`` of a trial folder, or None when the trial is not complete."""
    try:
        record = json.loads((folder / RESULT_FILE).read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{folder / RESULT_FILE}: corrupt result ({exc})") from exc
    if not (folder / PREDICTIONS_FILE).is_file():
        return None
    return record


def trial_status(root: str | Path, key: TrialKey, config_hash: str) -> str:
    """``done`` (stored with this config hash), ``stale`` (another hash) or ``missing``."""
    record = read_record(key.folder(root))
    if record is None:
        return "missing"
    return "done" if record.get("config_hash") == config_hash else "stale"


@contextmanager
def claim(root: str | Path, key: TrialKey) -> Iterator[None]:
    """Hold an exclusive lock on a trial, so two runs never write the same trial.

    The lock is an OS file lock: it is released when the holder exits, even by SIGKILL.

    Raises:
        BenchError: another process holds the trial.
    """
    folder = key.folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BenchError(f"{key} is being written by another bench run") from exc
        yield


def trial_folders(root: str | Path, protocol: str) -> Iterator[tuple[TrialKey, Path]]:
    """Every complete trial of a protocol, in sorted order."""
    for result in sorted(Path(root, protocol).glob(f"*/fold*/seed*/{RESULT_FILE}")):
        folder = result.parent
        key = TrialKey(
            protocol=protocol,
            variant=folder.parents[1].name,
            fold=int(folder.parent.name.removeprefix("fold")),
            seed=int(folder.name.removeprefix("seed")),
        )
        if read_record(folder) is not None:
            yield key, folder


def load_table(root: str | Path, protocol: str, file_name: str) -> pd.DataFrame:
    """One file of every complete trial, concatenated with variant, fold and seed columns."""
    read = pd.read_parquet if file_name.endswith(".parquet") else pd.read_csv
    frames = [
        read(folder / file_name).assign(variant=key.variant, fold=key.fold, seed=key.seed)
        for key, folder in trial_folders(root, protocol)
    ]
    if not frames:
        raise BenchError(f"no complete trials of protocol {protocol!r} under {root}")
    return pd.concat(frames, ignore_index=True)
