"""A small MSP-IMPROV release, written in the release's layout with its quirks.

Six sessions, each with one female and one male actor (``F0k``, ``M0k``). Per session and
scenario (``S01A``, ...), each actor in turn is the target actor, and the recordings follow
the release's naming (``bench/corpus/msp_improv.py``):

- ``S``: ``turns`` turns of each actor, the target field fixed while the turn code opens
  with the speaker's letter (``S01A-F01-S-FM01``, ``S01A-F01-S-MF01``, ...);
- ``T``: the target sentence, said by the target actor (``S01A-M01-T-MF01``);
- ``P``: one turn of each actor (``S01A-F01-P-FM01``, ``S01A-F01-P-MF01``);
- ``R``: each actor reading the sentence, the letter repeated (``S01A-F01-R-FF01``).

Files of both target actors sit in one folder, ``session<k>/S01A/<C>/`` (or under
``Audio/``). ``Evaluation.txt`` (or ``Evalution.txt``) holds a summary line per turn, each
followed by rater lines, with the release's spacing (``D:NaN ;``). The consensus categories
cycle A, H, S, N, with means that follow the literature (arousal of A and H above S; valence
of H above A and S), and arousal is written high to low, as the release stores it. Quirks:
one summary line whose valence is NaN (a missing rating), and one stereo 44.1 kHz file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.testing.tones import write_tone

SESSIONS = 6
EMOTIONS = "AHSN"
# Mean (valence, arousal) of each consensus category on 1..5, arousal rising with activation.
MEANS = {"A": (1.8, 4.2), "H": (4.2, 3.8), "S": (1.8, 1.8), "N": (3.0, 2.8)}


@dataclass(frozen=True)
class ImprovFixture:
    """What :func:`write_msp_improv` wrote: the root, the quirky turns' ids and the number
    of turns."""

    root: Path
    missing_rating: str
    stereo: str
    turns: int


def _summary(name: str, category: str, ratings: list[str]) -> str:
    a, v, d = ratings
    return f"UTD-IMPROV-{name}.avi; {category}; A:{a}; V:{v}; D:{d} ; N:3.000000;"


def _rater(k: int, rng: np.random.Generator) -> str:
    a, v, d = (int(x) for x in rng.integers(1, 6, 3))
    return f"rater-{k}; Neutral; Calm; A:{a}.0; V:{v}.0; D:{d}.0; N:3.0;"


def _names(session: int, recordings: int, turns: int) -> list[tuple[str, str]]:
    """The session's turns as (name, folder under ``session<k>/``)."""
    names = []
    for recording in range(recordings):
        scenario = f"S{recording + 1:02d}{EMOTIONS[recording % 4]}"
        for target, other in ("FM", "MF"):
            actor = f"{target}{session:02d}"
            for speaker, listener in ((target, other), (other, target)):
                names += [(f"{scenario}-{actor}-S-{speaker}{listener}{t:02d}", f"{scenario}/S")
                          for t in range(1, turns + 1)]  # fmt: skip
                names.append((f"{scenario}-{actor}-P-{speaker}{listener}01", f"{scenario}/P"))
            names.append((f"{scenario}-{actor}-T-{target}{other}01", f"{scenario}/T"))
            names.append((f"{scenario}-{actor}-R-{target}{target}01", f"{scenario}/R"))
    return names


def _ratings(category: str, rng: np.random.Generator) -> list[str]:
    """A, V, D as the release writes them: arousal high to low (``6 - a``)."""
    valence, arousal = (x + rng.uniform(-0.4, 0.4) for x in MEANS[category])
    return [f"{6 - arousal:.6f}", f"{valence:.6f}", f"{rng.uniform(1, 5):.6f}"]


def write_msp_improv(
    root: str | Path,
    recordings: int = 1,
    turns: int = 3,
    seed: int = 0,
    label_file: str = "Evaluation.txt",
    audio_folder: str = "",
) -> ImprovFixture:
    """Write the release (see the module docstring) under ``root``: ``recordings`` scenarios
    per session, ``turns`` S turns per actor and recording; the audio's sessions in ``root``
    or in ``root/audio_folder``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    names = [(session, *name) for session in range(1, SESSIONS + 1)
             for name in _names(session, recordings, turns)]  # fmt: skip
    missing, stereo = names[3][1], names[4][1]
    for k, (session, name, folder) in enumerate(names):
        category = EMOTIONS[k % 4]
        ratings = _ratings(category, rng)
        if name == missing:
            ratings[1] = "NaN"
        ratings[2] = "NaN" if rng.random() < 0.2 else ratings[2]
        lines.append(_summary(name, category, ratings))
        lines += [_rater(j, rng) for j in range(1, 4)] + [""]
        wav = root / audio_folder / f"session{session}" / folder / f"MSP-IMPROV-{name}.wav"
        write_tone(wav, rng, name == stereo)
    (root / label_file).write_text("\n".join(lines) + "\n")
    return ImprovFixture(root, f"MSP-IMPROV-{missing}", f"MSP-IMPROV-{stereo}", len(names))
