"""Model configuration: defaults, nested keys, loud failures on unknown keys and values."""

from __future__ import annotations

import pytest

from bench.config import config_from_dict
from bench.errors import BenchError
from bench.model.config import EMAConfig, ModelConfig


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


def test_scalar_types_are_checked_and_yaml_exponents_read_as_floats() -> None:
    # YAML 1.1 reads "3e-4" (no dot) as a string; a float field takes it, and an int.
    config = config_from_dict(EMAConfig, {"alpha": "5e-1", "min_alpha": 0}, "model.ema.")
    assert (config.alpha, config.min_alpha) == (0.5, 0.0)
    assert isinstance(config.min_alpha, float)
    for values, message in [
        ({"d_c": 2.5}, "model.d_c must be int, not float 2.5"),
        ({"d_c": True}, "model.d_c must be int, not bool"),
        ({"film": "yes"}, "model.film must be bool, not str 'yes'"),
        ({"ema": {"alpha": "high"}}, "model.ema.alpha must be float, not str 'high'"),
    ]:
        with pytest.raises(BenchError, match=message):
            config_from_dict(ModelConfig, values, "model.")
