"""Reader for MSP-Podcast as released (Lotfian and Busso; the 2024 challenge's reference).

Layout (the folder ``corpus.root`` names)::

    Audios/<FileName>                  audio (some releases: Audio/)
    Labels/labels_consensus.csv        labels (older releases spell it labels_concensus.csv)

The label file has a header with at least ``FileName, EmoAct, EmoVal, EmoDom, SpkrID,
Split_Set`` (releases also give ``EmoClass`` and ``Gender``, which are not read). Attribute
ratings are means of raters on 1..7 (``corpus.label_scale``) and become ``(x - 1) / 6``.

What the reader does with each kind of row (every skip is counted in ``Corpus.skipped``):

- ``Split_Set`` is copied to the table's ``split`` column; ``folds.mode: predefined``
  makes it the protocol. Older releases call the development set ``Validation``. Where each
  value was read is kept (``Corpus.splits``), so that a value the folds do not name (a typo
  such as ``Tset1``) is reported with its line.
- ``Test3`` rows are skipped: the release withholds their labels.
- A row whose valence or arousal is empty is skipped (a missing rating); an empty
  dominance becomes NaN. A rating that is not a number or lies outside the scale is an
  error naming the file and line, as is a repeated file name.
- ``SpkrID`` ``Unknown`` keeps the utterance, but its speaker is ``unknown:<utt_id>``: a
  speaker of its own, so speaker-level features fall back to the utterance and the
  speaker-disjointness checks cannot join it to anyone. ``Corpus.notes`` counts them.
- File names carry the podcast and the segment: ``MSP-PODCAST_1023_0235.wav`` (later
  releases add a part, ``MSP-PODCAST_1023_0235_0001.wav``). The session is the podcast.
  The dialog is what ``corpus.dialog_unit`` says: ``podcast``, a podcast's segments of one
  split in segment order (the turns were rated in isolation; the order is the podcast's,
  not a conversation's), or ``utterance``, every turn a one-turn dialog.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from pathlib import Path

from bench.corpus.labels import FirstLines, scaled_label
from bench.corpus.table import Corpus, SplitTally, check_audio_exists, finish_table
from bench.corpus.text import read_text
from bench.errors import InputError

SCALE = (1.0, 7.0)
LABEL_FILES = ("labels_consensus.csv", "labels_concensus.csv")
AUDIO_DIRS = ("Audios", "Audio")
REQUIRED = ("FileName", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Split_Set")
HIDDEN_SPLITS = ("Test3",)
DIALOG_UNITS = ("podcast", "utterance")  # the values of corpus.dialog_unit, the default first
UNKNOWN_SPEAKER = "unknown"
FILE_NAME = re.compile(r"^(?P<podcast>MSP-PODCAST_\d+)_(?P<segment>\d+)(?:_(?P<part>\d+))?\.wav$")


def release_files(root: Path, section: str = "corpus") -> tuple[Path, Path]:
    """The label file and the audio folder of a release, in either spelling.

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
    return labels, audio


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
    record: dict[str, str],
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
            f"FileName {name!r} does not look like MSP-PODCAST_<podcast>_<segment>[_<part>].wav",
            path=path,
            line=line,
        )
    split = record["Split_Set"].strip()
    if split in HIDDEN_SPLITS:
        return f"{split} (labels withheld by the release)"
    ratings = {
        label: _rating(record[column], column, scale, path, line, section)
        for label, column in (("valence", "EmoVal"), ("arousal", "EmoAct"), ("dominance", "EmoDom"))
    }
    if math.isnan(ratings["valence"]) or math.isnan(ratings["arousal"]):
        return "missing valence or arousal rating"
    utt_id = name.removesuffix(".wav")
    speaker = record["SpkrID"].strip()
    if speaker.lower() == UNKNOWN_SPEAKER or not speaker:
        speaker = f"{UNKNOWN_SPEAKER}:{utt_id}"
    podcast = match["podcast"]
    order = int(match["segment"]) + int(match["part"] or 0) / 10_000
    by_podcast = dialog_unit == "podcast"
    return {
        "utt_id": utt_id,
        "session": podcast,
        "dialog": f"{split}/{podcast}" if by_podcast else utt_id,
        "speaker": speaker,
        "start": order if by_podcast else 0.0,
        "end": math.nan,
        "group": split,
        "split": split,
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
            column, a malformed file name, a non-numeric or out-of-scale rating, a repeated
            file name (naming the file and line), or missing audio (all listed in one error).
    """
    root = Path(root).expanduser().resolve()
    labels_path, audio_dir = release_files(root, section)
    audio_folder = str(audio_dir)  # joined as text: 150,000 Path joins cost seconds
    reader = csv.DictReader(io.StringIO(read_text(labels_path), newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"header lacks column(s) {', '.join(missing)}", path=labels_path, line=1)
    rows: list[dict] = []
    skipped: Counter[str] = Counter()
    first_lines = FirstLines(labels_path)
    splits = SplitTally(labels_path)
    for record in reader:
        line = reader.line_num
        if None in record.values() or None in record:
            raise InputError("wrong number of fields", path=labels_path, line=line)
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
    notes = [
        f"dialog unit: {dialog_unit}"
        + (" (a podcast's segments of one split, in segment order)" if dialog_unit == "podcast"
           else " (every turn its own dialog)"),
        f"{unknown} utterances of unknown speakers (SpkrID Unknown), each its own speaker",
    ]  # fmt: skip
    return Corpus(
        name=name,
        table=table,
        label_scale=label_scale,
        skipped=dict(skipped),
        notes=notes,
        splits=splits,
    )
