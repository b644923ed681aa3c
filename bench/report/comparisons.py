"""The registry of the report's comparison tests, and which of them gives the verdict.

``COMPARISONS`` is the one list: the stats table's columns, the legend and the terminal follow
its order (:mod:`bench.report.comparison` says what an entry holds). Adding a test is one
module with its statistics and its :class:`~bench.report.comparison.ComparisonTest`, plus one
:func:`register` line (here, or in the code that wants the test)::

    register(SIGN_TEST)

``VERDICT`` is the declared choice of the test whose verdict a row gets, per fold kind: HKSJ
across sessions where the folds leave one session out (it held its level in every scenario of
the calibration, ``docs/calibration.md``), the t-test over the training runs on fixed test
sets. Every other test that applies is secondary: the bootstrap (with its own verdict, these
sessions) and the fold-level Nadeau-Bengio test.
"""

from __future__ import annotations

from bench.errors import BenchError
from bench.report.bootstrap import BOOTSTRAP
from bench.report.comparison import FOLD_KINDS, ComparisonTest, FoldKind
from bench.report.meta import HKSJ
from bench.report.nadeau_bengio import NADEAU_BENGIO
from bench.report.runs_t import RUNS_T

COMPARISONS: dict[str, ComparisonTest] = {}


def register(test: ComparisonTest) -> ComparisonTest:
    """Add ``test`` to the registry (after the tests already there) and return it.

    Raises:
        BenchError: its name is taken, it applies to no known fold kind, one of its columns
            is another test's, or a column its verdicts read is not among its own.
    """
    if test.name in COMPARISONS:
        raise BenchError(f"comparison test {test.name!r} is registered already: {names()}")
    if not test.scopes or not set(test.scopes) <= set(FOLD_KINDS):
        raise BenchError(
            f"comparison test {test.name!r}: scopes {dict(test.scopes)} name none or other "
            f"fold kinds than {FOLD_KINDS}"
        )
    read = {test.p, test.p_tost, test.delta, test.se, test.df} - {""}
    if not read <= set(test.columns):
        raise BenchError(
            f"comparison test {test.name!r}: {sorted(read - set(test.columns))} are not among "
            f"its columns {list(test.columns)}"
        )
    if test.verdict_column and not test.delta:
        raise BenchError(f"comparison test {test.name!r}: a verdict needs an estimate (delta)")
    taken = {c: other.name for other in COMPARISONS.values() for c in other.table_columns}
    clash = [c for c in test.table_columns if c in taken]
    if clash:
        raise BenchError(
            f"comparison test {test.name!r}: columns {clash} are {taken[clash[0]]!r}'s already"
        )
    COMPARISONS[test.name] = test
    return test


register(BOOTSTRAP)
register(NADEAU_BENGIO)
register(HKSJ)
register(RUNS_T)
VERDICT: dict[FoldKind, str] = {"resampled": HKSJ.name, "fixed": RUNS_T.name}


def names() -> list[str]:
    """The registered tests' names, in order."""
    return list(COMPARISONS)


def comparison(name: str) -> ComparisonTest:
    """The registered test called ``name``.

    Raises:
        BenchError: no test has that name (the message lists those that do).
    """
    if name not in COMPARISONS:
        raise BenchError(f"no comparison test {name!r}; registered: {names()}")
    return COMPARISONS[name]


def verdict_test(kind: FoldKind) -> ComparisonTest:
    """The test whose verdict the rows get on folds of this kind (``VERDICT``).

    Raises:
        BenchError: it does not apply there, or lacks what a verdict and its interval read
            (an estimate, a TOST, a t statistic's standard error and degrees of freedom).
    """
    test = comparison(VERDICT[kind])
    if kind not in test.scopes or not all((test.delta, test.p_tost, test.se, test.df)):
        raise BenchError(
            f"comparison test {test.name!r} cannot give the verdict on {kind} folds: it needs "
            "to apply there and to name delta, p_tost, se and df"
        )
    return test


def applying(kind: FoldKind) -> list[ComparisonTest]:
    """The tests that run on folds of this kind, in the registry's order."""
    return [test for test in COMPARISONS.values() if kind in test.scopes]


def secondary(kind: FoldKind) -> list[ComparisonTest]:
    """The tests beside the verdict's on folds of this kind, in the registry's order."""
    return [test for test in applying(kind) if test.name != VERDICT[kind]]
