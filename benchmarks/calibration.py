"""Calibration of the report's verdict tests on fabricated grids with named variance components.

For each scenario (a design and its variance components, :class:`bench.testing.fabricate.
Components`) and each planted CCC-avg difference ``delta`` (variant minus reference), it
fabricates ``--replicates`` grids and runs on each, with the report's own functions:

- ``bootstrap``: :func:`bench.report.bootstrap.paired_bootstrap`, the report's secondary
  statement (scope: these sessions), its two-sided p and its TOST p;
- ``nb_report``: :func:`bench.report.nadeau_bengio.corrected_resampled_t` as
  :func:`bench.report.stats.compare_to_reference` calls it (every (fold, seed) trial a
  replicate, ``n_test / n_train = 1 / (k - 1)``); none on fixed test sets, as in the report;
- ``nb_folds``: the same test with the folds as the replicates (seeds averaged within a
  fold) and the real ``n_test / n_train = 1 / (k - 2)`` (one session tests, one validates);
- ``t_folds``: the one-sample t-test over the folds' seed-averaged differences (the same
  with ``n_test / n_train = 0``);
- ``t_seeds`` (fixed test sets only): :func:`bench.report.runs_t.runs_t_test`, the
  report's verdict test there: the one-sample t-test over the seeds of each seed's
  difference averaged over the test sets, and its TOST: one run per seed serves every test
  set, so the run is the replicate (scope: other training runs scored on these test sets);
- ``hksj_reml``, ``hksj_pm``: :func:`bench.report.meta.random_effects_hksj` (REML: the
  report's verdict test where the folds leave one session out), the
  random-effects meta-analysis over sessions with the HKSJ variance, ``tau^2`` by REML or
  Paule-Mandel, its two-sided p and its TOST p (the sessions' inputs from
  :func:`bench.report.meta.session_effects`).

Before each scenario, one grid (drawn from ``default_rng([seed, 0])``) is checked: the
bootstrap, the report's fold-level test and the runs' t-test computed as here equal what
``compare_to_reference`` computes from the same grid as stored predictions. A test rejects
where ``p < 0.05`` (two-sided) and says "equivalent" where its TOST ``p < 0.05`` (margin:
the report's ``MARGIN``); one comparison, so no Holm. Rates are over the replicates, with
the Monte-Carlo standard error ``sqrt(r (1 - r) / n)``.

Seeds: replicate ``i`` of scenario ``name`` draws from
``numpy.random.default_rng([seed, crc32(name), i])`` (grid, then bootstrap), the same draws
for every ``delta`` (common random numbers: power curves are smooth, each rate unbiased).

    python benchmarks/calibration.py --quick --out calibration.md        # < 2 min, one core
    python benchmarks/calibration.py --replicates 1000 --scenarios seed_2,tau_06 --out a.csv
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from bench.atomic import atomic_write
from bench.cli_args import positive_int
from bench.report.bootstrap import MARGIN, paired_bootstrap
from bench.report.meta import random_effects_hksj, session_effects
from bench.report.nadeau_bengio import corrected_resampled_t, leave_one_out_ratio
from bench.report.runs_t import runs_t_test
from bench.report.stats import ALPHA, _rng, compare_to_reference
from bench.report.summary import trial_metrics
from bench.testing.fabricate import Components, fabricate_grid, fold_arrays, predictions_frame

BASE = Components()  # 5 folds x 3 seeds x 20 dialogs x 20 utterances
RHO = BASE.but(rho=0.9, seed_sd=0.01)  # correlated variants
SEED = RHO.but(seed_sd=0.03)  # a seed's luck dominates the trial's own test noise
SCENARIOS: dict[str, tuple[str, Components]] = {
    "utterance": ("utterance noise dominates", BASE.but(seed_sd=0.002, dialog_share=0.1)),
    "seed_3": ("large seed variance, 3 seeds", SEED),
    "seed_2": ("large seed variance, 2 seeds", SEED.but(seeds=2)),
    "seed_5": ("large seed variance, 5 seeds", SEED.but(seeds=5)),
    "rho": ("correlated variants (rho 0.9)", RHO),
    "tau_03": ("rho 0.9 + interaction tau 0.03", RHO.but(tau=0.03)),
    "tau_06": ("rho 0.9 + interaction tau 0.06", RHO.but(tau=0.06)),
    "tau_06_seed_2": (
        "rho 0.9 + tau 0.06, seed sd 0.03, 2 seeds",
        RHO.but(tau=0.06, seed_sd=0.03, seeds=2),
    ),
    "folds_6": ("6 folds, rho 0.9 + tau 0.03", RHO.but(tau=0.03, folds=6)),
    "fixed_test_sets": (
        "2 fixed test sets (MSP-Podcast), one run per seed, rho 0.9, seed sd 0.02, tau 0.03",
        RHO.but(folds=2, dialogs=60, seed_sd=0.02, tau=0.03, fixed_test_sets=True),
    ),
}
TESTS = ("bootstrap", "nb_report", "nb_folds", "t_folds", "t_seeds", "hksj_reml", "hksj_pm")
POWER = (0.02, 0.03, 0.05)  # planted differences for the power columns
EQUIVALENCE = (0.0, 0.019, 0.03)  # planted differences for the TOST columns
DELTAS = tuple(sorted({0.0, *POWER, *EQUIVALENCE}))
QUICK = {"replicates": 100, "n_boot": 500}


def run_tests(
    components: Components, delta: float, rng: np.random.Generator, n_boot: int
) -> tuple[float, dict[str, tuple[float, float]]]:
    """Fabricate one grid and run every test on its CCC-avg difference: the estimate and,
    per test, ``(p, p_tost)`` (NaN where a test is not run or has no TOST)."""
    folds = fold_arrays(fabricate_grid(components, delta, rng))
    boot = paired_bootstrap(folds, n_boot, rng, margin=MARGIN)
    d, v = session_effects(folds)  # [K, 3] each; column 2 is CCC-avg
    k, fixed = len(folds), components.fixed_test_sets
    out = {"bootstrap": (boot.p_value[2], boot.p_tost[2])}
    t_tests = {  # name: (differences, n_test / n_train, run on this shape)
        "nb_report": (boot.trial_deltas[:, 2], leave_one_out_ratio(k), not fixed),
        "nb_folds": (d[:, 2], leave_one_out_ratio(k, validation_units=1), not fixed),
        "t_folds": (d[:, 2], 0.0, True),
    }
    for test, (differences, ratio, run) in t_tests.items():
        out[test] = (corrected_resampled_t(differences, ratio)[1] if run else np.nan, np.nan)
    runs = runs_t_test(_per_trial(boot.trial_deltas[:, 2], k), MARGIN) if fixed else {}
    out["t_seeds"] = (runs.get("runs_p", np.nan), runs.get("runs_p_tost", np.nan))
    for method in ("reml", "pm"):
        meta = random_effects_hksj(d[:, 2], v[:, 2], margin=MARGIN, method=method)
        out[f"hksj_{method}"] = (meta.p, meta.p_tost)
    return float(boot.estimate[2]), out


def _per_trial(deltas: np.ndarray, n_folds: int) -> pd.Series:
    """The per-trial differences ``[K * S]`` (fold-major) indexed by (fold, seed)."""
    n_seeds = deltas.size // n_folds
    return pd.Series(deltas, index=pd.MultiIndex.from_product([range(n_folds), range(n_seeds)]))


def check_against_report(components: Components, rng: np.random.Generator, n_boot: int) -> None:
    """Raise unless the bootstrap and the report's fold-level test computed as
    :func:`run_tests` computes them equal what ``compare_to_reference`` computes from the
    same grid as stored predictions (its bootstrap generator, ``stats._rng``, reused)."""
    grid = fabricate_grid(components, 0.0, rng)
    frame = predictions_frame(grid)
    fixed = components.fixed_test_sets
    table = compare_to_reference(
        frame,
        trial_metrics(frame),
        reference="reference",
        n_boot=n_boot,
        seed=0,
        margin=MARGIN,
        resampled_folds=not fixed,
    ).set_index("dimension")
    folds = fold_arrays(grid)
    boot = paired_bootstrap(folds, n_boot, _rng(0, "variant"), margin=MARGIN)
    ratio = np.nan if fixed else leave_one_out_ratio(len(folds))
    runs = runs_t_test(_per_trial(boot.trial_deltas[:, 2], len(folds)), MARGIN)
    ours = [
        boot.estimate[2],
        boot.p_value[2],
        boot.p_tost[2],
        corrected_resampled_t(boot.trial_deltas[:, 2], ratio)[1],
        runs["runs_p"] if fixed else np.nan,
        runs["runs_p_tost"] if fixed else np.nan,
    ]
    columns = ["delta", "p", "p_tost", "nb_p", "runs_p", "runs_p_tost"]
    report = table.loc["avg", columns].to_numpy(float)
    if not np.allclose(ours, report, rtol=1e-9, atol=1e-12, equal_nan=True):
        raise RuntimeError(f"calibration inputs differ from the report's: {ours} != {report}")


def simulate(
    name: str,
    components: Components,
    replicates: int,
    n_boot: int,
    seed: int,
    progress: Callable[[], None],
) -> pd.DataFrame:
    """Rates of every test at every ``delta`` of one scenario: one row per (delta, test)."""
    rows = []
    for delta in DELTAS:
        estimates, p = [], {test: [] for test in TESTS}
        for i in range(replicates):
            rng = np.random.default_rng([seed, zlib.crc32(name.encode()), i])
            estimate, result = run_tests(components, delta, rng, n_boot)
            estimates.append(estimate)
            for test in TESTS:
                p[test].append(result[test])
            progress()
        for test in TESTS:
            values = np.array(p[test], dtype=float)  # [R, 2]: p, p_tost
            rows.append(_rates(name, delta, test, values) | {"mean_estimate": np.mean(estimates)})
    return pd.DataFrame(rows)


def _rates(name: str, delta: float, test: str, values: np.ndarray) -> dict[str, object]:
    """Rejection and equivalence counts, rates and Monte-Carlo SEs of one test (NaN where it
    is not run or has no TOST). An undefined p (NaN) counts as no rejection, as a verdict
    would be undecided; ``undefined`` counts them."""
    n = len(values)
    row: dict[str, object] = {"scenario": name, "delta": delta, "test": test, "replicates": n}
    for label, column in (("reject", 0), ("equivalent", 1)):
        defined = np.isfinite(values[:, column])
        hits = int(np.sum(values[defined, column] < ALPHA)) if defined.any() else np.nan
        rate = hits / n
        row |= {
            f"{label}s": hits,
            f"{label}_rate": rate,
            f"{label}_se": np.sqrt(rate * (1 - rate) / n),
        }
    row["undefined"] = int(np.sum(~np.isfinite(values[:, 0])))
    return row


def _cell(rate: float, se: float, low: float | None = None, high: float | None = None) -> str:
    """``5.1 ± 0.7`` in percent; bold where ``rate`` is outside ``[low, high]``; n/a if NaN."""
    if not np.isfinite(rate):
        return "n/a"
    text = f"{100 * rate:.1f} ± {100 * se:.1f}"
    outside = low is not None and high is not None and not low <= rate <= high
    return f"**{text}**" if outside else text


def markdown(rates: pd.DataFrame, scenarios: list[str]) -> str:
    """The results as Markdown: one row per (scenario, test), type-I error, power and TOST
    "equivalent" rates in percent with their Monte-Carlo SEs; type-I error outside
    2.5-7.5% in bold; tests a scenario's shape does not run are left out. Then the
    scenarios' components and realised mean differences."""
    by = rates.set_index(["scenario", "test", "delta"]).sort_index()
    header = (
        "| scenario | test | R | type I (0) | power 0.02 | power 0.03 | power 0.05 | "
        "equiv. 0 | equiv. 0.019 | equiv. 0.03 |"
    )
    lines = [header, "|" + "---|" * 10]
    for name in scenarios:
        for test in TESTS:
            r = by.loc[(name, test)]
            if r["reject_rate"].isna().all():
                continue  # a test this shape does not run
            cells = [_cell(r.loc[0.0, "reject_rate"], r.loc[0.0, "reject_se"], 0.025, 0.075)]
            cells += [_cell(r.loc[d, "reject_rate"], r.loc[d, "reject_se"]) for d in POWER]
            cells += [
                _cell(r.loc[d, "equivalent_rate"], r.loc[d, "equivalent_se"]) for d in EQUIVALENCE
            ]
            lines.append(
                f"| {name} | {test} | {int(r['replicates'].iloc[0])} | " + " | ".join(cells) + " |"
            )
    lines += [
        "",
        "| scenario | components | mean estimate at " + ", ".join(map(str, DELTAS)) + " |",
        "|---|---|---|",
    ]
    for name in scenarios:
        description, c = SCENARIOS[name]
        means = rates[(rates["scenario"] == name) & (rates["test"] == TESTS[0])]
        shape = (
            f"{c.folds} folds x {c.seeds} seeds x {c.dialogs} dialogs x {c.utterances} utts;"
            f" session sd {c.session_sd}, seed sd {c.seed_sd}, tau {c.tau}, rho {c.rho},"
            f" dialog share {c.dialog_share}"
        )
        estimates = ", ".join(f"{m:.4f}" for m in means.sort_values("delta")["mean_estimate"])
        lines.append(f"| {name} | {description}: {shape} | {estimates} |")
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(text.encode()))


def _names(text: str) -> list[str]:
    """argparse type: comma-separated scenario names, each one of ``SCENARIOS``."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {', '.join(unknown) or '(none)'}: choose from {', '.join(SCENARIOS)}"
        )
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios",
        type=_names,
        default=list(SCENARIOS),
        help=f"comma-separated, of {', '.join(SCENARIOS)} (all)",
    )
    parser.add_argument(
        "--replicates",
        type=positive_int,
        default=1000,
        help="grids per scenario and difference (1000)",
    )
    parser.add_argument(
        "--n-boot", type=positive_int, default=1000, help="bootstrap replicates per grid (1000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1; see above)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK['replicates']} replicates, {QUICK['n_boot']} bootstrap "
        "replicates: under 2 minutes on one core",
    )
    parser.add_argument(
        "--out",
        type=Path,
        action="append",
        default=[],
        help="write the table here: .csv (long) or .md; repeatable",
    )
    args = parser.parse_args()
    if args.quick:
        args.replicates, args.n_boot = QUICK["replicates"], QUICK["n_boot"]
    for path in args.out:
        if path.suffix not in (".csv", ".md"):
            parser.error(f"--out {path}: the name ends in .csv or .md")
    print(
        f"generator seed {args.seed}: replicate i of scenario s draws from "
        f"default_rng([{args.seed}, crc32(s), i]); {args.replicates} replicates x "
        f"{len(DELTAS)} differences ({', '.join(map(str, DELTAS))}); {args.n_boot} bootstrap "
        f"replicates; margin {MARGIN}; alpha {ALPHA}",
        flush=True,
    )
    start = time.perf_counter()
    total = len(args.scenarios) * len(DELTAS) * args.replicates
    frames = []
    with tqdm(total=total, unit="grid", file=sys.stderr) as bar:
        for name in args.scenarios:
            _, components = SCENARIOS[name]
            bar.set_postfix_str(name)
            check_against_report(components, np.random.default_rng([args.seed, 0]), args.n_boot)
            frames.append(
                simulate(name, components, args.replicates, args.n_boot, args.seed, bar.update)
            )
    rates = pd.concat(frames, ignore_index=True)
    elapsed = time.perf_counter() - start
    table = markdown(rates, args.scenarios)
    command = " ".join(["python", "benchmarks/calibration.py", *sys.argv[1:]])
    header = (
        f"`{command}`: {time.strftime('%Y-%m-%d')}, {platform.machine()} "
        f"({platform.processor() or 'cpu'}), {elapsed / 60:.1f} min, seed {args.seed}, "
        f"{args.replicates} replicates per cell, {args.n_boot} bootstrap replicates\n\n"
    )
    print(header + table)
    for path in args.out:
        if path.suffix == ".csv":
            buffer = io.StringIO()
            rates.to_csv(buffer, index=False)
            _write(path, buffer.getvalue())
        else:
            _write(path, header + table)


if __name__ == "__main__":
    main()
