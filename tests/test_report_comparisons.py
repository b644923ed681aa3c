"""The comparison-test registry: the built-in tests and the declared verdict choice, and the
errors that name what is wrong with an entry (each listing the registered tests)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_extending_comparison import SIGN
from test_report_fabricate import REFERENCE_NOISE, fabricate

from bench.errors import BenchError
from bench.report.comparisons import (
    COMPARISONS,
    VERDICT,
    applying,
    comparison,
    register,
    secondary,
    verdict_test,
)
from bench.report.stats import columns, compare_to_reference, holm_columns
from bench.report.summary import trial_metrics


def test_the_builtin_tests_and_which_gives_the_verdict() -> None:
    assert [t.name for t in applying("resampled")] == ["bootstrap", "fold-level", "HKSJ"]
    assert [t.name for t in applying("fixed")] == ["bootstrap", "runs t"]
    assert VERDICT == {"resampled": "HKSJ", "fixed": "runs t"}
    assert [t.name for t in secondary("resampled")] == ["bootstrap", "fold-level"]
    assert verdict_test("fixed").scopes["fixed"] == "these test sets"
    assert holm_columns() == {
        "p": "p_holm", "p_tost": "p_tost_holm", "nb_p": "nb_p_holm", "re_p": "re_p_holm",
        "re_p_tost": "re_p_tost_holm", "runs_p": "runs_p_holm", "runs_p_tost": "runs_p_tost_holm",
    }  # fmt: skip
    assert len(columns()) == len(set(columns()))
    assert set(columns()) == {  # stats.csv's columns before the registry, by name
        "variant", "reference", "dimension", "family", "n_pairs", "n_folds", "variant_mean",
        "reference_mean", "test", "scope", "verdict", "verdict_delta", "verdict_low",
        "verdict_high", "verdict_level", "significant", "delta", "ci_low", "ci_high", "p",
        "p_holm", "margin", "p_tost", "p_tost_holm", "bootstrap_verdict", "nb_t", "nb_p",
        "nb_p_holm", "re_delta", "re_ci_low", "re_ci_high", "re_se", "re_df", "re_tau2", "re_p",
        "re_p_tost", "re_p_holm", "re_p_tost_holm", "runs_delta", "runs_se", "runs_df",
        "runs_p", "runs_p_tost", "runs_n", "runs_p_holm", "runs_p_tost_holm",
        "only_reference", "only_variant", "unpaired_utts", "n_boot", "seed",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (replace(SIGN, name="HKSJ"), "'HKSJ' is registered already: ['bootstrap', 'fold-level'"),
        (replace(SIGN, scopes={"lopo": "x"}), "name none or other fold kinds than"),
        (replace(SIGN, scopes={}), "name none or other fold kinds than"),
        (replace(SIGN, p="sign_q"), "['sign_q'] are not among its columns"),
        (replace(SIGN, verdict_column="sign_verdict"), "a verdict needs an estimate (delta)"),
        (replace(SIGN, columns=("sign_positive", "sign_n", "sign_p", "re_delta")),
         "columns ['re_delta'] are 'HKSJ''s already"),
    ],
)  # fmt: skip
def test_a_wrong_entry_is_refused_and_named(entry, message: str) -> None:
    with pytest.raises(BenchError) as error:
        register(entry)
    assert message in str(error.value) and entry.name in str(error.value)
    assert list(COMPARISONS) == ["bootstrap", "fold-level", "HKSJ", "runs t"]


def test_an_unknown_name_lists_the_registered_tests() -> None:
    with pytest.raises(BenchError, match=r"no comparison test 'sign'; registered: \['boot"):
        comparison("sign")


def test_a_test_that_returns_other_columns_than_it_declares_is_named() -> None:
    wrong = replace(SIGN, name="wrong", compute=lambda paired: {"avg": {"sign_p": 0.5}})
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE, "b": 0.7}, seeds=(0, 1))
    register(wrong)
    try:
        with pytest.raises(BenchError, match="comparison test 'wrong' returned"):
            compare_to_reference(predictions, trial_metrics(predictions), n_boot=20)
    finally:
        COMPARISONS.pop(wrong.name)
