"""``bench tune`` with the local executor: what it stores and chooses, that the test part
never informs a choice, resuming, and ``bench run --tuned``.

Features are faked as in ``test_run_grid.py`` (the arousal label planted in one column):
what is tested is the search, not the extractors.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_run import FAST
from test_run_grid import fake_features

from bench.cli import main
from bench.errors import BenchError
from bench.protocol import protocol_path
from bench.run import RunOptions, list_grid, run_grid, select_trials
from bench.run import selection as selection_module
from bench.tune import search as search_module
from bench.tune.apply import Tuning
from bench.tune.executors import search_local
from bench.tune.search import tune_grid
from bench.tune.space import Search, load_search
from bench.tune.store import TuningKey, read_choice, read_configuration

pytestmark = pytest.mark.slow  # searches trained end to end

EPOCHS = 6
TUNE_FAST = [f"train.epochs={EPOCHS}", "train.patience=50", *FAST[1:]]
QUIET = RunOptions(progress=False)


def fast_search(tmp_path: Path) -> Search:
    """The shipped space, six configurations, ASHA rungs at epochs 1, 2 and 4."""
    text = load_search().path.read_text()
    for old, new in [("grace_period: 5", "grace_period: 1"), ("budget: 16", "budget: 6"),
                     ("reduction_factor: 3", "reduction_factor: 2")]:  # fmt: skip
        text = text.replace(old, new)
    path = tmp_path / "search.yaml"
    path.write_text(text)
    return load_search(path)


def faked_corpus(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The override that selects the corpus at ``root``, its features faked for tuning."""
    fake_features(monkeypatch, tmp_path / "data")
    return f"corpus.root={root}"


@pytest.fixture
def search(tmp_path: Path) -> Search:
    return fast_search(tmp_path)


@pytest.fixture
def corpus(tiny_corpus_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return faked_corpus(tiny_corpus_root, tmp_path, monkeypatch)


def records(root: Path, key: TuningKey, budget: int) -> list:
    return [read_configuration(root, key, i) for i in range(budget)]


def curves(root: Path, key: TuningKey, budget: int) -> list:
    """What the stored configurations measured: values, status, score and learning curves,
    without the seconds each epoch took."""
    return [
        (r.values, r.status, r.score, [{**row, "seconds": 0} for row in r.history])
        for r in records(root, key, budget)
    ]


def test_every_configuration_is_stored_and_the_best_is_chosen(corpus, search, tmp_path):
    selection = select_trials(overrides=[corpus, *TUNE_FAST], variants=["mamba_ema", "stateless"],
                              folds=[1])  # fmt: skip
    root = tmp_path / "tuning"
    summary = tune_grid(selection, root, search, executor="local", options=QUIET)
    assert summary.ok and summary.trained == 12 and summary.skipped == 0
    for variant in ("mamba_ema", "stateless"):
        key = TuningKey("synthetic", variant, 1)
        stored = records(root, key, 6)
        assert [r.values for r in stored] == search.configurations(6)  # same for each variant
        statuses = {r.status for r in stored}
        assert statuses == {"finished", "stopped"}  # ASHA stopped some, others ran to the end
        for record in stored:
            epochs = [row["epoch"] for row in record.history]
            assert epochs == list(range(len(epochs)))
            assert (len(epochs) == EPOCHS) == (record.status == "finished")
            eligible = [r["val_ccc_avg"] for r in record.history if r["eligible"]]
            assert eligible and record.score == max(eligible)  # ASHA counts eligible epochs
            first = next(row["epoch"] for row in record.history if row["eligible"])
            assert variant == "stateless" or first > 0  # mamba_ema's ramp came first
        choice = read_choice(root, key)
        best = max((r for r in stored if r.score is not None), key=lambda r: r.score)
        assert summary.chosen[key] == choice and choice.index == best.index
        assert choice.tried == 6 and choice.values == best.values
    again = tune_grid(selection, root, search, executor="local", options=QUIET)
    assert again.trained == 0 and again.skipped == 12 and again.chosen == summary.chosen
    larger = tune_grid(selection, root, search, budget=7, executor="local", options=QUIET)
    assert larger.trained == 2 and larger.skipped == 12  # a larger budget extends the search


def test_test_labels_never_inform_a_choice(corpus, search, tmp_path, monkeypatch):
    selection = select_trials(overrides=[corpus, *TUNE_FAST], variants=["gru_ema"], folds=[2])
    real = selection_module.corpus_and_folds
    clean_corpus, folds = real(selection, False)
    test = folds[2].test
    seen = []

    def spy(works, inputs, *rest):
        seen.append(inputs)
        search_local(works, inputs, *rest)

    def poisoned(selection, progress):  # the test session's labels scrambled
        table = clean_corpus.table.copy()
        scrambled = np.random.default_rng(0).uniform(0, 1, (len(test), 2))
        table.loc[test, ["valence", "arousal"]] = scrambled
        return replace(clean_corpus, table=table), folds

    clean = tune_grid(selection, tmp_path / "clean", search, executor=spy, options=QUIET)
    monkeypatch.setattr(search_module, "corpus_and_folds", poisoned)
    dirty = tune_grid(selection, tmp_path / "dirty", search, executor=spy, options=QUIET)
    key = TuningKey("synthetic", "gru_ema", 2)
    assert clean.chosen[key] == dirty.chosen[key]
    assert curves(tmp_path / "clean", key, 6) == curves(tmp_path / "dirty", key, 6)
    test_ids = set(clean_corpus.table.iloc[test]["utt_id"])
    assert len(seen) == 2
    for inputs in seen:  # no worker ever had a test row
        assert not test_ids & set(inputs.table["utt_id"])
        assert len(inputs.table) == len(folds[2].train) + len(folds[2].val)


def killed_after(stored: int):
    """The local search executor, killed (Ctrl-C) once ``stored`` configurations are stored."""
    done = 0

    def executor(works, inputs, schedule, on_epoch, on_done, on_fail):
        def counted(work, status):
            nonlocal done
            on_done(work, status)
            done += 1
            if done == stored:
                raise KeyboardInterrupt

        search_local(works, inputs, schedule, on_epoch, counted, on_fail)

    return executor


def test_an_interrupted_search_resumes_where_it_stopped(corpus, search, tmp_path):
    selection = select_trials(overrides=[corpus, *TUNE_FAST], variants=["stateless"], folds=[1])
    whole = tune_grid(selection, tmp_path / "whole", search, executor="local", options=QUIET)
    root = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        tune_grid(selection, root, search, executor=killed_after(3), options=QUIET)
    key = TuningKey("synthetic", "stateless", 1)
    assert read_choice(root, key) is None and len(list(key.folder(root).glob("config-*"))) == 3
    resumed = tune_grid(selection, root, search, executor="local", options=QUIET)
    assert resumed.trained == 3 and resumed.skipped == 3
    # ASHA replays the stored curves, so the resumed search decides as the unbroken one
    assert curves(root, key, 6) == curves(tmp_path / "whole", key, 6)
    assert resumed.chosen == whole.chosen


def test_a_tuned_run_trains_each_folds_choice_under_its_own_hash(corpus, search, tmp_path):
    overrides = [corpus, *TUNE_FAST]
    root = tmp_path / "tuning"
    tuned = select_trials(overrides=overrides, variants=["stateless"], seeds=[0], folds=[1, 2],
                          tuning=Tuning("nested", root))  # fmt: skip
    with pytest.raises(BenchError, match="no tuned configuration of synthetic/stateless/fold1"):
        list_grid(tuned, tmp_path / "results")
    tune_grid(tuned, root, search, budget=3, executor="local", options=QUIET)
    results = tmp_path / "results"
    assert run_grid(tuned, results, "local", QUIET).ok
    untuned = list_grid(replace(tuned, tuning=None), results)
    assert [t.status for t in untuned] == ["stale", "stale"]  # tuned and untuned never mix
    for trial in list_grid(tuned, results):
        choice = read_choice(root, TuningKey("synthetic", "stateless", trial.key.fold))
        record = trial.stored
        assert trial.status == "done" and record.tuning["mode"] == "nested"
        assert record.tuning["values"] == choice.values
        assert record.config["train"]["lr"] == choice.values["train.lr"]
        assert record.config["model"]["dropout"] == choice.values["model.dropout"]
    shared = list_grid(replace(tuned, tuning=Tuning("fold1", root)), results)
    fold1 = read_choice(root, TuningKey("synthetic", "stateless", 1))
    assert all(t.tuning["fold"] == 1 and t.tuning["values"] == fold1.values for t in shared)
    assert [t.status for t in shared] == ["stale", "stale"]
    changed = replace(tuned, overrides=(*tuned.overrides, "train.chunk_len=6"))
    with pytest.raises(BenchError, match="was made for another configuration of the variant"):
        list_grid(changed, results)


def test_a_search_covers_its_data_changed_labels_rerun_it_and_refuse_its_choice(
    corpus, search, tmp_path, monkeypatch
):
    root, results = tmp_path / "tuning", tmp_path / "results"
    tuned = select_trials(overrides=[corpus, *TUNE_FAST], variants=["stateless"], seeds=[0],
                          folds=[1], tuning=Tuning("nested", root))  # fmt: skip
    assert tune_grid(tuned, root, search, budget=3, executor="local", options=QUIET).trained == 3
    assert [t.status for t in list_grid(tuned, results)] == ["missing"]
    clean_corpus, folds = selection_module.corpus_and_folds(tuned, False)

    def relabelled(selection, progress):  # one training utterance's arousal corrected
        table = clean_corpus.table.copy()
        table.loc[folds[1].train[0], "arousal"] += 0.25
        return replace(clean_corpus, table=table), folds

    monkeypatch.setattr(selection_module, "corpus_and_folds", relabelled)
    monkeypatch.setattr(search_module, "corpus_and_folds", relabelled)
    with pytest.raises(BenchError, match="stateless/fold1 under .* was made on other data"):
        list_grid(tuned, results)
    again = tune_grid(tuned, root, search, budget=3, executor="local", options=QUIET)
    assert again.trained == 3 and again.skipped == 0  # no stored curve is reused
    assert [t.status for t in list_grid(tuned, results)] == ["missing"]


def test_the_command_prints_the_choices_and_run_names_what_is_missing(corpus, tmp_path, capsys):
    args = ["--variant", "stateless", "--folds", "1", corpus, *TUNE_FAST, "--quiet"]
    tuning = ["--tuning", str(tmp_path / "tuning")]
    assert main(["run", "--dry-run", "--tuned", "nested", *tuning, *args]) == 2
    again = "bench tune --protocol synthetic --variant stateless --folds 1"
    assert again in capsys.readouterr().err
    assert main(["tune", "--executor", "local", "--budget", "2", *tuning, *args]) == 0
    out = capsys.readouterr().out
    assert "synthetic/stateless/fold1" in out and "2 configurations trained" in out
    chosen = json.loads((tmp_path / "tuning/synthetic/stateless/fold1/chosen.json").read_text())
    assert chosen["tried"] == 2
    assert main(["run", "--dry-run", "--tuned", "nested", *tuning, *args]) == 0


def test_a_tuned_report_names_the_search_the_choices_and_the_budget(corpus, search, tmp_path):
    root, results, out = tmp_path / "tuning", tmp_path / "results", tmp_path / "report"
    variants = ["mamba_ema", "stateless"]
    tuning = Tuning("nested", root)
    selection = select_trials(overrides=[corpus, *TUNE_FAST], variants=variants, seeds=[0, 1],
                              folds=[1, 2], tuning=tuning)  # fmt: skip
    tune_grid(selection, root, search, budget=3, executor="local", options=QUIET)
    assert run_grid(selection, results, "local", QUIET).ok
    args = ["--variant", *variants, "--seeds", "0,1", "--folds", "1,2", corpus, *TUNE_FAST]
    args += ["--results", str(results), "--bootstrap", "50", "--format", "md"]
    tuned = ["--tuned", "nested", "--tuning", str(root)]
    assert main(["report", *args, "--out", str(out), *tuned]) == 0
    chosen = pd.read_csv(out / "synthetic" / "tuning.csv")
    assert len(chosen) == 4 and (chosen["tried"] == 3).all()
    table = (out / "synthetic" / "tuning.md").read_text()
    for _, row in chosen.iterrows():
        key = TuningKey("synthetic", row["variant"], row["fold"])
        choice = read_choice(root, key)
        assert row["chosen"] == choice.index and row["val_ccc_avg"] == pytest.approx(choice.score)
        assert {k: row[k] for k in choice.values} == pytest.approx(choice.values)
        stored = records(root, key, 3)  # the compute the search spent, from its curves
        assert row["epochs"] == sum(len(r.history) for r in stored)
        assert row["asha_stopped"] == sum(r.status == "stopped" for r in stored)
        assert re.search(rf"of 3 \|\s+{row['epochs']} \|\s+{row['asha_stopped']} \|", table)
    assert "| mamba_ema (ref.) |" in table
    assert re.search(r"Chosen \|\s+Search epochs \|\s+Stopped by ASHA \|", table)
    assert (out / "synthetic" / "tuning.tex").is_file() is False  # only the formats asked for
    legend = (out / "synthetic" / "ablations.md").read_text()
    assert "Tuned (bench tune, mode nested)" in legend and "no test session informed" in legend
    searched = "3 configurations per variant and tuned fold, from: model.dropout uniform [0, 0.5]"
    assert searched in legend
    assert (out / "synthetic" / "tuning_budget.png").stat().st_size > 0
    # the untuned report of the same folder finds only stale trials: tuned ones never mix in
    assert main(["report", *args, "--out", str(out)]) == 2


def test_a_killed_tune_resumes_with_the_missing_configurations(
    tmp_path: Path, tiny_corpus_root: Path, tiny_feature_cache: Path, monkeypatch, capsys
):
    root = tmp_path / "tuning"
    args = ["tune", "--executor", "local", "--quiet", "--variant", "stateless", "--folds", "1",
            "--budget", "6", "--tuning", str(root), f"corpus.root={tiny_corpus_root}",
            f"features.cache_dir={tiny_feature_cache}", *TUNE_FAST]  # fmt: skip
    env = {**os.environ, "BENCH_DATA": str(tmp_path / "data")}
    command = [sys.executable, "-m", "bench.cli", *args]
    first = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    folder = TuningKey("synthetic", "stateless", 1).folder(root)
    deadline = time.time() + 300
    while len(list(folder.glob("config-*.json"))) < 2 and time.time() < deadline:
        assert first.poll() is None, first.communicate()[0]
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = {p: p.stat().st_mtime_ns for p in folder.glob("config-*.json")}
    assert 2 <= len(before) < 6 and not (folder / "chosen.json").exists()
    for path in before:  # nothing half-written looks stored
        assert json.loads(path.read_text())["index"] == int(path.stem.split("-")[1])
    monkeypatch.setenv("BENCH_DATA", env["BENCH_DATA"])  # the rerun, in this process
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"{6 - len(before)} configurations trained, {len(before)} stored" in out
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # stored ones untouched
    assert json.loads((folder / "chosen.json").read_text())["tried"] == 6
    assert not list(folder.glob(".*.tmp-*"))


def test_the_tune_a_stale_choice_suggests_is_the_one_the_run_needs(corpus, tmp_path, capsys):
    """The suggested command keeps the run's protocol (here a YAML path), tuning folder and
    overrides, quoted for the shell: run as printed, it makes the tuned run possible."""
    protocol = tmp_path / "my protocol.yaml"
    shutil.copy(protocol_path("synthetic"), protocol)
    where = ["--protocol", str(protocol), "--tuning", str(tmp_path / "my tuning"), "--quiet"]
    args = [*where, "--variant", "stateless", "--folds", "1", corpus, *TUNE_FAST]
    budget = ["--executor", "local", "--budget", "2"]
    assert main(["tune", *budget, *args]) == 0
    changed = [*args, "model.d_c=6"]  # the choice was made for model.d_c=8
    assert main(["run", "--dry-run", "--tuned", "nested", *changed]) == 2
    err = capsys.readouterr().err
    assert "was made for another configuration of the variant" in err
    suggested = shlex.split(re.search(r"run `(bench tune .*)`$", err.strip())[1])
    assert suggested[:2] == ["bench", "tune"]
    assert {w for w in changed if w != "--quiet"} <= set(suggested)
    assert main([*suggested[1:], *budget, "--quiet"]) == 0
    assert main(["run", "--dry-run", "--tuned", "nested", *changed]) == 0
