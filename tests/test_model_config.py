"""Model configuration: defaults, nested keys, loud failures on unknown keys and values."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.model.config import EMAConfig, ModelConfig, config_from_dict


def test_defaults_are_the_full_model() -> None:
    config = ModelConfig()
    assert (config.updater, config.feedback, config.film, config.prosody) == (
        "mamba", "scheduled", True, True,
    )  # fmt: skip
    assert (config.d_p2, config.d_c, config.ema.alpha, config.ema.mode) == (64, 64, 0.8, "fixed")


def test_nested_values() -> None:
    config = config_from_dict(
        ModelConfig, {"updater": "gru", "ema": {"mode": "learnable"}, "mamba": {"d_state": 8}},
        "model.",
    )  # fmt: skip
    assert config.updater == "gru"
    assert config.ema == EMAConfig(mode="learnable")
    assert config.mamba.d_state == 8


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"updatr": "gru"}, "model.updatr"),
        ({"ema": {"alfa": 0.7}}, "model.ema.alfa"),
        ({"updater": "lstm"}, "model.updater must be one of"),
        ({"feedback": "sometimes"}, "model.feedback must be one of"),
        ({"ema": {"mode": "learnable", "alpha": 0.95}}, "strictly inside"),
        ({"ema": {"alpha": 1.0}}, r"\[0, 1\)"),
        ({"updater": "none"}, "set model.feedback to 'none'"),
    ],
)
def test_bad_values_fail_loudly(values: dict, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        config_from_dict(ModelConfig, values, "model.")
