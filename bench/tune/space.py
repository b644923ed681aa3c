"""The search of ``bench tune``: a space of nuisance hyperparameters, read from
``variants/search/<name>.yaml``, and the searcher that proposes its configurations.

The searcher is named by ``searcher:`` (:data:`bench.tune.searchers.SEARCHERS`; its keyword
arguments in ``searcher_options:``). The default, ``sobol``, gives the first ``budget``
points of a scrambled Sobol sequence (``scipy.stats.qmc``) seeded by ``searcher_seed``,
mapped through each parameter's distribution. They depend on nothing else, so every variant
and fold gets the same configurations, and a larger budget extends a smaller one (the
sequence is a prefix). An adaptive searcher proposes in rounds, from the scores so far
(:meth:`Search.searcher`).

An equal-epoch budget (``budget_epochs: N``) gives every variant the same training compute
instead of the same number of configurations: the configurations run in index order, one
at a time, while the epochs they trained (every epoch, eligible or not) sum to less than
``N``; the one that reaches ``N`` is cut there (status ``cut``), and ``budget`` caps how many
may run. So every search trains exactly ``N`` epochs, unless its ``budget`` configurations
end first (:meth:`bench.tune.search.PlannedSearch.in_budget`).

>>> search = load_search()
>>> first = search.configurations(4)
>>> sorted(first[0]) == sorted(search.space) and search.configurations(2) == first[:2]
True
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import (
    Origins,
    check_range,
    check_type,
    config_from_dict,
    field_range,
    leaf_fields,
    load_yaml,
)
from bench.errors import BenchError
from bench.resources import variants_dir
from bench.train.config import TrialSpec
from bench.tune.searchers import DEFAULT_SEARCHER, SEARCHERS, Searcher

DISTRIBUTIONS = ("uniform", "log_uniform", "choice")
# Never searched: the ablation switches are what a grid compares, the epoch budget and
# early stopping must be equal for every configuration, and a search over the seed offset
# would pick a lucky seed.
SCIENTIFIC = (
    "model.updater", "model.film", "model.prosody", "model.feedback", "model.ema",
    "train.epochs", "train.patience", "train.seed_offset",
)  # fmt: skip
DEFAULT_SEARCH = "default"


@dataclass(frozen=True)
class Parameter:
    """One searched key: ``uniform`` or ``log_uniform`` on ``[low, high]``, or a ``choice``
    among ``values``. ``value(u)`` maps ``u`` in [0, 1) onto it:
    uniform ``low + u (high - low)``; log-uniform ``low (high / low)^u``; choice
    ``values[floor(u len(values))]``.

    >>> Parameter("log_uniform", 1e-4, 1e-2).value(0.5)
    0.001
    """

    distribution: str
    low: float | None = None
    high: float | None = None
    values: tuple[Any, ...] | None = None

    def check(self, key: str) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise BenchError(f"{key}: distribution must be one of {', '.join(DISTRIBUTIONS)}")
        if self.distribution == "choice":
            if not self.values:
                raise BenchError(f"{key}: a choice needs a non-empty list of values")
            return
        if self.low is None or self.high is None or not self.low < self.high:
            raise BenchError(f"{key}: needs low < high")
        if self.distribution == "log_uniform" and self.low <= 0:
            raise BenchError(f"{key}: a log-uniform range needs low > 0")

    def value(self, u: float) -> Any:
        """The value at ``u``; a number is rounded to 6 significant digits."""
        if self.distribution == "choice":
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        if self.distribution == "uniform":
            number = self.low + u * (self.high - self.low)
        else:
            number = math.exp(math.log(self.low) + u * math.log(self.high / self.low))
        return float(f"{number:.6g}")

    def describe(self) -> str:
        if self.distribution == "choice":
            return "{" + ", ".join(map(str, self.values)) + "}"
        kind = "log-uniform" if self.distribution == "log_uniform" else "uniform"
        return f"{kind} [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Scheduler:
    """ASHA (Li et al. 2020): rungs at ``grace_period * reduction_factor**k`` epochs eligible
    for selection (after a scheduled-sampling ramp; :func:`bench.tune.trainable.is_eligible`); a
    configuration reaching a rung goes on only if its validation CCC-avg is among the best
    ``1 / reduction_factor`` of those recorded at that rung so far."""

    grace_period: int = 5
    reduction_factor: int = 3

    def __post_init__(self) -> None:
        if self.grace_period < 1 or self.reduction_factor < 2:
            raise BenchError("scheduler: need grace_period >= 1 and reduction_factor >= 2")


@dataclass(frozen=True)
class SearchFile:
    """The keys of ``variants/search/<name>.yaml``; ``space`` maps a dotted key to the
    fields of a :class:`Parameter`. ``budget``: configurations per search, or with
    ``budget_epochs`` (epochs per search, None: no limit) the most that may run.
    ``searcher``: a name in :data:`bench.tune.searchers.SEARCHERS`, built with
    ``searcher_seed`` and the keyword arguments ``searcher_options``."""

    space: dict[str, Any] = field(default_factory=dict)
    budget: int = 16
    budget_epochs: int | None = None
    searcher: str = DEFAULT_SEARCHER
    searcher_options: dict[str, Any] = field(default_factory=dict)
    searcher_seed: int = 0
    training_seed: int = 0
    scheduler: Scheduler = field(default_factory=Scheduler)


@dataclass(frozen=True)
class Search:
    """A loaded search: its name, file, checked space and settings (:class:`SearchFile`)."""

    name: str
    path: Path
    space: dict[str, Parameter]
    settings: SearchFile

    def searcher(self) -> Searcher:
        """A new searcher of this search (:mod:`bench.tune.searchers`), before any score."""
        settings = self.settings
        kind = SEARCHERS[settings.searcher]
        return kind(self.space, settings.searcher_seed, **settings.searcher_options)

    def configurations(self, budget: int) -> list[dict[str, Any]]:
        """The first ``budget`` configurations a new searcher proposes before any score:
        ``{key: value}`` over the space's keys (a search of an adaptive searcher asks for
        the later ones with the scores of the earlier)."""
        return self.searcher().suggest(budget)

    def identity(self) -> dict[str, Any]:
        """What the searcher adds to a configuration's tuning hash: nothing for the default
        searcher (so the configurations stored before searchers were named stay current),
        else its name and options."""
        settings = self.settings
        if settings.searcher == DEFAULT_SEARCHER and not settings.searcher_options:
            return {}
        return {"searcher": settings.searcher, "searcher_options": settings.searcher_options}

    def describe(self) -> str:
        """One line for a report legend: the space, searcher and scheduler."""
        space = "; ".join(f"{k} {p.describe()}" for k, p in sorted(self.space.items()))
        settings = self.settings
        searcher = SEARCHERS[settings.searcher].describe(
            settings.searcher_seed, **settings.searcher_options
        )
        rule = self.settings.scheduler
        equal = ""
        if self.settings.budget_epochs is not None:
            equal = (
                f"; an equal-epoch budget of {self.settings.budget_epochs} epochs per search "
                "(configurations in order until it is spent, the last one cut there)"
            )
        return (
            f"{space}; {searcher}, ASHA on validation CCC-avg (grace {rule.grace_period} "
            f"eligible epochs, reduction factor {rule.reduction_factor}){equal}"
        )


def _is_path(name: str | Path) -> bool:
    return str(name).endswith((".yaml", ".yml"))


def search_path(name: str | Path) -> Path:
    """``variants/search/<name>.yaml``, or ``name`` itself when it is a YAML path."""
    if _is_path(name):
        return Path(name)
    return variants_dir() / "search" / f"{name}.yaml"


def _is_scientific(key: str) -> bool:
    return any(key == s or key.startswith(s + ".") for s in SCIENTIFIC)


def searchable_keys() -> dict[str, tuple[Any, dataclasses.Field]]:
    """Every key a search may vary, with its type hint and dataclass field: the ``model.*``
    and ``train.*`` settings of :class:`bench.train.config.TrialSpec` except ``SCIENTIFIC``.

    >>> "model.dropout" in searchable_keys(), "model.updater" in searchable_keys()
    (True, False)
    """
    return {
        key: typed
        for key, typed in leaf_fields(TrialSpec).items()
        if key.split(".", 1)[0] in ("model", "train") and not _is_scientific(key)
    }


def _check_fits(
    where: str, key: str, parameter: Parameter, hint: Any, field_: dataclasses.Field
) -> None:
    """Refuse a parameter whose values ``key`` cannot take: a choice value of the wrong type
    or out of the key's range (:func:`bench.config.ranged`), a (log-)uniform range (it gives
    floats) on a key that takes no float, or a range whose ``low`` or ``high`` lies outside
    the key's. Both ends are checked, even an open one: values are rounded to 6 significant
    digits, so they can reach it.

    Raises:
        BenchError: ``where`` (the file and key), then what does not fit.
    """
    bounds = field_range(field_)
    if parameter.distribution == "choice":
        try:
            for value in parameter.values:
                check_range(key, bounds, check_type(key, hint, value))
        except BenchError as exc:
            raise BenchError(f"{where}: {exc}") from exc
        return
    try:
        check_type(key, hint, 0.5)
    except BenchError as exc:
        raise BenchError(
            f"{where}: a {parameter.distribution} range gives floats, but {key} takes no "
            "float; list its values in a choice"
        ) from exc
    for end in (parameter.low, parameter.high) if bounds is not None else ():
        if end not in bounds:
            raise BenchError(f"{where} reaches {end:g}, but {key} must {bounds.describe()}")


def load_search(name: str | Path = DEFAULT_SEARCH) -> Search:
    """Read and check a search file.

    Raises:
        BenchError: a missing file or unknown search name, an unknown key or distribution,
            a searched key that is an ablation switch, the epoch budget or the seed offset
            (``SCIENTIFIC``), or values the key cannot take (its type or range); each names
            the file and key.
    """
    path = search_path(name)
    if not path.is_file():
        if _is_path(name):
            raise BenchError(f"search file {path} not found")
        known = ", ".join(sorted(p.stem for p in (variants_dir() / "search").glob("*.yaml")))
        raise BenchError(f"unknown search {str(name)!r} (known: {known})")
    origins = Origins(str(path))
    settings = config_from_dict(SearchFile, load_yaml(path), "", origins)
    if not settings.space:
        raise BenchError(f"{path}: the space is empty")
    space = {
        key: config_from_dict(Parameter, values, f"space.{key}.", origins)
        for key, values in settings.space.items()
    }
    searchable = searchable_keys()
    for key, parameter in space.items():
        if key.split(".", 1)[0] not in ("model", "train"):
            raise BenchError(f"{path}: {key}: only model.* and train.* keys can be searched")
        if _is_scientific(key):
            raise BenchError(f"{path}: {key} is an ablation switch, the epoch budget or the "
                             "seed offset, never a nuisance hyperparameter")  # fmt: skip
        if key not in searchable:
            raise BenchError(
                f"{path}: unknown key space.{key}; known: {', '.join(sorted(searchable))}"
            )
        parameter.check(f"{path}: {key}")
        _check_fits(f"{path}: space.{key}", key, parameter, *searchable[key])
    if settings.budget < 1:
        raise BenchError(f"{path}: budget must be at least 1")
    if settings.budget_epochs is not None and settings.budget_epochs < 1:
        raise BenchError(f"{path}: budget_epochs must be at least 1 (or null: no limit)")
    _check_searcher(path, settings)
    return Search(Path(name).stem, path, space, settings)


def _check_searcher(path: Path, settings: SearchFile) -> None:
    """Refuse an unknown searcher, or options its class does not take (checked against its
    signature: nothing is built, so a Ray searcher loads no Ray here).

    Raises:
        BenchError: the file, and the known searchers or the searcher's parameters.
    """
    kind = SEARCHERS.get(settings.searcher)
    if kind is None:
        raise BenchError(
            f"{path}: unknown searcher {settings.searcher!r} (known: {', '.join(SEARCHERS)})"
        )
    try:
        inspect.signature(kind).bind({}, settings.searcher_seed, **settings.searcher_options)
    except TypeError as exc:
        taken = list(inspect.signature(kind).parameters)[2:]
        raise BenchError(
            f"{path}: searcher_options of {settings.searcher} ({exc}); it takes "
            f"{', '.join(taken) or 'none'}"
        ) from exc
