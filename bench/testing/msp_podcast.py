"""A small MSP-Podcast release, written in the release's layout with its quirks.

No licensed audio can be had on every machine, so the reader's tests (and a tiny end-to-end
grid) run on one of these. What it holds, by default (``podcasts`` sets how many per split):

- ``Audios/`` (or ``Audio/``) with short 16 kHz mono tones, except one stereo 44.1 kHz file
  (the release has one);
- ``Labels/labels_consensus.csv`` (or the older ``labels_concensus.csv``) with the
  release's columns, ratings on 1..7 with two decimals, ``Split_Set`` in ``Train``,
  ``Development`` (or the older ``Validation``), ``Test1``, ``Test2`` and ``Test3`` (whose
  ratings are withheld, as in the release);
- one ``Unknown`` speaker in Train and one Train row with an empty valence rating;
- Test1 sharing a podcast (not a speaker) with Train, as the release's Test1 does;
- file names with a part number (``MSP-PODCAST_0003_0002_0001.wav``) beside plain ones.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.testing.tones import write_tone

HEADER = ["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"]
CLASSES = ["N", "H", "A", "S", "U", "C", "D", "F", "O", "X"]


@dataclass(frozen=True)
class PodcastFixture:
    """What :func:`write_msp_podcast` wrote: the root and the quirky rows' file names."""

    root: Path
    unknown_speaker: str
    missing_rating: str
    stereo: str
    shared_podcast: str
    n_test3: int


def write_msp_podcast(
    root: str | Path,
    podcasts: int = 2,
    segments: int = 8,
    spelling: str = "consensus",
    audio_dir: str = "Audios",
    development: str = "Development",
    seed: int = 0,
    audio: bool = True,
) -> PodcastFixture:
    """Write the release (see the module docstring) under ``root``; ``podcasts`` per split,
    each with ``segments`` turns of two speakers who alternate. ``audio=False`` writes the
    labels only (a reading benchmark at the release's size)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    (root / audio_dir).mkdir(parents=True, exist_ok=True)
    splits = ["Train", "Train", development, "Test1", "Test2", "Test3"]
    rows = []
    podcast = 0
    for split in splits:
        for _ in range(podcasts):
            podcast += 1
            speakers = [str(100 * podcast + s) for s in range(2)]
            for segment in range(1, segments + 1):
                name = f"MSP-PODCAST_{podcast:04d}_{segment:04d}"
                name += "_0001.wav" if podcast % 3 == 0 else ".wav"
                ratings = [f"{x:.2f}" for x in rng.uniform(1, 7, 3)]
                if split == "Test3":
                    ratings = ["", "", ""]
                speaker = speakers[segment % 2]
                klass = CLASSES[int(rng.integers(len(CLASSES)))]
                gender = "Female" if int(speaker) % 2 else "Male"
                rows.append([name, klass, *ratings, speaker, gender, split])
    train_rows = [r for r in rows if r[-1] == "Train"]
    train_rows[1][5] = "Unknown"
    train_rows[2][3] = ""  # an empty valence rating
    shared = train_rows[0][0].split("_")[1]
    test1 = next(r for r in rows if r[-1] == "Test1")
    test1[0] = f"MSP-PODCAST_{shared}_{segments + 1:04d}.wav"  # a Test1 turn of a Train podcast
    test1[5] = "999"
    stereo = next(r for r in rows if r[-1] == development)[0]
    with open(root / "Labels" / f"labels_{spelling}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    if audio:
        for row in rows:
            write_tone(root / audio_dir / row[0], rng, stereo=row[0] == stereo)
    return PodcastFixture(
        root=root,
        unknown_speaker=train_rows[1][0],
        missing_rating=train_rows[2][0],
        stereo=stereo,
        shared_podcast=f"MSP-PODCAST_{shared}",
        n_test3=sum(r[-1] == "Test3" for r in rows),
    )
