"""Reader for MSP-IMPROV as released (Busso et al., IEEE TAC 2017): six dyadic sessions.

Layout (the folder ``corpus.root`` names)::

    Evaluation.txt                                       labels (some copies: Evalution.txt)
    session<k>/S<ss><E>/<P|R|S|T>/MSP-IMPROV-<name>.wav   audio (some copies: under Audio/)

``Evaluation.txt`` gives, per turn, a summary line followed by one line per rater::

    UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:2.400000; V:2.000000; D:NaN ; N:3.000000;
    rater-7; Angry; Frustrated; A:3.0; V:2.0; D:3.0; N:3.0;

The summary's letter is the raters' consensus category (A, H, S, N; O other, X no
agreement), the table's ``category``; its ``A``, ``V`` and ``D`` are the raters' means (``N``
is naturalness, not read). Rater lines and blank lines are skipped. A line that opens with a
video name (``<name>.avi;``) or ``UTD-`` but not ``UTD-IMPROV-`` (a typo such as
``UTD-IMRPOV-``) is a summary line that cannot be read: it is skipped and counted in
``Corpus.problems``. The video name ``UTD-IMPROV-<name>.avi`` is the audio file
``MSP-IMPROV-<name>.wav``.

``<name>`` is ``S<ss><E>-<G><kk>-<C>-<X><Y><tt>`` (``S01A-F01-S-MF03``): target sentence ``ss``
and the scenario's emotion ``E`` (A, H, S, N; the table's ``scenario``), the actor given the
target sentence, gender ``G`` and session ``kk`` (the table's ``target``; each session pairs
one female and one male actor), the recording condition ``C`` (P natural interaction, R
target sentence read, S other turns of the improvisation, T target sentence in it), and the
turn code: the speaker's gender ``X``, the other actor's ``Y`` and the speaker's turn number
``tt``. No document of the release that we could read defines these fields; the reading
here is the one the released file names admit (``docs/corpora.md`` names the sources):

- **Speaker:** session + ``X``: ``S01A-F01-S-MF03`` is spoken by ``M01``. Read clips repeat
  the actor's letter (``F02-R-FF01``), target-sentence clips open with the target actor's
  (``M01-T-MF01``), and both FM and MF turns occur under one target actor, so ``<G><kk>``
  (which public loaders take as the speaker) names the target actor, not who speaks.
- **Recording:** session, sentence and emotion, target actor and condition
  (``session1/S01A-F01-S``, the table's ``recording``; ``condition`` is a column too): the
  same scenario with the other actor as target is another recording, though its files share
  the folder ``session1/S01A/S/``.
- **Dialog** (``corpus.dialog_unit``): ``speaker`` (default), one speaker's turns of one
  recording in turn-number order. Turn numbers count per speaker (``FM01`` and ``MF01`` are
  both first turns), so how the two speakers' turns interleave is not in the release, and
  this is the only order the names give. ``recording``: both speakers' turns of a
  recording, ordered by (turn number, speaker F before M), which assumes the speakers
  alternate starting with F: an assumption, not a fact of the release. A turn number twice
  for one speaker of one recording is an error naming the file and both lines.
- **Labels:** the scale is ``corpus.label_scale``, default 1..5. MSP-IMPROV stores arousal
  high to low (1 active, 5 calm): with ``corpus.arousal_reversed`` (default true) the reader
  reads ``lo + hi - A`` (``6 - A`` on 1..5) before normalising, so that arousal rises with
  activation as in every other corpus; valence and dominance are read as they are. A
  summary line whose A or V is NaN (a missing rating) is skipped with a count; a NaN
  dominance becomes NaN.
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
LABEL_FILES = ("Evaluation.txt", "Evalution.txt")  # the second: a spelling some copies have
AUDIO_FOLDERS = ("", "Audio")  # session<k>/ sits in the root or in Audio/
DIALOG_UNITS = ("speaker", "recording")  # the values of corpus.dialog_unit, the default first
AROUSAL_REVERSED = True  # corpus.arousal_reversed when unset: the release stores it high to low
ORDER_IN_TURN = {"F": 0.0, "M": 0.5}  # dialog_unit recording: F's turn k, then M's turn k
_VALUE = r"(?:\d+(?:\.\d*)?|\.\d+|NaN|nan)"
SUMMARY = re.compile(
    rf"^UTD-IMPROV-(?P<name>\S+)\.avi;\s*(?P<category>\w+);\s*A:\s*(?P<a>{_VALUE})\s*;"
    rf"\s*V:\s*(?P<v>{_VALUE})\s*;\s*D:\s*(?P<d>{_VALUE})\s*;\s*N:\s*(?P<n>{_VALUE})\s*;?\s*$"
)
# How a summary line starts, even a misspelt one; rater lines start with the rater.
VIDEO_LINE = re.compile(r"^(?:UTD-|[^;\s]+\.avi\s*;)", re.IGNORECASE)
NAME = re.compile(
    r"^S(?P<sentence>\d{2})(?P<emotion>[AHSN])-(?P<target>[FM](?P<session>\d{2}))-"
    r"(?P<condition>[A-Z])-(?P<speaker>[FM])(?P<other>[FM])(?P<number>\d+)$"
)


def release_files(root: Path, section: str = "corpus") -> tuple[Path, Path]:
    """The label file (either spelling) and the folder that holds ``session<k>/``: ``root``
    or ``root/Audio``, whichever has a session folder (``root`` where both have).

    Raises:
        InputError: no label file, or no session folder in either place, naming what was
            looked for and the setting to correct (``<section>.root``).
    """
    labels = next((root / n for n in LABEL_FILES if (root / n).is_file()), None)
    if labels is None:
        raise InputError(
            f"not an MSP-IMPROV release: no {' or '.join(LABEL_FILES)} (set {section}.root to "
            f"the folder that holds it and session1/ ... session6/)",
            path=root,
        )
    tried = [root / folder if folder else root for folder in AUDIO_FOLDERS]
    audio = next((f for f in tried if any(p.is_dir() for p in f.glob("session[0-9]*"))), None)
    if audio is None:
        looked = " nor ".join(str(folder / "session<k>") for folder in tried)
        raise InputError(
            f"no MSP-IMPROV audio: neither {looked} exists (set {section}.root to the release "
            f"folder)",
            path=root,
        )
    return labels, audio


def _row(
    match: re.Match[str],
    audio: Path,
    path: Path,
    line: int,
    scale: tuple[float, float],
    arousal_reversed: bool,
    section: str,
) -> dict | str:
    """One utterance's row (its dialog not yet chosen), or the reason it is skipped."""
    name = NAME.match(match["name"])
    if name is None:
        raise InputError(
            f"UTD-IMPROV-{match['name']}.avi does not look like "
            f"UTD-IMPROV-S<ss><A|H|S|N>-<F|M><kk>-<condition>-<F|M><F|M><turn>.avi",
            path=path,
            line=line,
        )
    ratings = {
        label: scaled_label(float(match[key]), key.upper(), scale, path, line, section)
        for label, key in (("arousal", "a"), ("valence", "v"), ("dominance", "d"))
    }
    if math.isnan(ratings["arousal"]) or math.isnan(ratings["valence"]):
        return "missing arousal or valence rating"
    if arousal_reversed:  # (lo + hi - a - lo) / (hi - lo) = 1 - (a - lo) / (hi - lo)
        ratings["arousal"] = 1.0 - ratings["arousal"]
    session = f"session{int(name['session'])}"
    scenario = f"S{name['sentence']}{name['emotion']}"
    folder = audio / session / scenario / name["condition"]
    return {
        "utt_id": f"MSP-IMPROV-{match['name']}",
        "session": session,
        "speaker": f"{name['speaker']}{name['session']}",
        "turn": int(name["number"]),
        "end": math.nan,
        "audio_path": str(folder / f"MSP-IMPROV-{match['name']}.wav"),
        "group": session,
        "category": match["category"],
        **ratings,
        "recording": f"{session}/{scenario}-{name['target']}-{name['condition']}",
        "target": name["target"],
        "scenario": name["emotion"],
        "condition": name["condition"],
    }


def _set_dialogs(rows: list[dict], lines: list[int], path: Path, dialog_unit: str) -> None:
    """Give each row its dialog and its place in it (``start``), as ``dialog_unit`` says.

    Raises:
        InputError: a speaker's turn number twice in one recording, naming both lines.
    """
    seen: dict[tuple[str, str, int], int] = {}
    for row, line in zip(rows, lines, strict=True):
        key = (row["recording"], row["speaker"], row["turn"])
        if key in seen:
            raise InputError(
                f"turn {row['turn']} of {row['speaker']} in recording {row['recording']} is "
                f"listed twice (first on line {seen[key]}): a dialog cannot order its turns",
                path=path,
                line=line,
            )
        seen[key] = line
        if dialog_unit == "speaker":
            row["dialog"] = f"{row['recording']}/{row['speaker']}"
            row["start"] = float(row.pop("turn"))
        else:
            row["dialog"] = row["recording"]
            row["start"] = row.pop("turn") + ORDER_IN_TURN[row["speaker"][0]]


def read_msp_improv(
    root: str | Path,
    label_scale: tuple[float, float] = SCALE,
    name: str = "msp_improv",
    check_audio: bool = True,
    section: str = "corpus",
    dialog_unit: str = DIALOG_UNITS[0],
    arousal_reversed: bool = AROUSAL_REVERSED,
) -> Corpus:
    """Read an MSP-IMPROV release into a :class:`Corpus` (see the module docstring).

    ``section``: the protocol section the release is set in (``corpus``, ``test_corpus``),
    which messages name. ``dialog_unit``: one of :data:`DIALOG_UNITS`. ``arousal_reversed``:
    read arousal as ``lo + hi - A`` (the release stores it high to low).

    Raises:
        InputError: no label file or no session folder (:func:`release_files`), a malformed
            summary line or video name, an out-of-scale rating, a turn listed twice or a
            speaker's turn number twice in a recording (naming the file and line), or
            missing audio (all listed in one error).
    """
    root = Path(root).expanduser().resolve()
    path, audio = release_files(root, section)
    rows: list[dict] = []
    lines: list[int] = []
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
        row = _row(match, audio, path, number, label_scale, arousal_reversed, section)
        if isinstance(row, str):
            skipped[row] += 1
            continue
        first_lines.add(row["utt_id"], number)
        rows.append({**row, "corpus": name})
        lines.append(number)
    _set_dialogs(rows, lines, path, dialog_unit)
    table = finish_table(rows, path)
    if check_audio:
        check_audio_exists(table, path)
    unit = (
        "one speaker's turns of one recording, in turn-number order (turn numbers count per "
        "speaker: the release does not say how two speakers' turns interleave)"
        if dialog_unit == "speaker"
        else "one recording, both speakers, ordered by (turn number, speaker F before M): an "
        "assumed alternation, not in the release"
    )
    direction = "reversed, lo + hi - A" if arousal_reversed else "as stored"
    notes = [
        f"dialog unit: {dialog_unit}, {unit}; {table['recording'].nunique()} recordings",
        "turns per condition code: "
        + ", ".join(f"{c} {n}" for c, n in table["condition"].value_counts().sort_index().items()),
        f"arousal {direction} (corpus.arousal_reversed={str(arousal_reversed).lower()}; the "
        "release stores it high to low)",
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
        release=f"{path.name}, audio in {'' if audio == root else 'Audio/'}session<k>/",
    )
