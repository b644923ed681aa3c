"""Reading features for a table: role -> ``[N, d]`` float32 rows aligned with the table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bench.corpus.table import Corpus
from bench.errors import BenchError
from bench.features.config import FeaturesConfig, as_features_config
from bench.features.speaker import l2_normalise
from bench.features.store import FeatureStore, corpus_identity


class FeatureSet(dict[str, np.ndarray]):
    """``role -> [N, d]`` float32 features; ``.valid[role]`` is the ``[N]`` bool mask.

    A row with ``valid`` False is the zeros fallback of an utterance the extractor could
    not process (see :mod:`bench.features.extract` for the outcomes).
    """

    def __init__(self, values: dict[str, np.ndarray], valid: dict[str, np.ndarray]):
        super().__init__(values)
        self.valid = valid


def speaker_means(
    values: np.ndarray, speakers: pd.Series, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Replace each utterance's embedding by its speaker's normalised mean embedding.

    For speaker ``k`` with valid utterances ``U_k``: ``s_k = m_k / (||m_k|| + 1e-8)`` with
    ``m_k = sum_{i in U_k} e_i``. Only that speaker's own audio enters (no labels, no
    other speakers). A speaker with no valid utterance keeps zeros and stays invalid.

    Args:
        values: ``[N, d]`` utterance embeddings.
        speakers: ``[N]`` speaker ids.
        valid: ``[N]`` validity of each embedding.

    Returns:
        ``[N, d]`` speaker embeddings per row and their ``[N]`` validity.
    """
    codes, uniques = pd.factorize(speakers)  # [N], [K]
    sums = np.zeros((len(uniques), values.shape[1]))  # [K, d]
    np.add.at(sums, codes[valid], values[valid])
    has_valid = np.bincount(codes[valid], minlength=len(uniques)) > 0  # [K]
    means = np.where(has_valid[:, None], l2_normalise(sums), 0.0)  # [K, d]
    return means[codes].astype(np.float32), has_valid[codes]  # [N, d], [N]


def load_features(
    table: pd.DataFrame, features_cfg: FeaturesConfig | Mapping[str, Any] | None
) -> FeatureSet:
    """Features of every role for ``table``'s rows, from finished stores.

    ``table`` is the corpus table that was extracted (its utterances and audio files are
    the store's identity); a fold selects its rows from the returned arrays.

    The speaker role follows ``features.speaker.level``: each utterance's own embedding,
    or its speaker's mean (:func:`speaker_means`) over the rows of ``table``.

    Raises:
        BenchError: a store is missing (run ``bench features``) or corrupt.
    """
    config = as_features_config(features_cfg)
    identity = corpus_identity(table)
    values, valid = {}, {}
    for role, spec in config.extractors.items():
        stored = FeatureStore(config.cache_dir, spec, identity).open()
        if stored is None:
            raise BenchError(
                f"no {role} features ({spec.name}) for this corpus in {config.cache_dir}: "
                "run `bench features --protocol ...` first"
            )
        values[role], valid[role] = stored.align(table["utt_id"].astype(str).tolist())
        if role == "speaker" and config.speaker_level == "speaker":
            values[role], valid[role] = speaker_means(values[role], table["speaker"], valid[role])
    return FeatureSet(values, valid)


def load_corpus_features(
    corpus: Corpus, features_cfg: FeaturesConfig | Mapping[str, Any] | None
) -> FeatureSet:
    """:func:`load_features` for ``corpus.table``; a cross-corpus table's rows come from
    each of its parts' own stores, stacked in the table's order (its parts in turn)."""
    if not corpus.parts:
        return load_features(corpus.table, features_cfg)
    sets = [load_features(part.table, features_cfg) for part in corpus.parts]
    return FeatureSet(
        {role: np.concatenate([s[role] for s in sets]) for role in sets[0]},
        {role: np.concatenate([s.valid[role] for s in sets]) for role in sets[0]},
    )
