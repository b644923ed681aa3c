"""The report uses only current trials: stale and unselected ones are named and left out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_report_command import Store, planted_store
from test_report_fabricate import REFERENCE_NOISE, fabricate, write_results

from bench.cli import main
from bench.errors import BenchError
from bench.report.analysis import selection_summary
from bench.report.from_results import report_grid
from bench.results import read_record
from bench.run import list_grid, select_trials


@pytest.fixture(scope="module")
def pristine(tiny_corpus_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return planted_store(tmp_path_factory.mktemp("results"), tiny_corpus_root)


@pytest.fixture
def store(pristine: Store, tmp_path: Path) -> Store:
    """A copy of the planted store, free to change."""
    root = shutil.copytree(pristine.root, tmp_path / "results")
    return Store(root, [str(root) if a == str(pristine.root) else a for a in pristine.selection],
                 pristine.hashes)  # fmt: skip


def test_a_stale_smoke_trial_is_left_out_and_named(
    store: Store, tiny_corpus_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A 1-epoch smoke run of no_film fold 1, seed 0, stored over the current trial.
    smoke = select_trials(
        overrides=[f"corpus.root={tiny_corpus_root}", "train.epochs=1"],
        variants=["no_film"], seeds=[0], folds=[1],
    )  # fmt: skip
    [trial] = list_grid(smoke, store.root)
    current = store.hashes["no_film", 1]
    assert trial.status == "stale" and trial.config_hash != current
    good = fabricate({"no_film": REFERENCE_NOISE}, seed=9, seeds=(0,))
    write_results(store.root, good[good["fold"] == 1], planned=[trial])
    assert read_record(trial.key.folder(store.root)).config_hash == trial.config_hash

    out = tmp_path / "reports"
    argv = ["report", *store.selection, "--out", str(out), "--bootstrap", "50", "--format", "md"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    note = (
        "synthetic/no_film/fold1/seed0: stale, its configuration changed (stored with config "
        f"hash {trial.config_hash}, now {current})"
    )
    assert f"left out {note}" in captured.out and f"left out {note}" in captured.err
    assert "missing trials of no_film: fold1/seed0 fold3/seed2" in captured.out
    trials = pd.read_csv(out / "synthetic" / "trials.csv")
    no_film = trials[trials["variant"] == "no_film"]
    assert len(no_film) == 13 and not ((no_film["fold"] == 1) & (no_film["seed"] == 0)).any()
    legend = (out / "synthetic" / "ablations.md").read_text()
    assert "Left out: " + note in legend and "13/15" in legend


def test_trials_outside_the_selection_are_named(store: Store, tiny_corpus_root: Path) -> None:
    selection = select_trials(
        overrides=[f"corpus.root={tiny_corpus_root}"],
        variants=["mamba_ema", "gru_ema", "no_prosody"],  # no_film is stored, not selected
        seeds=[0, 1, 2],
    )
    report = report_grid(selection, store.root, n_boot=20)
    assert sorted(report.variants.index) == ["gru_ema", "mamba_ema", "no_prosody"]
    [note] = report.left_out
    assert note.startswith("synthetic/no_film: fold1/seed0 fold1/seed1 fold1/seed2 fold2/seed0")
    assert note.endswith(": not in the selection")


def test_a_selection_with_only_stale_trials_is_refused(
    store: Store, tiny_corpus_root: Path
) -> None:
    selection = select_trials(  # 29 trials stale, 2 stored variants not selected
        overrides=[f"corpus.root={tiny_corpus_root}", "train.lr=0.01"],
        variants=["mamba_ema", "no_film"], seeds=[0, 1, 2],
    )  # fmt: skip
    with pytest.raises(BenchError, match="no current trials of the selection") as error:
        report_grid(selection, store.root, n_boot=20)
    assert "31 left out, the first: synthetic/mamba_ema/fold1/seed0: stale" in str(error.value)


def test_the_grid_gives_the_expected_trials_and_the_reference(
    store: Store, tiny_corpus_root: Path
) -> None:
    for folder in store.root.glob("synthetic/*/fold5"):  # fold 5 lost in every variant
        shutil.rmtree(folder)
    selection = select_trials(
        overrides=[f"corpus.root={tiny_corpus_root}"], grid="ablations", seeds=[0, 1, 2]
    )
    report = report_grid(selection, store.root, n_boot=20)
    assert report.reference == "mamba_ema" and report.variants.loc["mamba_ema", "n"] == 12
    assert (report.variants["n_expected"] == 15).all()
    notes = report.missing_notes()
    assert "mamba_ema: fold5/seed0 fold5/seed1 fold5/seed2" in notes
    assert "stateless: all 15 trials" in notes and "no_film: all 15 trials" not in notes
    assert set(report.absent) == set(selection.variants) - set(report.variants.index)
    # The kept epochs come from the trial records: the fabricated ones keep epoch 0 under
    # teacher forcing (probability 1).
    assert report.selection is not None
    assert report.selection["trials"].to_dict() == report.variants["n"].to_dict()
    assert (report.selection["kept_epoch_max"] == 0).all()
    assert (report.selection["teacher_probability_mean"] == 1.0).all()


def test_the_selection_summary_shows_where_each_variant_was_kept() -> None:
    kept = pd.DataFrame({
        "variant": ["mamba_ema", "mamba_ema", "mamba_ema", "stateless"],
        "best_epoch": [24, 27, 29, 6],
        "teacher_probability": [0.0, 0.0, 0.3, 0.0],
    })  # fmt: skip
    summary = selection_summary(kept)
    assert summary.loc["mamba_ema"].tolist() == pytest.approx([3, 80 / 3, 24, 29, 0.1])
    assert summary.loc["stateless"].tolist() == [1, 6, 6, 6, 0.0]
