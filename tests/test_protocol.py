"""Protocols: loading with overrides, leave-one-session-out folds, and leakage checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.config import apply_overrides
from bench.corpus.iemocap import read_iemocap
from bench.corpus.jsonl import read_jsonl
from bench.corpus.synth import GENERATOR_VERSION, META_FILE
from bench.errors import BenchError
from bench.protocol import Fold, check_fold, load_protocol, make_folds, prepare_corpus
from tests.conftest import write_wav


@pytest.fixture(scope="module")
def tiny_table(tiny_corpus_root: Path):
    return read_iemocap(tiny_corpus_root).table


def test_fold_k_tests_session_k_and_nothing_leaks(tiny_table):
    folds = make_folds(tiny_table, load_protocol("synthetic"))
    assert [f.test_unit for f in folds] == ["Ses01", "Ses02", "Ses03", "Ses04", "Ses05"]
    for fold in folds:
        test = tiny_table.iloc[fold.test]
        train = tiny_table.iloc[fold.train]
        val = tiny_table.iloc[fold.val]
        assert set(test["session"]) == {fold.test_unit}
        assert not set(test["speaker"]) & (set(train["speaker"]) | set(val["speaker"]))
        assert not set(val["dialog"]) & set(train["dialog"])
        # Every utterance is used exactly once.
        together = np.concatenate([fold.train, fold.val, fold.test])
        assert sorted(together) == list(range(len(tiny_table)))
        # One of the two dialogs of every training session is held out for validation.
        assert val.groupby("session")["dialog"].nunique().tolist() == [1] * 4


def test_validation_split_is_seeded(small_corpus_root: Path):
    table = read_iemocap(small_corpus_root).table
    protocol = load_protocol("synthetic")
    first = make_folds(table, protocol)
    again = make_folds(table, protocol)
    other = make_folds(table, apply_overrides(protocol, ["validation.seed=1"]))
    assert all(np.array_equal(a.val, b.val) for a, b in zip(first, again, strict=True))
    assert any(not np.array_equal(a.val, b.val) for a, b in zip(first, other, strict=True))


def test_leakage_is_detected(tiny_table):
    fold = make_folds(tiny_table, load_protocol("synthetic"))[0]
    leaky = Fold(
        fold.number, fold.test_unit, np.append(fold.train, fold.test[0]), fold.val, fold.test
    )
    with pytest.raises(BenchError, match="test and train share speaker"):
        check_fold(tiny_table, leaky)
    shared_dialog = Fold(1, "x", fold.train, np.append(fold.val, fold.train[0]), fold.test)
    with pytest.raises(BenchError, match="val and train share dialog"):
        check_fold(tiny_table, shared_dialog)


def test_jsonl_fold_unit_that_splits_a_speaker_is_refused(tmp_path: Path):
    lines = []
    for k, (group, speaker, dialog) in enumerate(
        [("g1", "A", "d1"), ("g1", "B", "d2"), ("g2", "A", "d3"), ("g2", "C", "d4")]
    ):
        write_wav(tmp_path / f"u{k}.wav", 0.1)
        entry = {"utt_id": f"u{k}", "session_id": dialog, "speaker_id": speaker}
        entry |= {"group": group, "audio_path": f"u{k}.wav", "valence": 3, "arousal": 3}
        lines.append(json.dumps(entry))
    (tmp_path / "m.jsonl").write_text("\n".join(lines))
    table = read_jsonl(tmp_path / "m.jsonl").table
    protocol = load_protocol("jsonl", [f"corpus.manifest={tmp_path / 'm.jsonl'}"])
    with pytest.raises(BenchError, match=r"fold 1: test and train share speaker\(s\) A"):
        make_folds(table, protocol)
    by_speaker = make_folds(table, apply_overrides(protocol, ["folds.unit=speaker"]))
    assert [f.test_unit for f in by_speaker] == ["A", "B", "C"]


def test_overrides_must_name_existing_keys():
    protocol = load_protocol("iemocap", ["corpus.root=/data/x", "validation.fraction=0.3"])
    assert protocol["corpus"]["root"] == "/data/x" and protocol["validation"]["fraction"] == 0.3
    with pytest.raises(BenchError, match="no key 'rot' under corpus"):
        load_protocol("iemocap", ["corpus.rot=/data/x"])
    with pytest.raises(BenchError, match="not of the form"):
        load_protocol("iemocap", ["corpus.root"])
    with pytest.raises(BenchError, match="unknown protocol 'nope'"):
        load_protocol("nope")


def test_synthetic_protocol_generates_on_first_use(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    protocol = load_protocol("synthetic", ["corpus.synth.size=tiny", "corpus.synth.context=false"])
    corpus = prepare_corpus(protocol, progress=False)
    root = tmp_path / "synthetic" / f"tiny-seed0-nocontext-v{GENERATOR_VERSION}"
    assert root.is_dir()
    assert corpus.name == "synthetic" and len(corpus.table) == 120
    meta = json.loads((root / META_FILE).read_text())
    assert meta["generator_version"] == GENERATOR_VERSION
    (root / META_FILE).write_text(json.dumps({**meta, "generator_version": 1}))
    with pytest.raises(BenchError, match=rf"{META_FILE}: written by .* version 1.*delete"):
        prepare_corpus(protocol, progress=False)


def test_unconfigured_corpora_say_what_to_set():
    with pytest.raises(BenchError, match="corpus.root="):
        prepare_corpus(load_protocol("iemocap"))
    with pytest.raises(BenchError, match="corpus.manifest="):
        prepare_corpus(load_protocol("jsonl"))
