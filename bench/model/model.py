"""The streaming valence/arousal model of seed section 1.2, assembled from its parts.

    z_t = Observation(h_t, p_t, s)
    u_t = Updater([z_t ; y_{t-1}])          (no y_{t-1} input when feedback is "none")
    c_t = a c_{t-1} + (1 - a) u_t
    y_t = Head([z_t ; c_t])

The model state is (updater state, ``c``, the last prediction ``y``). ``forward`` runs a
chunk in parallel when every fed-back ``y_{t-1}`` is known in advance (no feedback, or
ground truth); ``rollout`` runs it step by step, feeding back the model's own predictions
(or ground truth with probability ``p_true``), batched across dialogs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from bench.model.config import ModelConfig
from bench.model.ema import EMA
from bench.model.head import Head
from bench.model.observation import Observation
from bench.model.updaters import UPDATERS

INITIAL_Y = 0.5  # y_{-1}: the middle of the [0, 1] label range


class ModelState(NamedTuple):
    """Everything carried from one utterance to the next."""

    updater: Any  # the updater's state
    ema: Tensor  # [B, d_c]
    y: Tensor  # [B, 2], the last prediction


def map_state(fn: Callable[[Tensor], Any], state: Any) -> Any:
    """Apply ``fn`` to every tensor of a (nested tuple) state, e.g. ``Tensor.detach``."""
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, tuple):
        items = [map_state(fn, item) for item in state]
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    raise TypeError(f"unexpected state element {type(state).__name__}")


class StreamingModel(nn.Module):
    """Observation -> updater -> EMA -> head, with a carried state."""

    def __init__(self, config: ModelConfig, d_speech: int, d_prosody: int, d_speaker: int):
        super().__init__()
        self.config = config
        self.feeds_back = config.feedback != "none"  # y_{t-1} is an input of the updater
        self.observe = Observation(d_speech, d_prosody, d_speaker, config)
        d_z = self.observe.d_out
        self.updater = UPDATERS[config.updater](d_z + (2 if self.feeds_back else 0), config)
        self.ema = EMA(self.updater.d_out, config.ema)
        self.head = Head(d_z + self.updater.d_out, config.head_hidden, config.dropout)

    def initial_state(self, batch: int) -> ModelState:
        """The state before a dialog's first utterance (``y_{-1} = 0.5``)."""
        return ModelState(
            updater=self.updater.initial_state(batch),
            ema=self.ema.initial_state(batch),
            y=self.head.out.weight.new_full((batch, 2), INITIAL_Y),
        )

    def _updater_input(self, z: Tensor, y_prev: Tensor | None) -> Tensor:
        if not self.feeds_back:
            return z
        if y_prev is None:
            raise ValueError("this model feeds y_{t-1} back: pass y_prev")
        return torch.cat([z, y_prev], dim=-1)

    def forward(
        self, z: Tensor, state: ModelState | None = None, y_prev: Tensor | None = None
    ) -> tuple[Tensor, ModelState]:
        """Run a chunk in parallel: ``z [B, T, Dz]`` -> ``y [B, T, 2]``.

        ``y_prev [B, T, 2]`` is the fed-back ``y_{t-1}`` (required with feedback, e.g. the
        ground truth shifted by one). ``state = None`` starts a dialog.
        """
        u, updater_state = self.updater(
            self._updater_input(z, y_prev), None if state is None else state.updater
        )  # [B, T, Dc]
        c, c_last = self.ema(u, None if state is None else state.ema)  # [B, T, Dc], [B, Dc]
        y = self.head(torch.cat([z, c], dim=-1))  # [B, T, 2]
        return y, ModelState(updater_state, c_last, y[:, -1])

    def step(
        self, z: Tensor, state: ModelState | None = None, y_prev: Tensor | None = None
    ) -> tuple[Tensor, ModelState]:
        """One utterance, ``z [B, Dz] -> y [B, 2]``; ``y_prev [B, 2]`` defaults to ``state.y``."""
        if state is None:
            state = self.initial_state(z.shape[0])
        if y_prev is None:
            y_prev = state.y  # [B, 2]
        u, updater_state = self.updater.step(self._updater_input(z, y_prev), state.updater)
        c = self.ema.step(u, state.ema)  # [B, Dc]
        y = self.head(torch.cat([z, c], dim=-1))  # [B, 2]
        return y, ModelState(updater_state, c, y)

    def rollout(
        self,
        z: Tensor,
        state: ModelState | None = None,
        y_true_prev: Tensor | None = None,
        p_true: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, ModelState]:
        """Run a chunk step by step, feeding back ``y_{t-1}``: ``z [B, T, Dz] -> y [B, T, 2]``.

        Each dialog and step feeds the ground truth ``y_true_prev [B, T, 2]`` with
        probability ``p_true`` (scheduled sampling), else the model's own last prediction.
        """
        batch, steps = z.shape[:2]
        if state is None:
            state = self.initial_state(batch)
        use_true = None
        if y_true_prev is not None and p_true > 0:
            draws = torch.rand(batch, steps, 1, generator=generator)  # [B, T, 1]
            use_true = (draws < p_true).to(z.device)  # [B, T, 1]
        ys = []
        for t in range(steps):
            y_prev = state.y  # [B, 2]
            if use_true is not None:
                y_prev = torch.where(use_true[:, t], y_true_prev[:, t], y_prev)  # [B, 2]
            y, state = self.step(z[:, t], state, y_prev)  # [B, 2]
            ys.append(y)
        return torch.stack(ys, dim=1), state  # [B, T, 2]

    def run_chunk(
        self,
        z: Tensor,
        state: ModelState | None,
        y_true_prev: Tensor | None = None,
        p_true: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, ModelState]:
        """Run a chunk the fastest exact way: in parallel where every fed-back value is known
        in advance (no feedback, or ground truth with ``p_true = 1``), else step by step."""
        if not self.feeds_back:
            return self(z, state)
        if y_true_prev is not None and p_true >= 1.0:
            return self(z, state, y_true_prev)
        return self.rollout(z, state, y_true_prev, p_true, generator)
