"""The model's configuration: plain values with explicit defaults; unknown keys are an error.

Defaults follow the seed (section 14): ``d_p2 = 64``, ``d_c = 64``, ``a = 0.8``, the full
model (Mamba updater + EMA + FiLM + prosody + scheduled sampling).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.errors import BenchError

UPDATER_NAMES = ("none", "mlp", "gru", "mamba")
FEEDBACK_MODES = ("none", "teacher", "scheduled", "autoregressive")
EMA_MODES = ("fixed", "learnable", "per_channel")


def _choice(where: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BenchError(f"{where} must be one of {', '.join(allowed)}, not {value!r}")


@dataclass
class EMAConfig:
    """EMA state ``c_t = a c_{t-1} + (1 - a) u_t``.

    mode: ``fixed`` (``a = alpha``; ``alpha = 0`` turns the EMA off: ``c_t = u_t``),
        ``learnable`` (one ``a`` in ``[min_alpha, max_alpha]``, initialised to ``alpha``) or
        ``per_channel`` (one learnable ``a`` per channel of ``c``, same bounds).
    """

    mode: str = "fixed"
    alpha: float = 0.8
    min_alpha: float = 0.6
    max_alpha: float = 0.9

    def __post_init__(self) -> None:
        _choice("model.ema.mode", self.mode, EMA_MODES)
        if not 0.0 <= self.alpha < 1.0:
            raise BenchError(f"model.ema.alpha must lie in [0, 1), not {self.alpha}")
        if self.mode != "fixed" and not self.min_alpha < self.alpha < self.max_alpha:
            raise BenchError(
                f"a learnable model.ema.alpha starts strictly inside "
                f"({self.min_alpha}, {self.max_alpha}), not at {self.alpha}"
            )


@dataclass
class MambaConfig:
    """The Mamba block's sizes (mamba-ssm's names): ``d_inner = expand * d_model``."""

    d_state: int = 16
    d_conv: int = 4
    expand: int = 2


@dataclass
class ModelConfig:
    """The streaming model of seed section 1.2.

    updater: ``none`` (stateless, ``y_t = Head(z_t)``), ``mlp``, ``gru`` or ``mamba``.
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
    d_p2: int = 64
    d_c: int = 64
    d_model: int = 128
    film_hidden: int = 256
    head_hidden: int = 128
    dropout: float = 0.1
    ema: EMAConfig = field(default_factory=EMAConfig)
    mamba: MambaConfig = field(default_factory=MambaConfig)

    def __post_init__(self) -> None:
        _choice("model.updater", self.updater, UPDATER_NAMES)
        _choice("model.feedback", self.feedback, FEEDBACK_MODES)
        if self.updater == "none" and self.feedback != "none":
            raise BenchError("model.updater 'none' is stateless: set model.feedback to 'none'")
