"""Reader for MSP-Podcast as released (Lotfian and Busso; the 2024 challenge's reference).

Layouts (the folder ``corpus.root`` names), recognised in this order and named in
``Corpus.release``, which ``bench corpus describe`` prints:

    Audios/<FileName>                  audio (some releases: Audio/)
    Labels/labels_consensus.csv        labels: releases 1.11 and later, 2.0 included
    Labels/labels_concensus.csv        labels: the spelling of releases up to 1.8
    Labels/labels.txt                  labels of older copies, with Partitions.txt and
                                       Speaker_ids.txt beside Labels/
                                       (:mod:`bench.corpus.msp_podcast_text`)

The CSV has a header with at least ``FileName, EmoAct, EmoVal, EmoDom, SpkrID, Split_Set``
(releases also give ``EmoClass``, read as the table's ``category``, and ``Gender``, not
read). Attribute ratings are means of raters on 1..7 (``corpus.label_scale``), arousal low
to high, and become ``(x - 1) / 6``.

What the reader does with each kind of row (every skip is counted in ``Corpus.skipped``):

- ``Split_Set`` is copied to the table's ``split`` column; ``folds.mode: predefined``
  makes it the protocol. Older releases call the development set ``Validation``. Where each
  value was read is kept (``Corpus.splits``), so that a value the folds do not name (a typo
  such as ``Tset1``) is reported with its line.
- A row whose valence or arousal is empty is skipped, counted by its split: releases list
  ``Test3`` (files ``MSP-PODCAST_test3_0001.wav``) with its labels withheld, and where a
  release gives them they are read like any other split's. An empty dominance becomes NaN.
  A rating that is not a number or lies outside the scale is an error naming the file and
  line, as is a repeated file name.
- ``Partitions.txt``, where the release has it beside a CSV, may list files the label file
  lacks (Test3 in releases that leave it out of the CSV); ``Corpus.notes`` counts them.
- ``SpkrID`` ``Unknown`` keeps the utterance, but its speaker is ``unknown:<utt_id>``: a
  speaker of its own, so speaker-level features fall back to the utterance and the
  speaker-disjointness checks cannot join it to anyone. ``Corpus.notes`` counts them, and
  counts the speakers each pair of splits shares (the release draws Test2 by podcast, and
  its partitions need not be speaker-disjoint; ``folds.speaker_overlap`` says whether that
  stops a protocol).
- File names carry the podcast and the segment: ``MSP-PODCAST_1023_0235.wav`` (later
  releases add a part, ``MSP-PODCAST_1023_0235_0001.wav``). The session is the podcast.
  The dialog is what ``corpus.dialog_unit`` says: ``podcast``, a podcast's segments of one
  split in segment order (the turns were rated in isolation; the order is the podcast's,
  not a conversation's), or ``utterance``, every turn a one-turn dialog. A test set's file
  (``MSP-PODCAST_test3_0001.wav``) does not name its podcast: it is its own session and
  dialog.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.corpus.labels import FirstLines, scaled_label
from bench.corpus.msp_podcast_text import Record, text_records, unlabelled_partitions
from bench.corpus.table import Corpus, SplitTally, check_audio_exists, finish_table, shared_speakers
from bench.corpus.text import read_text
from bench.errors import InputError

SCALE = (1.0, 7.0)
# label file -> the release layout it stands for, in the order they are looked for
LABEL_FILES = {
    "labels_consensus.csv": "Labels/labels_consensus.csv (releases 1.11 and later, 2.0 included)",
    "labels_concensus.csv": "Labels/labels_concensus.csv (releases up to 1.8)",
    "labels.txt": "Labels/labels.txt with Partitions.txt and Speaker_ids.txt (older releases)",
}
AUDIO_DIRS = ("Audios", "Audio")
REQUIRED = ("FileName", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Split_Set")
SPLIT_ORDER = ("Train", "Development", "Validation", "Test1", "Test2", "Test3")
DIALOG_UNITS = ("podcast", "utterance")  # the values of corpus.dialog_unit, the default first
UNKNOWN_SPEAKER = "unknown"
FILE_NAME = re.compile(
    r"^(?:(?P<podcast>MSP-PODCAST_\d+)_(?P<segment>\d+)(?:_(?P<part>\d+))?"
    r"|MSP-PODCAST_(?P<test_set>test\d+)_\d+)\.wav$"
)


@dataclass(frozen=True)
class Release:
    """Where a release keeps its labels and audio, and which layout that is
    (:data:`LABEL_FILES`)."""

    labels: Path
    audio: Path

    @property
    def layout(self) -> str:
        """The layout the label file stands for (:data:`LABEL_FILES`)."""
        return LABEL_FILES[self.labels.name]


def find_release(root: Path, section: str = "corpus") -> Release:
    """The label file and the audio folder of a release, in any spelling of
    :data:`LABEL_FILES` and :data:`AUDIO_DIRS`.

    Raises:
        InputError: naming the spellings looked for, when either is missing, and the setting
            to correct (``<section>.root``).
    """
    labels = next(
        (root / "Labels" / n for n in LABEL_FILES if (root / "Labels" / n).is_file()), None
    )
    audio = next((root / n for n in AUDIO_DIRS if (root / n).is_dir()), None)
    wanted = []
    if labels is None:
        wanted.append(" or ".join(f"Labels/{n}" for n in LABEL_FILES))
    if audio is None:
        wanted.append(" or ".join(f"{n}/" for n in AUDIO_DIRS))
    if labels is None or audio is None:
        raise InputError(
            f"not an MSP-Podcast release: no {' and no '.join(wanted)} (set {section}.root to "
            f"the folder that holds Audios/ and Labels/)",
            path=root,
        )
    return Release(labels, audio)


def _csv_records(path: Path) -> Iterator[tuple[int, Record]]:
    """The rows of a consensus CSV as (line, record).

    Raises:
        InputError: a header without a required column, or a row with the wrong number of
            fields, naming the file and line.
    """
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"header lacks column(s) {', '.join(missing)}", path=path, line=1)
    for record in reader:
        if None in record.values() or None in record:
            raise InputError("wrong number of fields", path=path, line=reader.line_num)
        yield reader.line_num, record


def _rating(
    text: str, column: str, scale: tuple[float, float], path: Path, line: int, section: str
) -> float:
    """A rating mapped from ``scale`` to [0, 1]; NaN when empty."""
    if not text.strip():
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{column} is not a number: {text!r}", path=path, line=line) from None
    return scaled_label(value, column, scale, path, line, section)


def _row(
    record: Record,
    path: Path,
    line: int,
    scale: tuple[float, float],
    dialog_unit: str,
    section: str,
) -> dict | str:
    """One utterance's row, or the reason it is skipped."""
    name = record["FileName"].strip()
    match = FILE_NAME.match(name)
    if match is None:
        raise InputError(
            f"FileName {name!r} does not look like MSP-PODCAST_<podcast>_<segment>[_<part>].wav "
            "or MSP-PODCAST_test<k>_<number>.wav",
            path=path,
            line=line,
        )
    split = record["Split_Set"].strip()
    ratings = {
        label: _rating(record[column], column, scale, path, line, section)
        for label, column in (("valence", "EmoVal"), ("arousal", "EmoAct"), ("dominance", "EmoDom"))
    }
    if math.isnan(ratings["valence"]) or math.isnan(ratings["arousal"]):
        return f"missing valence or arousal rating ({split or 'no split'})"
    utt_id = name.removesuffix(".wav")
    speaker = record["SpkrID"].strip()
    if speaker.lower() == UNKNOWN_SPEAKER or not speaker:
        speaker = f"{UNKNOWN_SPEAKER}:{utt_id}"
    by_podcast = dialog_unit == "podcast" and match["podcast"] is not None
    if by_podcast:
        podcast = match["podcast"]
        dialog, order = f"{split}/{podcast}", int(match["segment"]) + int(match["part"] or 0) / 1e4
    else:  # one turn alone, and a test set's file whose name gives no podcast
        podcast, dialog, order = match["podcast"] or utt_id, utt_id, 0.0
    return {
        "utt_id": utt_id,
        "session": podcast,
        "dialog": dialog,
        "speaker": speaker,
        "start": order,
        "end": math.nan,
        "group": split,
        "split": split,
        "category": record.get("EmoClass", "").strip() or math.nan,
        **ratings,
    }


def read_msp_podcast(
    root: str | Path,
    label_scale: tuple[float, float] = SCALE,
    dialog_unit: str = DIALOG_UNITS[0],
    name: str = "msp_podcast",
    check_audio: bool = True,
    section: str = "corpus",
) -> Corpus:
    """Read an MSP-Podcast release into a :class:`Corpus` (see the module docstring).

    ``section``: the protocol section the release is set in (``corpus``, ``test_corpus``),
    which messages name.

    Raises:
        InputError: a missing label file or audio folder, a header without a required
            column, a malformed line or file name, a non-numeric or out-of-scale rating, a
            repeated file name (naming the file and line), or missing audio (all listed in
            one error).
    """
    root = Path(root).expanduser().resolve()
    release = find_release(root, section)
    labels_path = release.labels
    audio_folder = str(release.audio)  # joined as text: 150,000 Path joins cost seconds
    notes = []
    if labels_path.suffix == ".txt":
        records, notes = text_records(labels_path, root)
    else:
        records = _csv_records(labels_path)
    rows: list[dict] = []
    skipped: Counter[str] = Counter()
    first_lines = FirstLines(labels_path)
    splits = SplitTally(labels_path)
    listed: set[str] = set()
    for line, record in records:
        listed.add(record["FileName"].strip())
        row = _row(record, labels_path, line, label_scale, dialog_unit, section)
        if isinstance(row, str):
            skipped[row] += 1
            continue
        first_lines.add(row["utt_id"], line)
        splits.add(row["split"] or None, line)
        row.update(corpus=name, audio_path=f"{audio_folder}/{row['utt_id']}.wav")
        rows.append(row)
    table = finish_table(rows, labels_path)
    if check_audio:
        check_audio_exists(table, labels_path)
    unknown = int(table["speaker"].str.startswith(f"{UNKNOWN_SPEAKER}:").sum())
    shared = shared_speakers(table, "split", SPLIT_ORDER)
    overlap = ", ".join(f"{pair} {n}" for pair, n in shared.items()) or "none"
    unit = ("a podcast's segments of one split, in segment order" if dialog_unit == "podcast"
            else "every turn its own dialog")  # fmt: skip
    notes += [
        f"dialog unit: {dialog_unit} ({unit})",
        f"{unknown} utterances of unknown speakers (SpkrID Unknown), each its own speaker",
        f"speakers shared across splits (unknown speakers aside): {overlap}",
    ]
    if release.labels.suffix == ".csv":
        notes += [note for note in [unlabelled_partitions(root, listed)] if note]
    development = sorted({"Development", "Validation"} & set(table["split"]))
    return Corpus(
        name=name,
        table=table,
        label_scale=label_scale,
        skipped=dict(skipped),
        notes=notes,
        splits=splits,
        release=release.layout
        + (f"; development split named {', '.join(development)}" if development else ""),
    )
