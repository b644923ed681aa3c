"""The searchers of ``bench tune``: what proposes the configurations of a search.

A search file names its searcher (``searcher: sobol``, the default) and may pass it keyword
arguments (``searcher_options:``). :data:`SEARCHERS` is the one list of them; adding one is
a class in a new file plus one line there. A searcher is built for each search as
``SEARCHERS[name](space, seed, **options)``, where ``space`` maps each searched key to its
:class:`Dimension` (a :class:`bench.tune.space.Parameter`: ``value(u)`` maps ``u`` in
[0, 1) onto the key's distribution) and ``seed`` is the search file's ``searcher_seed``,
and it offers :class:`Searcher`'s small interface.

A search asks for its configurations in rounds of ``batch`` (all of its budget at once when
``batch`` is None), trains them, tells the searcher each score with ``observe``, and asks
again. A resumed search replays the stored scores into a fresh searcher the same way, so a
searcher must be deterministic given its seed and what it observed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from bench.errors import BenchError

DEFAULT_SEARCHER = "sobol"


class Dimension(Protocol):
    """One searched key, as a searcher sees it (:class:`bench.tune.space.Parameter`)."""

    def value(self, u: float) -> Any:
        """The key's value at ``u`` in [0, 1): its distribution's ``u`` quantile."""
        ...


class Searcher(Protocol):
    """What a search asks of its searcher.

    batch: how many configurations it proposes before it needs their scores; None when its
    proposals depend on no score (the whole budget is then planned, and may train, at once).
    """

    batch: int | None

    def suggest(self, n: int) -> list[dict[str, Any]]:
        """The next ``n`` configurations, each ``{key: value}`` over the space's keys."""
        ...

    def observe(self, values: dict[str, Any], score: float | None) -> None:
        """The score of a configuration it suggested: its best validation CCC-avg, or None
        when it stopped before any epoch eligible for selection."""
        ...

    @classmethod
    def describe(cls, seed: int, **options: Any) -> str:
        """How a report legend names this searcher, e.g. ``scrambled Sobol points
        (searcher seed 0)``."""
        ...


def _points(space: Mapping[str, Dimension], rows: np.ndarray) -> list[dict[str, Any]]:
    """Each row of ``rows`` (``[n, len(space)]`` in [0, 1), columns in sorted key order) as a
    configuration."""
    keys = sorted(space)
    return [{k: space[k].value(float(u)) for k, u in zip(keys, row, strict=True)} for row in rows]


class SobolSearcher:
    """The first points of a scrambled Sobol sequence (``scipy.stats.qmc``) seeded by
    ``seed``: the same configurations for every variant and fold, and a larger budget
    extends a smaller one (the sequence is a prefix)."""

    batch = None

    def __init__(self, space: Mapping[str, Dimension], seed: int):
        from scipy.stats import qmc  # scipy.stats takes ~1.5 s to import; Ray workers skip it

        self.space = space
        self.sampler = qmc.Sobol(len(space), scramble=True, seed=seed)

    def suggest(self, n: int) -> list[dict[str, Any]]:
        with warnings.catch_warnings():  # Sobol's balance warning for a non-power-of-2 n
            warnings.simplefilter("ignore", UserWarning)
            rows = self.sampler.random(n)  # [n, len(space)] in [0, 1)
        return _points(self.space, rows)

    def observe(self, values: dict[str, Any], score: float | None) -> None:
        """Scores change nothing: the sequence is fixed."""

    @classmethod
    def describe(cls, seed: int) -> str:
        return f"scrambled Sobol points (searcher seed {seed})"


class RandomSearcher:
    """Independent uniform points in the unit cube (numpy's default generator seeded by
    ``seed``), mapped through each parameter's distribution; a larger budget extends a
    smaller one."""

    batch = None

    def __init__(self, space: Mapping[str, Dimension], seed: int):
        self.space = space
        self.rng = np.random.default_rng(seed)

    def suggest(self, n: int) -> list[dict[str, Any]]:
        return _points(self.space, self.rng.random((n, len(self.space))))  # [n, d]

    def observe(self, values: dict[str, Any], score: float | None) -> None:
        """Scores change nothing: the points are drawn independently."""

    @classmethod
    def describe(cls, seed: int) -> str:
        return f"uniform random points (searcher seed {seed})"


class RaySearcher:
    """One of Ray Tune's own searchers (``ray.tune.search``: ``optuna``, ``hyperopt``,
    ``bayesopt``, ...; each needs its package installed), through
    :class:`bench.run.ray_adapter.RaySearch`, which asks it for points of the unit cube.

    ``algorithm``: the name ``ray.tune.search.create_searcher`` knows; ``batch``: how many
    configurations it proposes before their scores come back (1: each one sees every score
    before it); ``options``: the searcher's own keyword arguments. ``seed`` is passed on as
    its ``seed`` where it takes one.
    """

    def __init__(
        self, space: Mapping[str, Dimension], seed: int, algorithm: str, batch: int = 1,
        **options: Any,
    ):  # fmt: skip
        from bench.run.ray_adapter import RaySearch

        if batch < 1:
            raise BenchError(f"searcher_options: batch must be at least 1, not {batch}")
        self.space = space
        self.batch = batch
        self.search = RaySearch(algorithm, len(space), seed, options)
        self.suggested: dict[str, str] = {}  # configuration (as text) -> Ray's point id

    def suggest(self, n: int) -> list[dict[str, Any]]:
        found = []
        for _ in range(n):
            point, units = self.search.suggest()
            values = _points(self.space, np.array([units]))[0]
            self.suggested[repr(sorted(values.items()))] = point
            found.append(values)
        return found

    def observe(self, values: dict[str, Any], score: float | None) -> None:
        self.search.observe(self.suggested.pop(repr(sorted(values.items()))), score)

    @classmethod
    def describe(cls, seed: int, algorithm: str, batch: int = 1, **options: Any) -> str:
        given = "".join(f", {key}={value}" for key, value in sorted(options.items()))
        return f"Ray Tune's {algorithm} searcher (seed {seed}, batches of {batch}{given})"


SEARCHERS: dict[str, type[Searcher]] = {
    "sobol": SobolSearcher,
    "random": RandomSearcher,
    "ray": RaySearcher,
}
