"""``bench features`` as a user meets it: a protocol in, a JSON summary out, then cached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from bench.cli import main
from bench.testing.tones import write_tone


def write_protocol(folder: Path) -> Path:
    """A JSONL corpus of 4 utterances (one of them too short) and its protocol."""
    records = []
    for k in range(4):
        write_tone(folder / "wav" / f"u{k}.wav", seconds=0.8 + 0.2 * k)
        records.append(
            {
                "utt_id": f"u{k}",
                "session_id": f"d{k // 2}",
                "speaker_id": f"s{k % 2}",
                "audio_path": f"wav/u{k}.wav",
                "valence": 3,
                "arousal": 1 + k,
                "group": f"g{k // 2}",
            }
        )
    sf.write(folder / "wav" / "u3.wav", np.zeros(800), 16_000)  # 0.05 s
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records))
    protocol = {
        "name": "tiny",
        "corpus": {"kind": "jsonl", "manifest": str(manifest), "label_scale": [1, 5]},
        "folds": {"unit": "group"},
        "validation": {"fraction": 0.2, "seed": 0},
        "features": {
            "cache_dir": str(folder / "cache"),
            "speech": {"extractor": "logmel"},
            "prosody": {"extractor": "egemaps"},
            "speaker": {"extractor": "resemblyzer", "level": "utterance"},
        },
    }
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(protocol))
    return path


def test_features_json_then_everything_cached(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    protocol = str(write_protocol(tmp_path))
    assert main(["features", "--protocol", protocol, "--json", "--quiet", "--workers", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert [(s["role"], s["name"], s["dim"]) for s in first] == [
        ("speech", "logmel", 120),
        ("prosody", "egemaps", 88),
        ("speaker", "resemblyzer", 256),
    ]
    for summary in first:
        assert summary["utterances"] == 4 and not summary["cached"] and summary["seconds"] > 0
        assert summary["failed"] == 1 and summary["failed_utts"] == {"u3": "too_short"}

    override = "features.speech.extractor=logmel"
    assert main(["features", "--protocol", protocol, override, "--json", "--quiet"]) == 0
    assert all(s["cached"] and s["computed"] == 0 for s in json.loads(capsys.readouterr().out))

    assert main(["features", "--protocol", protocol, "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "speech   logmel" in text and "cached" in text and "u3: too_short" in text


def test_unknown_feature_keys_are_a_clean_error(tmp_path: Path, capsys):
    protocol = str(write_protocol(tmp_path))
    bad = "features.speech={extractor: logmel, n_mel: 3}"
    assert main(["features", "--protocol", protocol, bad, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) features.speech.n_mel (from the command line" in err
    assert "known: min_seconds, n_mels," in err
