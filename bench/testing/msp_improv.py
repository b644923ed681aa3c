"""A small MSP-IMPROV release, written in the release's layout with its quirks.

Six sessions, each with one female and one male actor (``F0k``, ``M0k``). Per session,
``recordings`` improvised recordings (condition ``S``) of alternating turns and one read
sentence per actor (condition ``R``), under ``session<k>/S<ss><E>/<C>/``. ``Evaluation.txt``
holds a summary line per turn, each followed by rater lines, with the release's spacing
(``D:NaN ;``). Quirks: one summary line whose valence is NaN (a missing rating), and one
stereo 44.1 kHz file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.testing.tones import write_tone

SESSIONS = 6
EMOTIONS = "AHSN"


@dataclass(frozen=True)
class ImprovFixture:
    """What :func:`write_msp_improv` wrote: the root and the quirky turns' ids."""

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


def write_msp_improv(root: str | Path, recordings: int = 2, turns: int = 6, seed: int = 0):
    """Write the release (see the module docstring) under ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    names: list[tuple[str, Path]] = []
    for session in range(1, SESSIONS + 1):
        for recording in range(recordings):
            target = f"S{recording + 1:02d}{EMOTIONS[recording % 4]}"
            for turn in range(1, turns + 1):
                actor = "FM"[turn % 2]
                code = f"{'MF'[turn % 2]}{actor}{turn:02d}"  # listener, speaker, number
                names.append((f"{target}-{actor}{session:02d}-S-{code}", Path(target) / "S"))
        for actor in "FM":
            names.append((f"S01A-{actor}{session:02d}-R-{actor}01", Path("S01A") / "R"))
    missing, stereo = names[3][0], names[4][0]
    for name, folder in names:
        ratings = [f"{x:.6f}" for x in rng.uniform(1, 5, 3)]
        if name == missing:
            ratings[1] = "NaN"
        ratings[2] = "NaN" if rng.random() < 0.2 else ratings[2]
        lines.append(_summary(name, "N", ratings))
        lines += [_rater(k, rng) for k in range(1, 4)] + [""]
        session = f"session{int(name.split('-')[1][1:])}"
        write_tone(root / session / folder / f"MSP-IMPROV-{name}.wav", rng, name == stereo)
    (root / "Evaluation.txt").write_text("\n".join(lines) + "\n")
    return ImprovFixture(root, f"MSP-IMPROV-{missing}", f"MSP-IMPROV-{stereo}", len(names))
