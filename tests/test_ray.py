"""The Ray Tune executor on a local cluster that declares GPUs it does not have."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from bench.corpus.iemocap import read_iemocap
from bench.errors import BenchError
from bench.personalise.run import personalise_grid
from bench.personalise.store import mode_folder, read_personalised
from bench.protocol import load_protocol
from bench.results import load_table, read_record
from bench.run import RunOptions, select_trials
from bench.run.driver import run_planned
from bench.run.plan import plan_trials
from bench.testing.barrier import with_barrier
from bench.tune.search import tune_grid
from bench.tune.space import load_search
from bench.tune.store import TuningKey, read_configuration
from tests.test_run import FAST, fake_inputs, identities
from tests.test_run_grid import fake_features
from tests.test_tune import EPOCHS, TUNE_FAST, curves, faked_corpus, fast_search, records

ray = pytest.importorskip("ray")
from bench.run.ray_adapter import RayOptions, run_ray, unmet_request  # noqa: E402

pytestmark = pytest.mark.slow  # Tune runs that start Ray worker processes


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=6, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(tiny_corpus_root: Path):
    protocol = load_protocol("synthetic")
    return protocol, fake_inputs(read_iemocap(tiny_corpus_root).table, protocol)


def run_grid(setup, root: Path, seeds: list[int], gpus: float, together: int):
    """The trials of ``seeds``, the first ``together`` of them started at once (a barrier:
    1-epoch trials once ran one after another on a loaded machine, 8-epoch ones too)."""
    protocol, inputs = setup
    inputs = with_barrier(inputs, root / "barrier", together)
    plan = plan_trials(protocol, ["stateless"], seeds, identities(inputs, [1]), root, FAST)
    options = RayOptions(cpus_per_trial=1, gpus_per_trial=gpus)
    executor = functools.partial(run_ray, options=options, storage=root / ".ray")
    summary = run_planned(plan, inputs, executor, root, progress=False)
    workers = [read_record(t.key.folder(root)).worker for t in plan]
    return summary, workers


def most_at_once(workers: list[dict], per_device: bool = True) -> dict[str, int]:
    """Per GPU id (or over all GPUs), the most trials that ran at the same time."""
    most: dict[str, int] = {}
    for w in workers:
        device = w["ray_gpu_ids"][0] if per_device else "any"
        overlapping = [
            o for o in workers
            if device in (o["ray_gpu_ids"][0], "any")
            and o["started"] <= w["started"] < o["finished"]
        ]  # fmt: skip
        most[device] = max(most.get(device, 0), len(overlapping))
    return most


def test_whole_gpu_trials_get_distinct_devices(cluster, setup, tmp_path: Path):
    summary, workers = run_grid(setup, tmp_path, [0, 1, 2], gpus=1, together=2)  # on 2 GPUs
    assert summary.ok and len(summary.finished) == 3
    devices = [tuple(w["ray_gpu_ids"]) for w in workers]
    assert all(len(d) == 1 for d in devices)
    assert most_at_once(workers, per_device=False)["any"] > 1  # trials did run at once
    assert max(most_at_once(workers).values()) == 1  # but never two on one GPU
    assert all(w["cuda_visible_devices"] == d[0] for w, d in zip(workers, devices, strict=True))
    assert all(w["torch_threads"] == 1 for w in workers)  # threads follow the trial's CPUs
    # Tune's own files stay under the results folder; the results came back to the driver.
    assert (tmp_path / ".ray").is_dir()
    assert len(load_table(tmp_path, summary.finished, "predictions.parquet")) > 0


def test_quarter_gpus_pack_four_trials_per_device(cluster, setup, tmp_path: Path):
    # Six CPUs let six trials run at once: packing must keep them to four per device.
    summary, workers = run_grid(setup, tmp_path, list(range(6)), gpus=0.25, together=6)
    assert summary.ok
    assert all(len(w["ray_gpu_ids"]) == 1 for w in workers)
    assert most_at_once(workers, per_device=False)["any"] == 6  # all six ran at once
    at_once = most_at_once(workers)
    assert max(at_once.values()) <= 4  # at most four quarter-GPU trials per device
    assert max(at_once.values()) > 1  # and they do share a device


def test_a_failing_trial_is_reported_and_the_others_finish(cluster, setup, tmp_path: Path):
    protocol, inputs = setup
    folds = identities(inputs, [1])
    folds[99] = folds[1]  # a fold the inputs do not have: its trial fails
    plan = plan_trials(protocol, ["stateless"], [0], folds, tmp_path, FAST)
    options = RayOptions(cpus_per_trial=1)
    executor = functools.partial(run_ray, options=options, storage=tmp_path / ".ray")
    summary = run_planned(plan, inputs, executor, tmp_path, progress=False)
    assert [key.fold for key in summary.finished] == [1]
    assert [key.fold for key in summary.failed] == [99]
    assert "KeyError" in next(iter(summary.failed.values()))  # fold 99 does not exist


def test_tune_under_ray_stores_curves_stops_some_after_the_ramp_and_chooses(
    cluster, tiny_corpus_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    corpus, search = faked_corpus(tiny_corpus_root, tmp_path, monkeypatch), fast_search(tmp_path)
    selection = select_trials(overrides=[corpus, *TUNE_FAST], variants=["gru_ema"], folds=[1])
    root = tmp_path / "tuning"
    options = RunOptions(progress=False, cpus_per_trial=3)  # two at a time on the six CPUs
    summary = tune_grid(selection, root, search, executor="ray", options=options)
    key = TuningKey("synthetic", "gru_ema", 1)
    stored = [read_configuration(root, key, i) for i in range(6)]
    assert summary.ok and summary.trained == 6
    assert {r.status for r in stored} == {"finished", "stopped"}  # ASHA stopped some
    for record in stored:  # every epoch came back to the driver, in order
        assert [row["epoch"] for row in record.history] == list(range(len(record.history)))
        assert (len(record.history) == EPOCHS) == (record.status == "finished")
        assert not record.history[0]["eligible"]  # gru_ema's scheduled-sampling ramp
        assert record.score is not None  # ASHA's clock is eligible epochs: none stopped before
    best = max((r for r in stored if r.score is not None), key=lambda r: r.score)
    assert summary.chosen[key].index == best.index
    assert (root / ".ray").is_dir()  # Tune's own files stay under the tuning folder
    again = tune_grid(selection, root, search, executor="ray", options=options)
    assert again.trained == 0 and again.chosen == summary.chosen


def test_a_search_without_stops_is_the_same_under_ray_and_locally(
    cluster, tiny_corpus_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    corpus = faked_corpus(tiny_corpus_root, tmp_path, monkeypatch)
    (tmp_path / "dropout.yaml").write_text(  # ASHA's only rung is the last epoch
        "space:\n  model.dropout: {distribution: uniform, low: 0.0, high: 0.5}\n"
        f"scheduler: {{grace_period: {EPOCHS}, reduction_factor: 3}}\n"
    )
    search = load_search(tmp_path / "dropout.yaml")
    overrides = [corpus, *TUNE_FAST, "train.lr=0.05", "train.patience=1"]  # patience ends some
    selection = select_trials(overrides=overrides, variants=["stateless"], folds=[1])
    quiet = RunOptions(progress=False)
    local = tune_grid(selection, tmp_path / "local", search, budget=3, executor="local",
                      options=quiet)  # fmt: skip
    ray_run = tune_grid(selection, tmp_path / "ray", search, budget=3, executor="ray",
                        options=quiet)  # fmt: skip
    key = TuningKey("synthetic", "stateless", 1)
    assert curves(tmp_path / "ray", key, 3) == curves(tmp_path / "local", key, 3)
    assert ray_run.chosen == local.chosen
    stored = records(tmp_path / "ray", key, 3)
    assert all(r.status == "finished" for r in stored)
    assert any(len(r.history) < EPOCHS for r in stored)  # a run that patience ended


def test_personalise_under_ray_stores_what_the_local_executor_stores(
    cluster, tiny_corpus_root: Path, tmp_path: Path, monkeypatch
):
    fake_features(monkeypatch, tmp_path / "data")
    quick = ["personalise.k=[0,2]", "personalise.steps=3", "personalise.adapt=[film,head_bias]"]
    selection = select_trials(overrides=[f"corpus.root={tiny_corpus_root}", *FAST, *quick],
                              variants=["mamba_ema"], seeds=[0], folds=[1])  # fmt: skip
    quiet = RunOptions(progress=False)
    local = personalise_grid(selection, tmp_path / "local", "local", quiet)
    assert local.trained.ok and len(local.personalised.finished) == 1
    shutil.copytree(tmp_path / "local", tmp_path / "ray")  # the same trained trial
    key = local.personalised.finished[0]
    for mode in ("film", "head_bias"):
        shutil.rmtree(mode_folder(tmp_path / "ray", key, mode))
    under_ray = personalise_grid(selection, tmp_path / "ray", "ray", quiet)
    assert under_ray.personalised.finished == [key] and not under_ray.trained.finished
    for mode in ("film", "head_bias"):
        for root in ("local", "ray"):
            assert read_personalised(tmp_path / root, key, mode) is not None
        ours, theirs = (pd.read_parquet(mode_folder(tmp_path / r, key, mode) / "k2.parquet")
                        for r in ("local", "ray"))  # fmt: skip
        pd.testing.assert_frame_equal(ours, theirs, atol=1e-6)


@pytest.mark.parametrize(
    ("command", "argv", "line"),
    [
        ("run", ["--gpus-per-trial", "3", "--seeds", "0", "--results"],
         "--gpus-per-trial 3 cannot be met: the cluster has 2 GPUs and 6 CPUs"),
        ("tune", ["--cpus-per-trial", "7", "--budget", "1", "--tuning"],
         "--cpus-per-trial 7 cannot be met: the cluster has 2 GPUs and 6 CPUs"),
    ],
)  # fmt: skip
def test_a_trial_no_node_can_hold_is_refused_in_one_line(
    cluster, command, argv, line, tiny_corpus_root: Path, tmp_path: Path, monkeypatch, capsys
):
    """Tune would wait for the resources forever (0%, no message): refused before it starts,
    in the run and in the search, which share the adapter."""
    corpus = faked_corpus(tiny_corpus_root, tmp_path, monkeypatch)
    argv = [command, "--variant", "stateless", "--folds", "1", "--quiet", corpus, *FAST,
            *argv, str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == f"bench {command}: error: {line}"
    assert not list((tmp_path / "out").rglob("result.json"))  # no trial ran


@pytest.mark.parametrize(
    ("cpus", "gpus", "nodes", "line"),
    [
        (8, 0, [{"CPU": 2.0, "GPU": 1.0}, {"CPU": 8.0}], None),
        (1, 0.25, [{"CPU": 2.0, "GPU": 1.0}], None),
        (1, 1, [{"CPU": 2.0}],
         "--gpus-per-trial 1 cannot be met: the cluster has 0 GPUs and 2 CPUs"),
        (2, 2, [{"CPU": 4.0, "GPU": 1.0}, {"CPU": 4.0, "GPU": 1.0}],
         "--gpus-per-trial 2 cannot be met: the cluster has 2 GPUs and 8 CPUs on 2 nodes, at "
         "most 1 GPU and 4 CPUs on one node, where a trial runs"),
        (4, 1, [{"CPU": 2.0, "GPU": 1.0}, {"CPU": 8.0}],
         "--cpus-per-trial 4 with --gpus-per-trial 1 cannot be met: the cluster has 1 GPU and "
         "10 CPUs on 2 nodes, at most 1 GPU and 8 CPUs on one node, where a trial runs"),
    ],
)  # fmt: skip
def test_a_request_is_met_only_by_one_node_with_all_of_it(cpus, gpus, nodes, line):
    assert unmet_request(RayOptions(cpus_per_trial=cpus, gpus_per_trial=gpus), nodes) == line


@pytest.mark.parametrize(("cpus", "gpus"), [(0, 0), (-1, 0), (1, -1)])
def test_no_cpus_or_a_negative_gpu_share_is_refused_before_ray_starts(cpus, gpus):
    with pytest.raises(BenchError, match="per-trial"):
        RayOptions(cpus_per_trial=cpus, gpus_per_trial=gpus)
