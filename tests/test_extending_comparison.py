"""A comparison test added from outside the package: a sign test over the paired trials,
defined here and registered in one line, shows in stats.csv, the legend and the terminal of
a report on fabricated trials, and changes none of the built-in tests' numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import binomtest
from test_report_fabricate import histories, planted_predictions

from bench.report.analysis import Report, build_report
from bench.report.bootstrap import DIMENSIONS
from bench.report.comparison import Columns, ComparisonTest, Described, Paired
from bench.report.comparisons import COMPARISONS, register
from bench.report.output import summarize, write_report
from bench.report.summary import trial_metrics


def sign_columns(paired: Paired) -> Columns:
    """Per dimension: the paired trials whose difference is not 0 (``sign_n``), how many of
    them favour the variant (``sign_positive``) and the two-sided exact binomial p."""
    out = {}
    for dimension in DIMENSIONS:
        d = paired.deltas[dimension].to_numpy()  # [J]
        d = d[d != 0]
        positive = int((d > 0).sum())
        p = binomtest(positive, d.size).pvalue if d.size else float("nan")
        out[dimension] = {"sign_positive": positive, "sign_n": int(d.size), "sign_p": p}
    return out


def sign_legend(report: Described) -> str:
    return f"a sign test over the paired trials of these {report.tested}s (sign_p_holm)"


def sign_terminal(report: Described) -> str:
    return "sign test over the paired trials (sign)"


SIGN = ComparisonTest(
    name="sign",
    scopes={"resampled": "these sessions", "fixed": "these test sets"},
    columns=("sign_positive", "sign_n", "sign_p"),
    compute=sign_columns,
    legend=sign_legend,
    terminal=sign_terminal,
    p="sign_p",
)


@pytest.fixture
def sign_test() -> Iterator[ComparisonTest]:
    """The sign test in the registry for one test, taken out again after it."""
    register(SIGN)
    yield SIGN
    COMPARISONS.pop(SIGN.name)


def planted_report() -> Report:
    predictions = planted_predictions()
    return build_report(predictions, histories(predictions), "synthetic", n_boot=200)


def test_a_registered_test_reaches_stats_legend_and_terminal(
    sign_test: ComparisonTest, tmp_path: Path
) -> None:
    report = planted_report()
    write_report(report, tmp_path, ["md"])
    stats = pd.read_csv(tmp_path / "stats.csv").set_index(["variant", "dimension"])
    assert list(stats.columns[-9:-5]) == ["sign_positive", "sign_n", "sign_p", "sign_p_holm"]
    trials = trial_metrics(planted_predictions()).set_index(["variant", "fold", "seed"])
    wins = (trials.loc["better", "ccc_avg"] > trials.loc["mamba_ema", "ccc_avg"]).sum()
    better = stats.loc[("better", "avg")]
    assert better["sign_positive"] == wins >= 13 and better["sign_n"] == 15
    assert better["sign_p"] == pytest.approx(binomtest(int(wins), 15).pvalue)
    assert stats.loc[("no_film", "avg"), "sign_n"] == 14  # no_film lacks fold3/seed2
    primary = stats.xs("avg", level="dimension")
    assert (primary["sign_p_holm"] >= primary["sign_p"]).all()  # Holm within the family
    legend = (tmp_path / "ablations.md").read_text()
    assert "a sign test over the paired trials of these sessions (sign_p_holm)" in legend
    assert "and a sign test over the paired trials" in legend  # after the fold-level test
    summary = summarize(report)
    assert "sign test over the paired trials (sign);" in summary
    line = next(s for s in summary.splitlines() if s.lstrip().startswith("better "))
    assert f"; sign {better['sign_p_holm']:.3f}" in line


def test_a_registered_test_changes_no_builtin_number(sign_test: ComparisonTest) -> None:
    with_sign = planted_report().comparisons
    COMPARISONS.pop(SIGN.name)
    try:
        without = planted_report().comparisons
    finally:
        register(SIGN)
    assert not any(c.startswith("sign_") for c in without.columns)
    pd.testing.assert_frame_equal(with_sign[without.columns], without)


def test_the_fixture_leaves_the_registry_as_it_was() -> None:
    assert SIGN.name not in COMPARISONS
    assert list(COMPARISONS) == ["bootstrap", "fold-level", "HKSJ", "runs t"]
