"""Predictions of a trained trial for audio without labels (``bench predict``).

A checkpoint (``bench run --save-checkpoints``) and a set of wav files give one CSV row per
file. Each dialog streams through :class:`bench.online.StreamingPredictor` in order, from the
model's initial state (``reset`` between dialogs), so a file's prediction depends only on the
files of its own dialog before it: the trial's streaming evaluation, for files it never saw.

Where the files come from (:class:`Listed`, one per file, in the output's order):

- a list (:func:`read_file_list`): one wav path per line, relative to the list's folder unless
  absolute; blank lines and lines that open with ``#`` are skipped; a line may name its
  dialog after a tab (``PATH<TAB>DIALOG``);
- a folder (:func:`folder_files`): its ``*.wav`` files by name, optionally only those that an
  MSP-Podcast release's ``Partitions.txt`` puts in one split (``Test3``: the challenge's
  unlabelled test set).

Dialogs (:data:`DIALOGS`, :func:`group_dialogs`): ``file``, every file alone; ``list``, the
dialog the list names on each line, its files in list order; ``podcast``, MSP-Podcast's
training unit (``corpus.dialog_unit: podcast``), a podcast's segments in segment order, read
from the file names as :data:`bench.corpus.msp_podcast.FILE_NAME` reads them. A test set's
file (``MSP-PODCAST_test3_0001.wav``) names no podcast and is a dialog of its own, as the
reader makes it. The reader keeps each split's part of a podcast apart; list one split at a
time to do the same.

Formats (:data:`FORMATS`): ``plain``, ``file,dialog,valence,arousal`` on the checkpoint's
own scale; ``msp``, the MSP-Podcast challenge's attribute file (``FileName,EmoAct,EmoVal``:
the file name with ``.wav``, arousal and valence on the release's 1..7 scale), for a
checkpoint whose label scale is 1..7 only. The model predicts no
dominance, so ``msp`` has no ``EmoDom`` column: a constant there would be scored as a
prediction.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from bench.atomic import atomic_write
from bench.audio import load_audio
from bench.corpus.msp_podcast import FILE_NAME
from bench.corpus.msp_podcast import SCALE as MSP_SCALE
from bench.corpus.msp_podcast_text import PARTITIONS, read_partitions
from bench.corpus.text import read_text
from bench.errors import BenchError, InputError
from bench.online import StreamingPredictor

DIALOGS = ("file", "list", "podcast")  # the default first
COLUMNS = {  # the CSV columns of each format, the default first
    "plain": ["file", "dialog", "valence", "arousal"],
    "msp": ["FileName", "EmoAct", "EmoVal"],
}
FORMATS = tuple(COLUMNS)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listed:
    """One wav file to predict, where it was listed (``source`` and ``line``, for messages;
    None for a folder's files) and the dialog the list names for it (None: none named)."""

    path: Path
    source: Path | None = None
    line: int | None = None
    dialog: str | None = None

    def error(self, message: str) -> InputError:
        """An error about this file that names where it was listed."""
        if self.source is None:
            return InputError(message, path=self.path)
        return InputError(f"{message}: {self.path}", path=self.source, line=self.line)


def read_file_list(path: Path) -> list[Listed]:
    """The files of a list (see the module docstring), in list order.

    Raises:
        InputError: no such list, a file listed twice, or no file at all; naming the list
            (and the line).
    """
    if not path.is_file():
        raise InputError("file list not found", path=path)
    listed: list[Listed] = []
    first: dict[Path, int] = {}
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        name, _, dialog = (part.strip() for part in text.partition("\t"))
        file = (path.parent / Path(name).expanduser()).resolve()
        if file in first:
            raise InputError(
                f"{name} is listed twice (first on line {first[file]})", path=path, line=number
            )
        first[file] = number
        listed.append(Listed(file, path, number, dialog or None))
    if not listed:
        raise InputError("the file list names no file", path=path)
    return listed


def folder_files(folder: Path, split: str | None = None, root: Path | None = None) -> list[Listed]:
    """The ``*.wav`` files of ``folder`` by name; with ``split``, only those that
    ``root/Partitions.txt`` (an MSP-Podcast release's) puts in that split, every one of which
    must be in ``folder``.

    Raises:
        InputError: no such folder or no wav file in it, no ``Partitions.txt`` under ``root``,
            a split it does not name, or files of the split missing from ``folder``.
    """
    if not folder.is_dir():
        raise InputError("audio folder not found", path=folder)
    if split is None:
        files = sorted(folder.glob("*.wav"))
        if not files:
            raise InputError("no .wav file in the audio folder", path=folder)
        return [Listed(file) for file in files]
    if root is None:
        raise BenchError(f"a split needs the release folder (--root) whose {PARTITIONS} names it")
    partitions = root / PARTITIONS
    if not partitions.is_file():
        raise InputError(
            f"no {PARTITIONS} in the release folder, which says each file's split (list the "
            "split's files with --files instead)",
            path=partitions,
        )
    splits = read_partitions(partitions)
    names = sorted(name for name, value in splits.items() if value == split)
    if not names:
        known = ", ".join(sorted(set(splits.values())))
        raise InputError(f"no file of split {split!r} (its splits: {known})", path=partitions)
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} of the {len(names)} files of {split} are not in {folder} "
            f"(the first: {missing[0]})",
            path=partitions,
        )
    return [Listed(folder / name) for name in names]


def group_dialogs(listed: Sequence[Listed], mode: str) -> list[tuple[str, list[int]]]:
    """The dialogs of ``listed`` (see the module docstring) as (name, positions in
    ``listed`` in the order they stream), in order of their first file.

    Raises:
        InputError: ``list`` and a file whose line names no dialog; ``podcast`` and a file
            name that is not MSP-Podcast's; each naming where the file was listed.
        BenchError: an unknown mode.
    """
    if mode not in DIALOGS:
        raise BenchError(f"unknown dialog grouping {mode!r}; one of {', '.join(DIALOGS)}")
    dialogs: dict[str, list[int]] = {}
    order: dict[int, tuple[int, int]] = {}  # podcast: position -> (segment, part)
    for i, item in enumerate(listed):
        if mode == "file":
            name = str(item.path)
        elif mode == "list":
            if item.dialog is None:
                raise item.error("--dialogs list: this line names no dialog (PATH<TAB>DIALOG)")
            name = item.dialog
        else:
            match = FILE_NAME.match(item.path.name)
            if match is None:
                raise item.error(
                    "--dialogs podcast: not an MSP-Podcast file name (MSP-PODCAST_<podcast>_"
                    "<segment>[_<part>].wav or MSP-PODCAST_test<k>_<number>.wav)"
                )
            name = match["podcast"] or str(item.path)  # a test set's file: its own dialog
            order[i] = (int(match["segment"] or 0), int(match["part"] or 0))
        dialogs.setdefault(name, []).append(i)
    if mode == "podcast":  # the podcast's segments in order, whatever the list's order
        dialogs = {name: sorted(at, key=order.__getitem__) for name, at in dialogs.items()}
    return list(dialogs.items())


def predict_dialogs(
    predictor: StreamingPredictor,
    listed: Sequence[Listed],
    dialogs: Sequence[tuple[str, Sequence[int]]],
    progress: bool = True,
) -> pd.DataFrame:
    """Stream each dialog through ``predictor`` from the initial state: one row per file,
    in ``listed``'s order, with ``file`` (its path), ``dialog`` and ``valence``, ``arousal``
    on the checkpoint's label scale.

    Raises:
        InputError: a file that is missing or cannot be decoded, naming where it was listed
            (all files are checked to exist before the first is predicted).
    """
    for item in listed:
        if not item.path.is_file():
            missing = sum(not other.path.is_file() for other in listed)
            raise item.error(f"audio file not found ({missing} of {len(listed)} missing)")
    rows: dict[int, dict] = {}
    with tqdm(total=len(listed), desc="predicting", unit="file", disable=not progress) as bar:
        for name, positions in dialogs:
            predictor.reset()
            for i in positions:
                try:
                    wave = load_audio(listed[i].path)  # [n] 16 kHz mono
                except InputError as exc:
                    raise listed[i].error(exc.reason) from exc
                valence, arousal = predictor.step(wave)
                rows[i] = {"file": str(listed[i].path), "dialog": name,
                           "valence": valence, "arousal": arousal}  # fmt: skip
                bar.update()
    return pd.DataFrame([rows[i] for i in range(len(listed))], columns=COLUMNS["plain"])


def check_format(fmt: str, label_scale: tuple[float, float], checkpoint: Path) -> None:
    """Refuse ``msp`` for a checkpoint whose label scale is not the release's 1..7: another
    corpus's scale has other anchors, and no linear map makes its values MSP-Podcast ratings.

    Raises:
        BenchError: an unknown format, or ``msp`` and another scale.
    """
    if fmt not in FORMATS:
        raise BenchError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "msp" and tuple(label_scale) != MSP_SCALE:
        lo, hi = label_scale
        raise InputError(
            f"--format msp writes MSP-Podcast's 1..7 scale, and this checkpoint predicts on "
            f"{lo:g}..{hi:g} (its corpus's scale, not MSP-Podcast's); use --format plain",
            path=checkpoint,
        )


def format_table(predictions: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """The CSV's table in ``fmt`` (:data:`COLUMNS`) from :func:`predict_dialogs`' rows."""
    if fmt == "plain":
        return predictions
    return pd.DataFrame({
        "FileName": [Path(file).name for file in predictions["file"]],
        "EmoAct": predictions["arousal"],
        "EmoVal": predictions["valence"],
    })  # fmt: skip


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """``table`` as CSV (header, no index), written atomically."""
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    text = buffer.getvalue().encode()
    atomic_write(path, lambda handle: handle.write(text))


def predict(
    checkpoint: Path,
    listed: Sequence[Listed],
    out: Path,
    dialogs: str = DIALOGS[0],
    fmt: str = FORMATS[0],
    device: str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """Predict ``listed`` with the checkpoint's model, dialog by dialog, and write the CSV
    in ``fmt`` to ``out``; returns the table written. Everything that can be checked before
    the first file is predicted is: the dialogs, the checkpoint, the format's scale, and that
    every file exists.

    Raises:
        InputError: a missing or unreadable checkpoint, a scale ``msp`` cannot take, or a
            file that is missing or cannot be decoded (naming where it was listed).
    """
    groups = group_dialogs(listed, dialogs)
    predictor = StreamingPredictor.from_checkpoint(checkpoint, device)
    check_format(fmt, predictor.label_scale, checkpoint)
    if predictor.speaker_level == "speaker" and "speaker" in predictor.extractors:
        log.warning(
            "%s was trained on speaker means (features.speaker.level: speaker); each file "
            "here gets its own embedding instead",
            checkpoint,
        )
    table = format_table(predict_dialogs(predictor, listed, groups, progress), fmt)
    write_csv(out, table)
    return table
