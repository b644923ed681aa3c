"""The library API under ``bench run`` and ``bench ls`` (``run_grid``, ``list_grid``), and how
``bench ls``, ``bench report`` and ``bench run`` survive a bad ``result.json``.

Feature extraction is replaced by random features with the arousal label planted (what is
tested here is the orchestration; ``test_run.py`` runs the real thing end to end).
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_results import CORRUPT, corrupt_bytes
from test_run import FAST

from bench.cli import main
from bench.errors import BenchError
from bench.features.load import FeatureSet
from bench.results import RESULT_FILE, TrialKey, read_record
from bench.run import RunOptions, list_grid, run_grid, select_trials
from bench.run import inputs as inputs_module
from bench.run.local import run_local

QUIET = RunOptions(progress=False)
VARIANTS = ["mamba_ema", "stateless"]


def fake_load(table: pd.DataFrame, config) -> FeatureSet:
    """Random features for ``table``, the arousal label planted in one speech column."""
    rng = np.random.default_rng(0)
    n = len(table)
    speech = rng.standard_normal((n, 6)).astype(np.float32)
    speech[:, 0] += 3 * table["arousal"].to_numpy()
    values = {"speech": speech, "prosody": rng.standard_normal((n, 4)).astype(np.float32),
              "speaker": rng.standard_normal((n, 3)).astype(np.float32)}  # fmt: skip
    return FeatureSet(values, {role: np.ones(n, dtype=bool) for role in values})


def fake_features(monkeypatch: pytest.MonkeyPatch, data: Path) -> list[int]:
    """Point ``$BENCH_DATA`` at ``data`` and fake the features; the list of the table sizes
    that extraction was asked for."""
    monkeypatch.setenv("BENCH_DATA", str(data))
    asked: list[int] = []
    monkeypatch.setattr(
        inputs_module,
        "extract_corpus_features",
        lambda corpus, config, progress: asked.append(len(corpus.table)),
    )
    monkeypatch.setattr(
        inputs_module,
        "load_corpus_features",
        lambda corpus, config: fake_load(corpus.table, config),
    )
    return asked


@pytest.fixture
def extracted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[int]:
    return fake_features(monkeypatch, tmp_path / "data")


def test_run_grid_runs_stores_skips_and_lists(tiny_corpus_root, tmp_path, extracted) -> None:
    corpus = f"corpus.root={tiny_corpus_root}"
    selection = select_trials(overrides=[corpus, *FAST], variants=VARIANTS, seeds=[0], folds=[1, 2])
    assert selection.reference == "mamba_ema" and selection.overrides == tuple(FAST)
    results = tmp_path / "results"
    summary = run_grid(selection, results, "local", QUIET)
    assert summary.ok and len(summary.finished) == 4 and extracted == [120]
    listed = list_grid(selection, results)
    assert [(t.key.variant, t.key.fold, t.status) for t in listed] == [
        ("mamba_ema", 1, "done"), ("mamba_ema", 2, "done"),
        ("stateless", 1, "done"), ("stateless", 2, "done"),
    ]  # fmt: skip
    assert all(t.stored.config_hash == t.config_hash for t in listed)
    again = run_grid(selection, results, run_local, QUIET)  # an executor given as a callable
    assert again.skipped == [t.key for t in listed] and not again.finished
    assert extracted == [120]  # nothing to run: no features needed
    forced = run_grid(selection, results, "local", RunOptions(force=True, progress=False))
    assert len(forced.finished) == 4
    with pytest.raises(BenchError, match="executor 'dask' is not one of ray, local"):
        run_grid(selection, results, "dask", QUIET)


@pytest.fixture(scope="module")
def store(tiny_corpus_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 finished trials: mamba_ema and stateless x folds 1-3 x seeds 0, 1."""
    root = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        fake_features(patch, root / "data")
        selection = select_trials(
            overrides=[f"corpus.root={tiny_corpus_root}", *FAST],
            variants=VARIANTS, seeds=[0, 1], folds=[1, 2, 3],
        )  # fmt: skip
        assert run_grid(selection, root / "results", "local", QUIET).ok
    return root / "results"


SPOILED = {  # each kind of bad result.json, written over one trial
    kind: TrialKey("synthetic", variant, fold, seed)
    for kind, (variant, fold, seed) in zip(
        CORRUPT,
        [("mamba_ema", 1, 0), ("mamba_ema", 2, 1), ("stateless", 1, 0), ("stateless", 2, 0),
         ("stateless", 3, 1)],
        strict=True,
    )
}  # fmt: skip


@pytest.mark.parametrize("command", ["ls", "report", "run"])
def test_bad_result_files_never_block_ls_report_or_run(
    command, store, tiny_corpus_root, tmp_path, extracted, capsys, caplog
) -> None:
    results = shutil.copytree(store, tmp_path / "results")
    for kind, key in SPOILED.items():
        (key.folder(results) / RESULT_FILE).write_bytes(corrupt_bytes(kind))
    argv = [command, "--variant", *VARIANTS, "--seeds", "0,1", "--folds", "1,2,3",
            "--results", str(results), f"corpus.root={tiny_corpus_root}", *FAST]  # fmt: skip
    argv += {"ls": [], "run": ["--executor", "local", "--quiet"],
             "report": ["--out", str(tmp_path / "out"), "--bootstrap", "50", "--format", "md"]
             }[command]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="bench.atomic"):
        assert main(argv) == 0
    out = capsys.readouterr().out
    warnings = [r.getMessage() for r in caplog.records if r.name == "bench.atomic"]
    assert len(warnings) == len(SPOILED)
    for key in SPOILED.values():
        path = key.folder(results) / RESULT_FILE
        assert any(w.startswith(f"{path}: ") for w in warnings)
        assert len(list(path.parent.glob(f"{RESULT_FILE}.corrupt-*"))) == 1  # moved aside
    if command == "ls":
        assert "7 done, 0 stale, 5 missing of 12 trials" in out
        assert re.search(r"stateless +3 +Ses03 +1 +missing", out)
    elif command == "report":
        assert "missing trials of stateless: fold1/seed0 fold2/seed0 fold3/seed1" in out
        assert "missing trials of mamba_ema: fold1/seed0 fold2/seed1" in out
    else:
        assert "5 trials finished, 7 skipped (done), 0 failed" in out
        assert extracted == [120]
        assert all(read_record(key.folder(results)) is not None for key in SPOILED.values())


def relabel_first_turn(corpus_root: Path, session: int) -> str:
    """Change the valence rating of the first turn of a session's first label file (as a
    corrected release would); the turn's id."""
    label = sorted((corpus_root / f"Session{session}/dialog/EmoEvaluation").glob("*.txt"))[0]
    lines = label.read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith("["))
    fields = lines[first].split("\t")
    ratings = fields[3].strip("[]\n").split(", ")
    ratings[0] = "1.0000" if ratings[0] != "1.0000" else "5.0000"
    lines[first] = "\t".join([*fields[:3], "[" + ", ".join(ratings) + "]\n"])
    label.write_text("".join(lines))
    return fields[1]


def test_a_changed_corpus_makes_stored_trials_stale_named_and_kept(
    tiny_corpus_root, tmp_path, extracted, caplog, capsys
) -> None:
    corpus_root = shutil.copytree(tiny_corpus_root, tmp_path / "corpus")
    selection = select_trials(
        overrides=[f"corpus.root={corpus_root}", *FAST], variants=["stateless"], seeds=[0],
        folds=[1, 2],
    )  # fmt: skip
    results = tmp_path / "results"
    assert run_grid(selection, results, "local", QUIET).ok
    stored = {t.key: t.stored for t in list_grid(selection, results)}
    assert all(r.data and r.data["tests"] == f"Ses0{k.fold}" for k, r in stored.items())

    relabel_first_turn(corpus_root, session=2)  # trains fold 1, tests fold 2
    fold1, fold2 = list_grid(selection, results)
    assert fold1.status == fold2.status == "stale"
    assert fold1.reason == "its training set changed"  # Ses02 trains fold 1
    assert fold2.reason == "its test set changed"  # the same session, one label changed

    argv = ["--variant", "stateless", "--seeds", "0", "--folds", "1,2", "--results", str(results),
            f"corpus.root={corpus_root}", *FAST]  # fmt: skip
    assert main(["ls", *argv]) == 0
    out = capsys.readouterr().out
    assert re.search(r"stateless +2 +Ses02 +0 +stale", out)
    assert f"  stale {fold2.key}: its test set changed\n" in out

    with caplog.at_level(logging.WARNING, logger="bench.run.driver"):
        assert main(["run", *argv, "--executor", "local", "--quiet"]) == 0
    assert [r.getMessage() for r in caplog.records].count(
        f"{fold2.key} is stale and reruns: {fold2.reason}"
    ) == 1
    out = capsys.readouterr().out
    assert "2 trials finished, 0 skipped (done), 0 failed" in out
    assert "2 stored trials were replaced; each earlier record is kept in replaced-" in out
    for key, old in stored.items():
        [aside] = key.folder(results).glob("replaced-*")  # the old trial, whole, kept aside
        assert read_record(aside) == old and (aside / "predictions.parquet").is_file()
    assert {t.status for t in list_grid(selection, results)} == {"done"}
