"""Frozen per-utterance features (speech, prosody, speaker), extracted once and cached.

>>> from bench.features import extract_features, load_features
>>> summaries = extract_features(table, protocol["features"])   # doctest: +SKIP
>>> features = load_features(table, protocol["features"])       # doctest: +SKIP
>>> features["prosody"].shape, features.valid["prosody"].shape  # doctest: +SKIP
((N, 88), (N,))
"""

from bench.features.config import EXTRACTORS, ROLES, FeaturesConfig, parse_features_config
from bench.features.extract import ExtractionSummary, extract_features
from bench.features.load import FeatureSet, load_features

__all__ = [
    "EXTRACTORS",
    "ROLES",
    "ExtractionSummary",
    "FeatureSet",
    "FeaturesConfig",
    "extract_features",
    "load_features",
    "parse_features_config",
]
