"""Training configuration and the trial spec; unknown keys are an error.

A :class:`TrialSpec` is resolved once, where a trial is planned
(:func:`bench.variants.resolve_variant`, a tuned choice set into it by
:func:`bench.config.with_values`), and travels frozen and typed to the worker that trains it.
Records and checkpoints store its plain values (:meth:`TrialSpec.to_config`,
:meth:`TrialSpec.to_dict`), read back by :meth:`TrialSpec.from_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.config import Origins, config_from_dict, ranged
from bench.errors import BenchError
from bench.model.config import ModelConfig

# ``train.seed_offset`` k trains seed s with s + SEED_STRIDE * k: grids use seeds 0, 1, 2, so
# the seeds of two offsets never meet (unless a grid had this many seeds).
SEED_STRIDE = 1000


@dataclass(frozen=True)
class TrainConfig:
    """TBPTT training with AdamW, early stopping on validation CCC-avg.

    epochs: at most this many passes; patience: stop after this many epochs without a
    better validation CCC-avg (the best epoch's weights are kept). batch_dialogs: dialogs
    per batch; chunk_len: TBPTT length T. lr, weight_decay: AdamW; grad_clip: max gradient
    norm; mse_weight: ``w`` in ``1 - mean CCC + w sum MSE``. Scheduled sampling feeds the
    ground truth with probability 1 until the fraction ``sampling_start`` of the planned
    optimiser steps, falling linearly to 0 at ``sampling_end`` (seed 9.2: 0.3 and 0.8).
    eval_batch_dialogs: dialogs streamed together at evaluation. seed_offset: shifts the seed
    of initialisation, batch order, dropout and scheduled-sampling draws to
    ``seed + SEED_STRIDE * seed_offset`` (:attr:`TrialSpec.effective_seed`), so a variant that
    changes nothing else is the reference trained again with other seeds: an A/A control. Each
    numeric field declares its range (:func:`bench.config.ranged`), checked where the config is
    parsed.
    """

    epochs: int = ranged(30, 1)
    patience: int = ranged(5, 1)
    batch_dialogs: int = ranged(8, 1)
    chunk_len: int = ranged(30, 1)
    lr: float = ranged(1e-3, 0, low_open=True)
    weight_decay: float = ranged(0.01, 0)
    grad_clip: float = ranged(1.0, 0, low_open=True)
    mse_weight: float = ranged(0.1, 0)
    sampling_start: float = ranged(0.3, 0, 1)
    sampling_end: float = ranged(0.8, 0, 1)
    eval_batch_dialogs: int = ranged(64, 1)
    seed_offset: int = ranged(0, 0)

    def __post_init__(self) -> None:
        if self.sampling_start > self.sampling_end:
            raise BenchError(
                f"train.sampling_start ({self.sampling_start}) must not exceed "
                f"train.sampling_end ({self.sampling_end})"
            )


@dataclass(frozen=True)
class TrialSpec:
    """What one trial trains: the model and training configuration, the seed and the device
    (``cpu``, ``cuda`` or ``auto``); plain, ``{"model": {...}, "train": {...}, "seed": int,
    "device": str}``. Frozen, so the spec a plan made is the spec a worker trains."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda", "auto"):
            raise BenchError(f"device must be cpu, cuda or auto, not {self.device!r}")

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], origins: Origins | None = None) -> TrialSpec:
        """The checked spec; ``origins`` names where each value was set, for errors."""
        return config_from_dict(cls, spec, "", origins)

    @property
    def effective_seed(self) -> int:
        """The seed a trial's initialisation and shuffling draw from:
        ``seed + SEED_STRIDE * train.seed_offset``.

        >>> TrialSpec(seed=2, train=TrainConfig(seed_offset=1)).effective_seed
        1002
        """
        return self.seed + SEED_STRIDE * self.train.seed_offset

    def to_dict(self) -> dict[str, Any]:
        """Every value, plain (a checkpoint's ``spec``, a trial result's)."""
        return asdict(self)

    def to_config(self) -> dict[str, Any]:
        """The configuration without seed and device, plain: ``{"model": {...}, "train":
        {...}}``, what a trial's record stores and its config hash covers
        (:func:`bench.variants.config_hash`), the same for every seed."""
        return {"model": asdict(self.model), "train": asdict(self.train)}
