"""Cross-corpus protocols: train and select on one release, test on another."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_run import FAST

from bench.cli import main
from bench.corpus.cross import TEST_PREFIX
from bench.corpus.prepare import prepare_protocol_corpus
from bench.errors import BenchError
from bench.features.extract import extract_corpus_features
from bench.features.load import load_corpus_features, load_features
from bench.protocol import load_protocol, make_folds
from bench.testing.msp_releases import OFFLINE, MspReleases

SCALES = {"msp_improv": "[1,5]", "msp_podcast": "[1,7]"}


def cross(train: tuple[str, Path], test: tuple[str, Path]) -> list[str]:
    """Overrides of the cross protocol: train on ``(kind, root)``, test on the other."""
    return [
        f"corpus.kind={train[0]}", f"corpus.root={train[1]}",
        f"corpus.label_scale={SCALES[train[0]]}", f"test_corpus.kind={test[0]}",
        f"test_corpus.root={test[1]}", f"test_corpus.label_scale={SCALES[test[0]]}", *OFFLINE,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def roots(msp_releases: MspReleases) -> dict[str, tuple[str, Path]]:
    return {"improv": ("msp_improv", msp_releases.improv.root),
            "podcast": ("msp_podcast", msp_releases.podcast.root)}  # fmt: skip


@pytest.fixture(scope="module")
def releases(roots, msp_releases: MspReleases) -> list[str]:
    """Train on MSP-IMPROV, test on MSP-Podcast; features from the shared cache."""
    return [
        *cross(roots["improv"], roots["podcast"]),
        f"features.cache_dir={msp_releases.features}",
    ]


def test_folds_train_on_one_corpus_and_test_each_test_set_of_the_other(releases):
    protocol = load_protocol("cross", releases)
    corpus = prepare_protocol_corpus(protocol, progress=False)
    table = corpus.table
    folds = make_folds(table, protocol)
    assert [f.test_unit for f in folds] == ["Test1", "Test2"]
    for fold in folds:
        assert set(table.iloc[np.r_[fold.train, fold.val]]["corpus"]) == {"msp_improv"}
        tested = table.iloc[fold.test]
        assert set(tested["corpus"]) == {"msp_podcast"} and set(tested["split"]) == {fold.test_unit}
        assert tested["utt_id"].str.startswith(TEST_PREFIX).all()
    # a whole MSP-IMPROV session validates: ceil(0.2 x 6) = 2 of the 6, unseen in training
    assert len(folds[0].val_values) == 2
    val_speakers = set(table.iloc[folds[0].val]["speaker"])
    assert not val_speakers & set(table.iloc[folds[0].train]["speaker"])
    # every source row is used: what does not validate trains
    assert len(folds[0].train) + len(folds[0].val) == (table["corpus"] == "msp_improv").sum()


def test_each_corpus_keeps_its_own_scale_and_feature_store(releases):
    protocol = load_protocol("cross", releases)
    corpus = prepare_protocol_corpus(protocol, progress=False)
    assert corpus.label_scale == (1.0, 7.0)  # the tested corpus's, which predictions are on
    assert corpus.table[["valence", "arousal"]].stack().between(0, 1).all()
    summaries = extract_corpus_features(corpus, protocol.features, progress=False)
    # three roles for each corpus, every store the one its corpus got when extracted alone
    assert len(summaries) == 6 and all(summary.cached for summary in summaries)
    combined = load_corpus_features(corpus, protocol.features)
    own = [load_features(part.table, protocol.features) for part in corpus.parts]
    n_train = len(corpus.parts[0].table)
    np.testing.assert_array_equal(combined["prosody"][:n_train], own[0]["prosody"])
    np.testing.assert_array_equal(combined["prosody"][n_train:], own[1]["prosody"])


def test_a_test_corpus_key_without_a_test_corpus_is_refused():
    with pytest.raises(BenchError, match="test_corpus"):
        load_protocol("msp_improv", ["test_corpus.root=/x"])


def test_a_cross_run_reports_which_corpus_trains_and_which_tests(releases, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    selection = ["--protocol", "cross", "--variant", "mamba_ema", "stateless", "--seeds", "0",
                 "--results", str(tmp_path / "results"), *releases, *FAST]  # fmt: skip
    assert main(["run", "--executor", "local", "--quiet", *selection]) == 0
    stored = sorted((tmp_path / "results" / "cross").glob("*/fold*/seed0/predictions.parquet"))
    assert len(stored) == 4
    predictions = pd.read_parquet(stored[0])
    assert predictions["utt_id"].str.startswith(TEST_PREFIX).all()
    assert predictions["valence_true"].between(1, 7).all() and predictions["valence_true"].max() > 5
    out = tmp_path / "reports"
    assert main(["report", *selection, "--out", str(out), "--bootstrap", "200"]) == 0
    table = (out / "cross" / "ablations.md").read_text()
    assert "Protocol cross (trained and selected on msp_improv, tested on msp_podcast)" in table
    header = (out / "cross" / "per_fold.md").read_text().splitlines()[0]
    assert "Fold 1: Test1" in header and "Fold 2: Test2" in header  # each on its own


def test_a_predefined_training_corpus_trains_on_train_and_selects_on_development(roots):
    overrides = [*cross(roots["podcast"], roots["improv"]), "folds.mode=predefined"]
    protocol = load_protocol("cross", overrides)
    table = prepare_protocol_corpus(protocol, progress=False).table
    (fold,) = make_folds(table, protocol)  # MSP-IMPROV has no split column: one fold, all of it
    assert fold.test_unit == "msp_improv"
    assert set(table.iloc[fold.train]["split"]) == {"Train"}
    assert set(table.iloc[fold.val]["split"]) == {"Development"}
    assert len(fold.test) == (table["corpus"] == "msp_improv").sum()


def test_a_missing_test_corpus_root_is_named_as_such(roots, capsys):
    args = ["corpus.kind=msp_improv", f"corpus.root={roots['improv'][1]}"]
    assert main(["run", "--dry-run", "--protocol", "cross", *args]) == 2
    assert "set test_corpus.root=/path/to/MSP-IMPROV" in capsys.readouterr().err


def test_testing_on_the_training_corpus_is_refused_by_audio_not_by_id(roots, tmp_path):
    """The same release again, by its path, as a tree of hard links or copied: the test/
    prefix of the ids hid it, and the run trained and tested on the same files with
    "problems: 0"."""
    root = roots["improv"][1]
    linked = tmp_path / "linked"
    shutil.copytree(root, linked, copy_function=os.link)
    copied = shutil.copytree(root, tmp_path / "copied")  # new files, the same bytes
    n_test = len(list(root.rglob("*.wav"))) - 1  # a turn lacks a rating: it is not read
    for test_root in (root, linked, copied):
        protocol = load_protocol("cross", cross(roots["improv"], ("msp_improv", test_root)))
        with pytest.raises(BenchError) as caught:
            prepare_protocol_corpus(protocol, progress=False)
        message = str(caught.value)
        assert message.startswith(
            f"test_corpus.root={test_root} and corpus.root={root} share {n_test} of the test "
            f"corpus's {n_test} audio files (the same file, by path, through a link or as a "
            f"copy; first: "
            f"{test_root.resolve()}/session1/"
        )
        assert "\n" not in message


def test_messages_about_the_test_corpus_name_its_keys(roots, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    describe = ["corpus", "describe", "--protocol", "cross"]
    assert main([*describe, *cross(roots["improv"], ("msp_improv", empty))]) == 2
    assert "(set test_corpus.root to the folder that holds it" in capsys.readouterr().err
    scale = [*cross(roots["improv"], roots["podcast"]), "test_corpus.label_scale=[1,5]"]
    assert main([*describe, *scale]) == 2
    assert capsys.readouterr().err.strip().endswith("(set test_corpus.label_scale)")
