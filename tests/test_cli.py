"""The command line as a user meets it: corpus commands, interleaved arguments, bad paths."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from test_run_grid import fake_features

from bench.cli import build_parser, main
from bench.cli_args import EXIT_BUSY
from bench.results import TrialKey, claim
from bench.variants import DEFAULT_GRID


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


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (["corpus", "describe"], ["--json"]),
        (["features"], ["--workers", "1"]),
        (["run"], ["--results", "R"]),
        (["ls"], ["--results", "R"]),
        (["report"], ["--out", "O"]),
    ],
)
def test_overrides_and_options_interleave_in_every_command(command, options) -> None:
    argv = [*command, "--protocol", "synthetic", "corpus.root=X", *options, "train.epochs=1"]
    args = build_parser().parse_args(argv)
    assert args.protocol == "synthetic" and args.overrides == ["corpus.root=X", "train.epochs=1"]


@pytest.mark.parametrize(
    ("argv", "variants", "overrides"),
    [
        (["--variant", "a", "--variant", "b"], ["a", "b"], []),
        (["--variant", "a", "b", "--variant", "c"], ["a", "b", "c"], []),
        (["--variant", "a", "train.epochs=1", "--seeds", "0"], ["a"], ["train.epochs=1"]),
        (
            ["x=1", "--variant", "a", "x=2", "b", "--folds", "1", "x=3"],
            ["a", "b"],
            ["x=1", "x=2", "x=3"],
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "ls", "report"])
def test_variant_extends_and_stops_at_overrides(command, argv, variants, overrides) -> None:
    args = build_parser().parse_args([command, *argv])
    assert args.variant == variants and args.overrides == overrides  # in command-line order


def test_a_variant_option_needs_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--variant", "train.epochs=1"])
    assert "--variant needs at least one name before any key=value" in capsys.readouterr().err


def test_an_interleaved_dry_run(tiny_corpus_root: Path, tmp_path: Path, capsys) -> None:
    argv = ["run", "--dry-run", "--protocol", "synthetic", f"corpus.root={tiny_corpus_root}",
            "--results", str(tmp_path / "results"), "train.epochs=1", "--variant", "stateless",
            "model.d_c=8", "--variant", "no_film", "--seeds", "0"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "synthetic/no_film/fold5/seed0" in out and "10 to run, 0 to skip" in out


@pytest.fixture
def extracted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[int]:
    """Fake features (the sizes extraction was asked for), ``$BENCH_DATA`` in ``tmp_path``."""
    return fake_features(monkeypatch, tmp_path / "data")


def one_line_error(capsys: pytest.CaptureFixture[str], command: str, path: Path) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"bench {command}: error: ") and str(path) in err
    return err


@pytest.mark.parametrize("where", ["results", "report", "BENCH_DATA"])
def test_an_output_folder_under_a_file_fails_before_any_work(
    where: str, tmp_path: Path, extracted: list[int], monkeypatch, capsys
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folder = blocker / "inside"
    if where == "BENCH_DATA":
        monkeypatch.setenv("BENCH_DATA", str(folder))
    command = "report" if where == "report" else "run"
    argv = [command, "--variant", "stateless", "--seeds", "0", "--folds", "1"]
    argv += {"results": ["--results", str(folder)], "report": ["--out", str(folder)],
             "BENCH_DATA": ["--results", str(tmp_path / "results")]}[where]  # fmt: skip
    assert main(argv) == 2
    err = one_line_error(capsys, command, folder)
    assert f"sits under the file {blocker}, not a folder" in err
    assert extracted == [] and not (tmp_path / "data" / "synthetic").exists()  # no corpus made


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
@pytest.mark.parametrize("command", ["run", "report"])
def test_a_read_only_output_folder_fails_before_any_work(
    command: str, tmp_path: Path, extracted: list[int], capsys
) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    option = "--out" if command == "report" else "--results"
    argv = [command, "--variant", "stateless", "--seeds", "0", option, str(folder)]
    assert main(argv) == 2
    assert "is not writable (Permission denied)" in one_line_error(capsys, command, folder)
    assert extracted == []


def test_the_grid_help_names_the_default_grid(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ls", "--help"])
    assert re.search(rf"\(default:\s+{DEFAULT_GRID}\)", capsys.readouterr().out)


@pytest.mark.parametrize("command", [["corpus", "describe"], ["features"]])
def test_bench_data_under_a_file_fails_before_any_work_in_every_command(
    command: list[str], tmp_path: Path, monkeypatch, capsys
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folder = blocker / "inside"
    monkeypatch.setenv("BENCH_DATA", str(folder))
    assert main([*command, "corpus.synth.size=tiny"]) == 2
    err = one_line_error(capsys, command[0], folder)
    assert f"sits under the file {blocker}, not a folder" in err


@pytest.mark.parametrize(
    "argv",
    [["-v", "ls"], ["ls", "-v"], ["ls", "--protocol", "synthetic", "--verbose", "x=1"],
     ["corpus", "synth", "out", "-v"], ["corpus", "-v", "describe"]],
)  # fmt: skip
def test_verbose_is_taken_before_or_after_the_command(argv: list[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(argv).verbose is True
    assert parser.parse_args([a for a in argv if a not in ("-v", "--verbose")]).verbose is False


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [("--gpus-per-trial", "-1", "expected a number of at least 0, not -1"),
     ("--cpus-per-trial", "0", "expected a number above 0, not 0"),
     ("--cpus-per-trial", "-2", "expected a number above 0, not -2")],
)  # fmt: skip
@pytest.mark.parametrize("command", ["run", "tune", "personalise"])
def test_no_cpus_or_a_negative_gpu_share_is_refused_at_once(command, option, value, says, capsys):
    with pytest.raises(SystemExit) as exited:  # at parsing: before any work, before Ray
        build_parser().parse_args([command, "--executor", "ray", option, value])
    assert exited.value.code == 2
    assert f"bench {command}: error: argument {option}: {says}" in capsys.readouterr().err


def test_a_run_whose_trials_another_run_holds_says_so_and_exits_75(
    tiny_corpus_root: Path, tmp_path: Path, extracted: list[int], capsys
) -> None:
    """Nothing failed and nothing is stored yet: not 0 (a script would report on missing
    trials), not 1 (nothing failed), but EX_TEMPFAIL, documented in --help."""
    results = tmp_path / "results"
    keys = [TrialKey("synthetic", "stateless", 1, seed) for seed in (0, 1)]
    where = ["--results", str(results), f"corpus.root={tiny_corpus_root}", "--quiet"]
    argv = ["run", "--executor", "local", "--variant", "stateless", "--folds", "1", *where]
    argv += ["--seeds", "0,1"]
    with claim(results, keys[0]), claim(results, keys[1]):  # as another bench run does
        assert main(argv) == EXIT_BUSY == 75
    out = capsys.readouterr().out
    assert "0 trials finished, 0 skipped (done), 0 failed, 2 busy" in out
    assert "busy, not failed: another bench run holds 2 of these trials" in out
    assert "rerun when it ends: " + ", ".join(map(str, keys)) in out
    assert "75 when none failed but another bench run was training some" in help_text("run", capsys)


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``bench COMMAND --help``, its white space collapsed."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["ls", "report"])
def test_help_says_what_tuned_selects_and_where_reports_go(command: str, capsys) -> None:
    text = help_text(command, capsys)
    assert "--tuned {nested,fold1} the trials trained with each variant's configuration" in text
    assert "train each variant" not in text
    assert command == "ls" or "--out OUT reports folder (default: ./reports)" in text
