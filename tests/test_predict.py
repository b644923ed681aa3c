"""``bench predict``: a checkpoint's predictions for unlabelled wav files, dialog by dialog,
equal to StreamingPredictor's own steps, in the MSP-Podcast challenge's format or plain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_run import FAST

from bench import predict_command
from bench.audio import load_audio
from bench.cli import main
from bench.corpus.msp_podcast import read_msp_podcast
from bench.errors import BenchError, InputError
from bench.online import StreamingPredictor
from bench.predict import DIALOGS, FORMATS, Listed, group_dialogs, predict, read_file_list
from bench.testing.msp_podcast import PodcastFixture
from bench.testing.msp_releases import OFFLINE, MspReleases
from bench.train.checkpoint import save_checkpoint

pytestmark = pytest.mark.slow  # the release fixtures' extraction


@pytest.fixture(scope="module")
def release(msp_releases: MspReleases) -> PodcastFixture:
    return msp_releases.podcast


@pytest.fixture(scope="module")
def checkpoint(msp_releases: MspReleases, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny mamba_ema trial on the MSP-Podcast fixture (fold 1), with its checkpoint."""
    results = tmp_path_factory.mktemp("predict") / "results"
    assert main([
        "run", "--executor", "local", "--quiet", "--save-checkpoints", "--protocol",
        "msp_podcast", "--variant", "mamba_ema", "--seeds", "0", "--folds", "1", "--results",
        str(results), f"corpus.root={msp_releases.podcast.root}",
        f"features.cache_dir={msp_releases.features}", *OFFLINE, *FAST,
    ]) == 0  # fmt: skip
    [path] = results.glob("msp_podcast/mamba_ema/fold1/seed0/checkpoint.pt")
    return path


def write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def run_cli(checkpoint: Path, *args: str) -> int:
    return main(["predict", str(checkpoint), "--quiet", *args])


def streamed(checkpoint: Path, dialogs: list[list[Path]]) -> dict[str, tuple[float, float]]:
    """File name -> (valence, arousal) of StreamingPredictor stepping through each dialog
    from the initial state."""
    predictor = StreamingPredictor.from_checkpoint(checkpoint)
    got = {}
    for files in dialogs:
        predictor.reset()
        for path in files:
            got[path.name] = predictor.step(load_audio(path))
    return got


def test_msp_csv_of_a_list_equals_the_predictors_steps_by_podcast(
    checkpoint: Path, release: PodcastFixture, tmp_path: Path
) -> None:
    table = read_msp_podcast(release.root).table  # dialogs: a split's podcast in segment order
    chosen = table[(table["split"] == "Test1") | (table["utt_id"] == release.stereo[:-4])]
    names = list(np.random.default_rng(0).permutation(chosen["utt_id"] + ".wav"))
    audio = release.root / "Audios"
    lines = ["# Test1, shuffled, and a 44.1 kHz stereo file", *(str(audio / n) for n in names)]
    listed = write_list(tmp_path / "files.txt", lines)
    out = tmp_path / "out" / "test1.csv"
    args = ["--files", str(listed), "--out", str(out), "--format", "msp", "--dialogs", "podcast"]
    assert run_cli(checkpoint, *args) == 0
    assert out.read_text().splitlines()[0] == "FileName,EmoAct,EmoVal"  # no made-up EmoDom
    csv = pd.read_csv(out)
    assert list(csv["FileName"]) == names  # the list's order, the names with .wav
    assert len(csv) == len(names) == 17 and set(out.parent.iterdir()) == {out}
    values = csv[["EmoAct", "EmoVal"]].to_numpy()
    assert ((values >= 1) & (values <= 7)).all()
    dialogs = [list(audio / (rows["utt_id"] + ".wav")) for _, rows in chosen.groupby("dialog")]
    want = streamed(checkpoint, dialogs)
    np.testing.assert_allclose(csv["EmoVal"], [want[n][0] for n in names], atol=1e-6)
    np.testing.assert_allclose(csv["EmoAct"], [want[n][1] for n in names], atol=1e-6)


def test_a_split_of_the_release_each_file_its_own_dialog(
    checkpoint: Path, release: PodcastFixture, tmp_path: Path
) -> None:
    out = {mode: tmp_path / f"{mode}.csv" for mode in ("file", "podcast")}
    for mode, path in out.items():
        assert run_cli(checkpoint, "--audio-dir", str(release.root / "Audios"), "--split",
                       "Test3", "--root", str(release.root), "--dialogs", mode,
                       "--out", str(path)) == 0  # fmt: skip
    plain = pd.read_csv(out["file"])
    assert list(plain.columns) == ["file", "dialog", "valence", "arousal"]
    names = [Path(f).name for f in plain["file"]]
    assert names == sorted(names) and len(names) == release.n_test3
    assert all(n.startswith("MSP-PODCAST_test3_") for n in names)
    assert list(plain["dialog"]) == list(plain["file"])  # each file alone
    want = streamed(checkpoint, [[Path(f)] for f in plain["file"]])
    np.testing.assert_allclose(plain["valence"], [want[n][0] for n in names], atol=1e-6)
    pd.testing.assert_frame_equal(pd.read_csv(out["podcast"]), plain)  # no podcast in the name


def test_dialogs_start_from_the_initial_state(
    checkpoint: Path, release: PodcastFixture, tmp_path: Path
) -> None:
    audio = release.root / "Audios"
    names = sorted(p.name for p in audio.glob("MSP-PODCAST_0007_*.wav"))  # a Test1 podcast
    other = sorted(p.name for p in audio.glob("MSP-PODCAST_0008_*.wav"))[:3]
    both = [*(f"{audio / n}\tA" for n in other), *(f"{audio / n}\tB" for n in names)]
    runs = {
        "alone": ([str(audio / n) for n in names], "podcast"),
        "after another podcast": ([str(audio / n) for n in other + names], "podcast"),
        "listed dialogs": (both, "list"),
        "one listed dialog": ([line.replace("\tB", "\tA") for line in both], "list"),
    }
    got = {}
    for label, (lines, mode) in runs.items():
        listed = write_list(tmp_path / "files.txt", lines)
        out = tmp_path / "out.csv"
        assert (
            run_cli(checkpoint, "--files", str(listed), "--dialogs", mode, "--out", str(out)) == 0
        )
        table = pd.read_csv(out)
        got[label] = table[table["file"].map(lambda f: Path(f).name in names)]["valence"].to_numpy()
    np.testing.assert_array_equal(got["after another podcast"], got["alone"])
    np.testing.assert_array_equal(got["listed dialogs"], got["alone"])
    assert not np.array_equal(got["one listed dialog"], got["alone"])  # the state carried over


def test_missing_or_corrupt_audio_names_the_list_and_line(
    checkpoint: Path, release: PodcastFixture, tmp_path: Path, capsys
) -> None:
    good = sorted((release.root / "Audios").glob("MSP-PODCAST_0007_*.wav"))[:2]
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wave")
    for bad, reason in (("gone.wav", "audio file not found"), ("broken.wav", "cannot read")):
        listed = write_list(tmp_path / "files.txt", [str(good[0]), "", bad, str(good[1])])
        out = tmp_path / "out.csv"
        assert run_cli(checkpoint, "--files", str(listed), "--out", str(out)) == 2
        err = capsys.readouterr().err
        assert f"{listed}:3: {reason}" in err and bad in err
        assert not out.exists()
    assert run_cli(tmp_path / "none.pt", "--files", str(listed), "--out", str(out)) == 2
    assert "none.pt" in capsys.readouterr().err


def test_msp_format_refuses_another_scale(checkpoint: Path, release: PodcastFixture, tmp_path):
    stored = torch.load(checkpoint, weights_only=True)
    other = save_checkpoint(tmp_path / "checkpoint.pt", {**stored, "label_scale": [1.0, 5.0]})
    [wav] = sorted((release.root / "Audios").glob("MSP-PODCAST_0007_*.wav"))[:1]
    listed = write_list(tmp_path / "files.txt", [str(wav)])
    with pytest.raises(BenchError, match="use --format plain"):
        predict_list(other, listed, tmp_path / "out.csv", "msp")
    table = predict_list(other, listed, tmp_path / "out.csv", "plain")
    assert 1 <= table["valence"].iloc[0] <= 5


def predict_list(checkpoint: Path, listed: Path, out: Path, fmt: str) -> pd.DataFrame:
    """:func:`bench.predict.predict` of a list (which raises, where the command exits 2)."""
    return predict(checkpoint, read_file_list(listed), out, fmt=fmt, progress=False)


def test_the_command_offers_what_the_library_takes() -> None:
    assert (predict_command.DIALOGS, predict_command.FORMATS) == (DIALOGS, FORMATS)


def test_the_list_and_its_dialogs_are_read_as_documented(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    lines = ["# a comment", "sub/a.wav\td1", "", str(tmp_path / "b.wav"), "sub/../sub/a.wav"]
    listed = write_list(tmp_path / "files.txt", lines)
    with pytest.raises(InputError, match=r"files.txt:5: sub/../sub/a.wav is listed twice \(first"):
        read_file_list(listed)
    write_list(listed, lines[:4])
    a, b = read_file_list(listed)
    assert (a.path, a.line, a.dialog) == (tmp_path / "sub" / "a.wav", 2, "d1")
    assert (b.path, b.line, b.dialog) == (tmp_path / "b.wav", 4, None)
    with pytest.raises(InputError, match=r"files.txt:4: --dialogs list: this line names no"):
        group_dialogs([a, b], "list")
    with pytest.raises(InputError, match=r"files.txt:2: --dialogs podcast: not an MSP-Podcast"):
        group_dialogs([a, b], "podcast")
    podcast = [Listed(Path(f"MSP-PODCAST_0001_{s}.wav")) for s in ("0003", "0001_0002", "0001")]
    test3 = Listed(Path("MSP-PODCAST_test3_0001.wav"))
    assert group_dialogs([*podcast, test3], "podcast") == [
        ("MSP-PODCAST_0001", [2, 1, 0]),  # segment, then part
        ("MSP-PODCAST_test3_0001.wav", [3]),
    ]
    with pytest.raises(InputError, match="file list names no file"):
        read_file_list(write_list(listed, ["# nothing"]))
