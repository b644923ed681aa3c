"""Reader for MSP-IMPROV as released (Busso et al., IEEE TAC 2017): six dyadic sessions.

Layout (the folder ``corpus.root`` names)::

    Evaluation.txt                                       labels
    session<k>/S<ss><E>/<P|R|S|T>/MSP-IMPROV-<name>.wav   audio

``Evaluation.txt`` gives, per turn, a summary line followed by one line per rater::

    UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:2.400000; V:2.000000; D:NaN ; N:3.000000;
    rater-7; Angry; Frustrated; A:3.0; V:2.0; D:3.0; N:3.0;

The summary's ``A``, ``V`` and ``D`` are the raters' means (``N`` is naturalness, not read).
Rater lines and blank lines are skipped. A line that opens with a video name
(``<name>.avi;``) or ``UTD-`` but not ``UTD-IMPROV-`` (a typo such as ``UTD-IMRPOV-``) is a
summary line that cannot be read: it is skipped and counted in ``Corpus.problems``. The
video name ``UTD-IMPROV-<name>.avi`` is the audio file ``MSP-IMPROV-<name>.wav``.
``<name>`` is ``S<ss><E>-<G><kk>-<C>-<turn>``: target sentence ``ss`` and target emotion
``E`` (A, H, S, N), the actor's gender ``G`` and session ``kk`` (each session pairs one
female and one male actor), the recording condition ``C`` and a turn code (listener and
speaker letters, then a number).

- **Speaker:** ``<G><kk>`` (``F01``), as public loaders read it; the release documentation
  we could read does not define the field further.
- **Dialog:** one recording, the folder ``session<k>/S<ss><E>/<C>``, its turns in the order
  of their turn numbers. The release gives no time stamps, so that order is all there is.
- **Labels:** the scale is ``corpus.label_scale``, default 1..5 (five-point ratings; see the
  README for how sure that is). A summary line whose A or V is NaN (a missing rating) is
  skipped with a count; a NaN dominance becomes NaN.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from bench.corpus.labels import FirstLines, scaled_label
from bench.corpus.table import Corpus, check_audio_exists, finish_table
from bench.corpus.text import read_text
from bench.errors import InputError

SCALE = (1.0, 5.0)
LABEL_FILE = "Evaluation.txt"
_VALUE = r"(?:\d+(?:\.\d*)?|\.\d+|NaN|nan)"
SUMMARY = re.compile(
    rf"^UTD-IMPROV-(?P<name>\S+)\.avi;\s*(?P<category>\w+);\s*A:\s*(?P<a>{_VALUE})\s*;"
    rf"\s*V:\s*(?P<v>{_VALUE})\s*;\s*D:\s*(?P<d>{_VALUE})\s*;\s*N:\s*(?P<n>{_VALUE})\s*;?\s*$"
)
# How a summary line starts, even a misspelt one; rater lines start with the rater.
VIDEO_LINE = re.compile(r"^(?:UTD-|[^;\s]+\.avi\s*;)", re.IGNORECASE)
NAME = re.compile(
    r"^S(?P<sentence>\d{2})(?P<emotion>[AHSN])-(?P<speaker>[FM](?P<session>\d{2}))-"
    r"(?P<condition>[A-Z])-(?P<turn>[A-Z]{0,2}(?P<number>\d+))$"
)


def _row(
    match: re.Match[str],
    root: Path,
    path: Path,
    line: int,
    scale: tuple[float, float],
    section: str,
) -> dict | str:
    """One utterance's row, or the reason it is skipped."""
    name = NAME.match(match["name"])
    if name is None:
        raise InputError(
            f"UTD-IMPROV-{match['name']}.avi does not look like "
            f"UTD-IMPROV-S<ss><A|H|S|N>-<F|M><kk>-<condition>-<turn>.avi",
            path=path,
            line=line,
        )
    ratings = {
        label: scaled_label(float(match[key]), key.upper(), scale, path, line, section)
        for label, key in (("arousal", "a"), ("valence", "v"), ("dominance", "d"))
    }
    if math.isnan(ratings["arousal"]) or math.isnan(ratings["valence"]):
        return "missing arousal or valence rating"
    session = f"session{int(name['session'])}"
    recording = f"S{name['sentence']}{name['emotion']}"
    folder = root / session / recording / name["condition"]
    return {
        "utt_id": f"MSP-IMPROV-{match['name']}",
        "session": session,
        "dialog": f"{session}/{recording}/{name['condition']}",
        "speaker": name["speaker"],
        "start": float(name["number"]),
        "end": math.nan,
        "audio_path": str(folder / f"MSP-IMPROV-{match['name']}.wav"),
        "group": session,
        **ratings,
    }


def read_msp_improv(
    root: str | Path,
    label_scale: tuple[float, float] = SCALE,
    name: str = "msp_improv",
    check_audio: bool = True,
    section: str = "corpus",
) -> Corpus:
    """Read an MSP-IMPROV release into a :class:`Corpus` (see the module docstring).

    ``section``: the protocol section the release is set in (``corpus``, ``test_corpus``),
    which messages name.

    Raises:
        InputError: no ``Evaluation.txt``, a malformed summary line or video name, an
            out-of-scale rating, a turn listed twice (naming the file and line), or missing
            audio (all listed in one error).
    """
    root = Path(root).expanduser().resolve()
    path = root / LABEL_FILE
    if not path.is_file():
        raise InputError(
            f"not an MSP-IMPROV release: no {LABEL_FILE} (set {section}.root to the folder that "
            f"holds it and session1/ ... session6/)",
            path=root,
        )
    rows: list[dict] = []
    skipped: Counter[str] = Counter()
    first_lines = FirstLines(path)
    misnamed: list[int] = []  # lines of summary lines without the UTD-IMPROV- prefix
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line.startswith("UTD-IMPROV-"):
            if VIDEO_LINE.match(line):
                misnamed.append(number)
            continue  # a rater line, or blank
        match = SUMMARY.match(line)
        if match is None:
            raise InputError(f"malformed summary line: {raw!r}", path=path, line=number)
        row = _row(match, root, path, number, label_scale, section)
        if isinstance(row, str):
            skipped[row] += 1
            continue
        first_lines.add(row["utt_id"], number)
        rows.append({**row, "corpus": name})
    table = finish_table(rows, path)
    if check_audio:
        check_audio_exists(table, path)
    conditions = table["dialog"].str.rsplit("/", n=1).str[-1].value_counts().sort_index()
    notes = [
        "dialog unit: one recording (session/sentence+emotion/condition), turns in "
        "turn-number order (the release gives no time stamps)",
        "turns per condition code: " + ", ".join(f"{c} {n}" for c, n in conditions.items()),
    ]
    problems = [
        f"{len(misnamed)} malformed summary lines skipped: they name a video but do not start "
        f"UTD-IMPROV- (first: {path}:{misnamed[0]})"
    ] if misnamed else []  # fmt: skip
    return Corpus(
        name=name,
        table=table,
        label_scale=label_scale,
        problems=problems,
        skipped=dict(skipped),
        notes=notes,
    )
