"""The feature cache through the public API: reuse, invalidation, resume, corruption,
bad audio, workers and speaker-level loading."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from bench.audio import SAMPLE_RATE, load_audio
from bench.errors import BenchError
from bench.features.egemaps import EgemapsSpec
from bench.features.extract import Task, Workers, extract_features
from bench.features.load import load_features
from bench.features.logmel import LogMel, LogMelSpec
from bench.features.store import FeatureStore, corpus_identity
from bench.testing.tones import write_tone

ROLES = ["speech", "prosody", "speaker"]


def make_table(folder: Path, n: int = 6) -> pd.DataFrame:
    """``n`` distinct tones (110, 150, ... Hz; 0.6, 0.7, ... s), two speakers, rows not in
    utt_id order."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "utt_id": f"u{k}",
            "audio_path": str(
                write_tone(folder / f"u{k}.wav", frequency=110 + 40 * k, seconds=0.6 + 0.1 * k)
            ),
            "speaker": f"s{k % 2}",
        }
        for k in range(n)
    ]
    return pd.DataFrame(rows[::-1])


@pytest.fixture
def table(tmp_path: Path) -> pd.DataFrame:
    return make_table(tmp_path / "wav")


@pytest.fixture
def cfg(tmp_path: Path) -> dict:
    return {"cache_dir": str(tmp_path / "cache")}


def speech_store(table: pd.DataFrame, cfg: dict) -> FeatureStore:
    return FeatureStore(cfg["cache_dir"], LogMelSpec(), corpus_identity(table))


def test_second_run_extracts_nothing_and_rows_follow_the_table(table, cfg) -> None:
    first = extract_features(table, cfg, workers=1, progress=False)
    assert [(s.role, s.name, s.dim, s.computed, s.cached) for s in first] == [
        ("speech", "logmel", 120, 6, False),
        ("prosody", "egemaps", 88, 6, False),
        ("speaker", "resemblyzer", 256, 6, False),
    ]
    second = extract_features(table, cfg, workers=1, progress=False)
    assert all(s.cached and s.computed == 0 and s.utterances == 6 for s in second)
    assert isinstance(speech_store(table, cfg).open().values, np.memmap)

    features = load_features(table, cfg)
    assert {role: features[role].shape for role in ROLES} == {
        "speech": (6, 120),
        "prosody": (6, 88),
        "speaker": (6, 256),
    }
    assert all(features[r].dtype == np.float32 and features.valid[r].all() for r in ROLES)
    expected = LogMelSpec().build()([load_audio(p) for p in table["audio_path"]])  # [6, 120]
    np.testing.assert_allclose(features["speech"], expected, atol=1e-5)


def test_a_changed_parameter_or_audio_file_gives_a_new_store(table, cfg) -> None:
    extract_features(table, cfg, workers=1, progress=False)
    cfg_changed = {**cfg, "speech": {"extractor": "logmel", "n_mels": 20}}
    changed = extract_features(table, cfg_changed, workers=1, progress=False)
    assert [(s.dim, s.cached) for s in changed] == [(60, False), (88, True), (256, True)]
    path = table["audio_path"].iloc[0]
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    assert not any(s.cached for s in extract_features(table, cfg, workers=1, progress=False))


def test_an_interrupted_extraction_resumes_at_the_first_missing_shard(
    table, cfg, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = LogMel.__call__
    calls: list[int] = []

    def interrupted(self: LogMel, waves: list[np.ndarray]) -> np.ndarray:
        calls.append(len(waves))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, waves)

    monkeypatch.setattr(LogMel, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_features(table, cfg, workers=1, progress=False, shard_size=2)
    assert speech_store(table, cfg).open() is None  # unfinished, not taken for finished
    monkeypatch.setattr(LogMel, "__call__", original)

    resumed = extract_features(table, cfg, workers=1, progress=False, shard_size=2)
    assert [s.computed for s in resumed] == [4, 6, 6]
    assert not speech_store(table, cfg).partial_dir.exists()
    fresh_cfg = {"cache_dir": str(tmp_path / "fresh")}
    extract_features(table, fresh_cfg, workers=1, progress=False)
    np.testing.assert_array_equal(
        load_features(table, cfg)["speech"], load_features(table, fresh_cfg)["speech"]
    )


def flip_last_byte(store: FeatureStore) -> None:
    data = bytearray(store.array_path.read_bytes())
    data[-1] ^= 0xFF
    store.array_path.write_bytes(bytes(data))


def truncate(store: FeatureStore) -> None:
    store.array_path.write_bytes(store.array_path.read_bytes()[:200])


def garble_index(store: FeatureStore) -> None:
    store.index_path.write_text('{"utt_ids": [')


@pytest.mark.parametrize(
    ("damage", "message"),
    [(flip_last_byte, "checksum"), (truncate, "unreadable"), (garble_index, "unreadable")],
)
def test_a_corrupt_store_is_detected_and_rebuilt(table, cfg, damage, message) -> None:
    extract_features(table, cfg, workers=1, progress=False)
    intact = load_features(table, cfg)["speech"]
    damage(speech_store(table, cfg))
    with pytest.raises(BenchError, match=message):
        load_features(table, cfg)
    rebuilt = extract_features(table, cfg, workers=1, progress=False)
    assert [s.computed for s in rebuilt] == [6, 0, 0]
    np.testing.assert_array_equal(load_features(table, cfg)["speech"], intact)


def test_an_index_without_its_array_is_corrupt_and_a_missing_store_is_named(table, cfg) -> None:
    with pytest.raises(BenchError, match="run `bench features"):
        load_features(table, cfg)
    extract_features(table, cfg, workers=1, progress=False)
    speech_store(table, cfg).array_path.unlink()
    assert extract_features(table, cfg, workers=1, progress=False)[0].computed == 6


def test_bad_audio_falls_back_to_zeros_and_is_named(table, cfg, tmp_path) -> None:
    short = str(write_tone(tmp_path / "short.wav", frequency=200, seconds=0.1))
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SAMPLE_RATE), SAMPLE_RATE)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF, but not really")
    bad = pd.DataFrame(
        {
            "utt_id": ["short", "silent", "corrupt", "missing"],
            "audio_path": [short, str(silent), str(corrupt), str(tmp_path / "gone.wav")],
            "speaker": ["s0", "s0", "s1", "s9"],
        }
    )
    both = pd.concat([table, bad], ignore_index=True)
    outcomes = {"short": "too_short", "silent": "silent", "corrupt": "unreadable"}
    outcomes["missing"] = "missing"
    for summary in extract_features(both, cfg, workers=1, progress=False):
        assert summary.failed == outcomes
        assert summary.to_json()["failed"] == 4
    features = load_features(both, cfg)
    for role in ROLES:
        np.testing.assert_array_equal(features.valid[role], [True] * 6 + [False] * 4)
        assert not features[role][6:].any() and features[role][:6].any(axis=1).all()


def test_speaker_level_replaces_rows_by_their_speakers_mean(table, cfg) -> None:
    extract_features(table, cfg, workers=1, progress=False)
    utterance = load_features(table, cfg)["speaker"]  # [6, 256]
    speaker = load_features(table, {**cfg, "speaker": {"level": "speaker"}})["speaker"]
    for name in ("s0", "s1"):
        rows = (table["speaker"] == name).to_numpy()
        mean = utterance[rows].sum(axis=0)
        np.testing.assert_allclose(
            speaker[rows], np.tile(mean / np.linalg.norm(mean), (3, 1)), atol=1e-5
        )


def test_worker_processes_give_the_numbers_of_one_process(table) -> None:
    ordered = table.sort_values("utt_id")
    ids, paths = ordered["utt_id"].tolist(), ordered["audio_path"].tolist()
    tasks = [Task(i, ids[2 * i : 2 * i + 2], paths[2 * i : 2 * i + 2]) for i in range(3)]
    with Workers(2) as pool:
        pooled = sorted(pool.run(EgemapsSpec(), tasks), key=lambda s: s.index)
        assert pool.pool is not None
    with Workers(1) as alone_pool:
        alone = list(alone_pool.run(EgemapsSpec(), tasks))
        assert alone_pool.pool is None
    for a, b in zip(pooled, alone, strict=True):
        assert a.utt_ids == b.utt_ids and a.reasons == b.reasons
        np.testing.assert_array_equal(a.values, b.values)
