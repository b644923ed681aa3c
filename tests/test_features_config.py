"""The ``features:`` block: defaults, and loud failures on unknown or mistyped values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.config import Origins
from bench.errors import BenchError
from bench.features.config import parse_features_config
from bench.features.egemaps import EgemapsSpec
from bench.features.logmel import LogMelSpec
from bench.features.speaker import EcapaSpec, ResemblyzerSpec
from bench.features.ssl import TransformersSpec


def test_defaults_fill_every_role(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    config = parse_features_config(None)
    assert config.cache_dir == tmp_path / "features"
    assert config.extractors == {
        "speech": LogMelSpec(),
        "prosody": EgemapsSpec(),
        "speaker": ResemblyzerSpec(),
    }
    assert config.speaker_level == "utterance"


def test_parameters_and_level_are_read() -> None:
    config = parse_features_config(
        {
            "cache_dir": "cache",
            "speech": {"extractor": "transformers", "model": "some/model", "layer": "mean"},
            "speaker": {"extractor": "ecapa", "level": "speaker", "device": "cpu"},
        }
    )
    assert config.cache_dir == Path("cache")
    assert config.extractors["speech"] == TransformersSpec(model="some/model", layer="mean")
    assert config.extractors["speaker"] == EcapaSpec(device="cpu")
    assert config.speaker_level == "speaker"


def test_ints_are_accepted_for_floats() -> None:
    spec = parse_features_config({"speech": {"min_seconds": 1}}).extractors["speech"]
    assert spec == LogMelSpec(min_seconds=1.0)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"cach_dir": "x"}, "unknown key(s) features.cach_dir"),
        ({"speech": {"extractor": "egemaps"}}, "features.speech.extractor must be one of"),
        ({"speech": {"n_mel": 40}}, "unknown key(s) features.speech.n_mel"),
        ({"speech": {"n_mels": 40.5}}, "features.speech.n_mels must be int"),
        ({"speech": {"deltas": "yes"}}, "features.speech.deltas must be bool"),
        ({"speech": {"extractor": "transformers", "layer": "last"}}, "int or 'mean'"),
        ({"speaker": {"level": "dialog"}}, "features.speaker.level must be one of"),
        ({"prosody": {"level": "speaker"}}, "unknown key(s) features.prosody.level"),
        ({"speech": "logmel"}, "features.speech must be dict[str, Any] or null, not str"),
    ],
)
def test_bad_blocks_fail_loudly(block: dict, message: str) -> None:
    with pytest.raises(BenchError, match=re.escape(message)):
        parse_features_config(block)


@pytest.mark.parametrize(
    "block",
    [
        {"speaker": {"level": "dialog"}},
        {"speech": {"extractor": "egemaps"}},
        {"speech": {"n_mels": "many"}},
        {"prosody": {"n_mel": 40}},
    ],
)
def test_errors_name_where_the_value_was_set(block: dict) -> None:
    """The block is read by the config layer, so each error names its origin (a protocol
    file, or the command-line override that set the key)."""
    origins = Origins("protocols/mine.yaml")
    with pytest.raises(BenchError, match=re.escape("(from protocols/mine.yaml)")):
        parse_features_config(block, origins)
