"""Label range checks shared by the corpus readers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


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
