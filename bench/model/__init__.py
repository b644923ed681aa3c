"""The streaming model: observation, updaters, EMA state and head (seed section 1.2)."""

from bench.model.config import EMAConfig, ModelConfig
from bench.model.mamba import MambaConfig
from bench.model.model import ModelState, StreamingModel, map_state
from bench.model.updaters import UPDATERS

__all__ = [
    "UPDATERS",
    "EMAConfig",
    "MambaConfig",
    "ModelConfig",
    "ModelState",
    "StreamingModel",
    "map_state",
]
