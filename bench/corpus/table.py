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
========== ======= ==========================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import InputError

COLUMNS = [
    "utt_id", "corpus", "session", "dialog", "speaker", "start", "end",
    "audio_path", "valence", "arousal", "dominance", "group", "split",
]  # fmt: skip
LABELS = ["valence", "arousal", "dominance"]


@dataclass
class Corpus:
    """An utterance table plus what is needed to read its labels back on their own scale.

    skipped: rows of the release left out on purpose, by reason, with their counts (shown by
    ``bench corpus describe``); notes: facts about the reading a user should see there (the
    dialog unit, how many speakers are unknown); parts: the corpora a cross-corpus table
    was combined from (:mod:`bench.corpus.cross`), each extracted and cached on its own.
    """

    name: str
    table: pd.DataFrame
    label_scale: tuple[float, float] = (1.0, 5.0)
    clipped_labels: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    parts: tuple[Corpus, ...] = ()

    def denormalise(self, values: np.ndarray) -> np.ndarray:
        """Map [0, 1] labels back to the corpus scale: ``x = lo + y (hi - lo)``."""
        lo, hi = self.label_scale
        return lo + np.asarray(values) * (hi - lo)


def normalise(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Map labels on ``scale = (lo, hi)`` to [0, 1]: ``y = (x - lo) / (hi - lo)``."""
    lo, hi = scale
    return (np.asarray(values, dtype=np.float64) - lo) / (hi - lo)


def finish_table(rows: list[dict], source: str | Path) -> pd.DataFrame:
    """Build, check and sort an utterance table from reader rows.

    Raises:
        InputError: no utterances, or an utterance id that occurs twice.
    """
    if not rows:
        raise InputError("no labelled utterances found", path=source)
    table = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in table:
            table[column] = np.nan
    table = table[COLUMNS]
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
