"""MSP-IMPROV as released: the reader, each quirk of the release, and its six folds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_msp_podcast import run_and_report

from bench.audio import load_audio
from bench.cli import main
from bench.corpus.describe import describe
from bench.corpus.msp_improv import read_msp_improv
from bench.errors import BenchError, InputError
from bench.protocol import load_protocol, make_folds
from bench.testing.msp_improv import ImprovFixture, write_msp_improv
from bench.testing.msp_releases import MspReleases


@pytest.fixture(scope="module")
def release(msp_releases: MspReleases) -> ImprovFixture:
    return msp_releases.improv


def summary_line(release: ImprovFixture, name: str) -> str:
    """The summary line of the turn ``name`` (``S01A-F01-S-MF02``) in the fixture."""
    lines = (release.root / "Evaluation.txt").read_text().splitlines()
    return next(line for line in lines if line.startswith(f"UTD-IMPROV-{name}.avi"))


def test_the_turn_code_names_the_speaker_and_the_actor_field_the_target(release: ImprovFixture):
    table = read_msp_improv(release.root).table.set_index("utt_id")
    rows = {name: table.loc[f"MSP-IMPROV-{name}"] for name in (
        "S01A-F05-S-MF02", "S01A-F05-S-FM02", "S01A-M05-T-MF01", "S01A-M05-R-MM01")}  # fmt: skip
    assert {name: (row["speaker"], row["target"]) for name, row in rows.items()} == {
        "S01A-F05-S-MF02": ("M05", "F05"),  # M speaks a turn of F05's improvisation
        "S01A-F05-S-FM02": ("F05", "F05"),
        "S01A-M05-T-MF01": ("M05", "M05"),  # the target sentence: said by the target actor
        "S01A-M05-R-MM01": ("M05", "M05"),  # read alone: the letter repeated
    }
    row = rows["S01A-F05-S-MF02"]
    line = summary_line(release, "S01A-F05-S-MF02")  # "UTD-IMPROV-<name>.avi; <category>; A:..."
    assert (row["session"], row["group"]) == ("session5", "session5")
    assert row["category"] == line.split("; ")[1] and row["category"] in set("AHSN")
    assert (row["recording"], row["scenario"], row["condition"]) == (
        "session5/S01A-F05-S", "A", "S")  # fmt: skip
    assert row["dialog"] == "session5/S01A-F05-S/M05"
    # both target actors' recordings of a scenario sit in one folder, as released
    folder = release.root.resolve() / "session5" / "S01A" / "S"
    assert Path(row["audio_path"]).parent == folder
    assert Path(table.loc["MSP-IMPROV-S01A-M05-S-FM01", "audio_path"]).parent == folder


def test_a_dialog_is_one_speakers_turns_of_one_recording_in_turn_order(release: ImprovFixture):
    table = read_msp_improv(release.root).table
    recording = table[table["recording"] == "session2/S01A-M02-S"]
    assert sorted(recording["dialog"].unique()) == [
        "session2/S01A-M02-S/F02", "session2/S01A-M02-S/M02"]  # fmt: skip
    for _, dialog in recording.groupby("dialog"):
        assert dialog["start"].tolist() == [1, 2, 3]
        assert dialog["speaker"].nunique() == 1
    assert read_msp_improv(release.root).notes[0].startswith("dialog unit: speaker")


def test_a_recording_dialog_alternates_by_turn_number_then_speaker(release: ImprovFixture):
    table = read_msp_improv(release.root, dialog_unit="recording").table
    dialog = table[table["dialog"] == "session2/S01A-M02-S"]
    assert dialog["utt_id"].str[-4:].tolist() == ["FM01", "MF01", "FM02", "MF02", "FM03", "MF03"]
    assert dialog["speaker"].tolist() == ["F02", "M02"] * 3
    protocol = load_protocol("msp_improv", ["corpus.dialog_unit=recording"])
    assert protocol.corpus.dialog_unit == "recording"
    with pytest.raises(BenchError, match="must be one of speaker, recording, not 'podcast'"):
        load_protocol("msp_improv", ["corpus.dialog_unit=podcast"])


def test_a_turn_number_twice_for_one_speaker_of_a_recording_is_an_error(tmp_path: Path):
    write_msp_improv(tmp_path)
    path = tmp_path / "Evaluation.txt"
    lines = path.read_text().splitlines()
    first = next(k for k, x in enumerate(lines, 1) if x.startswith("UTD-IMPROV-S01A-F01-S-FM02"))
    # F01's turn 2 again, with another listener letter: same recording, same speaker
    lines.append("UTD-IMPROV-S01A-F01-S-FF02.avi; N; A:3.0; V:2.0; D:2.0 ; N:3.0;")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        read_msp_improv(tmp_path, check_audio=False)
    assert (caught.value.path, caught.value.line) == (str(path.resolve()), len(lines))
    assert caught.value.reason.startswith(
        f"turn 2 of F01 in recording session1/S01A-F01-S is listed twice (first on line {first})"
    )


@pytest.mark.parametrize(
    ("label_file", "audio_folder"), [("Evalution.txt", "Audio"), ("Evaluation.txt", "")]
)
def test_both_audio_layouts_and_label_file_spellings(tmp_path: Path, label_file, audio_folder):
    fixture = write_msp_improv(tmp_path, label_file=label_file, audio_folder=audio_folder)
    corpus = read_msp_improv(tmp_path)  # every audio file found, or this raises
    assert len(corpus.table) == fixture.turns - 1
    where = "Audio/" if audio_folder else ""
    assert corpus.release == f"{label_file}, audio in {where}session<k>/"
    session = tmp_path.resolve() / audio_folder / "session1"
    assert all(p.startswith(f"{session}/") for p in corpus.table["audio_path"][:5])


def test_a_release_without_session_folders_names_both_places_looked(tmp_path: Path):
    (tmp_path / "Evaluation.txt").write_text("")
    root = tmp_path.resolve()
    with pytest.raises(InputError) as caught:
        read_msp_improv(tmp_path)
    assert caught.value.reason.startswith(
        f"no MSP-IMPROV audio: neither {root}/session<k> nor {root}/Audio/session<k> exists"
    )


def test_arousal_is_read_reversed_by_default_and_as_stored_on_request(release: ImprovFixture):
    stored = float(summary_line(release, "S01A-F01-S-MF02").split("A:")[1].split(";")[0])
    utt = "MSP-IMPROV-S01A-F01-S-MF02"
    reversed_ = read_msp_improv(release.root).table.set_index("utt_id").loc[utt]
    as_stored = read_msp_improv(release.root, arousal_reversed=False).table.set_index("utt_id")
    assert reversed_["arousal"] == pytest.approx(((6 - stored) - 1) / 4)
    assert as_stored.loc[utt, "arousal"] == pytest.approx((stored - 1) / 4)
    assert reversed_["valence"] == as_stored.loc[utt, "valence"]  # valence is not reversed


def test_reading_arousal_as_stored_contradicts_the_literature(release: ImprovFixture):
    assert describe(read_msp_improv(release.root))["direction_warnings"] == []
    summary = describe(read_msp_improv(release.root, arousal_reversed=False))
    assert [w.split(" (")[0] for w in summary["direction_warnings"]] == [
        "msp_improv: mean arousal of angry", "msp_improv: mean arousal of happy"]  # fmt: skip
    assert set(summary["direction_warnings"]) <= set(summary["problems"])
    means = {row["category"]: row for row in summary["categories"]}
    assert means["S"]["arousal"] > means["A"]["arousal"]  # sad above angry: upside down


def test_the_protocol_key_reverses_arousal_and_only_msp_improv_takes_it(
    release: ImprovFixture, capsys
):
    args = ["corpus", "describe", "--protocol", "msp_improv", f"corpus.root={release.root}"]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["direction_warnings"] == []
    assert summary["release"] == "Evaluation.txt, audio in session<k>/"
    assert main([*args, "--json", "corpus.arousal_reversed=false"]) == 0
    assert len(json.loads(capsys.readouterr().out)["direction_warnings"]) == 2
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "release: Evaluation.txt, audio in session<k>/" in text
    assert "label directions: 0 contradiction(s)" in text
    with pytest.raises(BenchError, match="corpus.arousal_reversed applies to corpus.kind"):
        load_protocol("iemocap", ["corpus.arousal_reversed=true"])


def test_summary_means_are_read_and_rater_lines_skipped(release: ImprovFixture):
    corpus = read_msp_improv(release.root)
    assert len(corpus.table) == release.turns - 1  # every turn but the one missing a rating
    first = corpus.table.set_index("utt_id").loc["MSP-IMPROV-S01A-F01-S-MF02"]
    valence = float(summary_line(release, "S01A-F01-S-MF02").split("V:")[1].split(";")[0])
    assert first["valence"] == pytest.approx((valence - 1) / 4)
    assert corpus.table["dominance"].isna().any()  # "D:NaN ;" is NaN, not an error


def test_a_missing_rating_is_skipped_and_counted(release: ImprovFixture):
    corpus = read_msp_improv(release.root)
    assert release.missing_rating not in set(corpus.table["utt_id"])
    assert corpus.skipped == {"missing arousal or valence rating": 1}


def test_the_stereo_44k_file_is_read_as_16k_mono(release: ImprovFixture):
    path = next(release.root.glob(f"session*/*/*/{release.stereo}.wav"))
    assert load_audio(path).shape == (8000,)
    channels = describe(read_msp_improv(release.root))["audio"]["channels"]
    assert channels == {"1": release.turns - 2, "2": 1}


def test_six_sessions_six_folds_without_leakage(release: ImprovFixture):
    protocol = load_protocol("msp_improv", [f"corpus.root={release.root}"])
    table = read_msp_improv(release.root).table
    folds = make_folds(table, protocol)
    assert [f.test_unit for f in folds] == [f"session{k}" for k in range(1, 7)]
    for fold in folds:
        test_speakers = set(table.iloc[fold.test]["speaker"])
        assert test_speakers == {f"F0{fold.number}", f"M0{fold.number}"}
        assert not test_speakers & set(table.iloc[np.r_[fold.train, fold.val]]["speaker"])


BAD_LINES = [
    ("UTD-IMPROV-S01A-F01-S-MF02.avi; N; A:3.0; V:2.0",
     "malformed summary line"),
    ("UTD-IMPROV-S01-F01-S-MF02.avi; N; A:3.0; V:2.0; D:2.0 ; N:3.0;",
     "does not look like UTD-IMPROV-S<ss>"),
    ("UTD-IMPROV-S01A-F01-S-M02.avi; N; A:3.0; V:2.0; D:2.0 ; N:3.0;",
     "<F|M><F|M><turn>.avi"),
    ("UTD-IMPROV-S01A-F01-S-MF02.avi; N; A:5.5; V:2.0; D:2.0 ; N:3.0;",
     "A 5.5 is outside the label scale [1, 5]"),
    ("UTD-IMPROV-S01A-F01-S-FM01.avi; N; A:3.0; V:2.0; D:2.0 ; N:3.0;",
     "duplicate utt_id 'MSP-IMPROV-S01A-F01-S-FM01' (first on line 1)"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_LINES)
def test_a_bad_summary_line_names_the_file_and_line(tmp_path: Path, text: str, message: str):
    write_msp_improv(tmp_path)
    path = tmp_path / "Evaluation.txt"
    lines = path.read_text().splitlines()
    lines.insert(3, text)  # after the first turn's first two rater lines
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        read_msp_improv(tmp_path, check_audio=False)
    assert (caught.value.path, caught.value.line) == (str(path.resolve()), 4)
    assert message in caught.value.reason


def test_a_misspelt_summary_line_is_a_counted_problem_not_a_rater_line(tmp_path: Path):
    fixture = write_msp_improv(tmp_path)
    path = tmp_path / "Evaluation.txt"
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace("UTD-IMPROV-", "UTD-IMRPOV-")  # the second turn's summary
    assert lines[5].startswith("UTD-IMRPOV-S01A-F01-S-")
    path.write_text("\n".join(lines) + "\n")
    corpus = read_msp_improv(tmp_path)
    assert len(corpus.table) == fixture.turns - 2  # this turn and the one missing a rating
    assert corpus.problems == [
        "1 malformed summary lines skipped: they name a video but do not start UTD-IMPROV- "
        f"(first: {path.resolve()}:6)"
    ]  # and the rater lines are no problem


def test_a_folder_without_evaluation_txt_is_named(tmp_path: Path):
    with pytest.raises(InputError, match="not an MSP-IMPROV release: no Evaluation.txt or Eval"):
        read_msp_improv(tmp_path)


def test_a_tiny_grid_runs_and_reports_end_to_end(msp_releases: MspReleases, tmp_path: Path):
    root = [f"corpus.root={msp_releases.improv.root}"]
    stats = run_and_report("msp_improv", root, tmp_path, "1,2", msp_releases.features)
    assert np.isfinite(stats["delta"]).all()
