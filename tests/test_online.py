"""Checkpoints and StreamingPredictor: online steps equal the trial's streaming evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_report_fabricate import fake_record

from bench.audio import load_audio
from bench.cli import build_parser
from bench.corpus.iemocap import read_iemocap
from bench.errors import BenchError
from bench.features.config import features_block, parse_features_config
from bench.features.load import load_features
from bench.online import StreamingPredictor
from bench.protocol import load_protocol, make_folds
from bench.results import CHECKPOINT_FILE, RESULT_FILE, TrialKey, read_record, write_trial
from bench.run.driver import run_planned
from bench.run.identity import fold_identities
from bench.run.local import run_local
from bench.run.plan import plan_trials
from bench.run.worker import SharedInputs
from bench.train.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from bench.train.config import TrialSpec
from bench.train.data import FEATURES, TrialData
from bench.train.trial import TrialResult, run_trial

TINY = {"d_model": 8, "d_c": 8, "d_p2": 8, "film_hidden": 8, "head_hidden": 8}
TINY_MAMBA = TINY | {"mamba": {"d_state": 4}}
FAST = [
    "train.epochs=1", "train.chunk_len=8", "model.d_model=8", "model.d_c=8", "model.d_p2=8",
    "model.film_hidden=8", "model.head_hidden=8", "model.mamba.d_state=4",
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tiny_corpus_root: Path, tiny_feature_cache: Path):
    """The tiny corpus, its default features, and its first fold."""
    table = read_iemocap(tiny_corpus_root).table
    block = {"cache_dir": str(tiny_feature_cache)}
    fold = make_folds(table, load_protocol("synthetic"))[0]
    return table, block, {"train": fold.train, "val": fold.val, "test": fold.test}


def trial_data(corpus, level: str) -> TrialData:
    table, block, splits = corpus
    config = parse_features_config(block | {"speaker": {"level": level}})
    features = dict(load_features(table, config))
    return TrialData(table, features, splits, (1.0, 5.0), features_block(config))


def trained(corpus, tmp_path: Path, level: str, model: dict) -> tuple[TrialResult, Path]:
    plain = {"model": model, "train": {"epochs": 1, "chunk_len": 8}, "seed": 0, "device": "cpu"}
    spec = TrialSpec.from_dict(plain)
    result = run_trial(spec, trial_data(corpus, level), keep_checkpoint=True)
    assert result.checkpoint is not None
    return result, save_checkpoint(tmp_path / "checkpoint.pt", result.checkpoint)


def first_test_dialog(corpus) -> pd.DataFrame:
    table, _, splits = corpus
    test = table.iloc[splits["test"]]
    return test[test["dialog"] == test["dialog"].iloc[0]].sort_values("start")


@pytest.mark.parametrize(
    ("level", "model"),
    [
        ("utterance", TINY_MAMBA),  # the full model: Mamba, EMA, FiLM, scheduled feedback
        ("speaker", TINY | {"updater": "gru", "feedback": "none", "prosody": False}),
    ],
)
def test_steps_equal_the_trials_streaming_evaluation(corpus, tmp_path, level, model) -> None:
    result, path = trained(corpus, tmp_path, level, model)
    predictor = StreamingPredictor.from_checkpoint(path)
    assert predictor.speaker_level == level
    dialog = first_test_dialog(corpus)
    waves = {
        utt: load_audio(p) for utt, p in zip(dialog["utt_id"], dialog["audio_path"], strict=True)
    }
    speakers = {}
    if level == "speaker":  # the trial saw each speaker's mean over the whole table
        table = corpus[0]
        for speaker in dialog["speaker"].unique():
            own = table[table["speaker"] == speaker]["audio_path"]
            speakers[speaker] = predictor.embed_speaker([load_audio(p) for p in own])
    expected = result.predictions.set_index("utt_id").loc[dialog["utt_id"]]
    for repeat in range(2):  # reset() starts the dialog again from the initial state
        got = [
            predictor.step(waves[utt], speaker=speakers.get(speaker))
            for utt, speaker in zip(dialog["utt_id"], dialog["speaker"], strict=True)
        ]
        want = expected[["valence_pred", "arousal_pred"]].to_numpy()
        np.testing.assert_allclose(np.array(got), want, atol=1e-4, err_msg=f"pass {repeat}")
        predictor.reset()


def test_enroll_and_resampled_input(corpus, tmp_path) -> None:
    _, path = trained(corpus, tmp_path, "speaker", TINY_MAMBA)
    predictor = StreamingPredictor.from_checkpoint(path)
    waves = [load_audio(p) for p in first_test_dialog(corpus)["audio_path"][:3]]
    predictor.enroll(waves)
    np.testing.assert_array_equal(predictor.enrolled, predictor.embed_speaker(waves))
    assert np.linalg.norm(predictor.enrolled) == pytest.approx(1.0, abs=1e-5)
    stereo_8k = np.repeat(waves[0][::2, None], 2, axis=1)  # [t / 2, 2]
    valence, arousal = predictor.step(stereo_8k, sample_rate=8000)
    assert 1.0 <= valence <= 5.0 and 1.0 <= arousal <= 5.0
    predictor.reset()
    assert predictor.state is None


def test_the_trial_record_beside_the_checkpoint_comes_with_it(corpus, tmp_path) -> None:
    result, alone = trained(corpus, tmp_path, "utterance", TINY_MAMBA)
    assert StreamingPredictor.from_checkpoint(alone).record is None  # no result.json beside it
    record = fake_record(TrialKey("synthetic", "mamba_ema", 1, 0), "abc123", 0.5)
    history = pd.DataFrame(result.history)
    folder = write_trial(
        tmp_path / "results", record, result.predictions, history, result.checkpoint
    )
    assert StreamingPredictor.from_checkpoint(folder / CHECKPOINT_FILE).record == record


def test_checkpoint_loads_with_weights_only_and_survives_json(corpus, tmp_path) -> None:
    result, path = trained(corpus, tmp_path, "utterance", TINY_MAMBA)
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["format"] == FORMAT
    assert checkpoint["spec"]["model"]["updater"] == "mamba"
    assert checkpoint["features"]["speaker"] == {
        "extractor": "resemblyzer", "min_seconds": 0.25, "level": "utterance",
    }  # fmt: skip
    assert checkpoint["dims"] == {"speech": 120, "prosody": 88, "speaker": 256}
    assert checkpoint["label_scale"] == [1.0, 5.0]
    assert set(checkpoint["standardisers"]) == {"speech", "prosody", "speaker"}
    again = TrialResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.checkpoint == result.checkpoint


@pytest.mark.parametrize(
    "content",
    [b"not a checkpoint", b"", "truncated", "foreign"],
)
def test_bad_checkpoint_is_a_clean_error_naming_the_file(tmp_path, content) -> None:
    path = tmp_path / "bad.pt"
    if content == "truncated":
        save_checkpoint(path, {"format": FORMAT, "weights": torch.ones(1000)})
        path.write_bytes(path.read_bytes()[:100])
    elif content == "foreign":
        torch.save({"weights": torch.ones(3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(BenchError, match=str(path)):
        StreamingPredictor.from_checkpoint(path)
    with pytest.raises(BenchError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_driver_saves_checkpoints_without_changing_the_trial(tiny_corpus_root, tmp_path) -> None:
    protocol = load_protocol("synthetic")
    table = read_iemocap(tiny_corpus_root).table
    rng = np.random.default_rng(0)
    features = {
        name: rng.standard_normal((len(table), d)).astype(np.float32)
        for name, d in (("speech", 6), ("prosody", 4), ("speaker", 3))
    }
    folds = {
        f.number: {"train": f.train, "val": f.val, "test": f.test}
        for f in make_folds(table, protocol)
    }
    inputs = SharedInputs(table, features, folds, (1.0, 5.0))
    fold1 = fold_identities(table, {1: folds[1]})
    plan = plan_trials(protocol, ["mamba_ema"], [0], fold1, tmp_path, FAST)
    summary = run_planned(plan, inputs, run_local, tmp_path, False, save_checkpoints=True)
    assert summary.ok
    folder = plan[0].key.folder(tmp_path)
    checkpoint = load_checkpoint(folder / CHECKPOINT_FILE)
    assert checkpoint["features"] is None and checkpoint["dims"]["speech"] == 6
    assert read_record(folder).config_hash == plan[0].config_hash
    assert "checkpoint" not in json.loads((folder / RESULT_FILE).read_text())
    with pytest.raises(BenchError, match="features"):  # fake features: nothing to extract
        StreamingPredictor.from_checkpoint(folder / CHECKPOINT_FILE)
    again = plan_trials(protocol, ["mamba_ema"], [0], fold1, tmp_path, FAST)
    assert again[0].status == "done"  # the flag does not make the trial stale
    forced = plan_trials(protocol, ["mamba_ema"], [0], fold1, tmp_path, FAST, force=True)
    assert run_planned(forced, inputs, run_local, tmp_path, False).ok
    assert not (folder / CHECKPOINT_FILE).exists()  # a rerun without the flag drops it


def test_run_command_has_the_flag() -> None:
    args = build_parser().parse_args(["run", "--save-checkpoints"])
    assert args.save_checkpoints
    assert not build_parser().parse_args(["run"]).save_checkpoints


def test_an_unusable_utterance_stands_in_as_the_training_mean(corpus, tmp_path) -> None:
    _, path = trained(corpus, tmp_path, "utterance", TINY_MAMBA)
    predictor = StreamingPredictor.from_checkpoint(path)
    got = predictor.step(np.zeros(400, dtype=np.float32))  # 25 ms of silence: no extractor's
    zeros = {role: torch.zeros(1, predictor.dims[role]) for role in FEATURES}  # z-scored mean
    with torch.no_grad():
        z = predictor.model.observe(zeros["speech"], zeros["prosody"], zeros["speaker"])
        y, _ = predictor.model.step(z, None)  # [1, 2]
    lo, hi = predictor.label_scale
    np.testing.assert_allclose(got, lo + y[0].double().numpy() * (hi - lo), atol=1e-6)
