"""Reader for a JSONL manifest: one utterance per line (seed section 3.2).

Required fields: ``utt_id``, ``session_id`` (the dialog), ``speaker_id``, ``audio_path``
(relative to the manifest's folder, or absolute), ``valence``, ``arousal``.
Optional: ``dominance``, ``start`` (order within the dialog; otherwise file order),
``group`` (the fold unit; otherwise the speaker), ``split`` (the corpus's own partition,
such as ``Train`` or ``Test1``, for ``folds.mode: predefined``) and ``category`` (a
categorical label, ``angry`` or ``ang``, whose mean ratings ``bench corpus describe`` checks:
:mod:`bench.corpus.directions`).

Labels are on the scale the protocol states (default 1..5) and are normalised to [0, 1]
with ``y = (x - lo) / (hi - lo)``. A label outside the scale is an error, since it most
likely means the scale is set wrong (``corpus.label_scale=[0,1]``).

Where each ``split`` value was read is kept (``Corpus.splits``), so that a row whose split
the protocol's folds do not name, or that has none while others have one, is reported with
its line (:func:`bench.corpus.prepare.prepare_protocol_corpus`).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

from bench.corpus.labels import FirstLines, scaled_label
from bench.corpus.table import Corpus, SplitTally, check_audio_exists, finish_table
from bench.corpus.text import read_text
from bench.errors import InputError

REQUIRED = ("utt_id", "session_id", "speaker_id", "audio_path", "valence", "arousal")
OPTIONAL = ("dominance", "start", "group", "split", "category")


def _label(
    record: dict, key: str, scale: tuple[float, float], path: Path, line: int, section: str
) -> float:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{key} is not a number: {value!r}", path=path, line=line)
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        raise InputError(f"{key} is {value}", path=path, line=line)
    return scaled_label(value, key, scale, path, line, section)


def _row(
    record: Any, path: Path, line: int, scale: tuple[float, float], name: str, section: str
) -> dict:
    if not isinstance(record, dict):
        raise InputError("expected a JSON object", path=path, line=line)
    missing = [key for key in REQUIRED if key not in record or record[key] in (None, "")]
    if missing:
        raise InputError(f"missing field(s): {', '.join(missing)}", path=path, line=line)
    unknown = set(record) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}", path=path, line=line)
    audio = Path(str(record["audio_path"])).expanduser()
    if not audio.is_absolute():
        audio = path.parent / audio
    start = record.get("start", line)
    if isinstance(start, bool) or not isinstance(start, int | float) or math.isnan(start):
        raise InputError(f"start is not a number: {start!r}", path=path, line=line)
    dominance = (
        _label(record, "dominance", scale, path, line, section)
        if "dominance" in record
        else math.nan
    )
    speaker = str(record["speaker_id"])
    group = str(record.get("group", speaker))
    split = record.get("split")
    category = record.get("category")
    return {
        "utt_id": str(record["utt_id"]),
        "corpus": name,
        "session": str(record["session_id"]),  # the seed's "session" is the dialog
        "dialog": str(record["session_id"]),
        "speaker": speaker,
        "start": float(start),
        "end": math.nan,
        "audio_path": str(audio.resolve()),
        "valence": _label(record, "valence", scale, path, line, section),
        "arousal": _label(record, "arousal", scale, path, line, section),
        "dominance": dominance,
        "group": group,
        "split": math.nan if split in (None, "") else str(split),
        "category": math.nan if category in (None, "") else str(category),
    }


def read_jsonl(
    manifest: str | Path,
    label_scale: tuple[float, float] = (1.0, 5.0),
    name: str | None = None,
    check_audio: bool = True,
    section: str = "corpus",
) -> Corpus:
    """Read a JSONL manifest into a :class:`Corpus`.

    ``section``: the protocol section the manifest is set in (``corpus``, ``test_corpus``),
    which messages name.

    Raises:
        InputError: naming the line for bytes that are not UTF-8, malformed JSON (with its
            column), a missing or unknown field, a duplicate id, a NaN, non-numeric or
            out-of-scale label; naming the manifest for an empty manifest or missing audio
            files (all listed in one error).
    """
    path = Path(manifest).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"manifest not found (set {section}.manifest)", path=path)
    lo, hi = (float(x) for x in label_scale)
    if not lo < hi:
        raise InputError(f"label scale [{lo}, {hi}] is empty", path=path)
    name = name or path.stem
    rows: list[dict] = []
    first_lines = FirstLines(path)
    splits = SplitTally(path)
    lines = io.StringIO(read_text(path), newline=None)  # \n, \r\n or \r; not U+2028 in strings
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text.rstrip("\n"))  # a column of this line, not of the next
        except json.JSONDecodeError as exc:
            reason = f"malformed JSON at column {exc.colno}: {exc.msg}"
            raise InputError(reason, path=path, line=number) from exc
        row = _row(record, path, number, (lo, hi), name, section)
        first_lines.add(row["utt_id"], number)
        splits.add(row["split"] if isinstance(row["split"], str) else None, number)
        rows.append(row)
    table = finish_table(rows, path)
    if check_audio:
        check_audio_exists(table, path)
    return Corpus(name=name, table=table, label_scale=(lo, hi), splits=splits)
