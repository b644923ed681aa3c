"""``bench personalise`` over a grid: trains what is missing, stores per mode, skips what is
stored, reruns what is stale or corrupt, and names what it leaves out.

Feature extraction is replaced by random features (``test_run_grid.fake_features``): what
is tested here is the orchestration; ``test_personalise.py`` tests the adaptation itself.
"""

from __future__ import annotations

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
    assert "personalisation (gain over k=0 on the same turns; Holm over 8 CCC-avg" in printed
    for line in ("mamba_ema film k=4", "mamba_ema film_last k=2", "no_film head_bias k=4"):
        assert f"  {line}: " in printed
    assert "no_film film" not in printed
    folder = out / "synthetic"
    table = (folder / "personalisation.md").read_text()
    assert table.count("| mamba_ema ") == 1 + 3 * 2 and table.count("| no_film ") == 1 + 2
    assert (folder / "personalisation.png").stat().st_size > 0
    speakers = pd.read_csv(folder / "personalisation_speakers.csv")
    assert len(speakers) == 2 * (3 * 2 + 2)  # two test speakers, every (variant, adapt, k > 0)
