"""Reader for IEMOCAP exactly as released (``IEMOCAP_full_release``).

Layout::

    Session{1..5}/dialog/EmoEvaluation/<dialog>.txt     labels, one summary line per turn
    Session{1..5}/sentences/wav/<dialog>/<utt_id>.wav   audio

A summary line is ``[start - end]<TAB>utt_id<TAB>category<TAB>[valence, arousal, dominance]``
with dimensional labels on a 1..5 scale. The category (``ang``, ``hap``, ``exc``, ``sad``,
``neu``, ``fru``, ... ``xxx`` where the raters did not agree) is the table's ``category``,
which ``bench corpus describe`` checks the labels' directions against. Rater lines
(``C-E2:``, ``A-E3: val 3; ...``, self-ratings ``C-F1:``) and the ``%`` header are skipped.

Audio the labels leave out is reported, not dropped in silence: a wav with no summary line
(its dialog's label file missing, or the turn absent from it) is counted in
``Corpus.problems``, and a session folder with audio but no label file at all is, in
addition, logged as a warning naming the session (every fold numbered after it keeps its
number: :func:`bench.protocol.fold_units`).

The speaker is the session plus the F/M letter that opens the utterance id's last part:
``Ses01F_impro01_M003`` is ``Ses01_M``. The letter in the dialog prefix only names who wore
the motion-capture markers. Turns of F and M are numbered separately and overlap in time, so
each dialog is ordered by start time.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd

from bench.corpus.labels import LabelClipper
from bench.corpus.table import Corpus, check_audio_exists, finish_table, normalise
from bench.corpus.text import read_text
from bench.errors import InputError

log = logging.getLogger(__name__)

SCALE = (1.0, 5.0)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+|nan|NaN|inf)"
SUMMARY = re.compile(
    rf"^\[(?P<start>{_NUMBER})\s*-\s*(?P<end>{_NUMBER})\]\s+(?P<utt>\S+)\s+(?P<cat>\S+)\s+"
    rf"\[(?P<v>{_NUMBER}),\s*(?P<a>{_NUMBER}),\s*(?P<d>{_NUMBER})\]\s*$"
)
RATER = re.compile(r"^[A-Z]+-[A-Z]+\d*\s*:")
UTTERANCE_ID = re.compile(r"^(?P<session>Ses\d+)[FM]_.+_(?P<letter>[FM])\d+$")


def parse_label_file(path: Path, clipper: LabelClipper) -> list[dict]:
    """Parse one EmoEvaluation file into rows (without audio paths).

    Raises:
        InputError: a byte that is not UTF-8, a malformed summary line or utterance id,
            naming the file and line.
    """
    dialog = path.stem
    rows = []
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("%") or RATER.match(line):
            continue
        match = SUMMARY.match(line)
        if match is None:
            raise InputError(f"malformed summary line: {raw!r}", path=path, line=number)
        rows.append(_summary_row(match, dialog, path, number, clipper))
    return rows


def _summary_row(
    match: re.Match[str], dialog: str, path: Path, number: int, clipper: LabelClipper
) -> dict:
    utt_id = match["utt"]
    ident = UTTERANCE_ID.match(utt_id)
    if ident is None or not utt_id.startswith(dialog + "_"):
        raise InputError(
            f"utterance id {utt_id!r} does not look like <dialog {dialog}>_<F|M><number>",
            path=path,
            line=number,
        )
    labels = {}
    for key, name in (("v", "valence"), ("a", "arousal"), ("d", "dominance")):
        try:
            labels[name] = clipper(float(match[key]), f"{path}:{number} {name}")
        except ValueError as exc:
            raise InputError(f"{name}: {exc}", path=path, line=number) from exc
    start, end = float(match["start"]), float(match["end"])
    if not start <= end:
        raise InputError(f"start {start} is after end {end}", path=path, line=number)
    session = ident["session"]
    return {
        "utt_id": utt_id,
        "corpus": "iemocap",
        "session": session,
        "dialog": dialog,
        "speaker": f"{session}_{ident['letter']}",
        "start": start,
        "end": end,
        "group": session,
        "category": match["cat"],
        **{name: float(normalise(value, SCALE)) for name, value in labels.items()},
    }


def label_files(root: Path) -> list[Path]:
    """Every ``Session*/dialog/EmoEvaluation/*.txt``, skipping hidden files (``._x.txt``)."""
    files = sorted(root.glob("Session*/dialog/EmoEvaluation/*.txt"))
    return [f for f in files if not f.name.startswith(".")]


def audio_files(root: Path) -> list[Path]:
    """Every ``Session*/sentences/wav/<dialog>/*.wav``, skipping hidden files (``._x.wav``)."""
    files = sorted(root.glob("Session*/sentences/wav/*/*.wav"))
    return [f for f in files if not f.name.startswith(".")]


def unlabelled_audio(root: Path, table: pd.DataFrame, files: list[Path]) -> list[str]:
    """Problems for the audio under ``root`` that no row of ``table`` reads.

    A session folder whose audio has no label file at all (``files``: the label files read)
    is one problem naming the session, also logged as a warning; the other unread wavs are
    one problem counting them and their dialogs, naming the first.
    """
    labelled_sessions = {path.parents[2] for path in files}
    read = set(table["audio_path"])
    unread: dict[Path, list[Path]] = defaultdict(list)  # session folder -> unread wavs
    for wav in audio_files(root):
        if str(wav) not in read:
            unread[wav.parents[3]].append(wav)
    problems = []
    for session, wavs in sorted(unread.items()):
        if session not in labelled_sessions:
            message = (
                f"{session.name} has {len(wavs)} audio files but no label file "
                f"({session / 'dialog' / 'EmoEvaluation'} is missing or empty): the whole "
                f"session is left out"
            )
            log.warning("%s", message)
            problems.append(message)
    rest = [wav for session, wavs in unread.items() if session in labelled_sessions for wav in wavs]
    if rest:
        dialogs = len({wav.parent for wav in rest})
        problems.append(
            f"{len(rest)} utterances of {dialogs} dialogs have audio but no label (first: "
            f"{min(rest)})"
        )
    return problems


def read_iemocap(
    root: str | Path, name: str = "iemocap", check_audio: bool = True, section: str = "corpus"
) -> Corpus:
    """Read an IEMOCAP release (or a corpus in its layout) into a :class:`Corpus`.

    Labels outside 1..5 are clipped, logged and counted in ``Corpus.clipped_labels``. Audio
    without labels is counted in ``Corpus.problems`` (:func:`unlabelled_audio`). ``section``:
    the protocol section the release is set in (``corpus``, ``test_corpus``), which messages
    name.

    Raises:
        InputError: the folder has no label files, a line is malformed, an id repeats, or
            audio files are missing (all missing files listed in one error).
    """
    root = Path(root).expanduser().resolve()
    files = label_files(root)
    if not files:
        raise InputError(
            "no label files found under Session*/dialog/EmoEvaluation/ "
            f"(set {section}.root to the IEMOCAP_full_release folder)",
            path=root,
        )
    clipper = LabelClipper(SCALE)
    rows = []
    for path in files:
        session_dir = path.parents[2]
        for row in parse_label_file(path, clipper):
            wav = session_dir / "sentences" / "wav" / row["dialog"] / f"{row['utt_id']}.wav"
            rows.append({**row, "audio_path": str(wav), "corpus": name})
    table = finish_table(rows, root)
    if check_audio:
        check_audio_exists(table, root)
    for message in clipper.clipped:
        log.warning("label out of range: %s", message)
    return Corpus(
        name=name,
        table=table,
        label_scale=SCALE,
        clipped_labels=len(clipper.clipped),
        problems=[
            *unlabelled_audio(root, table, files),
            *(f"label out of range: {m}" for m in clipper.clipped),
        ],
    )
