"""A protocol's ``corpus:`` (or ``test_corpus:``) section: which corpus to read, where, and
the scale its labels are on.

The section holds plain values. Which kinds exist, and which of ``root`` and ``manifest``
each reads, is :data:`bench.corpus.registry.CORPUS_READERS`'s to say; a protocol checks its
sections against it when it loads (:func:`bench.corpus.registry.corpus_reader`). This module
imports no reader, so the readers, the registry and the protocol layer can all import it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.corpus.synth import SynthConfig
from bench.errors import BenchError


@dataclass(frozen=True)
class CorpusSection:
    """``corpus:``: what to read, and the scale its labels are on.

    kind: a name in :data:`bench.corpus.registry.CORPUS_READERS`: ``synthetic`` (generated
        under ``$BENCH_DATA`` unless ``root`` is set), ``iemocap``, ``msp_podcast`` or
        ``msp_improv`` (``root``: the release folder) or ``jsonl`` (``manifest``: the file).
    label_scale: ``(lo, hi)``; labels become ``(x - lo) / (hi - lo)``.
    dialog_unit: what one dialog is, where the corpus leaves it open (the reader's
        ``dialog_units``; MSP-Podcast: ``podcast``, its segments in order, or
        ``utterance``, each turn alone; MSP-IMPROV: ``speaker``, one speaker's turns of a
        recording, or ``recording``, both speakers').
    arousal_reversed: read arousal as ``lo + hi - x``, for a release that stores it high to
        low (MSP-IMPROV; the reader's ``arousal_reversed``); unset (None): the reader's
        default.
    synth: the generator's arguments (``kind: synthetic`` only).
    """

    kind: str = "synthetic"
    root: str | None = None
    manifest: str | None = None
    label_scale: tuple[float, float] = (1.0, 5.0)
    dialog_unit: str | None = None
    arousal_reversed: bool | None = None
    synth: SynthConfig = field(default_factory=SynthConfig)

    def __post_init__(self) -> None:
        if not self.label_scale[0] < self.label_scale[1]:
            raise BenchError(f"corpus.label_scale must be [lo, hi], lo < hi: {self.label_scale}")

    def hashed(self) -> dict[str, Any]:
        """Every key, less ``dialog_unit`` and ``arousal_reversed`` where unset (so corpora
        read before they existed keep their hashes; the labels a reader's default gives are in
        each trial's data identity, :mod:`bench.run.identity`)."""
        values = asdict(self)
        for key in ("dialog_unit", "arousal_reversed"):
            if values[key] is None:
                del values[key]
        return values
