"""``bench personalise`` over a grid: trains what is missing, stores per mode, skips what is
stored, reruns what is stale or corrupt, and names what it leaves out.

Feature extraction is replaced by random features (``test_run_grid.fake_features``): what
is tested here is the orchestration; ``test_personalise.py`` tests the adaptation itself.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_run import FAST
from test_run_grid import fake_features

from bench.cli import main
from bench.personalise.store import mode_folder, read_personalised
from bench.results import CHECKPOINT_FILE, RESULT_FILE, TrialKey
from bench.run import RunOptions, run_grid, select_trials

QUICK = ["--k", "0,2,4", "personalise.steps=5", "--executor", "local", "--quiet"]
MAMBA = TrialKey("synthetic", "mamba_ema", 1, 0)
NO_FILM = TrialKey("synthetic", "no_film", 1, 0)


@pytest.fixture
def argv(tiny_corpus_root, tmp_path, monkeypatch) -> list[str]:
    fake_features(monkeypatch, tmp_path / "data")
    return ["personalise", "--variant", "mamba_ema", "no_film", "--seeds", "0", "--folds", "1",
            "--results", str(tmp_path / "results"), f"corpus.root={tiny_corpus_root}",
            *FAST, *QUICK]  # fmt: skip


def test_personalise_trains_stores_and_skips(argv, tmp_path, capsys) -> None:
    results = tmp_path / "results"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 trials finished" in out  # trained first, with checkpoints
    assert "no_film: film, film_last left out (the model has no FiLM)" in out
    assert all((key.folder(results) / CHECKPOINT_FILE).is_file() for key in (MAMBA, NO_FILM))
    for key, modes in ((MAMBA, ["film", "film_last", "head_bias"]), (NO_FILM, ["head_bias"])):
        for mode in modes:
            record = read_personalised(results, key, mode)
            assert record is not None and record.config["k"] == [0, 2, 4]
            assert record.counts["speakers"] == 2 and record.counts["adaptations"] == 2 * 2
            folder = mode_folder(results, key, mode)
            assert sorted(p.name for p in folder.glob("k*.parquet")) == [
                "k0.parquet",
                "k2.parquet",
                "k4.parquet",
            ]
    assert not mode_folder(results, NO_FILM, "film").exists()

    assert main(argv) == 0
    assert "0 trials finished, 2 skipped (done)" in capsys.readouterr().out

    (mode_folder(results, NO_FILM, "head_bias") / RESULT_FILE).write_text("[1, 2")
    assert main(argv) == 0
    assert "1 trials finished, 1 skipped (done)" in capsys.readouterr().out
    assert read_personalised(results, NO_FILM, "head_bias") is not None

    stale = [*argv, "personalise.lr=0.001"]
    assert main(stale) == 0
    assert "2 trials finished, 0 skipped" in capsys.readouterr().out
    assert read_personalised(results, MAMBA, "film").config["lr"] == 0.001


def test_a_trial_without_a_checkpoint_is_named(argv, tiny_corpus_root, tmp_path, capsys) -> None:
    selection = select_trials(
        overrides=[f"corpus.root={tiny_corpus_root}", *FAST],
        variants=["mamba_ema"], seeds=[0], folds=[1],
    )  # fmt: skip
    assert run_grid(selection, tmp_path / "results", "local", RunOptions(progress=False)).ok
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{MAMBA}: left out, no checkpoint.pt" in out
    assert read_personalised(tmp_path / "results", MAMBA, "film") is None
    assert read_personalised(tmp_path / "results", NO_FILM, "head_bias") is not None


def test_report_has_the_personalisation_section(argv, tmp_path, capsys) -> None:
    assert main(argv) == 0
    capsys.readouterr()
    out = tmp_path / "report"
    report = ["report", *argv[1:argv.index("--k")], "--out", str(out), "--bootstrap", "50",
              "--format", "md"]  # fmt: skip
    assert main(report) == 0  # made with --k 0,2,4 and 5 steps: left out, and said why
    printed = capsys.readouterr()
    assert "personalisation (" not in printed.out
    assert f"left out {MAMBA} personalise/film: made with another personalise: block" in printed.err
    report += ["personalise.k=[0,2,4]", "personalise.steps=5"]
    assert main(report) == 0
    printed = capsys.readouterr().out
    assert (
        "personalisation (gain over k=0 on the same turns; verdicts across sessions, Holm "
        "over 8 CCC-avg" in printed
    )
    for line in ("mamba_ema film k=4", "mamba_ema film_last k=2", "no_film head_bias k=4"):
        assert f"  {line}: " in printed
    assert "no_film film" not in printed
    folder = out / "synthetic"
    table = (folder / "personalisation.md").read_text()
    assert table.count("| mamba_ema ") == 1 + 3 * 2 and table.count("| no_film ") == 1 + 2
    assert (folder / "personalisation.png").stat().st_size > 0
    speakers = pd.read_csv(folder / "personalisation_speakers.csv")
    assert len(speakers) == 2 * (3 * 2 + 2)  # two test speakers, every (variant, adapt, k > 0)


def one_variant(argv: list[str]) -> list[str]:
    """``argv`` with ``mamba_ema`` alone (one trial to train)."""
    return [word for word in argv if word != "no_film"]


def k_files(folder) -> list[str]:
    return sorted(path.name for path in folder.glob("k*.parquet"))


def test_a_rerun_with_other_k_never_leaves_two_runs_side_by_side(argv, tmp_path, capsys) -> None:
    results, argv = tmp_path / "results", one_variant(argv)
    assert main([*argv, "--adapt", "head_bias"]) == 0
    assert main([*argv, "--adapt", "head_bias", "--k", "0,3"]) == 0  # stale: another k
    assert "1 earlier personalisations kept, not overwritten" in capsys.readouterr().out
    folder = mode_folder(results, MAMBA, "head_bias")
    assert k_files(folder) == ["k0.parquet", "k3.parquet"]
    assert read_personalised(results, MAMBA, "head_bias").config["k"] == [0, 3]
    (aside,) = folder.glob("replaced-*")
    assert k_files(aside) == ["k0.parquet", "k2.parquet", "k4.parquet"]
    assert json.loads((aside / RESULT_FILE).read_text())["config"]["k"] == [0, 2, 4]


def test_a_k_no_speaker_has_the_turns_for_is_skipped_and_said(argv, tmp_path, capsys) -> None:
    results, argv = tmp_path / "results", [*one_variant(argv), "--adapt", "head_bias"]
    assert main([*argv, "--k", "0,2,50"]) == 0
    out = capsys.readouterr().out
    why = "no test speaker has more than 14 turns (k=50 needs 50 to enrol and 2 to score)"
    assert f"{MAMBA}: k=50 skipped: {why}" in out and "1 trials finished" in out
    record = read_personalised(results, MAMBA, "head_bias")
    assert record.skipped_k == {"50": why} and record.counts["adaptations"] == 2  # 2 speakers
    folder = mode_folder(results, MAMBA, "head_bias")
    assert k_files(folder) == ["k0.parquet", "k2.parquet"]
    assert main([*argv, "--k", "0,2,50"]) == 0  # what could run is stored: current
    assert "0 trials finished, 1 skipped (done)" in capsys.readouterr().out

    assert main([*argv, "--k", "0,50"]) == 2  # nothing at all to adapt: an error
    printed = capsys.readouterr()
    assert f"{MAMBA}: k=50 skipped: {why}" in printed.out and "trials finished" not in printed.out
    assert printed.err.strip() == (
        "bench personalise: error: nothing was adapted: every k > 0 asked was skipped, no test "
        "speaker has the turns for it (see the lines above)"
    )
    assert k_files(folder) == ["k0.parquet", "k2.parquet"]  # the earlier run, untouched
    assert read_personalised(results, MAMBA, "head_bias") == record
    assert not list(folder.glob("replaced-*"))


def test_no_checkpoint_in_the_selection_is_an_error(argv, tiny_corpus_root, tmp_path, capsys):
    selection = select_trials(
        overrides=[f"corpus.root={tiny_corpus_root}", *FAST],
        variants=["mamba_ema"], seeds=[0], folds=[1],
    )  # fmt: skip
    assert run_grid(selection, tmp_path / "results", "local", RunOptions(progress=False)).ok
    assert main(one_variant(argv)) == 2
    printed = capsys.readouterr()
    assert printed.err.strip() == (
        "bench personalise: error: none of the selected trials has a checkpoint.pt to "
        "personalise (1 stored without one); make them with bench run --force "
        "--save-checkpoints and the same selection"
    )
    assert "trials finished" not in printed.out


def test_an_unreadable_checkpoint_is_named_and_the_others_go_on(argv, tmp_path, capsys, caplog):
    results = tmp_path / "results"
    assert main([*argv, "--adapt", "head_bias"]) == 0
    checkpoint = MAMBA.folder(results) / CHECKPOINT_FILE
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])  # truncated
    capsys.readouterr()
    caplog.clear()
    assert main([*argv, "--adapt", "head_bias", "--force"]) == 1
    out = capsys.readouterr().out
    assert "1 trials finished" in out  # no_film's
    assert f"1 left out for an unreadable checkpoint: {MAMBA}" in out
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"{checkpoint}: unreadable checkpoint: the torch.save archive is truncated or damaged; "
        f"{MAMBA} is left out"
    ]
    assert read_personalised(results, NO_FILM, "head_bias") is not None
