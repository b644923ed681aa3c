"""Corpus preparation: read a protocol's corpus with its kind's reader
(:data:`bench.corpus.registry.CORPUS_READERS`), and combine a training and a test corpus."""

from __future__ import annotations

from bench.corpus.cross import combine
from bench.corpus.registry import corpus_reader
from bench.corpus.section import CorpusSection
from bench.corpus.table import Corpus
from bench.protocol import TEST_CORPUS, Protocol


def corpus_source(corpus: CorpusSection, key: str = "corpus") -> str:
    """Where the section ``key`` reads its corpus, as the setting a user would change.

    >>> corpus_source(CorpusSection(kind="jsonl", manifest="/data/m.jsonl"), "test_corpus")
    'test_corpus.manifest=/data/m.jsonl'
    """
    reader = corpus_reader(corpus, key)
    return f"{key}.{reader.setting}={reader.where(corpus, key)}"


def prepare_corpus(corpus: CorpusSection, progress: bool = True, key: str = "corpus") -> Corpus:
    """Read the corpus of a protocol's ``corpus:`` section (or of the section ``key``, whose
    name the errors give: ``test_corpus``) with its kind's reader; the synthetic corpus is
    generated on first use.

    Raises:
        BenchError: a kind no reader is registered for, or an unset ``root``/``manifest``
            that the kind needs (naming the key to set).
    """
    reader = corpus_reader(corpus, key)
    return reader.read(corpus, reader.where(corpus, key), key, progress)


def prepare_protocol_corpus(protocol: Protocol, progress: bool = True) -> Corpus:
    """The corpus a protocol runs on: ``corpus``, or, with a ``test_corpus``, both combined
    (:func:`bench.corpus.cross.combine`: train and select on the first, test on the second).

    Where the folds read a corpus's splits (``corpus`` under ``folds.mode: predefined``; a
    ``test_corpus`` that has some ``folds.test`` name), its rows of a split the folds do not
    name, or of none, are added to its problems (:meth:`~bench.corpus.table.SplitTally.unused`).
    """
    folds = protocol.folds
    names = (*folds.train, *folds.validation, *folds.test)
    corpus = prepare_corpus(protocol.corpus, progress)
    if folds.mode == "predefined" and corpus.splits is not None:
        corpus.problems.extend(corpus.splits.unused(names))
    if protocol.test_corpus is None:
        return corpus
    test = prepare_corpus(protocol.test_corpus, progress, TEST_CORPUS)
    if test.splits is not None and set(folds.test) & set(test.splits.counts):
        test.problems.extend(test.splits.unused(names))
    sources = (corpus_source(protocol.corpus), corpus_source(protocol.test_corpus, TEST_CORPUS))
    return combine(corpus, test, sources)
