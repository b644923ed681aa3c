"""The calibration benchmark's fabricated grids and the benchmark end to end: the grids feed
the report's own functions exactly as stored predictions would, with the planted effects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.report.bootstrap import paired_bootstrap
from bench.report.stats import _rng, compare_to_reference
from bench.report.summary import trial_metrics
from bench.testing.fabricate import Components, fabricate_grid, fold_arrays, predictions_frame

ROOT = Path(__file__).resolve().parents[1]
SMALL = Components(folds=3, seeds=2, dialogs=6, utterances=8)


@pytest.mark.parametrize("fixed", [False, True])
def test_fold_arrays_give_the_bootstrap_of_compare_to_reference(fixed: bool) -> None:
    grid = fabricate_grid(SMALL.but(fixed_test_sets=fixed), 0.02, np.random.default_rng(4))
    frame = predictions_frame(grid)
    table = compare_to_reference(
        frame, trial_metrics(frame), reference="reference", n_boot=300, seed=5,
        resampled_folds=not fixed,
    ).set_index("dimension")  # fmt: skip
    result = paired_bootstrap(fold_arrays(grid), 300, _rng(5, "variant"))
    for j, dim in enumerate(("v", "a", "avg")):
        row = table.loc[dim]
        assert (row["delta"], row["p"], row["p_tost"], row["ci_low"]) == pytest.approx(
            (result.estimate[j], result.p_value[j], result.p_tost[j], result.ci_low[j]), rel=1e-9
        )


def trial_ccc(grid, fold: int, seed: int, side: int) -> float:
    """CCC-avg of one trial of a fabricated grid, from its arrays."""
    true, pred = grid.true[fold], grid.pred[fold][seed, side]
    return float(np.mean([_ccc(true[:, j], pred[:, j]) for j in range(2)]))


def _ccc(x: np.ndarray, y: np.ndarray) -> float:
    return 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def test_the_planted_level_and_difference_come_out_in_ccc() -> None:
    c = Components(folds=4, seeds=2, dialogs=40, utterances=20, session_sd=0.0, seed_sd=0.0)
    grid = fabricate_grid(c, 0.05, np.random.default_rng(0))
    variant = [trial_ccc(grid, k, s, 0) for k in range(4) for s in range(2)]
    reference = [trial_ccc(grid, k, s, 1) for k in range(4) for s in range(2)]
    assert np.mean(reference) == pytest.approx(c.ccc, abs=0.02)
    assert np.mean(variant) - np.mean(reference) == pytest.approx(0.05, abs=0.01)


def test_correlated_variants_make_the_difference_less_noisy() -> None:
    spread = {}
    for rho in (0.0, 0.9):
        c = SMALL.but(rho=rho, seed_sd=0.0, session_sd=0.0, seeds=1, folds=8)
        grid = fabricate_grid(c, 0.0, np.random.default_rng(2))
        spread[rho] = np.std([trial_ccc(grid, k, 0, 0) - trial_ccc(grid, k, 0, 1)
                              for k in range(8)])  # fmt: skip
    assert spread[0.9] < 0.5 * spread[0.0]


def test_fixed_test_sets_share_each_seeds_run_and_centre_the_interaction() -> None:
    # seed luck large, everything else tiny: the two test sets see the same run per seed
    c = Components(folds=2, seeds=6, dialogs=20, utterances=20, seed_sd=0.05, session_sd=0.0,
                   rho=0.99, tau=0.0, fixed_test_sets=True)  # fmt: skip
    grid = fabricate_grid(c, 0.0, np.random.default_rng(1))
    delta = np.array([[trial_ccc(grid, k, s, 0) - trial_ccc(grid, k, s, 1) for s in range(6)]
                      for k in range(2)])  # fmt: skip
    assert np.corrcoef(delta)[0, 1] > 0.9
    c = c.but(seed_sd=0.0, tau=0.1)  # the interaction cancels over the test sets
    grid = fabricate_grid(c, 0.0, np.random.default_rng(1))
    per_set = [np.mean([trial_ccc(grid, k, s, 0) - trial_ccc(grid, k, s, 1) for s in range(6)])
               for k in range(2)]  # fmt: skip
    assert abs(per_set[0] - per_set[1]) > 0.02 and abs(np.mean(per_set)) < 0.01


def test_the_benchmark_writes_its_tables(tmp_path: Path) -> None:
    out_csv, out_md = tmp_path / "rates.csv", tmp_path / "rates.md"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "calibration.py"), "--replicates", "4",
         "--n-boot", "50", "--scenarios", "rho,fixed_test_sets", "--seed", "3",
         "--out", str(out_csv), "--out", str(out_md)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "default_rng([3, crc32(s), i])" in run.stdout
    rates = pd.read_csv(out_csv)
    assert len(rates) == 2 * 5 * 7  # scenarios x differences x tests
    assert set(rates["delta"]) == {0.0, 0.019, 0.02, 0.03, 0.05}
    assert rates["reject_rate"].dropna().between(0, 1).all()
    run = rates.groupby(["scenario", "test"])["reject_rate"].apply(lambda r: r.notna().all())
    assert not run["fixed_test_sets", "nb_report"] and not run["fixed_test_sets", "nb_folds"]
    assert run["fixed_test_sets", "t_seeds"] and not run["rho", "t_seeds"]
    assert run["rho", "nb_folds"] and run["rho", "hksj_reml"]
    assert rates.loc[rates["test"] == "t_folds", "equivalent_rate"].isna().all()
    text = out_md.read_text()
    assert "| rho | hksj_reml | 4 |" in text and "--seed 3" in text
    assert "| rho | t_seeds |" not in text and "| fixed_test_sets | nb_folds |" not in text


def test_an_unknown_scenario_is_one_clear_error() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "calibration.py"), "--scenarios", "nope"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2 and "unknown scenario nope" in run.stderr
    assert "Traceback" not in run.stderr
