"""The searchers of ``bench tune`` (``searcher:`` in a search file): the default Sobol one
proposes what the committed tunings were made with, ``random`` is seeded, unknown names and
options are refused naming the file, only a searcher other than the default enters the
tuning hash, and one of Ray Tune's own searchers works through the adapter."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bench.errors import BenchError
from bench.resources import REPOSITORY
from bench.tune.searchers import SEARCHERS, RaySearcher
from bench.tune.space import load_search
from bench.tune.store import TuningKey, read_configuration

COMMITTED = REPOSITORY / "tuning"  # bench tune --grid ablations --search ramp --budget 16


def with_searcher(tmp_path: Path, lines: str, name: str = "ramp") -> Path:
    """The shipped search ``name`` with ``lines`` appended, as a file in ``tmp_path``."""
    path = tmp_path / f"{name}-searcher.yaml"
    path.write_text(load_search(name).path.read_text() + lines)
    return path


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="the committed tunings are not here")
@pytest.mark.parametrize("variant", ["mamba_ema", "stateless", "no_film"])
def test_sobol_proposes_the_configurations_the_committed_tunings_stored(variant: str) -> None:
    key = TuningKey("synthetic", variant, 2)
    stored = [read_configuration(COMMITTED, key, i) for i in range(16)]
    assert all(record is not None for record in stored)
    ramp = load_search("ramp")
    assert ramp.settings.searcher == "sobol"  # the default, not named in ramp.yaml
    assert ramp.configurations(16) == [record.values for record in stored]


def test_random_is_seeded_and_extends_a_smaller_budget(tmp_path: Path) -> None:
    search = load_search(with_searcher(tmp_path, "searcher: random\n", "default"))
    many = search.configurations(12)
    assert search.configurations(5) == many[:5] and len({repr(c) for c in many}) == 12
    for key, parameter in search.space.items():
        assert all(parameter.low <= c[key] <= parameter.high for c in many)
    assert many != load_search("default").configurations(12)  # not the Sobol points
    assert "uniform random points (searcher seed 0)" in search.describe()
    other = with_searcher(tmp_path, "searcher: random\nsearcher_seed: 3\n", "default")
    assert load_search(other).configurations(3) != many[:3]


def test_only_a_searcher_other_than_the_default_enters_the_tuning_hash(tmp_path: Path) -> None:
    assert load_search("ramp").identity() == {}  # the committed records stay current
    named = load_search(with_searcher(tmp_path, "searcher: sobol\n"))
    assert named.identity() == {} and named.describe() == load_search("ramp").describe()
    other = load_search(with_searcher(tmp_path, "searcher: random\n"))
    assert other.identity() == {"searcher": "random", "searcher_options": {}}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("searcher: tpe\n", "unknown searcher 'tpe' (known: sobol, random, ray"),
        ("searcher_options: {scramble: false}\n", "searcher_options of sobol (got an unexpected"),
        ("searcher: ray\n", "searcher_options of ray (missing a required argument: 'algorithm')"),
    ],
)
def test_an_unknown_searcher_or_option_is_refused_naming_the_file(tmp_path, lines, message):
    path = with_searcher(tmp_path, lines)
    with pytest.raises(BenchError, match=re.escape(f"{path}: {message}")):
        load_search(path)


def test_the_registry_lists_the_built_in_searchers() -> None:
    assert list(SEARCHERS) == ["sobol", "random", "ray"]


# -- one of Ray Tune's own searchers, through the adapter -----------------------------------


@pytest.fixture
def toy_ray_searcher(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """A ``ray.tune.search.Searcher`` known to Ray as ``toy``: it proposes the middle of the
    cube, then halfway between the best point so far and the origin; the list of what it
    was told (``("space", keys)``, ``("seed", s)``, ``(point, result)``)."""
    search = pytest.importorskip("ray.tune.search")
    told: list[tuple[str, Any]] = []

    class Toy(search.Searcher):
        def __init__(self, metric=None, mode=None, seed: int = 0, step: float = 0.5):
            super().__init__(metric=metric, mode=mode)
            told.append(("seed", seed))
            self.step, self.best, self.scores = step, None, {}
            self.points: dict[str, dict[str, float]] = {}

        def set_search_properties(self, metric, mode, config, **spec) -> bool:
            self._metric, self._mode, self.keys = metric, mode, sorted(config)
            told.append(("space", self.keys))
            return True

        def suggest(self, trial_id: str) -> dict[str, float]:
            start = self.best or dict.fromkeys(self.keys, 0.5 / self.step)
            self.points[trial_id] = {k: start[k] * self.step for k in self.keys}
            return self.points[trial_id]

        def on_trial_complete(self, trial_id, result=None, error=False) -> None:
            told.append((trial_id, None if error else result))
            score = None if error else result[self._metric]
            if score is not None and score > self.scores.get("best", -1.0):
                self.scores["best"], self.best = score, self.points[trial_id]

    monkeypatch.setitem(search.SEARCH_ALG_IMPORT, "toy", lambda: Toy)
    return told


def test_a_ray_searcher_proposes_from_the_scores_it_is_told(toy_ray_searcher) -> None:
    space = load_search("default").space  # dropout, lr, weight decay (sorted)
    searcher = RaySearcher(space, 7, algorithm="toy", step=0.5)
    assert searcher.batch == 1
    [first] = searcher.suggest(1)
    assert first == {k: p.value(0.5) for k, p in space.items()}  # the cube's middle
    searcher.observe(first, 0.25)
    [second] = searcher.suggest(1)
    assert second == {k: p.value(0.25) for k, p in space.items()}  # halfway from the best
    searcher.observe(second, None)  # no eligible epoch: an error, as Ray reports one
    [third] = searcher.suggest(1)
    assert third == {k: p.value(0.25) for k, p in space.items()}  # the best is still first
    assert toy_ray_searcher == [
        ("seed", 7), ("space", ["u0", "u1", "u2"]), ("point0", {"score": 0.25}),
        ("point1", None),
    ]  # fmt: skip
    described = RaySearcher.describe(7, algorithm="toy", step=0.5)
    assert described == "Ray Tune's toy searcher (seed 7, batches of 1, step=0.5)"


def test_a_ray_searcher_refuses_unknown_names_and_options(toy_ray_searcher) -> None:
    space = load_search("default").space
    with pytest.raises(BenchError, match="unknown Ray searcher 'tpe' .*optuna.*toy"):
        RaySearcher(space, 0, algorithm="tpe")
    with pytest.raises(BenchError, match="Ray's toy searcher takes no depth"):
        RaySearcher(space, 0, algorithm="toy", depth=3)
    with pytest.raises(BenchError, match="unknown Ray searcher 'random'"):  # not a Searcher
        RaySearcher(space, 0, algorithm="random")
    with pytest.raises(BenchError, match="batch must be at least 1, not 0"):
        RaySearcher(space, 0, algorithm="toy", batch=0)
