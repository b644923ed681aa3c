"""What a comparison test of ``bench report`` is: the paired data it reads, and the entry that
describes it to the stats table, the legend and the terminal.

A test is one :class:`ComparisonTest` (in the module that holds its statistics) and one line
in :mod:`bench.report.comparisons`, the registry. For each comparison of a variant with the
reference, :func:`bench.report.stats.comparison_rows` hands every test that applies to the
folds at hand one :class:`Paired` and writes what its ``compute`` returns, per dimension
(``v``, ``a``, ``avg``), into the columns it declares. The table then adds, per test:

- ``<p>_holm`` for its difference p-value ``p`` and, where it has one, its TOST p-value
  ``p_tost``: Holm within the primary (CCC-avg) and the secondary (CCC-V, CCC-A) family;
- its verdict in ``verdict_column`` (where it names one): better or worse where its
  difference test rejects after Holm (by the sign of ``delta``), else equivalent where its
  TOST rejects after Holm, else undecided.

Where the folds leave one unit out of one population they are ``resampled``; where they are
a release's own test sets, or another corpus, they are ``fixed``. A test applies to the fold
kinds it has a scope for (``scopes``: what its statement covers there). Which test gives the
row's verdict on each fold kind is a declared choice of the registry
(:data:`bench.report.comparisons.VERDICT`); that test needs ``delta``, ``p``, ``p_tost``
and a t statistic's ``se`` and ``df``, from which the interval beside the verdict is drawn.
Every other test that applies is secondary, and the legend and the terminal list them in the
registry's order, each by its own sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pandas as pd

FoldKind = Literal["resampled", "fixed"]
FOLD_KINDS: tuple[FoldKind, ...] = ("resampled", "fixed")
Columns = dict[str, dict[str, float]]  # per dimension (v, a, avg): column -> value
HOLM_INTERVAL = (
    "with its interval at the level Holm's procedure gives the row (1 - 0.05 p/p_Holm; for "
    "an equivalent verdict the TOST's 1 - 0.1 p/p_Holm), so the interval excludes 0 exactly "
    "when the verdict is better or worse, and lies inside the margin exactly when it is "
    "equivalent"
)  # the legend's words for the interval beside a verdict (bench.report.stats)


def fold_kind(resampled_folds: bool) -> FoldKind:
    """``resampled`` where the folds leave one unit out of one population, else ``fixed``."""
    return "resampled" if resampled_folds else "fixed"


class Described(Protocol):
    """What a test's sentences may say about the report they stand in
    (:class:`bench.report.analysis.Report` has all of it)."""

    @property
    def reference(self) -> str: ...  # the variant every other one is compared with

    @property
    def n_boot(self) -> int: ...  # bootstrap replicates per comparison

    @property
    def seed(self) -> int: ...  # the bootstrap's seed

    @property
    def resampled_folds(self) -> bool: ...  # False: the folds are fixed test sets

    @property
    def fold_tests(self) -> dict[int, str]: ...  # fold -> what it tests, where known

    @property
    def tested(self) -> str: ...  # what a fold's test set is: "session" or "test set"


@dataclass(frozen=True)
class Paired:
    """One comparison, a variant against the reference, paired on the same folds, seeds and
    test utterances: what every comparison test computes its columns from.

    folds: per fold, the bootstrap's moments ``[D_k dialogs, S_k seeds, 2 (variant,
    reference), 2 (valence, arousal), 6]`` (:func:`bench.report.stats.fold_arrays`), in fold
    order; deltas: per paired (fold, seed) trial, its CCC difference (variant minus
    reference) on its whole test set, ``[J trials, 3 (v, a, avg)]`` indexed by (fold, seed)
    in sorted order; n_folds: the folds of the results (a fold that has no pair is not in
    ``folds``); margin: the TOST's equivalence margin in CCC; n_boot: bootstrap replicates;
    rng: the comparison's generator (seeded by the report's seed and the variant's name).
    Tests draw from ``rng`` in the registry's order, so a test registered after the built-in
    ones changes none of their numbers.
    """

    folds: list[np.ndarray]
    deltas: pd.DataFrame
    n_folds: int
    margin: float
    n_boot: int
    rng: np.random.Generator


@dataclass(frozen=True)
class ComparisonTest:
    """One comparison test: its name, where it applies and what it covers there, how it
    computes its columns, which of them the verdicts read, and its sentences.

    name: how the stats table (``test``, where it gives the verdict) and the terminal name
    it; scopes: per fold kind it applies to, what its statement covers there (``across
    sessions``, ``these sessions``, ``these test sets``); columns: its stats.csv columns, in
    order, exactly the keys ``compute`` returns per dimension; compute: those columns of one
    comparison (NaN where the test is undefined); legend: its part of the ablation table's
    legend (the whole sentence for the verdict test, a clause of the "Secondary: ... are in
    stats.csv" sentence otherwise); terminal: its part of the terminal's account of the
    tests; p: its two-sided difference p-value column; p_tost: its TOST p-value column
    ("" without a TOST); delta: its estimate, whose sign reads better or worse; se, df: a t
    statistic's standard error and degrees of freedom (the verdict's interval);
    verdict_column: where its own verdict goes beside the row's ("" none).
    """

    name: str
    scopes: Mapping[FoldKind, str]
    columns: tuple[str, ...]
    compute: Callable[[Paired], Columns]
    legend: Callable[[Described], str]
    terminal: Callable[[Described], str]
    p: str
    p_tost: str = ""
    delta: str = ""
    se: str = ""
    df: str = ""
    verdict_column: str = ""

    @property
    def holm(self) -> dict[str, str]:
        """Its p-value columns and their Holm-corrected ones: ``{raw: raw_holm}``."""
        return {raw: f"{raw}_holm" for raw in (self.p, self.p_tost) if raw}

    @property
    def table_columns(self) -> list[str]:
        """Its columns in the stats table: its own, the Holm-corrected ones, its verdict."""
        return [*self.columns, *self.holm.values(), *filter(None, [self.verdict_column])]
