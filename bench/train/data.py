"""What a trial is given (``TrialData``) and one split of it ready for batching (``DialogSet``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from bench.errors import BenchError

FEATURES = ("speech", "prosody", "speaker")
SPLITS = ("train", "val", "test")
TABLE_COLUMNS = ("utt_id", "dialog", "start", "speaker", "session", "valence", "arousal")
LABELS = ["valence", "arousal"]


@dataclass
class TrialData:
    """The input of one trial (one fold).

    table: the utterance table (``bench.corpus.table``); row ``i`` <-> feature row ``i``;
        ``valence``/``arousal`` normalised to [0, 1].
    features: ``speech [N, Dh]``, ``prosody [N, Dp]``, ``speaker [N, Ds]``, float32, not
        normalised (the trial fits z-scoring on its training rows).
    splits: ``train``/``val``/``test`` -> integer row indices into ``table``.
    label_scale: the corpus scale ``(lo, hi)``; a label on it is ``lo + y (hi - lo)``.
    features_config: the parsed ``features:`` block the features came from, as plain values
        (``bench.features.config.features_block``); checkpoints keep it so that online
        inference extracts the same features. None: not known.
    valid: role -> ``[N]`` bool, False where the extractor fell back to zeros (bad audio).
        Standardisers are fitted on valid training rows, and an invalid row becomes the
        training mean (0 after z-scoring). None: every row is valid.
    """

    table: pd.DataFrame
    features: dict[str, np.ndarray]
    splits: dict[str, np.ndarray]
    label_scale: tuple[float, float] = (1.0, 5.0)
    features_config: dict[str, Any] | None = None
    valid: dict[str, np.ndarray] | None = None

    def is_valid(self, name: str, rows: np.ndarray) -> np.ndarray:
        """``[len(rows)]`` bool: which of ``rows`` hold real ``name`` features."""
        if self.valid is None or name not in self.valid:
            return np.ones(len(rows), dtype=bool)
        return np.asarray(self.valid[name], dtype=bool)[rows]

    def validate(self, splits: Sequence[str] = SPLITS) -> None:
        """Raise ``BenchError`` naming every inconsistency between table, features and the
        ``splits`` that must be present (non-empty, in range, disjoint)."""
        problems = [f"table lacks column {c!r}" for c in TABLE_COLUMNS if c not in self.table]
        n = len(self.table)
        for name in FEATURES:
            array = self.features.get(name)
            if array is None or array.ndim != 2 or len(array) != n:
                shape = None if array is None else array.shape
                problems.append(f"features[{name!r}] must be [{n}, D], not {shape}")
        seen: set[int] = set()
        for name in splits:
            rows = np.asarray(self.splits.get(name, []))
            if rows.size == 0:
                problems.append(f"split {name!r} is empty")
            elif rows.min() < 0 or rows.max() >= n:
                problems.append(f"split {name!r} has row indices outside [0, {n})")
            elif seen & set(rows.tolist()):
                problems.append(f"split {name!r} shares rows with an earlier split")
            seen |= set(rows.tolist())
        if not problems:
            labels = self.table[LABELS].to_numpy()[sorted(seen)]
            if not np.isfinite(labels).all():
                problems.append("valence/arousal are missing (NaN) for some split rows")
        if problems:
            raise BenchError("bad trial data: " + "; ".join(problems))


@dataclass
class Standardiser:
    """z-scoring ``x' = (x - mean) / std`` (a constant column keeps ``std = 1``)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardiser:
        std = values.std(axis=0)
        return cls(mean=values.mean(axis=0), std=np.where(std > 0, std, 1.0))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)


def fit_standardisers(data: TrialData) -> dict[str, Standardiser]:
    """One standardiser per feature, fitted on the valid training rows only."""
    train = np.asarray(data.splits["train"])
    return {
        name: Standardiser.fit(data.features[name][train[data.is_valid(name, train)]])
        for name in FEATURES
    }


@dataclass
class DialogSet:
    """One split in dialog order: utterances sorted by ``(dialog, start)``.

    ``features[name]`` and ``labels`` have one row per utterance plus a final all-zero
    padding row (index ``len(rows)``); ``dialogs[k]`` holds the positions of dialog ``k``.
    """

    features: dict[str, Tensor]  # name -> [n + 1, D]
    labels: Tensor  # [n + 1, 2]
    rows: np.ndarray  # [n] table row of each position
    dialogs: list[np.ndarray]

    @property
    def padding(self) -> int:
        return len(self.rows)


def dialog_set(data: TrialData, split: str, standardisers: dict[str, Standardiser]) -> DialogSet:
    """The utterances of ``split`` with standardised features, grouped by dialog."""
    split_rows = np.asarray(data.splits[split])
    table = data.table.iloc[split_rows].assign(row=split_rows)
    order = table.sort_values(["dialog", "start"], kind="stable")
    rows = order["row"].to_numpy()
    dialog_codes = order["dialog"].to_numpy()
    starts = np.flatnonzero(np.r_[True, dialog_codes[1:] != dialog_codes[:-1]])
    bounds = np.r_[starts, len(rows)]

    def padded(values: np.ndarray) -> Tensor:
        return torch.from_numpy(np.concatenate([values, np.zeros_like(values[:1])]))

    return DialogSet(
        features={
            name: padded(
                standardisers[name](data.features[name][rows])  # [n, D]
                * data.is_valid(name, rows)[:, None]  # invalid rows -> the training mean, 0
            )
            for name in FEATURES
        },
        labels=padded(order[LABELS].to_numpy(np.float32)),
        rows=rows,
        dialogs=[np.arange(a, b) for a, b in itertools.pairwise(bounds)],
    )
