"""The one contract of updaters ``u_t = Updater([z_t ; y_{t-1}])`` and of the sequence cores
inside them, and what an updater's builder is given.

``initial_state(batch)``; ``forward(x [B, T, D], state) -> (u [B, T, d_out], state)``;
``step(x [B, D], state) -> (u [B, d_out], state)``. ``state = None`` means the initial
state. Running a sequence whole, in chunks with the state carried, or step by step gives
the same ``u``.

This module imports nothing of the model's configuration, so an updater in a module of its
own can import it while :data:`bench.model.updaters.UPDATERS` (which the configuration
checks ``model.updater`` against) imports that module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from torch import Tensor, nn

from bench.model.mamba import MambaConfig

State = Any  # a tensor or a (nested) tuple of tensors


class Recurrent(nn.Module):
    """The contract of updaters and of the sequence cores inside them: ``forward`` runs a
    sequence ``[B, T, D]`` from a state; ``step`` is ``forward`` on a length-1 sequence
    unless a subclass has a cheaper one (a rollout calls it once per utterance)."""

    def initial_state(self, batch: int) -> State:
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        raise NotImplementedError

    def step(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One utterance: ``x [B, D] -> [B, D_out]``."""
        out, state = self(x.unsqueeze(1), state)  # [B, 1, D_out]
        return out.squeeze(1), state


class Updater(Recurrent):
    """An updater: a ``Recurrent`` whose output ``u`` has ``d_out`` channels (the EMA's and
    the head's input size; ``d_c`` of the configuration, or 0 for no state)."""

    d_out: int


class UpdaterSettings(Protocol):
    """What an updater's builder may read of the model's configuration
    (:class:`bench.model.config.ModelConfig` has these and more): ``d_model``, the updater's
    width; ``d_c``, the state size; ``dropout``; ``mamba``, the Mamba block's sizes."""

    d_model: int
    d_c: int
    dropout: float
    mamba: MambaConfig


# builder(d_in, settings): the updater of inputs [z_t ; y_{t-1}] with d_in channels
UpdaterBuilder = Callable[[int, UpdaterSettings], Updater]
