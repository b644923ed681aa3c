"""The text files of MSP-Podcast releases: ``Labels/labels.txt``, ``Partitions.txt`` and
``Speaker_ids.txt`` (older releases have only these; later ones ship them beside the CSV).

- ``Labels/labels.txt``: per utterance a summary line, the raters' means, then one line per
  rater (``WORKER...``), blocks apart by blank lines::

      MSP-PODCAST_0001_0008.wav; N; A:2.200000; V:4.000000; D:2.600000;
      WORKER0000001; Neutral; Neutral,Confused; A:1.000000; V:4.000000; D:1.000000;

- ``Partitions.txt``: ``<split>; <file>`` per line (``Train; MSP-PODCAST_0023_0048.wav``;
  later releases also list ``Test3; MSP-PODCAST_test3_0001.wav``, whose labels they
  withhold).
- ``Speaker_ids.txt``: ``Speaker_<id>; Male|Female`` lines (each speaker's gender, not read)
  and ``<file>; <id>`` lines (who speaks in a file).

:func:`text_records` turns the three into the consensus CSV's records (``FileName``,
``EmoClass``, ``EmoAct``, ``EmoVal``, ``EmoDom``, ``SpkrID``, ``Split_Set``), so one reader
reads both layouts (:mod:`bench.corpus.msp_podcast`).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from bench.corpus.text import read_text
from bench.errors import InputError

PARTITIONS = "Partitions.txt"
SPEAKER_IDS = "Speaker_ids.txt"
FILE_PREFIX = "MSP-PODCAST_"
SUMMARY = re.compile(
    rf"^(?P<file>{FILE_PREFIX}[^;\s]+)\s*;\s*(?P<category>\w+)\s*;\s*A:\s*(?P<a>[^;]*?)\s*;"
    r"\s*V:\s*(?P<v>[^;]*?)\s*;\s*D:\s*(?P<d>[^;]*?)\s*;\s*$"
)
Record = dict[str, str]


def _pairs(path: Path) -> list[tuple[int, str, str]]:
    """The ``a; b`` lines of ``path`` as (line, a, b); blank lines skipped.

    Raises:
        InputError: a line that is not two fields apart by ``;``, naming the file and line.
    """
    pairs = []
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        if not raw.strip():
            continue
        fields = [field.strip() for field in raw.strip().removesuffix(";").split(";")]
        if len(fields) != 2 or not all(fields):
            raise InputError(f"expected '<a>; <b>', not {raw!r}", path=path, line=number)
        pairs.append((number, *fields))
    return pairs


def read_partitions(path: Path) -> dict[str, str]:
    """``Partitions.txt``: each file's split.

    Raises:
        InputError: a malformed line, or a file listed twice (naming both lines).
    """
    splits: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, split, name in _pairs(path):
        if name in splits:
            raise InputError(
                f"{name} is listed twice (first on line {lines[name]})", path=path, line=number
            )
        splits[name], lines[name] = split, number
    return splits


def read_speaker_ids(path: Path) -> dict[str, str]:
    """``Speaker_ids.txt``: each file's speaker id (its ``Speaker_<id>; <gender>`` lines are
    skipped).

    Raises:
        InputError: a malformed line, naming the file and line.
    """
    return {name: speaker for _, name, speaker in _pairs(path) if name.startswith(FILE_PREFIX)}


def text_records(labels: Path, root: Path) -> tuple[list[tuple[int, Record]], list[str]]:
    """The records of ``labels`` (``Labels/labels.txt``) with each file's split from
    ``root/Partitions.txt`` and its speaker from ``root/Speaker_ids.txt``, as (line, record);
    and notes for the corpus summary. A file ``Partitions.txt`` does not list has no split
    (reported where the folds read splits); without ``Speaker_ids.txt`` every speaker is
    ``Unknown``.

    Raises:
        InputError: no ``Partitions.txt``, a summary line that cannot be read (a line that
            opens with ``MSP-PODCAST_``; rater and blank lines are skipped), or a malformed
            line of the other two files; each naming the file and line.
    """
    partitions = root / PARTITIONS
    if not partitions.is_file():
        raise InputError(
            f"{labels.name} gives no splits and there is no {PARTITIONS} beside Labels/ "
            "(older MSP-Podcast releases have both)",
            path=root,
        )
    splits = read_partitions(partitions)
    speaker_file = root / SPEAKER_IDS
    speakers = read_speaker_ids(speaker_file) if speaker_file.is_file() else {}
    records = []
    for number, raw in enumerate(read_text(labels).splitlines(), start=1):
        line = raw.strip()
        if not line.startswith(FILE_PREFIX):
            continue  # a rater line (WORKER...), or blank
        match = SUMMARY.match(line)
        if match is None:
            raise InputError(f"malformed summary line: {raw!r}", path=labels, line=number)
        name = match["file"]
        records.append((number, {
            "FileName": name, "EmoClass": match["category"], "EmoAct": match["a"],
            "EmoVal": match["v"], "EmoDom": match["d"], "SpkrID": speakers.get(name, "Unknown"),
            "Split_Set": splits.get(name, ""),
        }))  # fmt: skip
    notes = [] if speakers else [f"no {SPEAKER_IDS}: every speaker is unknown"]
    return records, notes


def unlabelled_partitions(root: Path, labelled: set[str]) -> str | None:
    """A note counting, by split, the files ``root/Partitions.txt`` lists that have no
    record in the label file (``labelled``: the file names it has), such as a test set whose
    labels the release withholds; None where there is no such file or none is missing."""
    path = root / PARTITIONS
    if not path.is_file():
        return None
    counts = Counter(split for name, split in read_partitions(path).items() if name not in labelled)
    if not counts:
        return None
    listed = ", ".join(f"{split} {n}" for split, n in sorted(counts.items()))
    return f"{PARTITIONS} lists files that the label file has no labels for, not read: {listed}"
