"""Label range checks shared by the corpus readers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import InputError


@dataclass
class LabelClipper:
    """Clip labels into ``scale = (lo, hi)`` and remember every clip for the corpus summary."""

    scale: tuple[float, float]
    clipped: list[str] = field(default_factory=list)

    def __call__(self, value: float, where: str) -> float:
        """Return ``min(max(value, lo), hi)``; a changed value is recorded as ``where``."""
        lo, hi = self.scale
        if math.isnan(value):
            raise ValueError("label is NaN")
        clipped = min(max(value, lo), hi)
        if clipped != value:
            self.clipped.append(f"{where}: {value:g} clipped to {clipped:g}")
        return clipped


def scaled_label(
    value: float,
    name: str,
    scale: tuple[float, float],
    path: Path,
    line: int,
    section: str = "corpus",
) -> float:
    """``value`` on ``scale = (lo, hi)`` mapped to [0, 1], ``(x - lo) / (hi - lo)``; NaN stays NaN.

    Raises:
        InputError: ``value`` lies outside the scale (most likely the scale is set wrong),
            naming the file and line, and the setting (``<section>.label_scale``).
    """
    if math.isnan(value):
        return value
    lo, hi = scale
    if not lo <= value <= hi:
        raise InputError(
            f"{name} {value:g} is outside the label scale [{lo:g}, {hi:g}] "
            f"(set {section}.label_scale)",
            path=path,
            line=line,
        )
    return (value - lo) / (hi - lo)


@dataclass
class FirstLines:
    """The line each utterance id was first read on, to refuse a repeated id."""

    path: Path
    lines: dict[str, int] = field(default_factory=dict)

    def add(self, utt_id: str, line: int) -> None:
        """Record ``utt_id`` at ``line``.

        Raises:
            InputError: the id was read before, naming both lines.
        """
        if utt_id in self.lines:
            raise InputError(
                f"duplicate utt_id {utt_id!r} (first on line {self.lines[utt_id]})",
                path=self.path,
                line=line,
            )
        self.lines[utt_id] = line
