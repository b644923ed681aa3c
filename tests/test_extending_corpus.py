"""A corpus reader added from outside the package: a function defined here and one line
that registers it. The protocol layer then accepts its kind (as ``corpus`` and as
``test_corpus``), ``prepare_corpus`` reads with it, and an unknown kind's error lists it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from bench.corpus.prepare import corpus_source, prepare_corpus, prepare_protocol_corpus
from bench.corpus.registry import CORPUS_READERS, CorpusReader
from bench.corpus.section import CorpusSection
from bench.corpus.table import Corpus, check_audio_exists, finish_table, normalise
from bench.errors import BenchError
from bench.protocol import TEST_CORPUS, load_protocol, make_folds
from bench.testing.tones import write_tone

TOY = "toy_csv"
FIELDS = ("utt_id", "session", "dialog", "speaker", "start", "file", "valence", "arousal")


def read_toy_csv(corpus: CorpusSection, manifest: Path, key: str, progress: bool) -> Corpus:
    """A CSV with a header of :data:`FIELDS`, one row per utterance, its ``file`` relative
    to the CSV's folder; valence and arousal on ``corpus.label_scale``."""
    with manifest.open(newline="") as handle:
        records = list(csv.DictReader(handle))
    rows = [
        {
            "utt_id": record["utt_id"],
            "corpus": TOY,
            "session": record["session"],
            "dialog": record["dialog"],
            "speaker": record["speaker"],
            "start": float(record["start"]),
            "audio_path": str(manifest.parent / record["file"]),
            "valence": float(normalise(float(record["valence"]), corpus.label_scale)),
            "arousal": float(normalise(float(record["arousal"]), corpus.label_scale)),
            "group": record["session"],
        }
        for record in records
    ]
    table = finish_table(rows, manifest)
    check_audio_exists(table, manifest)
    return Corpus(TOY, table, corpus.label_scale)


@pytest.fixture
def toy_kind(monkeypatch: pytest.MonkeyPatch) -> str:
    """The kind ``toy_csv``, registered for one test (monkeypatch takes it out again)."""
    monkeypatch.setitem(CORPUS_READERS, TOY, CorpusReader(read_toy_csv, "manifest", "/toy.csv"))
    return TOY


def write_toy_corpus(folder: Path, sessions: int = 3) -> Path:
    """``sessions`` sessions, each one dialog of two speakers taking 4 turns; labels 1..7.
    Returns the CSV."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(1, sessions + 1):
        for turn in range(4):
            utt = f"s{s}_u{turn}"
            rows.append({
                "utt_id": utt, "session": f"sess{s}", "dialog": f"sess{s}_talk",
                "speaker": f"sess{s}_{'AB'[turn % 2]}", "start": turn, "file": f"wav/{utt}.wav",
                "valence": 1 + turn, "arousal": 7 - turn,
            })  # fmt: skip
            write_tone(folder / "wav" / f"{utt}.wav", rng, seconds=0.2)
    manifest = folder / "toy.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def write_protocol(folder: Path, text: str) -> str:
    path = folder / "toy.yaml"
    path.write_text(f"name: toy\n{text}\n")
    return str(path)


def test_a_registered_reader_is_a_kind_a_protocol_reads(tmp_path: Path, toy_kind: str):
    manifest = write_toy_corpus(tmp_path)
    yaml = f"corpus: {{kind: {toy_kind}, manifest: {manifest}, label_scale: [1, 7]}}"
    protocol = load_protocol(write_protocol(tmp_path, yaml))
    assert protocol.corpus.kind == toy_kind
    corpus = prepare_corpus(protocol.corpus, progress=False)
    table = corpus.table
    assert len(table) == 12 and set(table["corpus"]) == {toy_kind}
    first = table.set_index("utt_id").loc["s2_u1"]
    assert (first["valence"], first["arousal"]) == pytest.approx((1 / 6, 5 / 6))  # (x - 1) / 6
    assert corpus_source(protocol.corpus) == f"corpus.manifest={manifest}"
    folds = make_folds(table, protocol)
    assert [fold.test_unit for fold in folds] == ["sess1", "sess2", "sess3"]


def test_the_setting_a_reader_needs_is_asked_for(toy_kind: str):
    with pytest.raises(BenchError, match=r"set test_corpus\.manifest=/toy\.csv"):
        prepare_corpus(CorpusSection(kind=toy_kind), progress=False, key=TEST_CORPUS)


def test_a_registered_reader_serves_as_the_test_corpus(
    tmp_path: Path, toy_kind: str, tiny_corpus_root: Path
):
    manifest = write_toy_corpus(tmp_path)
    yaml = (
        f"corpus: {{kind: synthetic, root: {tiny_corpus_root}, synth: {{size: tiny}}}}\n"
        f"test_corpus: {{kind: {toy_kind}, manifest: {manifest}, label_scale: [1, 7]}}"
    )
    protocol = load_protocol(write_protocol(tmp_path, yaml))
    corpus = prepare_protocol_corpus(protocol, progress=False)
    assert [part.name for part in corpus.parts] == ["synthetic", toy_kind]
    (fold,) = make_folds(corpus.table, protocol)
    assert set(corpus.table["corpus"].iloc[fold.test]) == {toy_kind}
    assert len(fold.test) == 12


def test_an_unknown_kind_lists_every_registered_kind(tmp_path: Path, toy_kind: str):
    path = write_protocol(tmp_path, "test_corpus: {kind: tape}")
    with pytest.raises(BenchError, match=r"test_corpus\.kind must be one of") as caught:
        load_protocol(path)
    listed = str(caught.value).partition("one of ")[2].partition(", not")[0].split(", ")
    assert listed == list(CORPUS_READERS) and toy_kind in listed


def test_the_registration_ends_with_its_test():
    """Run after the tests above (file order), this fails if their fixture leaked the kind."""
    assert TOY not in CORPUS_READERS
    with pytest.raises(BenchError, match=f"corpus.kind must be one of .*not '{TOY}'"):
        load_protocol("synthetic", [f"corpus.kind={TOY}"])
