"""A small MSP-Podcast release, written in the release's layout with its quirks.

No licensed audio can be had on every machine, so the reader's tests (and a tiny end-to-end
grid) run on one of these. What it holds, by default (``podcasts`` sets how many per split):

- ``Audios/`` (or ``Audio/``) with short 16 kHz mono tones, except one stereo 44.1 kHz file
  (the release has one);
- ``Labels/labels_consensus.csv`` (or the older ``labels_concensus.csv``) with the
  release's columns, ratings on 1..7 with two decimals, ``Split_Set`` in ``Train``,
  ``Development`` (or the older ``Validation``), ``Test1``, ``Test2`` and ``Test3``, whose
  files are named ``MSP-PODCAST_test3_0001.wav`` (``test3`` says whether their rows have
  ratings, none as in the releases that list them, or are absent from the label file);
  ``layout="text"`` writes the older ``Labels/labels.txt`` and ``Speaker_ids.txt`` instead;
- ``Partitions.txt`` listing every file's split, Test3's too;
- ``EmoClass`` cycling through the release's letters, with mean ratings that follow the
  literature (arousal of A and H above S; valence of H above A and S); ``arousal_reversed``
  writes arousal upside down (``8 - a``), a release read the wrong way;
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
# Mean (valence, arousal) on 1..7 of the classes the direction checks compare.
MEANS = {"A": (2.2, 5.8), "H": (5.8, 5.2), "S": (2.2, 2.5)}
TEST3 = ("unrated", "rated", "absent")  # Test3 rows: without ratings, with, or not written


@dataclass(frozen=True)
class PodcastFixture:
    """What :func:`write_msp_podcast` wrote: the root and the quirky rows' file names."""

    root: Path
    unknown_speaker: str
    missing_rating: str
    stereo: str
    shared_podcast: str
    n_test3: int


def _ratings(klass: str, rng: np.random.Generator, arousal_reversed: bool) -> list[str]:
    """EmoAct, EmoVal, EmoDom of one row of class ``klass``."""
    if klass in MEANS:
        valence, arousal = (x + rng.uniform(-0.6, 0.6) for x in MEANS[klass])
    else:
        valence, arousal = rng.uniform(1, 7, 2)
    arousal = 8 - arousal if arousal_reversed else arousal
    return [f"{x:.2f}" for x in (arousal, valence, rng.uniform(1, 7))]


def _rows(
    podcasts: int, segments: int, development: str, rng: np.random.Generator, flip: bool
) -> list[list[str]]:
    """The label rows (:data:`HEADER`'s columns), every split's podcasts in turn."""
    rows = []
    podcast = 0
    test3 = 0
    for split in ["Train", "Train", development, "Test1", "Test2", "Test3"]:
        for _ in range(podcasts):
            podcast += 1
            speakers = [str(100 * podcast + s) for s in range(2)]
            for segment in range(1, segments + 1):
                name = f"MSP-PODCAST_{podcast:04d}_{segment:04d}"
                name += "_0001.wav" if podcast % 3 == 0 else ".wav"
                if split == "Test3":
                    test3 += 1
                    name = f"MSP-PODCAST_test3_{test3:04d}.wav"
                klass = CLASSES[len(rows) % len(CLASSES)]
                speaker = speakers[segment % 2]
                gender = "Female" if int(speaker) % 2 else "Male"
                rows.append([name, klass, *_ratings(klass, rng, flip), speaker, gender, split])
    return rows


def _write_text_layout(root: Path, rows: list[list[str]]) -> None:
    """``Labels/labels.txt`` (summary and rater lines) and ``Speaker_ids.txt``."""
    blocks = []
    for name, klass, act, val, dom, *_ in rows:
        summary = f"{name}; {klass}; A:{act}; V:{val}; D:{dom};".replace(":;", ":NaN;")
        blocks.append(f"{summary}\nWORKER0000001; Neutral; Neutral; A:3.0; V:4.0; D:3.0;\n")
    (root / "Labels" / "labels.txt").write_text("\n".join(blocks))
    genders = {row[5]: row[6] for row in rows if row[5] != "Unknown"}
    lines = [f"Speaker_{speaker}; {gender}" for speaker, gender in sorted(genders.items())]
    lines += [f"{row[0]}; {row[5]}" for row in rows if row[5] != "Unknown"]
    (root / "Speaker_ids.txt").write_text("\n".join(lines) + "\n")


def write_msp_podcast(
    root: str | Path,
    podcasts: int = 2,
    segments: int = 8,
    spelling: str = "consensus",
    audio_dir: str = "Audios",
    development: str = "Development",
    seed: int = 0,
    audio: bool = True,
    test3: str = "unrated",
    layout: str = "csv",
    arousal_reversed: bool = False,
) -> PodcastFixture:
    """Write the release (see the module docstring) under ``root``; ``podcasts`` per split,
    each with ``segments`` turns of two speakers who alternate. ``audio=False`` writes the
    labels only (a reading benchmark at the release's size). ``test3``: one of
    :data:`TEST3`; ``layout``: ``csv`` or ``text``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    (root / audio_dir).mkdir(parents=True, exist_ok=True)
    rows = _rows(podcasts, segments, development, rng, arousal_reversed)
    for row in rows:
        if row[-1] == "Test3" and test3 == "unrated":
            row[2:5] = ["", "", ""]
    train_rows = [r for r in rows if r[-1] == "Train"]
    train_rows[1][5] = "Unknown"
    train_rows[2][3] = ""  # an empty valence rating
    shared = train_rows[0][0].split("_")[1]
    test1 = next(r for r in rows if r[-1] == "Test1")
    test1[0] = f"MSP-PODCAST_{shared}_{segments + 1:04d}.wav"  # a Test1 turn of a Train podcast
    test1[5] = "999"
    stereo = next(r for r in rows if r[-1] == development)[0]
    (root / "Partitions.txt").write_text("".join(f"{r[-1]}; {r[0]}\n" for r in rows))
    labelled = [r for r in rows if r[-1] != "Test3" or test3 != "absent"]
    if layout == "text":
        _write_text_layout(root, labelled)
    else:
        with open(root / "Labels" / f"labels_{spelling}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(labelled)
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
