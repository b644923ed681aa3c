"""MSP-Podcast as released: the reader, each quirk of the release, and its predefined folds."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_run import FAST

from bench.audio import load_audio
from bench.cli import main
from bench.corpus.describe import describe, format_description
from bench.corpus.directions import direction_warnings
from bench.corpus.msp_podcast import read_msp_podcast
from bench.errors import BenchError, InputError
from bench.protocol import load_protocol, make_folds
from bench.testing.msp_podcast import PodcastFixture, write_msp_podcast
from bench.testing.msp_releases import OFFLINE, MspReleases

pytestmark = pytest.mark.slow  # the release fixtures' extraction


@pytest.fixture(scope="module")
def release(msp_releases: MspReleases) -> PodcastFixture:
    return msp_releases.podcast


def rewrite_labels(fixture: PodcastFixture, edit) -> Path:
    """Apply ``edit(rows)`` to the fixture's label rows (header first) in place."""
    path = fixture.root / "Labels" / "labels_consensus.csv"
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    edit(rows)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_reads_the_release_with_its_splits_scale_and_order(release: PodcastFixture):
    corpus = read_msp_podcast(release.root)
    table = corpus.table
    assert set(table["split"]) == {"Train", "Development", "Test1", "Test2"}
    assert table[["valence", "arousal"]].stack().between(0, 1).all()
    assert corpus.label_scale == (1.0, 7.0)
    # a podcast's turns of one split are one dialog, in segment order
    dialog = table[table["dialog"] == "Train/MSP-PODCAST_0002"]
    assert dialog["utt_id"].tolist() == sorted(dialog["utt_id"])
    assert dialog["start"].is_monotonic_increasing and len(dialog) == 8
    assert (table["session"] == table["utt_id"].str.extract(r"^(MSP-PODCAST_\d+)")[0]).all()


def test_a_rating_is_normalised_from_one_to_seven(tmp_path: Path):
    fixture = write_msp_podcast(tmp_path, audio=False)

    def set_first(rows: list[list[str]]) -> None:
        rows[1][2:5] = ["7.0", "1.0", "4.0"]  # EmoAct, EmoVal, EmoDom

    rewrite_labels(fixture, set_first)
    table = read_msp_podcast(tmp_path, check_audio=False).table.set_index("utt_id")
    first = table.loc["MSP-PODCAST_0001_0001"]
    assert (first["arousal"], first["valence"], first["dominance"]) == (1.0, 0.0, 0.5)


def test_rows_without_ratings_are_skipped_by_split_after_reading_it(release: PodcastFixture):
    corpus = read_msp_podcast(release.root)
    ids = set(corpus.table["utt_id"])
    assert release.missing_rating.removesuffix(".wav") not in ids
    assert not corpus.table["split"].eq("Test3").any()
    assert corpus.skipped == {
        "missing valence or arousal rating (Train)": 1,
        "missing valence or arousal rating (Test3)": release.n_test3,
    }
    assert describe(corpus)["skipped"] == corpus.skipped


def test_test3_rows_with_ratings_are_read_each_its_own_dialog(tmp_path: Path):
    fixture = write_msp_podcast(tmp_path, audio=False, test3="rated")
    corpus = read_msp_podcast(tmp_path, check_audio=False)
    test3 = corpus.table[corpus.table["split"] == "Test3"]
    assert len(test3) == fixture.n_test3 == 16
    assert test3["utt_id"].str.fullmatch(r"MSP-PODCAST_test3_\d{4}").all()
    # the name gives no podcast: each file is its own session and dialog
    assert (test3["dialog"] == test3["utt_id"]).all()
    assert (test3["session"] == test3["utt_id"]).all()
    assert test3[["valence", "arousal"]].notna().all().all()
    assert "missing valence or arousal rating (Test3)" not in corpus.skipped


def test_test3_listed_only_in_partitions_is_counted_in_the_notes(tmp_path: Path):
    write_msp_podcast(tmp_path, audio=False, test3="absent")
    corpus = read_msp_podcast(tmp_path, check_audio=False)
    assert corpus.skipped == {"missing valence or arousal rating (Train)": 1}
    assert corpus.notes[-1] == (
        "Partitions.txt lists files that the label file has no labels for, not read: Test3 16"
    )


def test_the_labels_txt_layout_reads_as_the_consensus_csv(tmp_path: Path):
    write_msp_podcast(tmp_path / "csv", audio=False)
    write_msp_podcast(tmp_path / "text", audio=False, layout="text")
    text = (tmp_path / "text" / "Labels" / "labels.txt").read_text().splitlines()
    assert text[0].startswith("MSP-PODCAST_0001_0001.wav; N; A:") and text[1].startswith("WORKER")
    corpora = {name: read_msp_podcast(tmp_path / name, check_audio=False)
               for name in ("csv", "text")}  # fmt: skip
    columns = ["utt_id", "speaker", "split", "dialog", "valence", "arousal", "category"]
    pd.testing.assert_frame_equal(corpora["csv"].table[columns], corpora["text"].table[columns])
    assert corpora["text"].skipped == corpora["csv"].skipped
    assert corpora["text"].release.startswith("Labels/labels.txt with Partitions.txt")
    assert corpora["csv"].release == (
        "Labels/labels_consensus.csv (releases 1.11 and later, 2.0 included); development "
        "split named Development"
    )


TEXT_ERRORS = [
    ("Labels/labels.txt", "MSP-PODCAST_0001_0001.wav; N; A:2.0; V:3.0", "malformed summary line"),
    ("Partitions.txt", "Train MSP-PODCAST_0001_0001.wav", "expected '<a>; <b>'"),
    ("Partitions.txt", "Test1; MSP-PODCAST_0001_0001.wav", "is listed twice (first on line 1)"),
    ("Speaker_ids.txt", "MSP-PODCAST_0001_0001.wav", "expected '<a>; <b>'"),
]


@pytest.mark.parametrize(("name", "text", "message"), TEXT_ERRORS)
def test_a_bad_line_of_the_text_layout_names_its_file_and_line(tmp_path, name, text, message):
    write_msp_podcast(tmp_path, audio=False, layout="text")
    path = tmp_path / name
    lines = [*path.read_text().splitlines(), text]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        read_msp_podcast(tmp_path, check_audio=False)
    assert (caught.value.path, caught.value.line) == (str(path.resolve()), len(lines))
    assert message in caught.value.reason


def test_the_text_layout_needs_its_partitions(tmp_path: Path):
    write_msp_podcast(tmp_path, audio=False, layout="text")
    (tmp_path / "Partitions.txt").unlink()
    with pytest.raises(InputError, match="labels.txt gives no splits and there is no Partit"):
        read_msp_podcast(tmp_path, check_audio=False)


def test_an_unknown_speaker_keeps_the_utterance_as_a_speaker_of_its_own(release: PodcastFixture):
    corpus = read_msp_podcast(release.root)
    utt = release.unknown_speaker.removesuffix(".wav")
    row = corpus.table.set_index("utt_id").loc[utt]
    assert row["speaker"] == f"unknown:{utt}"
    assert "1 utterances of unknown speakers" in " ".join(corpus.notes)
    assert not corpus.table["speaker"].eq("Unknown").any()


def test_the_stereo_44k_file_is_read_as_16k_mono_and_reported(release: PodcastFixture):
    path = next(release.root.glob(f"Audios/{release.stereo}"))
    assert load_audio(path).shape == (8000,)  # 0.5 s at 16 kHz
    problems = describe(read_msp_podcast(release.root))["problems"]
    assert problems == [
        "1 files are not 16 kHz mono; they are converted when loaded (not an error)"
    ]


@pytest.mark.parametrize(
    ("spelling", "audio_dir", "development"),
    [("concensus", "Audio", "Validation"), ("consensus", "Audios", "Development")],
)
def test_older_spellings_and_split_names(tmp_path: Path, spelling, audio_dir, development):
    write_msp_podcast(tmp_path, spelling=spelling, audio_dir=audio_dir, development=development)
    protocol = load_protocol("msp_podcast", [f"corpus.root={tmp_path}"])
    table = read_msp_podcast(tmp_path).table
    folds = make_folds(table, protocol)
    assert [f.val_values for f in folds] == [(development,), (development,)]
    assert set(table.iloc[folds[0].val]["split"]) == {development}


def test_predefined_folds_test1_and_test2_train_on_train(release: PodcastFixture):
    protocol = load_protocol("msp_podcast", [f"corpus.root={release.root}"])
    table = read_msp_podcast(release.root).table
    folds = make_folds(table, protocol)
    assert [f.test_unit for f in folds] == ["Test1", "Test2"]
    for fold in folds:
        assert set(table.iloc[fold.train]["split"]) == {"Train"}
        assert set(table.iloc[fold.test]["split"]) == {fold.test_unit}
    # Test1 holds a turn of a Train podcast (allowed: the release is speaker-disjoint) ...
    test1 = table.iloc[folds[0].test]
    assert release.shared_podcast in set(test1["session"])
    assert release.shared_podcast in set(table.iloc[folds[0].train]["session"])
    # ... but not in a Train dialog
    assert not set(test1["dialog"]) & set(table.iloc[folds[0].train]["dialog"])


def share_speakers(rows: list[list[str]]) -> None:
    """Give a Test1 row and a Development row a Train row's speaker."""
    speaker = next(r for r in rows if r[-1] == "Train")[5]
    for split in ("Test1", "Development"):
        next(r for r in rows if r[-1] == split)[5] = speaker


def test_speakers_shared_across_splits_are_a_warning_with_counts(tmp_path: Path, caplog):
    fixture = write_msp_podcast(tmp_path, audio=False)
    rewrite_labels(fixture, share_speakers)
    table = read_msp_podcast(tmp_path, check_audio=False)
    assert table.notes[2] == (
        "speakers shared across splits (unknown speakers aside): Train/Development 1, "
        "Train/Test1 1, Development/Test1 1"
    )
    protocol = load_protocol("msp_podcast", [f"corpus.root={tmp_path}"])
    with caplog.at_level(logging.WARNING):
        folds = make_folds(table.table, protocol)
    assert [f.test_unit for f in folds] == ["Test1", "Test2"]
    assert (
        "the corpus's partition (its 'split' column) puts speakers in more than one part: "
        "Train/Development 1, Train/Test1 1, Development/Test1 1"
    ) in caplog.text


def test_speakers_shared_across_splits_are_refused_on_request(tmp_path: Path):
    fixture = write_msp_podcast(tmp_path, audio=False)
    rewrite_labels(fixture, share_speakers)
    overrides = [f"corpus.root={tmp_path}", "folds.speaker_overlap=error"]
    protocol = load_protocol("msp_podcast", overrides)
    assert protocol.hashed() == load_protocol("msp_podcast", overrides[:1]).hashed()
    table = read_msp_podcast(tmp_path, check_audio=False).table
    with pytest.raises(BenchError, match="fold 1: test and train share speaker") as caught:
        make_folds(table, protocol)
    # the release's partition put them there: no folds.unit applies to predefined folds
    assert "folds.unit" not in str(caught.value)
    assert str(caught.value).endswith(
        "; the corpus's own partition (its 'split' column, folds.column) puts them in both; "
        "correct those rows' split values"
    )
    with pytest.raises(BenchError, match="folds.speaker_overlap must be one of warn, error"):
        load_protocol("msp_podcast", ["folds.speaker_overlap=ignore"])


def test_leave_one_out_folds_stay_strict_about_speakers(tmp_path: Path):
    fixture = write_msp_podcast(tmp_path, audio=False)
    rewrite_labels(fixture, share_speakers)
    table = read_msp_podcast(tmp_path, check_audio=False).table
    protocol = load_protocol("msp_podcast", ["folds.mode=leave_one_out", "folds.unit=split"])
    with pytest.raises(BenchError, match="share speaker"):
        make_folds(table, protocol)


def test_a_release_read_with_arousal_upside_down_is_warned_about(tmp_path: Path):
    write_msp_podcast(tmp_path, audio=False)
    assert direction_warnings(read_msp_podcast(tmp_path, check_audio=False)) == []
    write_msp_podcast(tmp_path / "flipped", audio=False, arousal_reversed=True)
    warnings = direction_warnings(read_msp_podcast(tmp_path / "flipped", check_audio=False))
    assert [w.split(" (")[0] for w in warnings] == [
        "msp_podcast: mean arousal of angry", "msp_podcast: mean arousal of happy"]  # fmt: skip


def test_a_split_the_folds_do_not_name_is_a_counted_problem(tmp_path: Path, capsys):
    fixture = write_msp_podcast(tmp_path)
    lines: list[int] = []

    def misspell(rows: list[list[str]]) -> None:
        test1 = [k for k, row in enumerate(rows) if row[-1] == "Test1"]
        for k in test1[1:3]:
            rows[k][-1] = "Tset1"
        lines.append(test1[1] + 1)  # rows[0] is the header, on line 1

    path = rewrite_labels(fixture, misspell)
    args = ["corpus", "describe", "--protocol", "msp_podcast", "--json", f"corpus.root={tmp_path}"]
    assert main(args) == 0
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert (
        "2 rows have split 'Tset1', which no fold uses (the folds read Train, Development, "
        f"Validation, Test1, Test2; first: {path.resolve()}:{lines[0]})"
    ) in problems


def test_utterance_dialogs_are_one_turn_each(release: PodcastFixture):
    table = read_msp_podcast(release.root, dialog_unit="utterance").table
    assert table.groupby("dialog").size().eq(1).all()
    assert (table["dialog"] == table["utt_id"]).all()


BAD_ROWS = [
    (lambda rows: rows[3].__setitem__(2, "7.5"), 4, "EmoAct 7.5 is outside the label scale"),
    (lambda rows: rows[3].__setitem__(3, "high"), 4, "EmoVal is not a number: 'high'"),
    (lambda rows: rows[3].__setitem__(0, "podcast.wav"), 4, "does not look like MSP-PODCAST"),
    (lambda rows: rows.__setitem__(5, rows[2]), 6, "(first on line 3)"),
    (lambda rows: rows[4].pop(), 5, "wrong number of fields"),
    (lambda rows: rows[0].remove("SpkrID"), 1, "header lacks column(s) SpkrID"),
]


@pytest.mark.parametrize(("edit", "line", "message"), BAD_ROWS)
def test_a_bad_label_line_names_the_file_and_line(tmp_path: Path, edit, line, message):
    fixture = write_msp_podcast(tmp_path, audio=False)
    path = rewrite_labels(fixture, edit)
    with pytest.raises(InputError) as caught:
        read_msp_podcast(tmp_path, check_audio=False)
    assert (caught.value.path, caught.value.line) == (str(path.resolve()), line)
    assert message in caught.value.reason


def test_a_folder_that_is_not_a_release_is_named(tmp_path: Path):
    (tmp_path / "Audios").mkdir()
    with pytest.raises(InputError, match="no Labels/labels_consensus.csv or Labels/labels_conc"):
        read_msp_podcast(tmp_path)


def test_a_dialog_unit_the_corpus_lacks_is_refused():
    with pytest.raises(BenchError, match="corpus.dialog_unit for corpus.kind msp_podcast"):
        load_protocol("msp_podcast", ["corpus.dialog_unit=speaker"])
    with pytest.raises(BenchError, match="corpus.dialog_unit for corpus.kind iemocap"):
        load_protocol("iemocap", ["corpus.dialog_unit=podcast"])


def test_describe_shows_splits_speakers_and_dialog_unit(release: PodcastFixture, capsys):
    assert main(["corpus", "describe", "--protocol", "msp_podcast", "--json",
                 f"corpus.root={release.root}"]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert summary["per_split"]["Train"] == {"utterances": 31, "speakers": 9, "dialogs": 4}
    assert [f["test"] for f in summary["folds"]] == ["Test1", "Test2"]
    assert summary["notes"][0].startswith("dialog unit: podcast")
    assert summary["release"].startswith("Labels/labels_consensus.csv (releases 1.11 and later")
    assert summary["direction_warnings"] == []
    assert {row["category"] for row in summary["categories"]} >= {"A", "H", "S", "N"}


def run_and_report(
    protocol: str, overrides: list[str], tmp_path: Path, folds: str, features: Path
) -> pd.DataFrame:
    """``bench run`` a tiny grid (mamba_ema and stateless, seed 0) with the offline
    extractors and the feature cache ``features``, then ``bench report``; its stats.csv."""
    selection = ["--protocol", protocol, "--variant", "mamba_ema", "stateless", "--seeds", "0",
                 "--folds", folds, "--results", str(tmp_path / "results"), *overrides,
                 *OFFLINE, f"features.cache_dir={features}", *FAST]  # fmt: skip
    assert main(["run", "--executor", "local", "--quiet", *selection]) == 0
    stored = list((tmp_path / "results" / protocol).glob("*/fold*/seed0/predictions.parquet"))
    assert len(stored) == 2 * len(folds.split(","))
    out = tmp_path / "reports"
    assert main(["report", *selection, "--out", str(out), "--bootstrap", "200"]) == 0
    table = (out / protocol / "ablations.md").read_text()
    assert "stateless" in table and "mamba_ema" in table
    return pd.read_csv(out / protocol / "stats.csv")


def test_a_tiny_grid_runs_and_reports_end_to_end(msp_releases: MspReleases, tmp_path: Path):
    release = msp_releases.podcast
    root = [f"corpus.root={release.root}"]
    stats = run_and_report("msp_podcast", root, tmp_path, "1,2", msp_releases.features)
    assert np.isfinite(stats["delta"]).all()
    assert stats["nb_p"].isna().all()  # Test1 and Test2 are fixed test sets: no fold-level test
    legend = (tmp_path / "reports" / "msp_podcast" / "ablations.md").read_text()
    assert "Verdict test, these test sets (Test1, Test2): a t-test over the training runs" in legend
    assert "not other dialogs, speakers or test sets" in legend
    assert "these test sets" in legend and "these sessions" not in legend
    for fold, name in ((1, "Test1"), (2, "Test2")):  # each test set also on its own
        alone = tmp_path / "reports" / "msp_podcast" / name
        assert f"Protocol msp_podcast (test set {name})" in (alone / "ablations.md").read_text()
        assert set(pd.read_csv(alone / "trials.csv")["fold"]) == {fold}


def test_describe_shows_only_the_largest_of_thousands_of_speakers(tmp_path: Path):
    write_msp_podcast(tmp_path, podcasts=8, segments=4, audio=False)
    corpus = read_msp_podcast(tmp_path, check_audio=False)
    summary = {**describe(corpus), "audio": {"hours": 0}}  # no audio to read
    text = format_description(summary)
    speakers = corpus.table["speaker"].nunique()
    assert speakers > 60 and f"... and {speakers - 60} more (see --json)" in text
    assert len(summary["per_speaker"]) == speakers  # --json keeps them all
