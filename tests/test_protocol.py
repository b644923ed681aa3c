"""Protocols: loading with overrides, leave-one-session-out folds, and leakage checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.corpus.iemocap import read_iemocap
from bench.corpus.jsonl import read_jsonl
from bench.corpus.prepare import prepare_corpus
from bench.corpus.synth import GENERATOR_VERSION, META_FILE
from bench.errors import BenchError
from bench.features.logmel import LogMelSpec
from bench.features.ssl import TransformersSpec
from bench.protocol import PROTOCOL_DIR, Fold, check_fold, load_protocol, make_folds
from bench.testing.tones import write_tone


@pytest.fixture(scope="module")
def tiny_table(tiny_corpus_root: Path):
    return read_iemocap(tiny_corpus_root).table


DIALOG_VALIDATION = ["validation.unit=dialog"]


@pytest.mark.parametrize("name", ["synthetic", "iemocap"])
def test_validation_holds_out_a_session_by_default(name):
    assert load_protocol(name).validation.unit == "session"


@pytest.mark.parametrize("path", sorted(PROTOCOL_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_no_shipped_protocol_validates_on_a_share_of_dialogs(path: Path):
    """Validation speakers are unseen in training, as test speakers are: each shipped
    protocol holds out whole units (JSONL: speakers) or takes the release's partition."""
    protocol = load_protocol(str(path))
    assert protocol.folds.mode == "predefined" or protocol.validation.unit != "dialog"


def test_fold_k_tests_session_k_and_nothing_leaks(tiny_table):
    folds = make_folds(tiny_table, load_protocol("synthetic", DIALOG_VALIDATION))
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


def test_validation_split_is_seeded(tiny_table):
    protocol = load_protocol("synthetic", DIALOG_VALIDATION)
    first = make_folds(tiny_table, protocol)
    again = make_folds(tiny_table, protocol)
    other = make_folds(
        tiny_table, load_protocol("synthetic", [*DIALOG_VALIDATION, "validation.seed=1"])
    )
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
        write_tone(tmp_path / f"u{k}.wav", seconds=0.1)
        entry = {"utt_id": f"u{k}", "session_id": dialog, "speaker_id": speaker}
        entry |= {"group": group, "audio_path": f"u{k}.wav", "valence": 3, "arousal": 3}
        lines.append(json.dumps(entry))
    (tmp_path / "m.jsonl").write_text("\n".join(lines))
    table = read_jsonl(tmp_path / "m.jsonl").table
    protocol = load_protocol("jsonl", [f"corpus.manifest={tmp_path / 'm.jsonl'}"])
    with pytest.raises(BenchError, match=r"fold 1: test and train share speaker\(s\) A"):
        make_folds(table, protocol)
    manifest = f"corpus.manifest={tmp_path / 'm.jsonl'}"
    by_speaker = make_folds(table, load_protocol("jsonl", [manifest, "folds.unit=speaker"]))
    assert [f.test_unit for f in by_speaker] == ["A", "B", "C"]


def test_overrides_must_name_existing_keys():
    protocol = load_protocol("iemocap", ["corpus.root=/data/x", "validation.fraction=0.3"])
    assert protocol.corpus.root == "/data/x" and protocol.validation.fraction == 0.3
    with pytest.raises(BenchError, match="no key 'rot' under corpus"):
        load_protocol("iemocap", ["corpus.rot=/data/x"])
    with pytest.raises(BenchError, match="not of the form"):
        load_protocol("iemocap", ["corpus.root"])
    with pytest.raises(BenchError, match="unknown protocol 'nope'"):
        load_protocol("nope")


def test_synthetic_protocol_generates_on_first_use(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    protocol = load_protocol("synthetic", ["corpus.synth.size=tiny", "corpus.synth.context=false"])
    corpus = prepare_corpus(protocol.corpus, progress=False)
    root = tmp_path / "synthetic" / f"tiny-seed0-nocontext-v{GENERATOR_VERSION}"
    assert root.is_dir()
    assert corpus.name == "synthetic" and len(corpus.table) == 120
    meta = json.loads((root / META_FILE).read_text())
    assert meta["generator_version"] == GENERATOR_VERSION
    (root / META_FILE).write_text(json.dumps({**meta, "generator_version": 1}))
    with pytest.raises(BenchError, match=rf"{META_FILE}: written by .* version 1.*delete"):
        prepare_corpus(protocol.corpus, progress=False)


def test_unconfigured_corpora_say_what_to_set():
    with pytest.raises(BenchError, match="corpus.root="):
        prepare_corpus(load_protocol("iemocap").corpus)
    with pytest.raises(BenchError, match="corpus.manifest="):
        prepare_corpus(load_protocol("jsonl").corpus)


@pytest.mark.parametrize(
    ("yaml_text", "overrides", "message"),
    [
        ("validation: {fracton: 0.3}", [], r"protocol.yaml: unknown key 'validation.fracton'"),
        ("corpus: {kind: synthetic, synth: {sise: tiny}}", [], "unknown key 'corpus.synth.sise'"),
        ("folds: {unit: group, units: 2}", [], "unknown key 'folds.units'"),
        ("features: {speech: {n_mel: 40}}", [], "unknown key 'features.speech.n_mel'"),
        ("model: {d_modl: 8}", [], r"unknown key\(s\) model.d_modl \(from .*protocol.yaml\)"),
        ("train: {epochs: two}", [], r"train.epochs must be int, not str 'two' \(from .*yaml\)"),
        ("protocl: x", [], "unknown top-level key"),
        (
            "validation: {fraction: 0.2}",
            ["validation.fraction=high"],
            r"validation.fraction must be float, not str 'high' "
            r"\(from the command line \(validation.fraction=high\)\)",
        ),
        (
            "corpus: {kind: synthetic, synth: {size: tiny}}",
            ["corpus.synth.seed=1.5"],
            r"corpus.synth.seed must be int, not float 1.5 \(from the command line",
        ),
        ("corpus: {kind: synthetic, synth: {seed: x}}", [], r"corpus.synth.seed must be int.*yaml"),
        ("corpus: {kind: tape}", [], "corpus.kind must be one of"),
        ("validation: {fraction: 1.5}", [], r"validation.fraction must lie in \(0, 1\)"),
    ],
)
def test_protocol_typos_and_types_fail_naming_the_key_and_origin(
    tmp_path: Path, yaml_text: str, overrides: list[str], message: str
):
    path = tmp_path / "protocol.yaml"
    path.write_text(f"name: mine\n{yaml_text}\n")
    with pytest.raises(BenchError, match=message):
        load_protocol(str(path), overrides)


def test_sections_are_filled_with_defaults_so_any_known_key_can_be_overridden(tmp_path: Path):
    path = tmp_path / "protocol.yaml"
    path.write_text("name: bare\n")
    protocol = load_protocol(str(path), ["validation.fraction=0.3", "corpus.synth.size=tiny"])
    assert (protocol.corpus.kind, protocol.corpus.synth.size) == ("synthetic", "tiny")
    assert (protocol.validation.fraction, protocol.validation.seed) == (0.3, 0)
    assert protocol.folds.unit == "group"
    assert protocol.corpus.label_scale == (1.0, 5.0)


def test_switching_an_extractor_resets_its_parameters_and_keeps_other_overrides():
    protocol = load_protocol(
        "jsonl", ["features.speech.min_seconds=0.5", "features.speech.extractor=logmel"]
    )
    speech = protocol.features.extractors["speech"]
    assert speech == LogMelSpec(min_seconds=0.5)
    # The other roles keep the protocol file's parameters.
    assert protocol.features.extractors["speaker"].name == "ecapa"
    back = load_protocol(
        "synthetic",
        ["features.speech.model=/models/wavlm", "features.speech.extractor=transformers"],
    )
    assert back.features.extractors["speech"] == TransformersSpec(model="/models/wavlm")
    with pytest.raises(BenchError, match="no key 'model' under features.speech"):
        load_protocol("synthetic", ["features.speech.model=/models/wavlm"])


def test_the_hash_covers_defaults_not_how_they_were_written(tmp_path: Path):
    explicit = load_protocol("synthetic")
    path = tmp_path / "synthetic.yaml"
    text = explicit.path.read_text().replace("  fraction: 0.2", "")
    assert text != explicit.path.read_text()
    path.write_text(text)
    assert load_protocol(str(path)).hashed() == explicit.hashed()
    changed = load_protocol("synthetic", ["validation.fraction=0.3"])
    assert changed.hashed() != explicit.hashed()
    cache = load_protocol("synthetic", [f"features.cache_dir={tmp_path}"])
    assert cache.hashed() == explicit.hashed()


def test_a_protocol_typo_is_one_line_and_exit_2_on_the_command_line(tmp_path: Path, capsys):
    path = tmp_path / "protocol.yaml"
    path.write_text("name: mine\nvalidation: {fracton: 0.3}\n")
    assert main(["corpus", "describe", "--protocol", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    known = "fraction, seed, unit"
    assert err == f"bench corpus: error: {path}: unknown key 'validation.fracton' (known: {known})"


def test_trial_overrides_are_not_protocol_overrides():
    with pytest.raises(BenchError, match="train.epochs=1.*apply to each variant"):
        load_protocol("synthetic", ["train.epochs=1"])


@pytest.mark.parametrize("unit", ["speaker", "session"])
def test_unit_disjoint_validation_holds_out_whole_sessions_and_rotates(tiny_table, unit):
    protocol = load_protocol("synthetic", [f"validation.unit={unit}"])
    folds = make_folds(tiny_table, protocol)
    chosen = []
    for fold in folds:
        train, val = tiny_table.iloc[fold.train], tiny_table.iloc[fold.val]
        # IEMOCAP's two speakers share every dialog of a session: speaker-disjoint validation
        # is session-disjoint, one whole session of the four in training (ceil(0.2 * 4)).
        assert val["session"].nunique() == 1
        assert not set(val["speaker"]) & set(train["speaker"])
        assert not set(val["session"]) & set(train["session"])
        assert set(val[unit]) == set(fold.val_values)
        chosen.append(val["session"].iloc[0])
        together = np.concatenate([fold.train, fold.val, fold.test])
        assert sorted(together) == list(range(len(tiny_table)))
    assert len(set(chosen)) == len(folds)  # rotating: every fold validates elsewhere
    again = make_folds(tiny_table, load_protocol("synthetic", [f"validation.unit={unit}"]))
    assert [f.val_values for f in again] == [f.val_values for f in folds]
    reseeded = load_protocol("synthetic", [f"validation.unit={unit}", "validation.seed=3"])
    assert [f.val_values for f in make_folds(tiny_table, reseeded)] != chosen


def test_validation_sharing_its_unit_with_training_is_refused(tiny_table):
    fold = make_folds(tiny_table, load_protocol("synthetic", ["validation.unit=speaker"]))[0]
    speaker = tiny_table.iloc[fold.val]["speaker"].iloc[0]
    row = np.flatnonzero((tiny_table["speaker"] == speaker).to_numpy())[0]
    val = fold.val[fold.val != row]
    leaky = Fold(1, fold.test_unit, np.append(fold.train, row), val, fold.test, "speaker")
    with pytest.raises(BenchError, match=r"val and train share (dialog|speaker).*validation.unit"):
        check_fold(tiny_table, leaky)


def test_session_validation_sharing_a_speaker_with_training_is_refused(tiny_table):
    """Sessions apart but one speaker in both (a corpus where a speaker records in two
    sessions): validation.unit=session promises unseen speakers, so the fold is refused."""
    fold = make_folds(tiny_table, load_protocol("synthetic", ["validation.unit=session"]))[0]
    table = tiny_table.copy()
    val_speaker = table.iloc[fold.val]["speaker"].iloc[0]
    table.loc[table.index[fold.train[0]], "speaker"] = val_speaker
    with pytest.raises(BenchError, match=r"val and train share speaker.*validation.unit"):
        check_fold(table, fold)
    check_fold(tiny_table, fold)  # the fold itself is sound


def test_a_validation_unit_that_is_not_a_column_is_named(tiny_table):
    with pytest.raises(BenchError, match="validation.unit 'speakr' is not 'dialog' or a column"):
        make_folds(tiny_table, load_protocol("synthetic", ["validation.unit=speakr"]))


def test_describe_shows_each_folds_validation_unit_and_values(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    args = ["corpus", "describe", "corpus.synth.size=tiny", "validation.unit=session", "--json"]
    assert main(args) == 0
    folds = json.loads(capsys.readouterr().out)["folds"]
    assert [f["test"] for f in folds] == ["Ses01", "Ses02", "Ses03", "Ses04", "Ses05"]
    for fold in folds:
        assert fold["validation_unit"] == "session"
        assert len(fold["validation_values"]) == 1
        assert fold["validation_values"][0] != fold["test"]
        assert fold["train_utterances"] + fold["val_utterances"] + fold["test_utterances"] == 120


def test_fold_modes_are_checked():
    with pytest.raises(BenchError, match="folds.mode must be one of leave_one_out, predefined"):
        load_protocol("synthetic", ["folds.mode=random"])
    with pytest.raises(BenchError, match="none twice"):
        load_protocol("msp_podcast", ["folds.test=[Train]"])


def test_keys_added_for_other_corpora_leave_older_hashes_alone():
    """``folds.mode``/``column``/``train``/... and ``corpus.dialog_unit`` came after trials
    were stored: at their defaults they are not hashed, so those trials stay current."""
    hashed = load_protocol("synthetic").hashed()
    assert hashed["folds"] == {"unit": "group"}
    assert "dialog_unit" not in hashed["corpus"] and "test_corpus" not in hashed
    podcast = load_protocol("msp_podcast").hashed()
    assert podcast["folds"]["mode"] == "predefined" and podcast["corpus"]["dialog_unit"]
    assert load_protocol("msp_podcast", ["corpus.dialog_unit=utterance"]).hashed() != podcast


def test_a_missing_session_leaves_its_fold_number_unused(tiny_table):
    """Fold k tests Ses0k whatever else the corpus holds: without Ses03, fold 4 still tests
    Ses04 (it used to become fold 3, and fold 3's stored trials then described Ses04)."""
    without = tiny_table[tiny_table["session"] != "Ses03"].reset_index(drop=True)
    folds = make_folds(without, load_protocol("synthetic"))
    assert [(f.number, f.test_unit) for f in folds] == [
        (1, "Ses01"), (2, "Ses02"), (4, "Ses04"), (5, "Ses05")
    ]  # fmt: skip
    for fold in folds:
        assert set(without.iloc[fold.test]["session"]) == {fold.test_unit}


def test_asking_for_the_fold_of_a_missing_session_names_the_session(
    tiny_corpus_root: Path, tmp_path: Path, capsys
):
    root = tmp_path / "corpus"
    shutil.copytree(tiny_corpus_root, root)
    shutil.rmtree(root / "Session3")
    args = ["run", "--dry-run", "--variant", "stateless", "--seeds", "0", f"corpus.root={root}"]
    args += ["--results", str(tmp_path / "results")]
    assert main([*args, "--folds", "3"]) == 2
    assert capsys.readouterr().err.strip() == (
        "bench run: error: no fold(s) [3]: the corpus has no Ses03; this protocol has folds "
        "1, 2, 4, 5"
    )
    assert main([*args, "--folds", "4"]) == 0
    assert "synthetic/stateless/fold4/seed0" in capsys.readouterr().out
