"""The JSONL manifest reader: the format of seed section 3.2 and every error case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.corpus.jsonl import read_jsonl
from bench.errors import BenchError, InputError
from bench.protocol import absent_folds, load_protocol, make_folds
from bench.testing.tones import write_tone


def record(utt: str, **fields) -> dict:
    base = {
        "utt_id": utt,
        "session_id": "dlg1",
        "speaker_id": "A",
        "audio_path": f"wav/{utt}.wav",
        "valence": 3.0,
        "arousal": 4.0,
    }
    return {**base, **fields}


def write_manifest(folder: Path, lines: list, audio: bool = True) -> Path:
    """Write JSONL lines (dicts are dumped, strings written as they are)."""
    path = folder / "corpus.jsonl"
    text = [json.dumps(x) if isinstance(x, dict) else x for x in lines]
    path.write_text("\n".join(text) + "\n")
    if audio:
        for x in lines:
            if isinstance(x, dict) and "audio_path" in x:
                target = Path(x["audio_path"])
                write_tone(target if target.is_absolute() else folder / target, seconds=0.1)
    return path


def test_reads_fields_normalises_labels_and_resolves_paths(tmp_path: Path):
    absolute = tmp_path / "elsewhere" / "u3.wav"
    manifest = write_manifest(
        tmp_path,
        [
            record("u1", start=2.0, dominance=5.0, group="g1"),
            record("u2", start=1.0, valence=1, arousal=5, group="g1"),
            "",
            record("u3", session_id="dlg2", speaker_id="B", audio_path=str(absolute)),
        ],
    )
    corpus = read_jsonl(manifest)
    table = corpus.table.set_index("utt_id")
    assert corpus.name == "corpus" and len(table) == 3
    assert table.loc["u1", ["valence", "arousal", "dominance"]].tolist() == [0.5, 0.75, 1.0]
    assert table.loc["u2", ["valence", "arousal"]].tolist() == [0.0, 1.0]
    assert Path(table.loc["u1", "audio_path"]) == (tmp_path / "wav" / "u1.wav").resolve()
    assert Path(table.loc["u3", "audio_path"]) == absolute.resolve()
    assert table.loc["u3", "group"] == "B"  # the fold unit defaults to the speaker
    assert table.loc["u1", "group"] == "g1" and table.loc["u1", "dialog"] == "dlg1"
    # Ordered by start within the dialog; without start, by file order.
    assert corpus.table["utt_id"].tolist() == ["u2", "u1", "u3"]


def test_label_scale_is_the_protocols(tmp_path: Path):
    manifest = write_manifest(tmp_path, [record("u1", valence=0.25, arousal=-1.0)])
    table = read_jsonl(manifest, label_scale=(-1, 1)).table
    assert table[["valence", "arousal"]].iloc[0].tolist() == [0.625, 0.0]


def test_file_order_is_kept_without_start(tmp_path: Path):
    manifest = write_manifest(tmp_path, [record(f"u{k}") for k in (3, 1, 2)])
    assert read_jsonl(manifest).table["utt_id"].tolist() == ["u3", "u1", "u2"]


@pytest.mark.parametrize(
    "bad,message",
    [
        (record("u1"), r"corpus.jsonl:2: duplicate utt_id 'u1' \(first on line 1\)"),
        ({k: v for k, v in record("u2").items() if k != "speaker_id"}, r":2: missing.*speaker_id"),
        (record("u2", valence=float("nan")), r":2: valence is nan"),
        (record("u2", arousal="high"), r":2: arousal is not a number: 'high'"),
        (record("u2", arousal=None), r":2: missing field\(s\): arousal"),
        (record("u2", valence=7), r":2: valence 7 is outside the label scale \[1, 5\]"),
        (record("u2", dominance=True), r":2: dominance is not a number"),
        (record("u2", start="x"), r":2: start is not a number"),
        (record("u2", mood=3), r":2: unknown field\(s\): mood"),
        ('{"utt_id": "u2", ', r":2: malformed JSON"),
        ("[1, 2]", r":2: expected a JSON object"),
    ],
)
def test_errors_name_the_line(tmp_path: Path, bad, message: str):
    manifest = write_manifest(tmp_path, [record("u1"), bad], audio=False)
    with pytest.raises(InputError, match=message):
        read_jsonl(manifest, check_audio=False)


def test_empty_manifest_and_missing_audio(tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="empty.jsonl: no labelled utterances"):
        read_jsonl(empty)
    manifest = write_manifest(tmp_path, [record("u1"), record("u2"), record("u3")], audio=False)
    write_tone(tmp_path / "wav" / "u2.wav")
    with pytest.raises(InputError, match=r"2 of 3 audio files are missing:\n.*u1.wav\n.*u3.wav"):
        read_jsonl(manifest)
    with pytest.raises(InputError, match="manifest not found"):
        read_jsonl(tmp_path / "none.jsonl")


def test_a_byte_order_mark_is_not_an_error(tmp_path: Path):
    manifest = write_manifest(tmp_path, [record("u1")])
    manifest.write_bytes(b"\xef\xbb\xbf" + manifest.read_bytes())
    assert read_jsonl(manifest).table["utt_id"].tolist() == ["u1"]


def test_a_line_that_is_not_utf8_is_one_error_naming_file_and_line(tmp_path: Path, capsys):
    latin = json.dumps(record("u2", speaker_id="Jos\u00e9"), ensure_ascii=False)
    column = latin.index("\u00e9") + 1
    manifest = write_manifest(tmp_path, [record("u1"), latin])
    manifest.write_bytes(manifest.read_bytes().replace("\u00e9".encode(), b"\xe9"))  # Latin-1
    code = main(["corpus", "describe", "--protocol", "jsonl", f"corpus.manifest={manifest}"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.splitlines() == [
        f"bench corpus: error: {manifest.resolve()}:2: not UTF-8 text: byte 0xe9 "
        f"(byte {column} of the line); save the file as UTF-8"
    ]


def test_lines_end_at_any_line_break_but_u2028_stays_inside_a_string(tmp_path: Path):
    manifest = write_manifest(tmp_path, [record("u1", speaker_id="A\u2028B"), record("u2")])
    text = manifest.read_text().replace("\\u2028", "\u2028")  # a raw U+2028 inside a string
    manifest.write_text(text.replace("\n", "\r\n", 1)[:-1] + "\r{")  # lines 1 and 2 end
    with pytest.raises(InputError, match=r"corpus.jsonl:3: malformed JSON"):  # in \r\n and \r
        read_jsonl(manifest)
    manifest.write_text(text)
    assert read_jsonl(manifest).table["speaker"].tolist() == ["A\u2028B", "A"]


def test_a_split_field_drives_predefined_folds(tmp_path: Path):
    splits = {"A": "train", "B": "train", "C": "dev", "D": "eval"}
    lines = [
        record(f"{speaker}{k}", session_id=f"d{speaker}", speaker_id=speaker, split=split)
        for speaker, split in splits.items()
        for k in range(3)
    ]
    path = write_manifest(tmp_path, lines)
    table = read_jsonl(path).table
    protocol = load_protocol(
        "jsonl",
        [f"corpus.manifest={path}", "folds.mode=predefined", "folds.train=[train]",
         "folds.validation=[dev]", "folds.test=[eval,missing]"],
    )  # fmt: skip
    (fold,) = make_folds(table, protocol)  # a test name the manifest lacks makes no fold
    assert fold.test_unit == "eval"
    assert sorted(table.iloc[fold.train]["speaker"].unique()) == ["A", "B"]
    assert set(table.iloc[fold.val]["speaker"]) == {"C"}
    assert set(table.iloc[fold.test]["speaker"]) == {"D"}


def test_predefined_folds_need_the_split_column(tmp_path: Path):
    path = write_manifest(tmp_path, [record("u1"), record("u2", speaker_id="B")])
    protocol = load_protocol("jsonl", [f"corpus.manifest={path}", "folds.mode=predefined"])
    with pytest.raises(BenchError, match="reads the column 'split' .folds.column."):
        make_folds(read_jsonl(path).table, protocol)


def test_a_truncated_line_gives_the_column_of_the_error(tmp_path: Path):
    manifest = write_manifest(tmp_path, [record("u1"), '{"utt_id": "u2", "valence": 3'])
    with pytest.raises(InputError) as caught:
        read_jsonl(manifest, check_audio=False)
    assert str(caught.value) == (
        f"{manifest.resolve()}:2: malformed JSON at column 30: Expecting ',' delimiter"
    )


PREDEFINED = ["folds.mode=predefined", "folds.train=[train]", "folds.validation=[dev]"]


def test_rows_no_predefined_fold_uses_are_counted_problems(tmp_path: Path, capsys):
    """A split value the folds do not name (a typo), and a row without a split, are kept
    but reported with their line; they were dropped with "problems: 0"."""
    splits = {"A": "train", "B": "train", "C": "dev", "D": "eval"}
    lines = [
        record(f"{speaker}{k}", session_id=f"d{speaker}", speaker_id=speaker, split=split)
        for speaker, split in splits.items()
        for k in range(2)
    ]
    lines.insert(3, record("x1", session_id="dX", speaker_id="X", split="evl"))  # line 4
    lines.append(record("y1", session_id="dY", speaker_id="Y"))  # line 10, no split
    path = write_manifest(tmp_path, lines)
    args = ["corpus", "describe", "--protocol", "jsonl", f"corpus.manifest={path}", "--json"]
    assert main([*args, *PREDEFINED, "folds.test=[eval]"]) == 0
    problems = json.loads(capsys.readouterr().out)["problems"]
    where = f"the folds read train, dev, eval; first: {path.resolve()}"
    assert problems == [
        f"1 rows have split 'evl', which no fold uses ({where}:4)",
        f"1 rows have no split, which no fold uses ({where}:10)",
    ]
    assert main([*args, "validation.unit=speaker"]) == 0  # leave-one-out uses every row
    assert json.loads(capsys.readouterr().out)["problems"] == []


def test_a_predefined_fold_keeps_the_number_of_its_test_name(tmp_path: Path):
    lines = [
        record(f"{speaker}{k}", session_id=f"d{speaker}", speaker_id=speaker, split=split)
        for speaker, split in {"A": "train", "B": "dev", "C": "test_b"}.items()
        for k in range(2)
    ]
    path = write_manifest(tmp_path, lines)
    table = read_jsonl(path).table
    manifest = f"corpus.manifest={path}"
    protocol = load_protocol("jsonl", [manifest, *PREDEFINED, "folds.test=[test_a,test_b]"])
    (fold,) = make_folds(table, protocol)
    assert (fold.number, fold.test_unit) == (2, "test_b")  # test_a, absent, keeps number 1
    assert absent_folds(table, protocol, [1]) == "the corpus has no test_a"
