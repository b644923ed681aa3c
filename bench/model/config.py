"""The model's configuration: plain values with explicit defaults; unknown keys are an error.
Frozen, as every part of a trial's spec is (:class:`bench.train.config.TrialSpec`).

Defaults follow the seed (section 14): ``d_p2 = 64``, ``d_c = 64``, ``a = 0.8``, the full
model (Mamba updater + EMA + FiLM + prosody + scheduled sampling). Each numeric field
declares its range (:func:`bench.config.ranged`), checked where the config is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.config import ranged
from bench.errors import BenchError
from bench.model.mamba import MambaConfig
from bench.model.updaters import UPDATERS

FEEDBACK_MODES = ("none", "teacher", "scheduled", "autoregressive")
EMA_MODES = ("fixed", "learnable", "per_channel")


def _choice(where: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BenchError(f"{where} must be one of {', '.join(allowed)}, not {value!r}")


@dataclass(frozen=True)
class EMAConfig:
    """EMA state ``c_t = a c_{t-1} + (1 - a) u_t``.

    mode: ``fixed`` (``a = alpha``; ``alpha = 0`` turns the EMA off: ``c_t = u_t``),
        ``learnable`` (one ``a`` in ``[min_alpha, max_alpha]``, initialised to ``alpha``) or
        ``per_channel`` (one learnable ``a`` per channel of ``c``, same bounds).
    """

    mode: str = "fixed"
    alpha: float = ranged(0.8, 0, 1, high_open=True)
    min_alpha: float = ranged(0.6, 0, 1, high_open=True)
    max_alpha: float = ranged(0.9, 0, 1, high_open=True)

    def __post_init__(self) -> None:
        _choice("model.ema.mode", self.mode, EMA_MODES)
        if self.mode != "fixed" and not self.min_alpha < self.alpha < self.max_alpha:
            raise BenchError(
                f"a learnable model.ema.alpha starts strictly inside "
                f"({self.min_alpha}, {self.max_alpha}), not at {self.alpha}"
            )


@dataclass(frozen=True)
class ModelConfig:
    """The streaming model of seed section 1.2.

    updater: a name in :data:`bench.model.updaters.UPDATERS`: ``none`` (stateless,
        ``y_t = Head(z_t)``), ``mlp``, ``gru`` or ``mamba``.
    film: speaker FiLM on the speech vector (off: ``h'_t = h_t``).
    prosody: ``MLP_p`` prosody branch in ``z_t`` (off: ``z_t = h'_t``).
    feedback: what ``y_{t-1}`` the updater sees: ``none`` (no feedback input), ``teacher``
        (ground truth in training), ``scheduled`` (ground truth with a falling probability,
        see ``train.sampling_start``) or ``autoregressive`` (own predictions). At
        evaluation every feedback mode runs on its own predictions.
    d_p2: prosody embedding size; d_c: state size; d_model: updater width;
    film_hidden, head_hidden: hidden sizes of the FiLM and head MLPs.
    """

    updater: str = "mamba"
    film: bool = True
    prosody: bool = True
    feedback: str = "scheduled"
    d_p2: int = ranged(64, 1)
    d_c: int = ranged(64, 1)
    d_model: int = ranged(128, 1)
    film_hidden: int = ranged(256, 1)
    head_hidden: int = ranged(128, 1)
    dropout: float = ranged(0.1, 0, 1, high_open=True)
    ema: EMAConfig = field(default_factory=EMAConfig)
    mamba: MambaConfig = field(default_factory=MambaConfig)

    def __post_init__(self) -> None:
        _choice("model.updater", self.updater, tuple(UPDATERS))
        _choice("model.feedback", self.feedback, FEEDBACK_MODES)
        if self.updater == "none" and self.feedback != "none":
            raise BenchError("model.updater 'none' is stateless: set model.feedback to 'none'")
