"""Corpus readers by ``corpus.kind``: the one list of the kinds a protocol may name.

A protocol's ``corpus.kind`` (and ``test_corpus.kind``) must be a key of
:data:`CORPUS_READERS`, checked when the protocol loads (:func:`corpus_reader`), and
:func:`bench.corpus.prepare.prepare_corpus` reads a corpus with its entry. Adding a reader
is one new module with a function ``read(corpus, where, key, progress) -> Corpus`` and one
line in :data:`CORPUS_READERS`::

    "my_corpus": CorpusReader(read_my_corpus, example="/path/to/MyCorpus"),

The entries of the built-in kinds adapt the readers' own functions (which take plain
values, so tests and scripts call them directly) to that signature.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.corpus.iemocap import read_iemocap
from bench.corpus.jsonl import read_jsonl
from bench.corpus.msp_improv import AROUSAL_REVERSED, read_msp_improv
from bench.corpus.msp_improv import DIALOG_UNITS as IMPROV_UNITS
from bench.corpus.msp_podcast import DIALOG_UNITS as PODCAST_UNITS
from bench.corpus.msp_podcast import read_msp_podcast
from bench.corpus.section import CorpusSection
from bench.corpus.synth import GENERATOR_VERSION, check_version, generate
from bench.corpus.table import Corpus
from bench.errors import BenchError
from bench.paths import data_dir, ensure_writable_dir

ReadCorpus = Callable[[CorpusSection, Path, str, bool], Corpus]
SETTINGS = ("root", "manifest")  # the keys of a corpus section that say where it is
PODCAST_FOLDER = "/path/to/MSP-Podcast (the folder with Audios/)"
IMPROV_FOLDER = "/path/to/MSP-IMPROV (the folder with Evaluation.txt)"


@dataclass(frozen=True)
class CorpusReader:
    """How one ``corpus.kind`` is read.

    read: ``read(corpus, where, key, progress) -> Corpus``: the corpus of the section
        ``corpus``, found at ``where`` (:meth:`where`); ``key`` names the section in
        messages (``corpus``, ``test_corpus``); ``progress``: whether a long step may show a
        progress bar.
    setting: the key of the section that says where the corpus is: ``root`` (a folder) or
        ``manifest`` (a file).
    example: the value that the error asking for an unset ``setting`` shows.
    locate: where the corpus is, whatever ``setting`` says (the synthetic corpus: its
        ``root``, else a folder under ``$BENCH_DATA``); None: ``setting``'s value, which
        must then be set.
    dialog_units: the values ``dialog_unit`` may take, the default first; none: it stays
        unset.
    arousal_reversed: what ``arousal_reversed`` is when unset, for a kind whose release
        stores arousal in a direction that must be chosen (MSP-IMPROV); None: the kind
        does not take the key.
    """

    read: ReadCorpus
    setting: str = "root"
    example: str = "/path/to/corpus"
    locate: Callable[[CorpusSection], Path] | None = None
    dialog_units: tuple[str, ...] = ()
    arousal_reversed: bool | None = None

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise BenchError(f"a reader's setting is one of {SETTINGS}, not {self.setting!r}")

    def where(self, corpus: CorpusSection, key: str = "corpus") -> Path:
        """Where the section ``key`` (``corpus``) finds its corpus.

        Raises:
            BenchError: ``setting`` is unset and the reader does not locate the corpus
                itself: ``set corpus.root=/path/to/...``.
        """
        if self.locate is not None:
            return self.locate(corpus)
        value = getattr(corpus, self.setting)
        if not value:
            raise BenchError(f"set {key}.{self.setting}={self.example}")
        return Path(value)


def corpus_reader(corpus: CorpusSection, key: str = "corpus") -> CorpusReader:
    """The reader of ``corpus.kind``, with ``corpus.dialog_unit`` and
    ``corpus.arousal_reversed`` checked against it.

    Raises:
        BenchError: a kind that no reader is registered for (listing those that are), a
            dialog unit the kind does not take, or ``arousal_reversed`` set for a kind that
            does not take it; named as keys of the section ``key``.
    """
    reader = CORPUS_READERS.get(corpus.kind)
    if reader is None:
        known = ", ".join(CORPUS_READERS)
        raise BenchError(f"{key}.kind must be one of {known}, not {corpus.kind!r}")
    units = reader.dialog_units
    if corpus.dialog_unit is not None and corpus.dialog_unit not in units:
        choices = f"one of {', '.join(units)}" if units else "unset (null)"
        raise BenchError(
            f"{key}.dialog_unit for {key}.kind {corpus.kind} must be {choices}, "
            f"not {corpus.dialog_unit!r}"
        )
    if corpus.arousal_reversed is not None and reader.arousal_reversed is None:
        takes = ", ".join(k for k, r in CORPUS_READERS.items() if r.arousal_reversed is not None)
        raise BenchError(
            f"{key}.arousal_reversed applies to {key}.kind {takes} only, not {corpus.kind} "
            "(leave it unset, null)"
        )
    return reader


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


def read_synthetic(corpus: CorpusSection, root: Path, key: str, progress: bool) -> Corpus:
    """The synthetic corpus at ``root``, generated there on first use."""
    if not root.is_dir():
        ensure_writable_dir(root.parent, "synthetic corpus folder ($BENCH_DATA)")
        print(f"generating the synthetic corpus in {root} (first use)", file=sys.stderr)
        generate(root, corpus.synth, progress=progress)
    check_version(root)
    return read_iemocap(root, name="synthetic", section=key)


def _iemocap(corpus: CorpusSection, root: Path, key: str, progress: bool) -> Corpus:
    return read_iemocap(root, section=key)


def _msp_improv(corpus: CorpusSection, root: Path, key: str, progress: bool) -> Corpus:
    unit = corpus.dialog_unit or IMPROV_UNITS[0]
    flip = AROUSAL_REVERSED if corpus.arousal_reversed is None else corpus.arousal_reversed
    return read_msp_improv(root, corpus.label_scale, section=key, dialog_unit=unit,
                           arousal_reversed=flip)  # fmt: skip


def _msp_podcast(corpus: CorpusSection, root: Path, key: str, progress: bool) -> Corpus:
    unit = corpus.dialog_unit or PODCAST_UNITS[0]
    return read_msp_podcast(root, corpus.label_scale, unit, section=key)


def _jsonl(corpus: CorpusSection, manifest: Path, key: str, progress: bool) -> Corpus:
    return read_jsonl(manifest, corpus.label_scale, section=key)


CORPUS_READERS: dict[str, CorpusReader] = {
    "synthetic": CorpusReader(read_synthetic, locate=synthetic_root),
    "iemocap": CorpusReader(_iemocap, example="/path/to/IEMOCAP_full_release"),
    "jsonl": CorpusReader(_jsonl, "manifest", "/path/to/manifest.jsonl"),
    "msp_podcast": CorpusReader(_msp_podcast, example=PODCAST_FOLDER, dialog_units=PODCAST_UNITS),
    "msp_improv": CorpusReader(
        _msp_improv,
        example=IMPROV_FOLDER,
        dialog_units=IMPROV_UNITS,
        arousal_reversed=AROUSAL_REVERSED,
    ),
}
