"""A searcher added from outside the package: a class with ``batch``, ``suggest``, ``observe``
and ``describe``, registered in one line (``SEARCHERS[name] = cls``; a fixture takes it out
again) and named by ``searcher:`` in a search file. ``bench tune`` trains exactly what it
proposes, an adaptive one (``batch = 1``) proposes each configuration from the scores of
those before it, and a search killed midway resumes to what the unbroken one stored."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from test_tune import QUIET, TUNE_FAST, curves, faked_corpus, fast_search, killed_after

from bench.run import select_trials
from bench.tune.search import tune_grid
from bench.tune.searchers import SEARCHERS, Dimension
from bench.tune.space import Search, load_search
from bench.tune.store import TuningKey, read_choice, read_configuration

pytestmark = pytest.mark.slow  # searches trained end to end
KEY = TuningKey("synthetic", "stateless", 1)
LISTED_LR = [0.0025, 0.0004, 0.0012]


def middle(space: Mapping[str, Dimension]) -> dict[str, Any]:
    return {key: dimension.value(0.5) for key, dimension in space.items()}


class Listed:
    """Learning rates from a fixed list, every other key at the middle of its range."""

    batch = None

    def __init__(self, space: Mapping[str, Dimension], seed: int):
        self.space, self.given = space, 0

    def suggest(self, n: int) -> list[dict[str, Any]]:
        rates = LISTED_LR[self.given : self.given + n]
        self.given += n
        return [middle(self.space) | {"train.lr": lr} for lr in rates]

    def observe(self, values: dict[str, Any], score: float | None) -> None:
        """The list is fixed."""

    @classmethod
    def describe(cls, seed: int) -> str:
        return "a listed toy"


class Climbing:
    """Adaptive: starts at ``start`` and then proposes 1.5 times the learning rate with the
    best score so far (at most 0.003), one configuration at a time."""

    batch = 1

    def __init__(self, space: Mapping[str, Dimension], seed: int, start: float = 0.0004):
        self.space, self.lr = space, start
        self.observed: list[tuple[float, float | None]] = []

    def suggest(self, n: int) -> list[dict[str, Any]]:
        return [middle(self.space) | {"train.lr": self.lr} for _ in range(n)]

    def observe(self, values: dict[str, Any], score: float | None) -> None:
        self.observed.append((values["train.lr"], score))
        scored = [(s, lr) for lr, s in self.observed if s is not None]
        self.lr = min(max(scored)[1] * 1.5, 0.003) if scored else self.lr

    @classmethod
    def describe(cls, seed: int, start: float = 0.0004) -> str:
        return f"a climbing toy from {start}"


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SEARCHERS, "listed", Listed)  # the one line that registers each
    monkeypatch.setitem(SEARCHERS, "climbing", Climbing)


@pytest.fixture
def corpus(tiny_corpus_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return faked_corpus(tiny_corpus_root, tmp_path, monkeypatch)


def searched_by(tmp_path: Path, lines: str) -> Search:
    """The fast search of ``test_tune`` (ASHA rungs at epochs 1, 2, 4) with ``lines``."""
    path = tmp_path / "toy.yaml"
    path.write_text(fast_search(tmp_path).path.read_text() + lines)
    return load_search(path)


def test_a_registered_searcher_proposes_what_is_trained(registered, corpus, tmp_path):
    search = searched_by(tmp_path, "searcher: listed\n")
    assert search.configurations(3) == [middle(search.space) | {"train.lr": lr} for lr in LISTED_LR]
    selection = select_trials(overrides=[corpus, *TUNE_FAST], variants=["stateless"], folds=[1])
    root = tmp_path / "tuning"
    summary = tune_grid(selection, root, search, budget=3, executor="local", options=QUIET)
    assert summary.ok and summary.trained == 3
    stored = [read_configuration(root, KEY, i) for i in range(3)]
    assert [r.values["train.lr"] for r in stored] == LISTED_LR  # trained what it proposed
    choice = read_choice(root, KEY)
    assert "a listed toy, ASHA" in choice.described and choice.tried == 3


def test_an_adaptive_searcher_sees_each_score_and_a_resumed_search_agrees(
    registered, corpus, tmp_path
):
    search = searched_by(tmp_path, "searcher: climbing\nsearcher_options: {start: 0.0005}\n")
    selection = select_trials(overrides=[corpus, *TUNE_FAST], variants=["stateless"], folds=[1])
    root = tmp_path / "whole"
    summary = tune_grid(selection, root, search, budget=3, executor="local", options=QUIET)
    assert summary.ok and summary.trained == 3 and KEY in summary.chosen
    stored = [read_configuration(root, KEY, i) for i in range(3)]
    replayed = Climbing(search.space, 0, start=0.0005)
    for record in stored:  # each was proposed from the scores stored before it
        assert record.values == replayed.suggest(1)[0]
        replayed.observe(record.values, record.score)
    assert stored[0].values["train.lr"] == 0.0005
    assert stored[1].values["train.lr"] == pytest.approx(0.00075)

    resumed = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        tune_grid(selection, resumed, search, budget=3, executor=killed_after(1), options=QUIET)
    assert read_choice(resumed, KEY) is None and read_configuration(resumed, KEY, 1) is None
    again = tune_grid(selection, resumed, search, budget=3, executor="local", options=QUIET)
    assert again.skipped == 1 and again.trained == 2
    assert curves(resumed, KEY, 3) == curves(root, KEY, 3)  # the same search as unbroken
    assert again.chosen == summary.chosen
