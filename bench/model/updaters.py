"""The built-in state updaters ``u_t = Updater([z_t ; y_{t-1}])`` and :data:`UPDATERS`, the
one list of updaters by name (the contract: :mod:`bench.model.recurrent`).

``model.updater`` must be a key of :data:`UPDATERS` (:class:`bench.model.config.ModelConfig`
checks it), and :class:`bench.model.model.StreamingModel` builds its updater with the value.
Adding an updater is one new module with a builder ``(d_in, settings) -> Updater`` (an
:class:`~bench.model.recurrent.Updater` that keeps the contract) and one line in
:data:`UPDATERS`.
"""

from __future__ import annotations

from torch import Tensor, nn

from bench.model.mamba import MambaBlock
from bench.model.recurrent import Recurrent, State, Updater, UpdaterBuilder, UpdaterSettings


class NoUpdater(Updater):
    """The stateless variant: ``u`` has no channels, so ``Head([z_t ; c_t]) = Head(z_t)``."""

    d_out = 0

    def __init__(self, d_in: int, config: UpdaterSettings):
        super().__init__()

    def initial_state(self, batch: int) -> State:
        return ()

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        return x.new_zeros(*x.shape[:-1], 0), ()  # [B, T, 0]


class ProjectedUpdater(Updater):
    """``u_t = Dropout(LayerNorm(W_out core(W_in x)_t))`` around a sequence ``core``.

    The core maps ``[B, T, d_model] -> [B, T, d_model]`` and has the updater contract.
    """

    def __init__(self, core: Recurrent, d_in: int, config: UpdaterSettings):
        super().__init__()
        self.d_out = config.d_c
        self.proj_in = nn.Linear(d_in, config.d_model)
        self.core = core
        self.proj_out = nn.Linear(config.d_model, config.d_c)
        self.norm = nn.LayerNorm(config.d_c)
        self.dropout = nn.Dropout(config.dropout)

    def initial_state(self, batch: int) -> State:
        return self.core.initial_state(batch)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        h, state = self.core(self.proj_in(x), state)  # [B, T, d_model]
        return self.dropout(self.norm(self.proj_out(h))), state  # [B, T, d_c]

    def step(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        h, state = self.core.step(self.proj_in(x), state)  # [B, d_model]
        return self.dropout(self.norm(self.proj_out(h))), state  # [B, d_c]


class ResidualMLP(Recurrent):
    """Stateless core ``h + W_2 GELU(W_1 LayerNorm(h))``: the seed's stage-2 updater."""

    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Linear(width, width)
        )

    def initial_state(self, batch: int) -> State:
        return ()

    def forward(self, h: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        return h + self.net(h), ()  # [B, T, W]


class GRUCore(Recurrent):
    """A one-layer GRU; its state is the hidden vector ``[1, B, width]``."""

    def __init__(self, width: int):
        super().__init__()
        self.gru = nn.GRU(width, width, batch_first=True)

    def initial_state(self, batch: int) -> State:
        return self.gru.weight_hh_l0.new_zeros(1, batch, self.gru.hidden_size)

    def forward(self, h: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        return self.gru(h, state)  # [B, T, W], [1, B, W]


class ResidualMamba(Recurrent):
    """A pre-norm residual Mamba layer ``h + Mamba(LayerNorm(h))`` (as mamba-ssm's Block)."""

    def __init__(self, width: int, config: UpdaterSettings):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.mixer = MambaBlock(
            width, config.mamba.d_state, config.mamba.d_conv, config.mamba.expand
        )

    def initial_state(self, batch: int) -> State:
        return self.mixer.initial_state(batch)

    def forward(self, h: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        out, state = self.mixer(self.norm(h), state)  # [B, T, W]
        return h + out, state

    def step(self, h: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        out, state = self.mixer.step(self.norm(h), state)  # [B, W]
        return h + out, state


def mlp_updater(d_in: int, config: UpdaterSettings) -> Updater:
    return ProjectedUpdater(ResidualMLP(config.d_model), d_in, config)


def gru_updater(d_in: int, config: UpdaterSettings) -> Updater:
    return ProjectedUpdater(GRUCore(config.d_model), d_in, config)


def mamba_updater(d_in: int, config: UpdaterSettings) -> Updater:
    return ProjectedUpdater(ResidualMamba(config.d_model, config), d_in, config)


UPDATERS: dict[str, UpdaterBuilder] = {
    "none": NoUpdater,
    "mlp": mlp_updater,
    "gru": gru_updater,
    "mamba": mamba_updater,
}
