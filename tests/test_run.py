"""The run driver with the local executor: skipping, staleness, failures, locks, kill+resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.corpus.iemocap import read_iemocap
from bench.protocol import load_protocol, make_folds
from bench.results import PREDICTION_COLUMNS, RESULT_FILE, claim, load_table, read_record
from bench.run import local, worker
from bench.run.driver import run_planned
from bench.run.identity import fold_identities
from bench.run.local import run_local
from bench.run.plan import plan_trials
from bench.run.worker import SharedInputs
from bench.variants import config_hash

FAST = [
    "train.epochs=1", "train.chunk_len=8", "model.d_model=8", "model.d_c=8", "model.d_p2=8",
    "model.film_hidden=8", "model.head_hidden=8", "model.mamba.d_state=4",
]  # fmt: skip


def fake_inputs(table: pd.DataFrame, protocol: dict) -> SharedInputs:
    """Random features with the arousal label planted in one speech column."""
    rng = np.random.default_rng(0)
    n = len(table)
    speech = rng.standard_normal((n, 6)).astype(np.float32)
    speech[:, 0] += 3 * table["arousal"].to_numpy()
    features = {
        "speech": speech,
        "prosody": rng.standard_normal((n, 4)).astype(np.float32),
        "speaker": rng.standard_normal((n, 3)).astype(np.float32),
    }
    folds = {
        f.number: {"train": f.train, "val": f.val, "test": f.test}
        for f in make_folds(table, protocol)
    }
    return SharedInputs(table, features, folds, (1.0, 5.0))


@pytest.fixture(scope="module")
def setup(tiny_corpus_root: Path):
    protocol = load_protocol("synthetic")
    table = read_iemocap(tiny_corpus_root).table
    return protocol, fake_inputs(table, protocol)


def identities(inputs: SharedInputs, folds=(1, 2)) -> dict[int, dict[str, str]]:
    """The data identity of ``folds`` of ``inputs`` (what each trial's config hash covers)."""
    return fold_identities(inputs.table, {n: inputs.folds[n] for n in folds})


def plan(setup, results, variants=("mamba_ema", "stateless"), overrides=FAST, force=False):
    protocol, inputs = setup
    folds = identities(inputs)
    return plan_trials(protocol, list(variants), [0], folds, results, list(overrides), force)


def test_runs_stores_and_skips(setup, tmp_path: Path):
    _, inputs = setup
    first = plan(setup, tmp_path)
    assert {t.status for t in first} == {"missing"}
    summary = run_planned(first, inputs, run_local, tmp_path, progress=False)
    assert len(summary.finished) == 4 and summary.ok
    record = read_record(first[0].key.folder(tmp_path))
    assert record.key == first[0].key and record.config == first[0].config
    assert record.config_hash == first[0].config_hash and record.git_commit
    metrics = record.outcome.metrics
    assert set(metrics) == {"val", "test"} and "ccc_avg" in metrics["test"]
    assert record.versions["torch"].startswith("2.") and record.worker["pid"] > 0
    keys = [t.key for t in first]
    predictions = load_table(tmp_path, keys, "predictions.parquet")
    assert set(PREDICTION_COLUMNS) <= set(predictions.columns)
    fold1 = inputs.folds[1]["test"]
    stored = predictions.query("variant == 'stateless' and fold == 1")
    assert sorted(stored["utt_id"]) == sorted(inputs.table["utt_id"].iloc[fold1])
    history = load_table(tmp_path, keys, "history.csv")
    assert {"epoch", "train_loss", "val_ccc_avg"} <= set(history.columns)

    again = plan(setup, tmp_path)
    assert {t.status for t in again} == {"done"}
    assert run_planned(again, inputs, run_local, tmp_path, progress=False).skipped == [
        t.key for t in again
    ]
    changed = plan(setup, tmp_path, overrides=[*FAST, "train.lr=0.002"])
    assert {t.status for t in changed} == {"stale"}
    assert {t.status for t in plan(setup, tmp_path, force=True)} == {"forced"}


def test_same_seed_reproduces_the_predictions(setup, tmp_path: Path):
    _, inputs = setup
    tables = []
    for root in (tmp_path / "a", tmp_path / "b"):
        trials = plan(setup, root, ["no_film"])
        run_planned(trials, inputs, run_local, root, progress=False)
        tables.append(load_table(root, [t.key for t in trials], "predictions.parquet"))
    a, b = tables
    pd.testing.assert_frame_equal(a, b)


def test_a_failing_trial_leaves_no_result_and_reruns(setup, tmp_path: Path, monkeypatch):
    _, inputs = setup
    real = worker.execute

    def flaky(task, work: dict, shared: SharedInputs, threads=None) -> dict:
        if work["trial_id"].endswith("stateless/fold2/seed0"):
            raise RuntimeError("out of cheese")
        return real(task, work, shared, threads)

    monkeypatch.setattr(local, "execute", flaky)
    summary = run_planned(plan(setup, tmp_path), inputs, run_local, tmp_path, progress=False)
    assert len(summary.finished) == 3 and not summary.ok
    [(key, error)] = summary.failed.items()
    assert str(key) == "synthetic/stateless/fold2/seed0" and "out of cheese" in error
    assert not (key.folder(tmp_path) / RESULT_FILE).exists()

    monkeypatch.setattr(local, "execute", real)
    retry = plan(setup, tmp_path)
    assert [str(t.key) for t in retry if t.needs_run] == ["synthetic/stateless/fold2/seed0"]
    assert run_planned(retry, inputs, run_local, tmp_path, progress=False).ok


def test_a_worker_lost_after_its_trial_was_stored_does_not_fail_the_trial(setup, tmp_path):
    _, inputs = setup

    def report_then_die(task, works, shared, on_start, on_done, on_fail) -> None:
        def also_fail(work: dict, payload: dict) -> None:
            on_done(work, payload)
            on_fail(work, "ActorDiedError: the actor's node was terminated")  # as Ray Tune does

        run_local(task, works, shared, on_start, also_fail, on_fail)

    summary = run_planned(plan(setup, tmp_path), inputs, report_then_die, tmp_path, False)
    assert len(summary.finished) == 4 and summary.failed == {} and summary.ok


def test_a_trial_the_executor_never_reported_fails(setup, tmp_path):
    """An executor that returns before every trial reported (Ray Tune stopped by a signal
    once returned as if it had ended) must not look like a run that did everything."""
    _, inputs = setup

    def stop_after_one(task, works, shared, on_start, on_done, on_fail) -> None:
        run_local(task, works[:1], shared, on_start, on_done, on_fail)

    summary = run_planned(plan(setup, tmp_path), inputs, stop_after_one, tmp_path, False)
    assert len(summary.finished) == 1 and len(summary.failed) == 3 and not summary.ok
    assert set(summary.failed.values()) == {
        "no result came back: the executor ended before the trial"
    }


def test_a_result_that_cannot_be_stored_fails_only_its_trial(setup, tmp_path, monkeypatch):
    _, inputs = setup
    real = worker.execute

    def broken(task, work: dict, shared: SharedInputs, threads=None) -> dict:
        payload = real(task, work, shared, threads)
        if "mamba_ema/fold1" in work["trial_id"]:
            payload["result"]["predictions"]["valence_pred"].pop()  # ragged columns
        return payload

    monkeypatch.setattr(local, "execute", broken)
    summary = run_planned(plan(setup, tmp_path), inputs, run_local, tmp_path, progress=False)
    assert [str(k) for k in summary.failed] == ["synthetic/mamba_ema/fold1/seed0"]
    assert "ValueError" in next(iter(summary.failed.values())) and len(summary.finished) == 3
    assert read_record(plan(setup, tmp_path)[0].key.folder(tmp_path)) is None


def test_a_trial_held_by_another_run_is_not_written(setup, tmp_path: Path):
    _, inputs = setup
    trials = plan(setup, tmp_path, ["no_prosody"])
    with claim(tmp_path, trials[0].key):
        summary = run_planned(trials, inputs, run_local, tmp_path, progress=False)
    assert summary.busy == [trials[0].key] and len(summary.finished) == 1
    assert read_record(trials[0].key.folder(tmp_path)) is None


def _bench(*args: str, env: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "bench.cli", "run", "--executor", "local", "--quiet", *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_killed_run_resumes_with_exactly_the_missing_trials(
    tmp_path: Path, tiny_corpus_root: Path, tiny_feature_cache: Path, monkeypatch, capsys
):
    env = {**os.environ, "BENCH_DATA": str(tmp_path / "data")}
    results = tmp_path / "results"
    args = ["--variant", "stateless", "--seeds", "0,1", "--results", str(results)]
    args += [f"corpus.root={tiny_corpus_root}", f"features.cache_dir={tiny_feature_cache}"]
    args += ["train.epochs=1", *FAST[1:]]
    first = _bench(*args, env=env)
    deadline = time.time() + 300
    while len(list(results.glob(f"**/{RESULT_FILE}"))) < 2 and time.time() < deadline:
        assert first.poll() is None, first.communicate()[0]
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = {p: p.stat().st_mtime_ns for p in results.glob(f"**/{RESULT_FILE}")}
    assert 2 <= len(done_before) < 10
    for path in done_before:  # nothing half-written looks finished
        json.loads(path.read_text())

    monkeypatch.setenv("BENCH_DATA", env["BENCH_DATA"])  # the rerun, in this process
    assert main(["run", "--executor", "local", "--quiet", *args]) == 0
    out = capsys.readouterr().out
    expected_new = 10 - len(done_before)
    assert f"{expected_new} trials finished, {len(done_before)} skipped" in out
    after = {p: p.stat().st_mtime_ns for p in results.glob(f"**/{RESULT_FILE}")}
    assert len(after) == 10
    assert all(after[p] == t for p, t in done_before.items())  # finished ones untouched
    assert not list(results.glob("**/.*.tmp-*"))  # no temporary files left behind


def test_dry_run_and_ls_show_the_plan(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    results = tmp_path / "results"
    args = ["--variant", "stateless", "no_film", "--seeds", "0", "--folds", "2,4"]
    args += ["--results", str(results), "corpus.synth.size=tiny", *FAST]
    assert main(["run", "--dry-run", *args]) == 0
    out = capsys.readouterr().out
    assert re.search(r"synthetic/no_film/fold4/seed0 +Ses04 +run +missing", out)
    assert "4 to run, 0 to skip" in out and not results.exists()
    assert main(["ls", *args]) == 0
    assert "0 done, 0 stale, 4 missing of 4 trials" in capsys.readouterr().out
    assert main(["run", "--dry-run", *args[: -len(FAST)], "--folds", "9"]) == 2
    assert "no fold(s) [9]; this protocol has folds 1..5" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # listing generated no synthetic corpus


def test_a_stored_trial_is_current_only_for_the_data_it_ran_on(setup, tmp_path: Path):
    protocol, inputs = setup
    [first] = plan_trials(protocol, ["stateless"], [0], identities(inputs, [1]), tmp_path, FAST)
    assert run_planned([first], inputs, run_local, tmp_path, progress=False).ok
    again = plan_trials(protocol, ["stateless"], [0], identities(inputs, [1]), tmp_path, FAST)
    assert again[0].status == "done" and again[0].stored.data == first.data

    swapped = {1: identities(inputs, [2])[2]}  # fold 1 now tests what fold 2 tested
    [moved] = plan_trials(protocol, ["stateless"], [0], swapped, tmp_path, FAST)
    assert moved.status == "stale"
    assert moved.reason == (
        "its training set changed; its validation set changed; its test set changed "
        "(it tested Ses01, the fold now tests Ses02)"
    )
    relabelled = inputs.table.copy()
    relabelled.loc[inputs.folds[1]["train"][0], "arousal"] += 0.25
    data = {1: fold_identities(relabelled, {1: inputs.folds[1]})[1]}
    [label] = plan_trials(protocol, ["stateless"], [0], data, tmp_path, FAST)
    assert (label.status, label.reason) == ("stale", "its training set changed")

    older = json.loads((first.key.folder(tmp_path) / RESULT_FILE).read_text())
    del older["data"]  # a record of a bench whose hash did not cover the data
    older["config_hash"] = config_hash(first.spec, protocol)
    (first.key.folder(tmp_path) / RESULT_FILE).write_text(json.dumps(older))
    [old] = plan_trials(protocol, ["stateless"], [0], identities(inputs, [1]), tmp_path, FAST)
    assert old.status == "stale" and "without its data identity" in old.reason
