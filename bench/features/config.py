"""The protocol's ``features:`` block, checked: unknown keys and wrongly typed values fail.

.. code-block:: yaml

    features:
      cache_dir: null                   # null: $BENCH_DATA/features (default ./data/features)
      speech:  {extractor: logmel}      # or {extractor: transformers, model: ..., layer: -1}
      prosody: {extractor: egemaps}
      speaker: {extractor: resemblyzer, level: utterance}   # or ecapa; level: speaker

A role left out takes its default extractor with default parameters. Each extractor's
parameters are the fields of its spec class (see ``EXTRACTORS``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import Origins, check_type, config_from_dict
from bench.errors import BenchError
from bench.features.base import ExtractorSpec
from bench.features.egemaps import EgemapsSpec
from bench.features.logmel import LogMelSpec
from bench.features.speaker import EcapaSpec, ResemblyzerSpec
from bench.features.ssl import TransformersSpec
from bench.paths import data_dir

EXTRACTORS: dict[str, type[ExtractorSpec]] = {
    "logmel": LogMelSpec,
    "transformers": TransformersSpec,
    "egemaps": EgemapsSpec,
    "resemblyzer": ResemblyzerSpec,
    "ecapa": EcapaSpec,
}
ROLES: dict[str, tuple[str, ...]] = {  # role -> extractors it accepts, the default first
    "speech": ("logmel", "transformers"),
    "prosody": ("egemaps", "logmel"),
    "speaker": ("resemblyzer", "ecapa"),
}
LEVELS = ("utterance", "speaker")


@dataclass(frozen=True)
class FeaturesConfig:
    """Where the stores live, which extractor fills each role, and the speaker level.

    Attributes:
        cache_dir: folder of the feature stores (relative: to the current directory).
        extractors: role -> extractor spec, in the order of ``ROLES``.
        speaker_level: ``utterance`` (each utterance's own embedding) or ``speaker``
            (the mean over the speaker's utterances; see :mod:`bench.features.load`).
    """

    cache_dir: Path
    extractors: dict[str, ExtractorSpec]
    speaker_level: str = "utterance"


def role_defaults(role: str, extractor: str | None = None) -> dict[str, Any]:
    """The full block of ``role`` with ``extractor`` (default: the role's first) and every
    parameter at its default, so that any parameter can be overridden by its dotted key."""
    name = extractor or ROLES[role][0]
    if name not in ROLES[role]:
        raise BenchError(f"features.{role}.extractor must be one of {ROLES[role]}, not {name!r}")
    block = {"extractor": name, **dataclasses.asdict(EXTRACTORS[name]())}
    if role == "speaker":
        block["level"] = LEVELS[0]
    return block


def parse_features_config(
    block: Mapping[str, Any] | None, origins: Origins | None = None
) -> FeaturesConfig:
    """Check a ``features:`` block and fill in defaults.

    Raises:
        BenchError: an unknown key, role, extractor or level, or a value of the wrong type,
            named with where it came from (``origins``).
    """
    block = dict(block or {})
    unknown = set(block) - {"cache_dir", *ROLES}
    if unknown:
        raise BenchError(
            f"features: unknown keys {sorted(unknown)} (allowed: cache_dir, {', '.join(ROLES)})"
            + ("" if origins is None else f" (from {origins.of('features')})")
        )
    extractors, level = {}, "utterance"
    for role, accepted in ROLES.items():
        options = dict(block.get(role) or {})
        if role == "speaker":
            level = options.pop("level", level)
            if level not in LEVELS:
                raise BenchError(f"features.speaker.level must be one of {LEVELS}, not {level!r}")
        name = options.pop("extractor", accepted[0])
        if name not in accepted:
            raise BenchError(f"features.{role}.extractor must be one of {accepted}, not {name!r}")
        extractors[role] = make_spec(EXTRACTORS[name], options, f"features.{role}", origins)
    cache_dir = check_type("features.cache_dir", str | None, block.get("cache_dir"), origins)
    return FeaturesConfig(
        Path(cache_dir) if cache_dir else data_dir() / "features", extractors, level
    )


def as_features_config(cfg: FeaturesConfig | Mapping[str, Any] | None) -> FeaturesConfig:
    """``cfg`` itself if already parsed, else :func:`parse_features_config` of it."""
    return cfg if isinstance(cfg, FeaturesConfig) else parse_features_config(cfg)


def features_block(config: FeaturesConfig) -> dict[str, Any]:
    """The plain ``features:`` block that parses back to ``config`` (less ``cache_dir``): every
    role's extractor with all of its parameters, and the speaker level."""
    block = {
        role: {"extractor": spec.name, **dataclasses.asdict(spec)}
        for role, spec in config.extractors.items()
    }
    block["speaker"]["level"] = config.speaker_level
    return block


def make_spec(
    cls: type[ExtractorSpec], options: Mapping[str, Any], where: str, origins: Origins | None = None
) -> ExtractorSpec:
    """Build ``cls(**options)`` after checking every key and value type against its fields."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(options) - fields
    if unknown:
        raise BenchError(
            f"{where}: unknown parameters {sorted(unknown)} for {cls.name} "
            f"(allowed: {', '.join(sorted(fields))})"
            + ("" if origins is None else f" (from {origins.of(where)})")
        )
    return config_from_dict(cls, options, where + ".", origins)
