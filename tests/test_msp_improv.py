"""MSP-IMPROV as released: the reader, each quirk of the release, and its six folds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_msp_podcast import run_and_report

from bench.audio import load_audio
from bench.corpus.describe import describe
from bench.corpus.msp_improv import read_msp_improv
from bench.errors import InputError
from bench.protocol import load_protocol, make_folds
from bench.testing.msp_improv import ImprovFixture, write_msp_improv
from bench.testing.msp_releases import MspReleases


@pytest.fixture(scope="module")
def release(msp_releases: MspReleases) -> ImprovFixture:
    return msp_releases.improv


def test_name_gives_speaker_session_and_recording(release: ImprovFixture):
    table = read_msp_improv(release.root).table.set_index("utt_id")
    row = table.loc["MSP-IMPROV-S02H-M05-S-FM03"]
    assert (row["speaker"], row["session"], row["group"]) == ("M05", "session5", "session5")
    assert row["dialog"] == "session5/S02H/S"
    assert Path(row["audio_path"]).parent == release.root.resolve() / "session5" / "S02H" / "S"


def test_a_recording_is_a_dialog_in_turn_number_order(release: ImprovFixture):
    table = read_msp_improv(release.root).table
    dialog = table[table["dialog"] == "session2/S01A/S"]
    assert dialog["start"].tolist() == [1, 2, 3, 4, 5, 6]
    assert dialog["speaker"].tolist() == ["M02", "F02"] * 3  # the actors alternate


def test_summary_means_are_read_and_rater_lines_skipped(release: ImprovFixture):
    corpus = read_msp_improv(release.root)
    assert len(corpus.table) == release.turns - 1  # every turn but the one missing a rating
    first = corpus.table.set_index("utt_id").loc["MSP-IMPROV-S01A-F01-S-MF02"]
    line = next(x for x in (release.root / "Evaluation.txt").read_text().splitlines()
                if x.startswith("UTD-IMPROV-S01A-F01-S-MF02"))  # fmt: skip
    arousal = float(line.split("A:")[1].split(";")[0])
    assert first["arousal"] == pytest.approx((arousal - 1) / 4)
    assert corpus.table["dominance"].isna().any()  # "D:NaN ;" is NaN, not an error


def test_a_missing_rating_is_skipped_and_counted(release: ImprovFixture):
    corpus = read_msp_improv(release.root)
    assert release.missing_rating not in set(corpus.table["utt_id"])
    assert corpus.skipped == {"missing arousal or valence rating": 1}


def test_the_stereo_44k_file_is_read_as_16k_mono(release: ImprovFixture):
    path = next(release.root.glob(f"session*/*/*/{release.stereo}.wav"))
    assert load_audio(path).shape == (8000,)
    assert describe(read_msp_improv(release.root))["audio"]["channels"] == {"1": 82, "2": 1}


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
    ("UTD-IMPROV-S01A-F01-S-MF02.avi; N; A:5.5; V:2.0; D:2.0 ; N:3.0;",
     "A 5.5 is outside the label scale [1, 5]"),
    ("UTD-IMPROV-S01A-M01-S-FM01.avi; N; A:3.0; V:2.0; D:2.0 ; N:3.0;",
     "duplicate utt_id 'MSP-IMPROV-S01A-M01-S-FM01' (first on line 1)"),
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
    with pytest.raises(InputError, match="not an MSP-IMPROV release: no Evaluation.txt"):
        read_msp_improv(tmp_path)


def test_a_tiny_grid_runs_and_reports_end_to_end(msp_releases: MspReleases, tmp_path: Path):
    root = [f"corpus.root={msp_releases.improv.root}"]
    stats = run_and_report("msp_improv", root, tmp_path, "1,2", msp_releases.features)
    assert np.isfinite(stats["delta"]).all()
