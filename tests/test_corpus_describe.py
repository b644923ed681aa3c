"""``bench corpus describe``: which unit validates, and whether validation speakers train.

The JSONL protocol validates on whole speakers, so no validation speaker trains (it used to
hold out a share of each group's dialogs, whose speakers also trained)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.testing.msp_podcast import write_msp_podcast
from bench.testing.tones import write_tone


def manifest(folder: Path) -> Path:
    """Three groups of two speakers, each speaker in two dialogs of their own."""
    lines = []
    for group in ("g1", "g2", "g3"):
        for speaker in ("a", "b"):
            for dialog in range(2):
                for turn in range(2):
                    utt = f"{group}{speaker}{dialog}_{turn}"
                    write_tone(folder / f"{utt}.wav", seconds=0.1)
                    lines.append(
                        {"utt_id": utt, "session_id": f"{group}{speaker}{dialog}",
                         "speaker_id": f"{group}{speaker}", "group": group,
                         "audio_path": f"{utt}.wav", "valence": 3, "arousal": 2}
                    )  # fmt: skip
    path = folder / "corpus.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def described(path: Path, capsys: pytest.CaptureFixture[str], *overrides: str) -> dict:
    args = ["corpus", "describe", "--protocol", "jsonl", f"corpus.manifest={path}", "--json"]
    assert main([*args, *overrides]) == 0
    return json.loads(capsys.readouterr().out)


def test_jsonl_validation_holds_out_whole_speakers_none_of_whom_train(tmp_path, capsys):
    path = manifest(tmp_path)
    summary = described(path, capsys)
    assert summary["validation"]["unit"] == "speaker"
    assert summary["validation"]["shared_speakers"] == {"1": 0, "2": 0, "3": 0}
    for fold in summary["folds"]:  # ceil(0.2 * 4) = 1 of the 4 training speakers validates
        assert fold["validation_unit"] == "speaker" and fold["val_speakers"] == 1
        assert fold["train_speakers"] == 3 and fold["test_speakers"] == 2
    # dialog validation, the old default, holds out a dialog of each of the two training
    # groups (ceil(0.2 * 4)), and the speaker of that dialog trains on their other dialog
    dialogs = described(path, capsys, "validation.unit=dialog")["validation"]
    assert dialogs["unit"] == "dialog" and dialogs["shared_speakers"] == {"1": 2, "2": 2, "3": 2}


def test_the_text_names_the_validation_unit_and_the_shared_speakers(tmp_path, capsys):
    path = manifest(tmp_path)
    args = ["corpus", "describe", "--protocol", "jsonl", f"corpus.manifest={path}"]
    assert main(args) == 0
    assert (
        "validation: whole values of 'speaker' (validation.unit; those sharing a dialog "
        "together); validation speakers that also train: 0 in every fold"
    ) in capsys.readouterr().out.splitlines()
    assert main([*args, "validation.unit=dialog"]) == 0
    line = capsys.readouterr().out.splitlines()[-2]
    assert line == (
        "validation: a share of the dialogs of every training unit (validation.unit dialog); "
        "validation speakers that also train: fold 1: 2, fold 2: 2, fold 3: 2 "
        "(validation.unit=speaker holds out whole speakers)"
    )


def test_a_predefined_partition_validates_on_its_own_names(tmp_path, capsys):
    root = write_msp_podcast(tmp_path).root
    args = ["corpus", "describe", "--protocol", "msp_podcast", f"corpus.root={root}", "--json"]
    assert main(args) == 0
    validation = json.loads(capsys.readouterr().out)["validation"]
    assert validation["unit"] == "split" and "Development" in validation["held_out"]
    assert not any(validation["shared_speakers"].values())
