"""The equal-epoch budget of ``bench tune`` (``budget_epochs``) and the compute a tuned
report shows per search: every variant's search trains the same epochs, in Sobol order,
reproducibly and resumably; a report states the epochs each search spent and the
configurations ASHA stopped.

The executor's logic is tested with scripted learning curves (no training); one search per
variant then trains end to end on the tiny corpus with faked features, as in
``test_tune.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_tune import QUIET, TUNE_FAST, curves, faked_corpus, killed_after

from bench.errors import BenchError
from bench.report.tuning import tuning_view
from bench.run import select_trials
from bench.tune import executors
from bench.tune.apply import Tuning
from bench.tune.executors import Schedule, search_local
from bench.tune.search import PlannedConfiguration, PlannedSearch, tune_grid
from bench.tune.space import Scheduler, Search, load_search
from bench.tune.store import (
    Choice,
    ConfigurationRecord,
    TuningKey,
    read_choice,
    read_configuration,
    write_choice,
    write_configuration,
)

KEY = TuningKey("synthetic", "stateless", 1)


def budget_search(tmp_path: Path, epochs: int, cap: int = 12) -> Search:
    """The shipped default space with ASHA rungs at epochs 1, 2 and 4, at most ``cap``
    configurations and an equal-epoch budget of ``epochs``."""
    text = load_search().path.read_text()
    for old, new in [("grace_period: 5", "grace_period: 1"), ("budget: 16", f"budget: {cap}"),
                     ("reduction_factor: 3", "reduction_factor: 2")]:  # fmt: skip
        text = text.replace(old, new)
    path = tmp_path / f"budget{epochs}.yaml"
    path.write_text(f"{text}budget_epochs: {epochs}\n")
    return load_search(path)


# -- the search file ----------------------------------------------------------------------


def test_the_shipped_equal_epoch_search_is_the_ramp_search_under_a_budget() -> None:
    equal, ramp = load_search("equal_epochs"), load_search("ramp")
    assert equal.settings.budget_epochs == 240 and ramp.settings.budget_epochs is None
    assert equal.configurations(64) == ramp.configurations(64)  # the same points, in order
    assert "an equal-epoch budget of 240 epochs per search" in equal.describe()
    assert "equal-epoch" not in ramp.describe()


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "{path}: budget_epochs must be at least 1"),
     ("many", "budget_epochs must be int or null, not str 'many' (from {path})")],
)  # fmt: skip
def test_a_bad_epoch_budget_is_refused_naming_the_file(tmp_path: Path, value, message) -> None:
    path = tmp_path / "search.yaml"
    path.write_text(f"{load_search().path.read_text()}budget_epochs: {value}\n")
    with pytest.raises(BenchError, match=re.escape(message.format(path=path))):
        load_search(path)


# -- the local executor under a budget (scripted curves) -----------------------------------


def scripted(monkeypatch: pytest.MonkeyPatch, lengths: dict[str, int], fail: str = "") -> None:
    """Replace training: configuration ``name`` reports ``lengths[name]`` epochs, every one
    eligible, its validation CCC rising; ``fail`` raises after its first epoch."""

    def train(work: dict[str, Any], inputs: Any, report: Any) -> None:
        for epoch in range(lengths[work["trial_id"]]):
            report({"epoch": epoch, "val_ccc_avg": 0.1 * epoch, "eligible": True})
            if work["trial_id"] == fail:
                raise RuntimeError("diverged")

    monkeypatch.setattr(executors, "train_configuration", train)


def run_scripted(names: list[str], budget: int | None) -> list[tuple[str, str, int]]:
    """Run ``names`` under no ASHA stop (one rung, at the last epoch) and the epoch
    ``budget``; (name, status, epochs) as each ends, ``failed`` for a failure."""
    ended: list[tuple[str, str, int]] = []
    epochs: dict[str, int] = {}

    def on_epoch(work: dict, row: dict) -> None:
        epochs[work["trial_id"]] = epochs.get(work["trial_id"], 0) + 1

    def on_done(work: dict, status: str) -> None:
        ended.append((work["trial_id"], status, epochs[work["trial_id"]]))

    def on_fail(work: dict, error: str) -> None:
        ended.append((work["trial_id"], "failed", epochs[work["trial_id"]]))

    schedule = Schedule(Scheduler(10, 2), 10, epoch_budget=budget)
    search_local([{"trial_id": n} for n in names], None, schedule, on_epoch, on_done, on_fail)
    return ended


def test_the_budget_cuts_the_configuration_that_spends_it_and_starts_no_other(monkeypatch):
    scripted(monkeypatch, {"a": 10, "b": 10, "c": 10})
    assert run_scripted(["a", "b", "c"], 14) == [("a", "finished", 10), ("b", "cut", 4)]
    assert run_scripted(["a", "b", "c"], None) == [(n, "finished", 10) for n in "abc"]


def test_a_configuration_whose_last_epoch_spends_the_budget_finishes(monkeypatch):
    scripted(monkeypatch, {"a": 10, "b": 10, "c": 10})  # 10: train.epochs, the last
    assert run_scripted(["a", "b", "c"], 20) == [("a", "finished", 10), ("b", "finished", 10)]


def test_a_failure_under_a_budget_ends_the_search_since_the_next_depends_on_it(monkeypatch):
    scripted(monkeypatch, {"a": 10, "b": 10, "c": 10}, fail="b")
    assert run_scripted(["a", "b", "c"], 25) == [("a", "finished", 10), ("b", "failed", 1)]
    unbudgeted = [("a", "finished", 10), ("b", "failed", 1), ("c", "finished", 10)]
    assert run_scripted(["a", "b", "c"], None) == unbudgeted


# -- which stored records a budgeted search keeps ------------------------------------------


def record(index: int, epochs: int, status: str = "finished") -> ConfigurationRecord:
    history = [{"epoch": e, "val_ccc_avg": 0.5, "eligible": True} for e in range(epochs)]
    return ConfigurationRecord.from_history(index, {}, "digest", status, history)


def planned(budget_epochs: int, cap: int = 4) -> PlannedSearch:
    configurations = [PlannedConfiguration(KEY, i, {}, {}, "digest", None) for i in range(cap)]
    return PlannedSearch(KEY, "base", 10, configurations, {}, budget_epochs)


@pytest.mark.parametrize(
    ("budget", "stored", "kept", "first"),
    [
        (15, [(6,), (6,), (3, "cut")], 3, None),  # 6 + 6 + 3: spent, complete
        (20, [(6,), (6,), (3, "cut")], 2, 2),  # room for 8: the cut one trains again
        (10, [(6,), (6,), (3, "cut")], 1, 1),  # room for 4: the second is cut there
        (12, [(6,), (6, "stopped"), (3, "cut")], 2, None),  # ASHA ended the second at 6
        (30, [(6,), None, (6,)], 1, 1),  # a missing record: training resumes there
        (30, [(6,), (2, "stopped"), (6,), (1,)], 4, None),  # every configuration ran
    ],
)
def test_a_budgeted_search_keeps_the_records_that_fit_in_order(budget, stored, kept, first):
    records = {i: record(i, *r) for i, r in enumerate(stored) if r is not None}
    search = planned(budget)
    assert search.in_budget(records) == ([records[i] for i in range(kept)], first)
    assert search.complete(records) == (None if first else [records[i] for i in range(kept)])


# -- end to end -----------------------------------------------------------------------------


@pytest.fixture
def corpus(tiny_corpus_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return faked_corpus(tiny_corpus_root, tmp_path, monkeypatch)


def spent(root: Path, key: TuningKey) -> tuple[int, list[ConfigurationRecord]]:
    """The epochs the stored search spent, and the records its choice was made among."""
    tried = read_choice(root, key).tried
    kept = [read_configuration(root, key, i) for i in range(tried)]
    return sum(len(r.history) for r in kept), kept


@pytest.mark.slow
def test_every_variant_trains_the_same_epochs_reproducibly_and_resumably(corpus, tmp_path):
    """A scheduled-sampling variant and one without spend the same 30 epochs, their
    configurations in Sobol order, the last cut; a search killed midway resumes to the same
    records; a larger budget keeps the configurations that fit and trains the cut one
    again."""
    variants = ["mamba_ema", "stateless"]
    selection = select_trials(overrides=[corpus, *TUNE_FAST], variants=variants, folds=[1])
    search, root = budget_search(tmp_path, 30), tmp_path / "tuning"
    with pytest.raises(BenchError, match="budget_epochs .* --executor local"):
        tune_grid(selection, root, search, executor="ray", options=QUIET)
    assert not root.exists()  # refused before anything was written
    summary = tune_grid(selection, root, search, executor="local", options=QUIET)
    assert summary.ok and len(summary.chosen) == 2
    tried = {}
    for variant in variants:
        key = TuningKey("synthetic", variant, 1)
        epochs, kept = spent(root, key)
        assert epochs == 30  # the same compute for every variant
        assert [r.values for r in kept] == search.configurations(len(kept))  # in Sobol order
        assert all(r.status != "cut" for r in kept[:-1])
        assert len(list(key.folder(root).glob("config-*.json"))) == len(kept)  # none beyond
        best = max((r for r in kept if r.score is not None), key=lambda r: r.score)
        assert summary.chosen[key].index == best.index
        tried[variant] = len(kept)
    assert summary.trained == sum(tried.values())

    stateless = TuningKey("synthetic", "stateless", 1)
    one = select_trials(overrides=[corpus, *TUNE_FAST], variants=["stateless"], folds=[1])
    resumed = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        tune_grid(one, resumed, search, executor=killed_after(2), options=QUIET)
    assert read_choice(resumed, stateless) is None
    again = tune_grid(one, resumed, search, executor="local", options=QUIET)
    assert again.skipped == 2 and again.trained == tried["stateless"] - 2
    assert curves(resumed, stateless, tried["stateless"]) == curves(
        root, stateless, tried["stateless"]
    )  # the same search as the unbroken one

    cut = spent(root, stateless)[1][-1].status == "cut"  # a cut record trains again
    larger = budget_search(tmp_path, 40)
    grown = tune_grid(one, root, larger, executor="local", options=QUIET)
    assert spent(root, stateless)[0] == 40 and grown.skipped == tried["stateless"] - cut
    assert read_choice(root, stateless).described == larger.describe()


# -- what a report says about compute -------------------------------------------------------


def stored_search(root: Path, variant: str, lengths: list[tuple[int, str]], ramp: int) -> None:
    """A stored search of ``variant``: one record per (epochs, status), the first ``ramp``
    epochs of each not eligible; the choice made among them all."""
    key = TuningKey("synthetic", variant, 1)
    for index, (epochs, status) in enumerate(lengths):
        history = [{"epoch": e, "val_ccc_avg": 0.1 * e, "eligible": e >= ramp}
                   for e in range(epochs)]  # fmt: skip
        write_configuration(root, key, ConfigurationRecord.from_history(
            index, {"train.lr": 0.001}, "digest", status, history))  # fmt: skip
    write_choice(root, key, Choice(0, {"train.lr": 0.001}, 0.5, len(lengths), "s", "space",
                                   "base"))  # fmt: skip


def test_a_tuned_report_shows_each_searchs_epochs_and_asha_stops(tmp_path: Path) -> None:
    root = tmp_path / "tuning"
    stored_search(root, "mamba_ema", [(14, "finished"), (9, "stopped"), (12, "cut")], ramp=8)
    stored_search(root, "stateless", [(14, "finished"), (1, "stopped"), (2, "stopped")], ramp=0)
    view = tuning_view(Tuning("fold1", root), "synthetic", ["mamba_ema", "stateless"], [1, 2])
    compute = view.chosen.set_index("variant")[["epochs", "asha_stopped", "cut", "ramp"]]
    assert compute.loc["mamba_ema"].tolist() == [35, 1, 1, True]
    assert compute.loc["stateless"].tolist() == [17, 2, 0, False]
    assert (
        "Compute per search (every epoch trained; tuning.csv): variants with a "
        "scheduled-sampling ramp 35 epochs in 3 configurations, 1 stopped early by ASHA; "
        "variants without one 17 epochs in 3 configurations, 2 stopped early by ASHA."
    ) in view.note
    assert "ASHA's clock counts only epochs eligible for selection" in view.note
    assert "equal-epoch budget (budget_epochs in the search file)" in view.note
