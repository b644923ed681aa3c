"""Model configuration: defaults, nested keys, loud failures on unknown keys and values."""

from __future__ import annotations

import pytest

from bench.config import config_from_dict, field_range, leaf_fields
from bench.errors import BenchError
from bench.model.config import EMAConfig, ModelConfig
from bench.train.config import TrialSpec


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


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dropout": 2.0}, r"model.dropout must lie in \[0, 1\), not 2.0"),
        ({"dropout": 1}, r"model.dropout must lie in \[0, 1\), not 1.0"),
        ({"dropout": -0.1}, r"model.dropout must lie in \[0, 1\), not -0.1"),
        ({"dropout": float("nan")}, r"model.dropout must lie in \[0, 1\), not nan"),
        ({"d_model": 0}, "model.d_model must be >= 1, not 0"),
        ({"film_hidden": -4}, "model.film_hidden must be >= 1, not -4"),
        ({"mamba": {"d_conv": 1}}, "model.mamba.d_conv must be >= 2, not 1"),
        ({"mamba": {"expand": 0}}, "model.mamba.expand must be >= 1, not 0"),
        ({"ema": {"min_alpha": -0.2}}, r"model.ema.min_alpha must lie in \[0, 1\)"),
        ({"ema": {"max_alpha": 1.0}}, r"model.ema.max_alpha must lie in \[0, 1\)"),
    ],
)
def test_values_out_of_range_are_refused_naming_key_value_and_range(values, message):
    with pytest.raises(BenchError, match=message):
        config_from_dict(ModelConfig, values, "model.")


def test_the_ends_of_a_range_are_open_or_closed_as_declared() -> None:
    edge = {"dropout": 0.0, "d_model": 1, "mamba": {"d_conv": 2}, "ema": {"alpha": 0.0}}
    config = config_from_dict(ModelConfig, edge, "model.")
    assert (config.dropout, config.d_model, config.mamba.d_conv, config.ema.alpha) == (
        0.0, 1, 2, 0.0,
    )  # fmt: skip


def test_every_numeric_model_and_train_setting_declares_its_range() -> None:
    numeric = {
        key: field_
        for key, (hint, field_) in leaf_fields(TrialSpec).items()
        if key.split(".")[0] in ("model", "train") and hint in (int, float)
    }
    assert {"train.lr", "train.epochs", "model.dropout", "model.mamba.d_state"} <= set(numeric)
    undeclared = sorted(key for key, field_ in numeric.items() if field_range(field_) is None)
    assert undeclared == []
    defaults = TrialSpec()
    for key, field_ in numeric.items():  # every default lies in its own range
        section, *rest = key.split(".")
        value = getattr(defaults, section)
        for part in rest:
            value = getattr(value, part)
        assert value in field_range(field_), key
