"""``personalise:``: what few-shot speaker personalisation adapts, on how many turns, and how.

>>> PersonaliseConfig(k=(0, 10), adapt=("head_bias",))
PersonaliseConfig(adapt=('head_bias',), k=(0, 10), steps=50, lr=0.0003, weight_decay=0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import BenchError

ADAPT_MODES = ("film", "film_last", "head_bias")


@dataclass(frozen=True)
class PersonaliseConfig:
    """The declared adaptation (seed section 11; defaults from there).

    adapt: which parameters adapt, each mode on its own (:data:`ADAPT_MODES`): ``film`` (all
        of FiLM's), ``film_last`` (FiLM's last linear layer), ``head_bias`` (the head's output
        bias: a per-speaker offset of the two logits, the cheapest calibration).
    k: the numbers of enrolment turns; 0, the unadapted model, is the baseline of every gain.
    steps, lr, weight_decay: full-batch AdamW steps on the enrolment turns.
    """

    adapt: tuple[str, ...] = ADAPT_MODES
    k: tuple[int, ...] = (0, 5, 10, 20)
    steps: int = 50
    lr: float = 3e-4
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        unknown = [mode for mode in self.adapt if mode not in ADAPT_MODES]
        if unknown or not self.adapt:
            raise BenchError(
                f"personalise.adapt must name some of {', '.join(ADAPT_MODES)}, not {unknown}"
            )
        if 0 not in self.k or min(self.k) < 0 or len(set(self.k)) != len(self.k):
            raise BenchError(
                f"personalise.k must be distinct counts >= 0 that include 0 (the unadapted "
                f"baseline), not {list(self.k)}"
            )
        if self.steps < 1 or not self.lr > 0 or self.weight_decay < 0:
            raise BenchError(
                "personalise needs steps >= 1, lr > 0 and weight_decay >= 0, not "
                f"steps={self.steps}, lr={self.lr}, weight_decay={self.weight_decay}"
            )

    @property
    def k_max(self) -> int:
        return max(self.k)
