"""The library API under ``bench tune``: the same search for every variant, per fold.

>>> selection = select_trials(grid="ablations", folds=[1])  # doctest: +SKIP
>>> summary = tune_grid(selection, "tuning", budget=16, executor="local")  # doctest: +SKIP
>>> summary.chosen[TuningKey("synthetic", "mamba_ema", 1)].values  # doctest: +SKIP
{'model.dropout': 0.17, 'train.lr': 0.0008, 'train.weight_decay': 0.0001}

For each selected fold and variant, the first ``budget`` configurations of the search
(:mod:`bench.tune.space`) train on the fold's training part and are selected on its
validation part (the protocol's validation rule), under ASHA; the test rows never reach a
worker (:func:`bench.tune.trainable.tuning_inputs`). Every variant gets the same
configurations, training seed, epochs and early-stopping rule; only its ablation switches
differ. Results go to ``tuning/`` (:mod:`bench.tune.store`) as they arrive.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.atomic import Busy
from bench.config import with_values
from bench.errors import BenchError
from bench.paths import ensure_writable_dir
from bench.run.executors import RunOptions, named_executor
from bench.run.identity import selection_identity
from bench.run.inputs import shared_inputs
from bench.run.selection import Selection, check_output_folders, corpus_and_folds, fold_rows
from bench.run.worker import SharedInputs
from bench.train.config import TrialSpec
from bench.tune.executors import Schedule, search_local, search_ray
from bench.tune.space import Search, load_search
from bench.tune.store import (
    Choice,
    ConfigurationRecord,
    TuningKey,
    lock_search,
    read_configuration,
    tuning_hash,
    write_choice,
    write_configuration,
)
from bench.tune.trainable import tuning_inputs
from bench.variants import config_hash, resolve_variant

SearchExecutor = Callable[[list[dict], SharedInputs, Schedule, Callable, Callable, Callable], None]
DEFAULT_ROOT = "tuning"


@dataclass(frozen=True)
class PlannedConfiguration:
    """Configuration ``index`` of a search, with its trial spec and whether it is stored."""

    key: TuningKey
    index: int
    values: dict[str, Any]
    spec: TrialSpec
    digest: str
    stored: ConfigurationRecord | None

    @property
    def name(self) -> str:
        return f"{self.key}/config-{self.index:03d}"

    def work(self) -> dict[str, Any]:
        return {"trial_id": self.name, "fold": self.key.fold, "spec": self.spec}


def _fits(record: ConfigurationRecord, room: int) -> bool:
    """Whether ``record`` is what its configuration trains when it may train ``room``
    epochs: cut at exactly ``room``, or ended on its own within it."""
    epochs = len(record.history)
    return epochs == room if record.status == "cut" else epochs <= room


@dataclass(frozen=True)
class PlannedSearch:
    """One search: a variant on a fold, its configurations, the untuned config hash, the
    data it trains and selects on (:func:`bench.run.identity.selection_identity`), and its
    equal-epoch budget (``budget_epochs`` of the search file; None: none). ``more``: the
    searcher proposes more configurations once those planned have their scores
    (:func:`plan_search`); the search is not complete before."""

    key: TuningKey
    base_hash: str
    epochs: int
    configurations: list[PlannedConfiguration]
    data: dict[str, str]
    budget_epochs: int | None = None
    more: bool = False

    @property
    def stored(self) -> dict[int, ConfigurationRecord]:
        """The current stored records, by configuration index."""
        return {c.index: c.stored for c in self.configurations if c.stored is not None}

    def in_budget(
        self, records: Mapping[int, ConfigurationRecord]
    ) -> tuple[list[ConfigurationRecord], int | None]:
        """Under the equal-epoch budget ``N``: the records of ``records`` the search keeps,
        in index order, and the index of the first configuration to train (None: the search
        is complete).

        Configuration ``i`` belongs to the search while the epochs of configurations
        ``0 .. i-1`` (the lengths of their histories) sum to ``S_i < N``, and it may train
        ``N - S_i`` epochs. Its record is kept where it fits that room: ended on its own
        (finished, or stopped by ASHA) within it, or cut at exactly ``N - S_i``. So the same
        records always make the same search, whenever each was trained; the first record that
        does not fit (missing, or made under another budget) is where training resumes.
        """
        assert self.budget_epochs is not None
        kept: list[ConfigurationRecord] = []
        spent = 0
        for configuration in self.configurations:
            if spent >= self.budget_epochs:
                return kept, None
            record, room = records.get(configuration.index), self.budget_epochs - spent
            if record is None or not _fits(record, room):
                return kept, configuration.index
            kept.append(record)
            spent += len(record.history)
        return kept, (len(self.configurations) if self.more else None)

    @property
    def todo(self) -> list[PlannedConfiguration]:
        """The configurations to train: those not stored; under an equal-epoch budget, every
        one from the first that :meth:`in_budget` does not keep (how many of them train
        depends on the epochs they take)."""
        if self.budget_epochs is None:
            return [c for c in self.configurations if c.stored is None]
        first = self.in_budget(self.stored)[1]
        return [] if first is None else self.configurations[first:]

    @property
    def reused(self) -> int:
        """How many stored configurations the search keeps without training them again."""
        if self.budget_epochs is None:
            return len(self.stored)
        return len(self.in_budget(self.stored)[0])

    def complete(
        self, records: Mapping[int, ConfigurationRecord]
    ) -> list[ConfigurationRecord] | None:
        """The records a choice is made among once the search is complete, in index order;
        None while it is not: every configuration's, or under an equal-epoch budget those
        :meth:`in_budget` keeps once it has none left to train."""
        if self.budget_epochs is not None:
            kept, first = self.in_budget(records)
            return kept if first is None else None
        if self.more or len(records) < len(self.configurations):
            return None
        return [records[c.index] for c in self.configurations]


def plan_search(
    selection: Selection,
    search: Search,
    budget: int,
    root: Path,
    variant: str,
    fold: int,
    data: dict[str, str],
) -> PlannedSearch:
    """The configurations of one search, each marked stored when its record is current: made
    with the same configuration and search settings (its searcher among them,
    :meth:`bench.tune.space.Search.identity`), on the same ``data`` (the fold's
    :func:`bench.run.identity.selection_identity`).

    A new searcher proposes them in rounds of its ``batch`` (one round of ``budget`` when
    that is None: :mod:`bench.tune.searchers`). While every configuration of a round is
    stored, the searcher is told their scores and asked for the next round; the plan ends
    with the first round that has one to train, or at ``budget``. So a search planned again
    after a round was trained (or a resumed one) proposes what an unbroken one did.
    """
    protocol = selection.protocol
    base = resolve_variant(variant, protocol, selection.overrides)
    key = TuningKey(protocol.name, variant, fold)
    settings = {"scheduler": asdict(search.settings.scheduler), "clock": "eligible epochs",
                "training_seed": search.settings.training_seed, **search.identity()}  # fmt: skip
    searcher = search.searcher()
    planned: list[PlannedConfiguration] = []
    while len(planned) < budget:
        batch = searcher.batch or budget
        proposed = searcher.suggest(min(batch, budget - len(planned)))
        for index, values in enumerate(proposed, start=len(planned)):
            config = with_values(base, values, f"configuration {index} of {search.path}")
            digest = tuning_hash(config_hash(config, protocol, data=data), settings)
            stored = read_configuration(root, key, index)
            current = stored is not None and stored.tuning_hash == digest
            current = current and stored.values == values
            spec = replace(config, seed=search.settings.training_seed)
            planned.append(
                PlannedConfiguration(key, index, values, spec, digest, stored if current else None)
            )
        round_ = planned[-len(proposed) :]
        if any(c.stored is None for c in round_):
            break
        for configuration in round_:
            searcher.observe(configuration.values, configuration.stored.score)
    base_hash = config_hash(base, protocol)
    epochs = base.train.epochs
    return PlannedSearch(key, base_hash, epochs, planned, data, search.settings.budget_epochs,
                         more=len(planned) < budget)  # fmt: skip


def choose(search: Search, planned: PlannedSearch, records: list[ConfigurationRecord]) -> Choice:
    """The configuration with the highest score (ties: the lower index).

    Raises:
        BenchError: no configuration has a score (each stopped before an eligible epoch).
    """
    scored = [r for r in records if r.score is not None]
    if not scored:
        raise BenchError(f"{planned.key}: no configuration reached an epoch eligible for "
                         "selection; raise scheduler.grace_period")  # fmt: skip
    best = max(scored, key=lambda r: (r.score, -r.index))
    return Choice(
        index=best.index,
        values=best.values,
        score=best.score,
        tried=len(records),
        search=search.name,
        described=search.describe(),
        base_hash=planned.base_hash,
        data=planned.data,
    )


@dataclass
class TuneSummary:
    """What a tuning run did: configurations trained, found stored, failed; busy searches;
    the choice of every search whose budget is complete."""

    trained: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    busy: list[TuningKey] = field(default_factory=list)
    chosen: dict[TuningKey, Choice] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.busy


def search_executor(
    executor: str | SearchExecutor, options: RunOptions, root: Path
) -> SearchExecutor:
    """The search executor named ``ray`` or ``local``, or ``executor`` itself."""
    return named_executor(executor, options, root, search_local, lambda: search_ray)


def _run_search(
    planned: PlannedSearch,
    replan: Callable[[], PlannedSearch],
    train: Callable[[PlannedSearch], dict[int, ConfigurationRecord]],
    bar: tqdm,
) -> tuple[PlannedSearch, dict[int, ConfigurationRecord]]:
    """Train the missing configurations of one search (``train``: :func:`_train_round`); the
    last plan and the search's records by index.

    While the searcher has more to propose (:attr:`PlannedSearch.more`), each round trained
    whole is followed by the next, which ``replan`` plans from the stored scores; a round
    with a configuration that failed, or that an epoch budget left out, ends the search here
    (a rerun resumes it).
    """
    records = train(planned)
    while planned.more and planned.todo and all(c.index in records for c in planned.todo):
        planned = replan()
        bar.total += len(planned.todo)
        bar.refresh()
        records = train(planned)
    return planned, records


def _train_round(
    planned: PlannedSearch,
    inputs: SharedInputs,
    search: Search,
    run: SearchExecutor,
    root: Path,
    bar: tqdm,
    summary: TuneSummary,
) -> dict[int, ConfigurationRecord]:
    """Train the planned configurations not stored yet, storing each as it ends; the
    search's records by index, the stored ones and the new.

    ASHA replays the stored curves the search keeps; under an equal-epoch budget those of
    :meth:`PlannedSearch.in_budget`, and the executor is given the epochs left
    (:class:`bench.tune.executors.Schedule`), so configurations the budget leaves out never run.
    """
    todo = planned.todo
    by_name = {c.name: c for c in todo}
    curves: dict[str, list[dict]] = {name: [] for name in by_name}
    records = planned.stored
    ended: set[str] = set()  # configurations the executor ended (done or failed)

    def on_epoch(work: dict, row: dict) -> None:
        curves[work["trial_id"]].append(row)
        bar.set_postfix_str(f"{planned.key} config {work['trial_id'][-3:]} epoch {row['epoch']}")

    def on_done(work: dict, status: str) -> None:
        ended.add(work["trial_id"])
        configuration = by_name[work["trial_id"]]
        record = ConfigurationRecord.from_history(
            configuration.index, configuration.values, configuration.digest, status,
            curves[configuration.name],
        )  # fmt: skip
        try:
            write_configuration(root, planned.key, record)
        except OSError:
            on_fail(work, traceback.format_exc())
            return
        records[record.index] = record
        summary.trained += 1
        bar.update(1)

    def on_fail(work: dict, error: str) -> None:
        ended.add(work["trial_id"])
        summary.failed[work["trial_id"]] = error
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        bar.write(f"FAILED {work['trial_id']}: {last}")
        bar.update(1)

    if planned.budget_epochs is None:
        kept, left = list(records.values()), None
    else:
        kept = planned.in_budget(records)[0]
        left = planned.budget_epochs - sum(len(record.history) for record in kept)
    replayed = {planned.configurations[r.index].name: r.history for r in kept}
    schedule = Schedule(search.settings.scheduler, planned.epochs, replayed, left)
    if by_name:
        run([c.work() for c in todo], inputs, schedule, on_epoch, on_done, on_fail)
    if len(ended) < len(todo):  # left out by the epoch budget (or a failure under it)
        bar.total -= len(todo) - len(ended)
        bar.refresh()
    return records


def tune_grid(
    selection: Selection,
    root: str | Path = DEFAULT_ROOT,
    search: Search | None = None,
    budget: int | None = None,
    executor: str | SearchExecutor = "ray",
    options: RunOptions | None = None,
) -> TuneSummary:
    """Tune every selected variant on every selected fold with the same search.

    ``search``: default ``variants/search/default.yaml``; ``budget``: configurations per
    search (default: the search file's). Stored configurations are not trained again; the
    choice of a search is written once its whole budget is stored.

    Raises:
        BenchError: an unwritable folder, an unknown fold, or bad configuration.
    """
    began, root = time.perf_counter(), Path(root)
    options = options or RunOptions()
    search = search or load_search()
    budget = budget or search.settings.budget
    if search.settings.budget_epochs is not None and executor == "ray":
        raise BenchError(
            f"{search.path}: budget_epochs trains a search's configurations one at a time, in "
            "order (the epochs the next may train depend on those before it), which Ray's "
            "parallel search does not; run bench tune with --executor local"
        )
    check_output_folders(selection.protocol, None)
    ensure_writable_dir(root, "tuning folder")
    ensure_writable_dir(selection.protocol.features.cache_dir, "feature cache folder")
    run = search_executor(executor, options, root)
    corpus, folds = corpus_and_folds(selection, options.progress)
    identities = {n: selection_identity(corpus.table, r) for n, r in fold_rows(folds).items()}
    replans = {
        (fold, variant): functools.partial(
            plan_search, selection, search, budget, root, variant, fold, identity
        )
        for fold, identity in identities.items()
        for variant in selection.variants
    }
    plans = {which: replan() for which, replan in replans.items()}
    summary = TuneSummary()
    summary.skipped = sum(p.reused for p in plans.values())
    todo = sum(len(p.todo) for p in plans.values())
    shared = None
    if todo:
        shared = shared_inputs(selection.protocol, corpus, folds, options.progress)
    bar = tqdm(total=todo, desc="configurations", unit="config", disable=not options.progress)
    try:
        for number in folds:
            inputs = None if shared is None else tuning_inputs(shared, number)
            train = functools.partial(_train_round, inputs=inputs, search=search, run=run,
                                      root=root, bar=bar, summary=summary)  # fmt: skip
            for variant in selection.variants:
                planned, replan = plans[(number, variant)], replans[(number, variant)]
                try:
                    with lock_search(root, planned.key):
                        planned, records = _run_search(planned, replan, train, bar)
                        among = planned.complete(records)
                        if among is not None:
                            choice = choose(search, planned, among)
                            write_choice(root, planned.key, choice)
                            summary.chosen[planned.key] = choice
                except Busy as exc:
                    summary.busy.append(planned.key)
                    bar.write(f"skipped: {exc}")
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - began
    return summary
