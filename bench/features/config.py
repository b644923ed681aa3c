"""The protocol's ``features:`` block, read by the config layer (:mod:`bench.config`), as
every section is: unknown keys and wrongly typed values fail naming the key and its origin.

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

from bench.config import Origins, check_choice, config_from_dict, tagged_from_dict
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


@dataclass(frozen=True)
class FeaturesBlock:
    """The ``features:`` block as written: the stores' folder (null: ``$BENCH_DATA/features``)
    and each role's block of ``ROLES`` (``{extractor: <name>, <its parameters>}``; the
    speaker's also ``level``), which :func:`parse_features_config` reads."""

    cache_dir: str | None = None
    speech: dict[str, Any] | None = None
    prosody: dict[str, Any] | None = None
    speaker: dict[str, Any] | None = None


def role_defaults(
    role: str, extractor: str | None = None, origins: Origins | None = None
) -> dict[str, Any]:
    """The full block of ``role`` with ``extractor`` (default: the role's first) and every
    parameter at its default, so that any parameter can be overridden by its dotted key.

    Raises:
        BenchError: an extractor the role does not take, with its origin (``origins``).
    """
    key = f"features.{role}.extractor"
    name = check_choice(key, extractor or ROLES[role][0], ROLES[role], origins)
    block = {"extractor": name, **dataclasses.asdict(EXTRACTORS[name]())}
    if role == "speaker":
        block["level"] = LEVELS[0]
    return block


def parse_features_config(
    block: Mapping[str, Any] | None, origins: Origins | None = None
) -> FeaturesConfig:
    """A ``features:`` block (a protocol's, or a checkpoint's :func:`features_block`) read
    by the config layer, defaults filled in: each role's extractor class is the one its
    ``extractor`` key names among those the role takes (:func:`bench.config.tagged_from_dict`).

    Raises:
        BenchError: an unknown key, role, extractor or level, or a value of the wrong type,
            named with its dotted key and where it came from (``origins``).
    """
    given = config_from_dict(FeaturesBlock, block or {}, "features.", origins)
    roles = {role: dict(getattr(given, role) or {}) for role in ROLES}
    level = roles["speaker"].pop("level", LEVELS[0])
    level = check_choice("features.speaker.level", level, LEVELS, origins)
    extractors = {}
    for role, accepted in ROLES.items():
        classes = {name: EXTRACTORS[name] for name in accepted}
        where = f"features.{role}."
        extractors[role] = tagged_from_dict(classes, "extractor", roles[role], where, origins)
    cache_dir = Path(given.cache_dir) if given.cache_dir else data_dir() / "features"
    return FeaturesConfig(cache_dir, extractors, level)


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
