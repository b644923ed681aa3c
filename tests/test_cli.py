"""The command line as a user meets it: ``bench corpus synth`` and ``bench corpus describe``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli import main


def test_synth_then_describe_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "corpus"
    assert main(["corpus", "synth", str(out), "--size", "tiny", "--quiet"]) == 0
    capsys.readouterr()
    assert (
        main(["corpus", "describe", "--protocol", "iemocap", f"corpus.root={out}", "--json"]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["sessions"] == 5 and summary["speakers"] == 10
    assert summary["utterances"] == 120 and summary["dialogs"] == 10
    assert summary["clipped_labels"] == 0 and summary["problems"] == []
    assert summary["per_session"] == {f"Ses0{k}": 24 for k in range(1, 6)}
    assert summary["audio"]["sample_rates"] == {"16000": 120}
    assert 1 <= summary["labels"]["arousal"]["mean"] <= 5


def test_describe_text_lists_problems(tiny_corpus_root: Path, tmp_path: Path, capsys):
    root = shutil.copytree(tiny_corpus_root, tmp_path / "copy")
    label = next((root / "Session2" / "dialog" / "EmoEvaluation").glob("*.txt"))
    text = label.read_text().replace("[", "[9.0 - 9.5]\tx\tneu\t[", 0)
    lines = text.splitlines()
    summary_line = next(i for i, line in enumerate(lines) if line.startswith("["))
    lines[summary_line] = lines[summary_line].rsplit("[", 1)[0] + "[6.0000, 3.0000, 3.0000]"
    label.write_text("\n".join(lines))
    wav = next((root / "Session3").rglob("*.wav"))
    wav.write_bytes(b"not a wav")
    assert main(["corpus", "describe", "--protocol", "iemocap", f"corpus.root={root}"]) == 0
    out = capsys.readouterr().out
    assert "clipped labels: 1" in out and "problems: 2" in out
    assert f"{wav}: unreadable audio" in out and "6 clipped to 5" in out


def test_bad_input_is_one_clear_line_not_a_traceback(
    tiny_corpus_root: Path, tmp_path: Path, capsys
):
    root = shutil.copytree(tiny_corpus_root, tmp_path / "copy")
    label = next((root / "Session4" / "dialog" / "EmoEvaluation").glob("*.txt"))
    lines = label.read_text().splitlines()
    lines[2] = lines[2].replace("\t", " ", 1).replace("]", "", 1)
    label.write_text("\n".join(lines))
    code = main(["corpus", "describe", "--protocol", "iemocap", f"corpus.root={root}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("bench corpus: error: ") and f"{label}:3: malformed summary line" in err
    assert "Traceback" not in err
