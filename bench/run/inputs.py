"""What every worker of a run gets: the corpus's table, its features and the folds' rows."""

from __future__ import annotations

from bench.corpus.table import Corpus
from bench.features.config import features_block
from bench.features.extract import extract_corpus_features
from bench.features.load import load_corpus_features
from bench.protocol import Fold, Protocol
from bench.run.selection import fold_rows
from bench.run.worker import SharedInputs


def shared_inputs(
    protocol: Protocol, corpus: Corpus, folds: dict[int, Fold], progress: bool
) -> SharedInputs:
    """What every worker gets: the table, its features (extracted first where the cache
    lacks them) and the folds' row indices."""
    extract_corpus_features(corpus, protocol.features, progress=progress)
    features = load_corpus_features(corpus, protocol.features)
    return SharedInputs(
        table=corpus.table,
        features=dict(features),
        valid=features.valid,
        folds=fold_rows(folds),
        label_scale=corpus.label_scale,
        features_config=features_block(protocol.features),
    )
