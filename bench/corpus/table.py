"""The utterance table: the one data structure every later stage reads.

Columns (one row per utterance, sorted by ``(dialog, start)``):

========== ======= ==========================================================
utt_id     str     unique id
corpus     str     corpus name (``iemocap``, ``synthetic``, a manifest's name)
session    str     recording session (IEMOCAP ``Ses01``)
dialog     str     the conversation the utterance belongs to
speaker    str     speaker id, unique across the corpus (``Ses01_M``)
start      float   onset in seconds (or order index) within the dialog
end        float   offset in seconds (NaN when unknown)
audio_path str     absolute path of the audio file
valence    float   label normalised to [0, 1]: ``(x - lo) / (hi - lo)``
arousal    float   same
dominance  float   same, NaN when the corpus has none
group      str     the fold unit (IEMOCAP: the session)
split      str     the release's own partition (MSP-Podcast ``Train``, ``Test1``; a
                   manifest's ``split``), read by ``folds.mode: predefined``; NaN if none
category   str     the corpus's own categorical label of the utterance, the raters'
                   consensus (IEMOCAP ``ang``, MSP ``A``); NaN where the corpus has none.
                   Only :mod:`bench.corpus.directions` reads it
========== ======= ==========================================================

A reader may add columns of its own after these (MSP-IMPROV: ``recording``, ``target``, the
actor given the target sentence, ``scenario`` and ``condition``); later stages read only the
columns above.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import InputError

COLUMNS = [
    "utt_id", "corpus", "session", "dialog", "speaker", "start", "end",
    "audio_path", "valence", "arousal", "dominance", "group", "split", "category",
]  # fmt: skip
LABELS = ["valence", "arousal", "dominance"]


@dataclass
class Corpus:
    """An utterance table plus what is needed to read its labels back on their own scale.

    skipped: rows of the release left out on purpose, by reason, with their counts (shown by
    ``bench corpus describe``); notes: facts about the reading a user should see there (the
    dialog unit, how many speakers are unknown); parts: the corpora a cross-corpus table
    was combined from (:mod:`bench.corpus.cross`), each extracted and cached on its own;
    splits: where each ``split`` value was read (readers of corpora that have splits), so
    rows that no fold of a protocol uses can be reported (:meth:`SplitTally.unused`);
    release: the release layout the reader recognised (``Labels/labels_consensus.csv``, MSP-
    Podcast 1.11 and later), which ``bench corpus describe`` prints; empty where a corpus has
    one layout only.
    """

    name: str
    table: pd.DataFrame
    label_scale: tuple[float, float] = (1.0, 5.0)
    clipped_labels: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    parts: tuple[Corpus, ...] = ()
    splits: SplitTally | None = None
    release: str = ""

    def denormalise(self, values: np.ndarray) -> np.ndarray:
        """Map [0, 1] labels back to the corpus scale: ``x = lo + y (hi - lo)``."""
        lo, hi = self.label_scale
        return lo + np.asarray(values) * (hi - lo)


def normalise(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Map labels on ``scale = (lo, hi)`` to [0, 1]: ``y = (x - lo) / (hi - lo)``."""
    lo, hi = scale
    return (np.asarray(values, dtype=np.float64) - lo) / (hi - lo)


def finish_table(rows: list[dict], source: str | Path) -> pd.DataFrame:
    """Build, check and sort an utterance table from reader rows: :data:`COLUMNS` (those a
    row lacks are NaN), then any column of the reader's own.

    Raises:
        InputError: no utterances, or an utterance id that occurs twice.
    """
    if not rows:
        raise InputError("no labelled utterances found", path=source)
    table = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in table:
            table[column] = np.nan
    table = table[COLUMNS + [c for c in table if c not in COLUMNS]]
    duplicated = table["utt_id"][table["utt_id"].duplicated()].unique()
    if len(duplicated):
        raise InputError(f"duplicate utterance ids: {', '.join(duplicated[:10])}", path=source)
    table = table.sort_values(["dialog", "start", "utt_id"], kind="stable")
    return table.reset_index(drop=True)


def check_audio_exists(table: pd.DataFrame, source: str | Path) -> None:
    """Raise one error that lists every missing audio file (not one error per run)."""
    missing = [p for p in table["audio_path"] if not os.path.isfile(p)]
    if missing:
        shown = "\n  ".join(missing[:50])
        more = f"\n  ... and {len(missing) - 50} more" if len(missing) > 50 else ""
        raise InputError(
            f"{len(missing)} of {len(table)} audio files are missing:\n  {shown}{more}",
            path=source,
        )


@dataclass
class SplitTally:
    """Where a corpus's ``split`` values were read: the rows of each value (None: rows
    without one) and the line of the first, so that rows no fold uses can be reported."""

    path: Path
    counts: Counter[str | None] = field(default_factory=Counter)
    first: dict[str | None, int] = field(default_factory=dict)

    def add(self, split: str | None, line: int) -> None:
        """Count the row on ``line`` whose split is ``split`` (None: it has none)."""
        self.counts[split] += 1
        self.first.setdefault(split, line)

    def unused(self, names: Collection[str]) -> list[str]:
        """A problem per split value no fold reads: a value outside ``names`` (a typo such
        as ``Tset1``), or none where other rows have one; with its count and first line."""
        if not set(self.counts) - {None}:
            return []  # no row has a split: the corpus is not partitioned at all
        known = ", ".join(names)
        problems = []
        for split, count in self.counts.items():
            if split is None or split not in names:
                what = "have no split" if split is None else f"have split {split!r}"
                problems.append(
                    f"{count} rows {what}, which no fold uses (the folds read {known}; "
                    f"first: {self.path}:{self.first[split]})"
                )
        return problems


def shared_speakers(
    table: pd.DataFrame, column: str = "split", first: Sequence[str] = ()
) -> dict[str, int]:
    """How many speakers each pair of values of ``column`` shares, ``"Train/Test1": 3``, for
    the pairs that share any; values in ``first`` come first, in its order, then the rest
    sorted; rows without a value are left out. Readers give an unknown speaker an id of its
    own (``unknown:<utt_id>``), so no unknown speaker is counted.

    >>> rows = pd.DataFrame({"split": ["Test1", "Train", "Train", "Test2"],
    ...                      "speaker": ["a", "a", "b", "b"]})
    >>> shared_speakers(rows, first=["Train"])
    {'Train/Test1': 1, 'Train/Test2': 1}
    """
    rows = table.dropna(subset=[column])
    speakers = {str(v): set(part["speaker"]) for v, part in rows.groupby(column)}
    rank = {name: k for k, name in enumerate(first)}
    names = sorted(speakers, key=lambda name: (rank.get(name, len(rank)), name))
    counts = {}
    for k, left in enumerate(names):
        for right in names[k + 1 :]:
            shared = len(speakers[left] & speakers[right])
            if shared:
                counts[f"{left}/{right}"] = shared
    return counts
