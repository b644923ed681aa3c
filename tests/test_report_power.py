"""Power of the verdict test (``bench.report.power``, ``bench power``): the formula against
simulated HKSJ rejections, its behaviour in seeds and sessions, the command end to end on a
fabricated store; on fixed test sets, the runs' t-test sized against scipy's non-central t
and simulated ``runs_t_test`` rejections."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import brentq
from test_report_command import VARIANTS, Store, planted_store
from test_report_fabricate import REFERENCE_NOISE, fabricate, write_results

from bench.cli import main
from bench.metrics import ccc
from bench.protocol import Protocol
from bench.report.bootstrap import DIMENSIONS, weighted_deltas
from bench.report.meta import random_effects_hksj, session_effects
from bench.report.power import (
    POWER,
    VarianceComponents,
    detectable_difference,
    power_table,
    replicates_needed,
    seeds_needed,
    t_power,
    variance_components,
)
from bench.report.power_command import UNREACHABLE
from bench.report.runs_t import runs_t_test
from bench.report.stats import fold_arrays, pair_trials
from bench.results import PREDICTIONS_FILE, load_table
from bench.run import list_grid, select_trials
from bench.testing.fabricate import Components, fabricate_grid, predictions_frame
from bench.testing.fabricate import fold_arrays as fabricated_fold_arrays

DRAWS = 3000


def simulated_rejection(delta: float, tau2: float, v: np.ndarray, seed: int) -> float:
    """The share of ``DRAWS`` grids whose HKSJ test rejects at 0.05, each grid's session
    differences drawn ``d_k ~ N(delta, tau^2 + v_k)``."""
    d = np.random.default_rng(seed).normal(delta, np.sqrt(tau2 + v), (DRAWS, v.size))
    return float(np.mean([random_effects_hksj(row, v).p < 0.05 for row in d]))


@pytest.mark.parametrize(
    ("delta", "tau2", "v"),
    [
        (0.02, 1e-4, np.full(5, 1e-4)),  # an interaction: power about 66%
        (0.015, 0.0, np.full(5, 1e-4)),  # none: about 71%
        (0.03, 2e-4, np.full(6, 3e-4)),  # six sessions
        (0.0, 1e-4, np.full(5, 1e-4)),  # the level
    ],
)
def test_the_formula_is_the_simulated_hksj_rejection_rate(
    delta: float, tau2: float, v: np.ndarray
) -> None:
    # Equal v_k: HKSJ is the one-sample t-test over sessions, so the formula is exact and
    # the simulated rate lies within Monte-Carlo error of it.
    formula = t_power(delta, tau2 + v.mean(), v.size)
    simulated = simulated_rejection(delta, tau2, v, seed=1)
    assert abs(simulated - formula) < 3.5 * math.sqrt(formula * (1 - formula) / DRAWS)


def test_with_unequal_within_session_variances_the_formula_is_conservative() -> None:
    # Unequal v_k: HKSJ weights the precise sessions up, so it detects more than the
    # formula with the mean v says (measured: 64% against 57% here); never less.
    v = np.array([0.5, 1.0, 1.0, 2.0, 3.0]) * 1e-4
    formula = t_power(0.02, 1e-4 + v.mean(), v.size)
    simulated = simulated_rejection(0.02, 1e-4, v, seed=2)
    assert simulated > formula + 2 * math.sqrt(formula * (1 - formula) / DRAWS)


def components(tau2: float, seed_variance: float = 4e-4, common: float = 5e-5,
               by_seed: float = 0.0, seeds: int = 3, k: int = 5) -> VarianceComponents:  # fmt: skip
    """Components of a grid of ``k`` sessions with ``seeds`` seeds each: test-dialog noise
    ``common`` that the seeds share, ``by_seed`` (per seed) that they do not."""
    return VarianceComponents(
        seeds=(seeds,) * k, seed_variance=seed_variance,
        dialog_variance=common + by_seed / seeds, dialog_common=common, dialog_by_seed=by_seed,
        tau2=tau2, mean_v=(seed_variance + by_seed) / seeds + common, estimate=0.0,
    )  # fmt: skip


def test_more_seeds_lower_the_detectable_difference_without_an_interaction() -> None:
    grid = components(tau2=0.0)
    detectable = [detectable_difference(grid.sigma2(s), 5) for s in (1, 2, 3, 5, 10, 100)]
    assert all(a > b for a, b in itertools.pairwise(detectable))
    assert detectable_difference(grid.sigma2(), 5) == detectable[2]  # the grid has 3 seeds
    # With neither an interaction nor test-dialog noise, enough seeds detect anything.
    assert detectable_difference(components(0.0, common=0.0).sigma2(1e6), 5) < 1e-3
    assert seeds_needed(0.02, components(0.0, common=0.0, by_seed=1e-3)) is not None


def test_more_seeds_never_go_below_the_interactions_limit() -> None:
    grid = components(tau2=3e-4, by_seed=2e-4)
    limit = detectable_difference(grid.tau2 + grid.dialog_common, 5)
    assert detectable_difference(grid.sigma2(math.inf), 5) == limit
    for s in (1, 3, 10, 1000, 10**6):
        assert detectable_difference(grid.sigma2(s), 5) > limit
    assert detectable_difference(grid.tau2, 5) > 0.02  # tau alone keeps 0.02 below 80%
    assert seeds_needed(0.02, grid) is None
    # ... which more sessions reach, and the answer is the first K that does.
    k = replicates_needed(0.02, grid.sigma2())
    assert t_power(0.02, grid.sigma2(), k) >= POWER > t_power(0.02, grid.sigma2(), k - 1)


def test_seeds_needed_is_the_first_number_of_seeds_that_reaches_the_target() -> None:
    grid = components(tau2=2e-5)
    assert t_power(0.02, grid.sigma2(), 5) < POWER  # 3 seeds fall short of 0.02
    s = seeds_needed(0.02, grid)
    assert s is not None and s > 3
    assert t_power(0.02, grid.sigma2(s), 5) >= POWER > t_power(0.02, grid.sigma2(s - 1), 5)
    assert seeds_needed(0.03, grid) == 2  # fewer than the grid has, where it has enough
    with pytest.raises(ValueError, match="one seed per session"):
        seeds_needed(0.02, components(0.0, seed_variance=math.nan))


def test_variance_components_split_v_into_seeds_and_dialogs() -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE, "worse": 0.8}, seeds=(0, 1, 2))
    paired, _ = pair_trials(
        predictions[predictions["variant"] == "worse"],
        predictions[predictions["variant"] == "mamba_ema"],
    )
    folds = fold_arrays(paired)
    grid = variance_components(folds)
    d, v = session_effects(folds)
    j = DIMENSIONS.index("avg")
    assert grid.seeds == (3,) * 5 and grid.mean_v == pytest.approx(v[:, j].mean())
    assert grid.seed_variance > 0 and grid.dialog_variance > 0
    assert grid.seed_variance / 3 + grid.dialog_variance == pytest.approx(grid.mean_v)
    assert grid.tau2 == random_effects_hksj(d[:, j], v[:, j]).tau2
    assert grid.sigma2(3) == pytest.approx(grid.sigma2())  # the grid's own seeds: tau^2 + mean v
    # Each seed draws its own dialog errors here, so most of the dialog part is seed x dialog
    # and more seeds shrink it: dialog_by_seed / 3 + dialog_common is the dialog part.
    assert 0 <= grid.dialog_common < grid.dialog_variance / 2
    assert grid.dialog_by_seed / 3 + grid.dialog_common == pytest.approx(grid.dialog_variance)
    # Seeds that all predict alike share every bit of the dialog noise: none of it shrinks.
    alike = variance_components([np.repeat(fold[:, :1], 3, axis=1) for fold in folds])
    assert alike.seed_variance < 1e-15 and alike.dialog_by_seed == pytest.approx(0, abs=1e-15)
    assert alike.dialog_common == pytest.approx(alike.dialog_variance) and alike.mean_v > 0
    one_seed = variance_components([fold[:, :1] for fold in folds])
    assert math.isnan(one_seed.seed_variance) and one_seed.dialog_variance > 0
    assert one_seed.dialog_common == one_seed.dialog_variance and one_seed.dialog_by_seed == 0
    assert math.isnan(one_seed.sigma2(10)) and not math.isnan(one_seed.sigma2())


@pytest.fixture(scope="module")
def store(tiny_corpus_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The report tests' planted store, and a variant stored outside the selection."""
    made = planted_store(tmp_path_factory.mktemp("results"), tiny_corpus_root)
    write_results(made.root, fabricate({"stateless": 0.7}, seeds=(0,)))
    return made


def current_predictions(store: Store, corpus_root: Path) -> pd.DataFrame:
    """The predictions of the store's current trials, read without the command."""
    overrides = [f"corpus.root={corpus_root}"]
    selection = select_trials(overrides=overrides, variants=VARIANTS, seeds=[0, 1, 2])
    keys = [t.key for t in list_grid(selection, store.root) if t.status == "done"]
    return load_table(store.root, keys, PREDICTIONS_FILE)


def test_bench_power_json_is_what_power_computes_from_the_current_trials(
    store: Store, tiny_corpus_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["power", *store.selection, "--json", "--target", "0.03"]) == 0
    captured = capsys.readouterr()
    assert "left out synthetic/stateless: fold1/seed0 fold2/seed0" in captured.err
    out = json.loads(captured.out)
    expected = power_table(current_predictions(store, tiny_corpus_root), "mamba_ema", 0.03)
    rows = {row["variant"]: row for row in out["comparisons"]}
    assert sorted(rows) == ["gru_ema", "no_film", "no_prosody"]
    for row in expected.to_dict("records"):
        got = rows[row["variant"]]
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):  # not this test's: n_runs
                assert got[key] is None, key
            elif isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-12), key
            else:
                assert got[key] == value, key
    assert rows["no_film"]["seeds"] == [3, 3, 2, 3, 3]  # no_film lacks fold3/seed2
    assert all(0 < r["detectable"] < 1 and r["sessions_needed"] >= 2 for r in rows.values())
    assert out["reference"] == "mamba_ema" and out["target"] == 0.03 and out["alpha"] == 0.05
    assert out["reading"].startswith("Reading: with 5 sessions and 2-3 seeds")


def test_bench_power_prints_a_table_and_its_reading(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["power", *store.selection]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "across-session test (HKSJ random effects over sessions" in lines[0]
    assert "target 0.02" in lines[0]
    header = lines[1].split()
    assert header[:4] == ["variant", "K", "seeds", "tau^2"] and "needed" in header
    table = {line.split()[0]: line.split() for line in lines[3:6]}
    assert sorted(table) == ["gru_ema", "no_film", "no_prosody"]
    assert table["no_film"][1:3] == ["5", "2-3"] and table["gru_ema"][2] == "3"
    assert lines[6].startswith("Reading: with 5 sessions") and "power at 0.02" not in lines[6]
    assert lines[7].startswith("Assumes:") and "Holm not included" in lines[7]


def test_an_unreachable_target_is_said_so(
    tmp_path: Path, tiny_corpus_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A target far below what the test dialogs' noise alone lets five sessions see.
    made = planted_store(tmp_path, tiny_corpus_root, ["mamba_ema", "no_prosody"])
    assert main(["power", *made.selection, "--target", "0.0005"]) == 0
    out = capsys.readouterr().out
    assert UNREACHABLE in out.splitlines()[3]
    assert f"1 {UNREACHABLE}" in out and "more sessions reach it" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reference", "stateless"], "reference variant 'stateless' has no results"),
        (["--protocol", "iemocap"], "no current trials of the selection under"),
    ],
)
def test_errors_are_one_clean_line(
    store: Store, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["power", *store.selection, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("bench power: error:")
    assert not any("Traceback" in line for line in err)


@pytest.mark.parametrize("target", ["0", "-0.02", "nan", "two"])
def test_a_bad_target_is_refused(capsys: pytest.CaptureFixture[str], target: str) -> None:
    with pytest.raises(SystemExit):
        main(["power", "--target", target])
    assert "--target" in capsys.readouterr().err


# Fixed test sets: the verdict is the t-test over the training runs (bench.report.runs_t).
FIXED = Components(folds=2, seeds=4, dialogs=10, utterances=10, seed_sd=0.02, rho=0.9,
                   tau=0.03, fixed_test_sets=True)  # fmt: skip


def nct_power(delta: float, sigma2: float, n: int) -> float:
    """The one-sample t power over ``n`` runs, straight from scipy's non-central t: both
    tails, the lower one as ``P(T'(-lambda) > c)`` (scipy's ``cdf`` is NaN far in it)."""
    c = stats.t.ppf(0.975, n - 1)
    lam = delta / math.sqrt(sigma2 / n)
    return float(stats.nct.sf(c, n - 1, lam) + stats.nct.sf(c, n - 1, -lam))


def test_on_fixed_test_sets_the_detectable_difference_is_the_runs_t_power_inversion() -> None:
    grid = FIXED.but(seeds=5)
    frame = predictions_frame(fabricate_grid(grid, 0.02, np.random.default_rng(11)))
    row = power_table(frame, "reference", 0.02, resampled_folds=False).iloc[0]
    # D_s by hand: each run's CCC-avg difference per test set (bench.metrics.ccc on the
    # stored predictions), averaged over the test sets; sigma^2 its variance over runs.
    deltas = {}
    for (fold, seed), trial in frame.groupby(["fold", "seed"]):
        sides = {v: trial[trial["variant"] == v] for v in ("variant", "reference")}
        deltas[fold, seed] = np.mean([
            ccc(sides["variant"][f"{d}_true"], sides["variant"][f"{d}_pred"])
            - ccc(sides["reference"][f"{d}_true"], sides["reference"][f"{d}_pred"])
            for d in ("valence", "arousal")
        ])  # fmt: skip
    runs = pd.Series(deltas).groupby(level=1).mean()  # [5 seeds] D_s
    sigma2, n = float(runs.var(ddof=1)), runs.size
    assert row["test"] == "runs t" and row["n_runs"] == 5 and row["seeds"] == [5, 5]
    assert row["n_sessions"] == 2 and row["estimate"] == pytest.approx(runs.mean(), rel=1e-9)
    assert row["runs_variance"] == pytest.approx(sigma2, rel=1e-9)
    assert math.isnan(row["tau2"]) and row["sessions_needed"] is None
    expected = brentq(lambda d: nct_power(d, sigma2, n) - POWER, 1e-6, 1.0, xtol=1e-12)
    assert row["detectable"] == pytest.approx(expected, rel=1e-6)
    assert row["power_at_target"] == pytest.approx(nct_power(0.02, sigma2, n), rel=1e-9)
    # The runs 0.02 needs: the first number of runs, of this variance, with 80% power.
    needed = row["seeds_needed"]
    assert row["seeds_reachable"] and nct_power(0.02, sigma2, needed) >= POWER
    assert needed == 2 or nct_power(0.02, sigma2, needed - 1) < POWER
    assert row["detectable_seed_limit"] == 0.0  # more runs always help, on these test sets


def test_on_fixed_test_sets_the_formula_is_the_runs_t_tests_rejection_rate() -> None:
    # Fabricated grids of two fixed test sets scored by four runs; the per-trial differences
    # are the report's (fold arrays, as compare_to_reference builds them), tested by
    # runs_t_test. sigma^2 is the runs' variance within a grid, averaged over the grids
    # (its Monte-Carlo error, about 3%, moves the formula by about a point).
    draws, index = 1000, pd.MultiIndex.from_product([range(FIXED.folds), range(FIXED.seeds)])
    for delta, seed in ((0.0, 5), (0.05, 6)):
        rng, rejected, variances = np.random.default_rng(seed), [], []
        for _ in range(draws):
            folds = fabricated_fold_arrays(fabricate_grid(FIXED, delta, rng))
            trials = [weighted_deltas(f, np.ones((1, f.shape[0])))[0, :, 2] for f in folds]
            runs = runs_t_test(pd.Series(np.concatenate(trials), index=index), 0.02)
            rejected.append(runs["runs_p"] < 0.05)
            variances.append(runs["runs_se"] ** 2 * runs["runs_n"])
        formula = t_power(delta, float(np.mean(variances)), FIXED.seeds)
        assert abs(np.mean(rejected) - formula) < 3.5 * math.sqrt(formula * (1 - formula) / draws)
        if delta > 0:
            assert 0.4 < formula < 0.8  # a power, not a level or a certainty


def test_bench_power_on_fixed_test_sets_sizes_the_runs_t_test(
    store: Store, tiny_corpus_root: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # The planted store read as if its five folds were a release's fixed test sets.
    monkeypatch.setattr(Protocol, "fixed_test_sets", property(lambda self: True))
    assert main(["power", *store.selection, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = power_table(
        current_predictions(store, tiny_corpus_root), "mamba_ema", resampled_folds=False
    )
    rows = {row["variant"]: row for row in out["comparisons"]}
    for row in expected.to_dict("records"):
        assert rows[row["variant"]]["detectable"] == pytest.approx(row["detectable"], rel=1e-12)
        assert rows[row["variant"]]["test"] == "runs t"
    assert out["test"].startswith("t-test over the training runs")
    assert out["scope"] == "these test sets"
    # no_film lacks fold3/seed2: its test uses the two seeds every test set has.
    assert rows["no_film"]["n_runs"] == 2 and rows["gru_ema"]["n_runs"] == 3
    assert out["reading"].startswith("Reading: with 5 test sets and 2-3 runs, the t-test over")
    assert "on these test sets" in out["reading"] and "other test sets" in out["reading"]
    assert "sessions" not in out["reading"]
    assert "Covers these test sets only" in out["assumptions"]
    assert "on as few as 1 degree of freedom" in out["assumptions"]  # no_film: two runs
    assert main(["power", *store.selection]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "verdict test on these test sets (t-test over the training runs:" in lines[0]
    assert lines[1].split() == ["variant", "test", "sets", "runs", "var", "D_s", "detectable",
                                "power@target", "runs", "needed"]  # fmt: skip
    assert lines[-2].startswith("Reading: with 5 test sets")
    assert lines[-1].startswith("Assumes: the training runs independent")
