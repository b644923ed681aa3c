"""The IEMOCAP reader on small hand-written fixtures in the release format, quirks included."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from bench.cli import main
from bench.corpus.iemocap import read_iemocap
from bench.errors import InputError
from bench.testing.tones import write_tone

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"

# F and M turns numbered separately; listed F first, so file order is not time order.
IMPRO = HEADER + (
    "[6.2901 - 8.2357]\tSes01F_impro05a_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
    "C-E2:\tNeutral;\t()\n"
    "C-E3:\tNeutral;\t()\n"
    "C-F1:\tNeutral;\t(curious)\n"
    "A-E3:\tval 3; act 2; dom  2;\t()\n"
    "A-E4:\tval 2; act 3; dom  3;\t(mildly aggravated but staying polite, attitude)\n"
    "A-F1:\tval 2; act 2; dom  2;\t()\n"
    "\n"
    "[12.0100 - 14.3925]\tSes01F_impro05a_F001\tfru\t[1.5000, 3.5000, 4.0000]\n"
    "C-E2:\tFrustration;\t()\n"
    "\n"
    "[7.9000 - 9.1000]\tSes01F_impro05a_M000\tang\t[2.0000, 5.5000, 3.0000]\n"
    "C-E1:\tAnger;\t()\n"
    "\n"
    "[8.5000 - 11.0000]\tSes01F_impro05a_M001\thap\t[4.0000, 3.0000, 0.5000]\n"
)
SCRIPT = HEADER + (
    "[1.0000 - 2.0000]\tSes05M_script01_1b_M003\tsad\t[1.0000, 1.5000, 2.0000]\n"
    "A-M1:\tval 1; act 2; dom  2;\t()\n"
    "\n"
    "[0.5000 - 1.2000]\tSes05M_script01_1b_F000\texc\t[4.5000, 4.0000, 3.5000]\n"
)


def make_release(root: Path, files: dict[str, str], wavs: bool = True) -> Path:
    """Write label files ``{dialog: text}`` and a wav for every summary line."""
    for dialog, text in files.items():
        session = root / f"Session{int(dialog[3:5])}"
        label_dir = session / "dialog" / "EmoEvaluation"
        label_dir.mkdir(parents=True, exist_ok=True)
        (label_dir / f"{dialog}.txt").write_text(text)
        for line in text.splitlines():
            if line.startswith("[") and wavs:
                utt = line.split("\t")[1]
                write_tone(session / "sentences" / "wav" / dialog / f"{utt}.wav", seconds=0.2)
    return root


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = make_release(tmp_path, {"Ses01F_impro05a": IMPRO, "Ses05M_script01_1b": SCRIPT})
    # Things a real release also holds, which the reader must leave alone:
    emo = root / "Session1" / "dialog" / "EmoEvaluation"
    (emo / "._Ses01F_impro05a.txt").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
    (emo / "Categorical").mkdir()
    (emo / "Categorical" / "Ses01F_impro05a_e2_cat.txt").write_text(
        "Ses01F_impro05a_F000 :Neutral;"
    )
    return root


def test_reads_every_summary_line_with_speaker_from_the_utterance_id(release: Path):
    table = read_iemocap(release).table
    assert len(table) == 6
    speakers = dict(zip(table["utt_id"], table["speaker"], strict=True))
    assert speakers["Ses01F_impro05a_M000"] == "Ses01_M"  # not the F of the dialog prefix
    assert speakers["Ses01F_impro05a_F001"] == "Ses01_F"
    assert speakers["Ses05M_script01_1b_F000"] == "Ses05_F"  # not the M of the dialog prefix
    assert set(table["dialog"]) == {"Ses01F_impro05a", "Ses05M_script01_1b"}
    assert set(table["session"]) == set(table["group"]) == {"Ses01", "Ses05"}


def test_the_summary_lines_category_is_the_tables_category(release: Path):
    table = read_iemocap(release).table.set_index("utt_id")
    assert table["category"].to_dict() == {
        "Ses01F_impro05a_F000": "neu", "Ses01F_impro05a_F001": "fru",
        "Ses01F_impro05a_M000": "ang", "Ses01F_impro05a_M001": "hap",
        "Ses05M_script01_1b_M003": "sad", "Ses05M_script01_1b_F000": "exc",
    }  # fmt: skip


def test_dialogs_are_ordered_by_start_time(release: Path):
    table = read_iemocap(release).table
    impro = table[table["dialog"] == "Ses01F_impro05a"]
    assert impro["utt_id"].tolist() == [
        "Ses01F_impro05a_F000",
        "Ses01F_impro05a_M000",
        "Ses01F_impro05a_M001",
        "Ses01F_impro05a_F001",
    ]
    assert impro["start"].is_monotonic_increasing


def test_labels_are_normalised_and_out_of_range_values_clipped_and_counted(
    release: Path, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING):
        corpus = read_iemocap(release)
    row = corpus.table.set_index("utt_id").loc["Ses01F_impro05a_F000"]
    assert (row["valence"], row["arousal"], row["dominance"]) == (0.375, 0.375, 0.375)
    clipped = corpus.table.set_index("utt_id").loc["Ses01F_impro05a_M000"]
    assert clipped["arousal"] == 1.0  # 5.5 -> 5
    assert corpus.table.set_index("utt_id").loc["Ses01F_impro05a_M001", "dominance"] == 0.0
    assert corpus.clipped_labels == 2
    assert "Ses01F_impro05a.txt" in caplog.text and "clipped" in caplog.text
    assert corpus.label_scale == (1.0, 5.0)


def test_audio_paths_follow_the_release_layout(release: Path):
    path = read_iemocap(release).table.set_index("utt_id").loc["Ses05M_script01_1b_M003"]
    expected = release / "Session5/sentences/wav/Ses05M_script01_1b/Ses05M_script01_1b_M003.wav"
    assert Path(path["audio_path"]) == expected.resolve()


@pytest.mark.parametrize(
    "bad_line",
    [
        "[6.2901 - 8.2357]\tSes01F_impro05a_F009\tneu\t[2.5000, 2.5000]",
        "[6.2901 8.2357]\tSes01F_impro05a_F009\tneu\t[2.5, 2.5, 2.5]",
        "[6.2901 - 8.2357]\tSes01F_impro05a_F009\tneu\t[2.5, high, 2.5]",
        "Ses01F_impro05a_F009 neu",
    ],
)
def test_malformed_summary_line_names_file_and_line(tmp_path: Path, bad_line: str):
    lines = IMPRO.splitlines()
    lines.insert(9, bad_line)  # line 10 of the file
    root = make_release(tmp_path, {"Ses01F_impro05a": "\n".join(lines)}, wavs=False)
    with pytest.raises(InputError) as error:
        read_iemocap(root, check_audio=False)
    assert error.value.line == 10
    assert error.value.path.endswith("Ses01F_impro05a.txt")
    assert "Ses01F_impro05a.txt:10: malformed summary line" in str(error.value)


def test_nan_label_is_an_error_naming_the_line(tmp_path: Path):
    text = HEADER + "[1.0 - 2.0]\tSes02M_impro01_F000\tneu\t[nan, 2.0000, 2.0000]\n"
    root = make_release(tmp_path, {"Ses02M_impro01": text}, wavs=False)
    with pytest.raises(InputError, match=r"Ses02M_impro01.txt:3: valence: label is NaN"):
        read_iemocap(root, check_audio=False)


def test_utterance_of_another_dialog_is_an_error(tmp_path: Path):
    text = HEADER + "[1.0 - 2.0]\tSes02M_impro02_F000\tneu\t[2.0000, 2.0000, 2.0000]\n"
    root = make_release(tmp_path, {"Ses02M_impro01": text}, wavs=False)
    with pytest.raises(InputError, match="Ses02M_impro01.txt:3: utterance id"):
        read_iemocap(root, check_audio=False)


def test_duplicate_ids_are_an_error(tmp_path: Path):
    line = "[1.0 - 2.0]\tSes02M_impro01_F000\tneu\t[2.0000, 2.0000, 2.0000]\n"
    root = make_release(tmp_path, {"Ses02M_impro01": HEADER + line + line}, wavs=False)
    with pytest.raises(InputError, match="duplicate utterance ids: Ses02M_impro01_F000"):
        read_iemocap(root, check_audio=False)


def test_missing_wavs_are_listed_together_in_one_error(release: Path):
    wav_dir = release / "Session1/sentences/wav/Ses01F_impro05a"
    (wav_dir / "Ses01F_impro05a_F000.wav").unlink()
    (wav_dir / "Ses01F_impro05a_M001.wav").unlink()
    with pytest.raises(InputError) as error:
        read_iemocap(release)
    message = str(error.value)
    assert "2 of 6 audio files are missing" in message
    assert "Ses01F_impro05a_F000.wav" in message and "Ses01F_impro05a_M001.wav" in message


def test_folder_without_labels_says_where_to_point(tmp_path: Path):
    with pytest.raises(InputError, match="corpus.root"):
        read_iemocap(tmp_path)


def test_crlf_line_ends_and_a_byte_order_mark_are_read(tmp_path: Path):
    text = "\ufeff" + IMPRO.replace("\n", "\r\n")
    root = make_release(tmp_path, {"Ses01F_impro05a": text}, wavs=False)
    assert len(read_iemocap(root, check_audio=False).table) == 4


def test_a_byte_that_is_not_utf8_is_one_error_naming_file_and_line(tmp_path: Path, capsys):
    root = make_release(tmp_path, {"Ses01F_impro05a": IMPRO}, wavs=False)
    path = root / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro05a.txt"
    path.write_bytes(path.read_bytes().replace(b"(curious)", b"(curi\xf6us)"))  # Latin-1, line 6
    code = main(["corpus", "describe", "--protocol", "iemocap", f"corpus.root={root}"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.splitlines() == [
        f"bench corpus: error: {path.resolve()}:6: not UTF-8 text: byte 0xf6 "
        "(byte 21 of the line); save the file as UTF-8"
    ]


def test_audio_without_a_label_is_a_counted_problem_shown_without_verbose(release: Path, capsys):
    """A turn missing from its label file, and a dialog whose label file is gone: their wavs
    are counted and named, not dropped in silence."""
    wav_dir = release / "Session1" / "sentences" / "wav"
    write_tone(wav_dir / "Ses01F_impro05a" / "Ses01F_impro05a_F002.wav", seconds=0.2)
    for turn in ("F000", "M000"):
        write_tone(wav_dir / "Ses01F_impro06" / f"Ses01F_impro06_{turn}.wav", seconds=0.2)
    corpus = read_iemocap(release)
    assert len(corpus.table) == 6  # the labelled turns, as before
    first = wav_dir.resolve() / "Ses01F_impro05a" / "Ses01F_impro05a_F002.wav"
    message = f"3 utterances of 2 dialogs have audio but no label (first: {first})"
    assert message in corpus.problems
    args = ["--protocol", "iemocap", f"corpus.root={release}", "validation.unit=dialog"]
    assert main(["corpus", "describe", *args]) == 0
    out = capsys.readouterr().out
    assert "problems: 3" in out and f"  - {message}" in out  # two clipped labels, and this


def test_a_session_without_label_files_is_a_loud_warning_naming_it(
    release: Path, caplog: pytest.LogCaptureFixture
):
    shutil.rmtree(release / "Session5" / "dialog" / "EmoEvaluation")
    with caplog.at_level(logging.WARNING):
        corpus = read_iemocap(release)
    assert set(corpus.table["session"]) == {"Ses01"}
    labels = release.resolve() / "Session5" / "dialog" / "EmoEvaluation"
    message = (
        f"Session5 has 2 audio files but no label file ({labels} is missing or empty): "
        "the whole session is left out"
    )
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING][-1] == message
    assert message in corpus.problems
    assert not [p for p in corpus.problems if "have audio but no label" in p]  # not twice
