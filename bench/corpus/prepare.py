"""Corpus preparation: read the protocol's corpus, generating the synthetic one on first use."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.corpus.cross import combine
from bench.corpus.iemocap import read_iemocap
from bench.corpus.jsonl import read_jsonl
from bench.corpus.msp_improv import read_msp_improv
from bench.corpus.msp_podcast import read_msp_podcast
from bench.corpus.synth import GENERATOR_VERSION, check_version, generate
from bench.corpus.table import Corpus
from bench.errors import BenchError
from bench.paths import data_dir, ensure_writable_dir
from bench.protocol import TEST_CORPUS, CorpusSection, Protocol


def synthetic_root(corpus: CorpusSection) -> Path:
    """The folder of a synthetic corpus: ``corpus.root``, else one named by its arguments and
    the generator version (so a newer generator never reads an older corpus)."""
    if corpus.root:
        return Path(corpus.root).expanduser().resolve()
    synth = corpus.synth
    name = f"{synth.size}-seed{synth.seed}"
    name += "" if synth.context else "-nocontext"
    name += "" if synth.speaker_effect else "-nospeaker"
    name += f"-v{GENERATOR_VERSION}"
    return data_dir() / "synthetic" / name


def corpus_source(corpus: CorpusSection, key: str = "corpus") -> str:
    """Where the section ``key`` reads its corpus, as the setting a user would change.

    >>> corpus_source(CorpusSection(kind="jsonl", manifest="/data/m.jsonl"), "test_corpus")
    'test_corpus.manifest=/data/m.jsonl'
    """
    if corpus.kind == "jsonl":
        return f"{key}.manifest={corpus.manifest}"
    if corpus.kind == "synthetic":
        return f"{key}.root={synthetic_root(corpus)}"
    return f"{key}.root={corpus.root}"


def prepare_corpus(corpus: CorpusSection, progress: bool = True, key: str = "corpus") -> Corpus:
    """Read the corpus of a protocol's ``corpus:`` section (or of the section ``key``, whose
    name the errors give: ``test_corpus``)."""
    if corpus.kind == "synthetic":
        root = synthetic_root(corpus)
        if not root.is_dir():
            ensure_writable_dir(root.parent, "synthetic corpus folder ($BENCH_DATA)")
            print(f"generating the synthetic corpus in {root} (first use)", file=sys.stderr)
            generate(root, corpus.synth, progress=progress)
        check_version(root)
        return read_iemocap(root, name="synthetic", section=key)
    if corpus.kind == "iemocap":
        if not corpus.root:
            raise BenchError(f"set {key}.root=/path/to/IEMOCAP_full_release")
        return read_iemocap(corpus.root, section=key)
    if corpus.kind == "msp_improv":
        if not corpus.root:
            raise BenchError(f"set {key}.root=/path/to/MSP-IMPROV (the folder with Evaluation.txt)")
        return read_msp_improv(corpus.root, corpus.label_scale, section=key)
    if corpus.kind == "msp_podcast":
        if not corpus.root:
            raise BenchError(f"set {key}.root=/path/to/MSP-Podcast (the folder with Audios/)")
        unit = corpus.dialog_unit or "podcast"
        return read_msp_podcast(corpus.root, corpus.label_scale, unit, section=key)
    if not corpus.manifest:
        raise BenchError(f"set {key}.manifest=/path/to/manifest.jsonl")
    return read_jsonl(corpus.manifest, corpus.label_scale, section=key)


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
