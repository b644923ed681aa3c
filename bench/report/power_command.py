"""``bench power``: how large a CCC-avg difference the grid's verdict test detects (HKSJ
across sessions where the folds leave one session out; the t-test over the training runs on
fixed test sets).

This module parses arguments and calls :mod:`bench.report.power`, imported when the command
runs, so ``bench --help`` stays fast. Trials are selected exactly as ``bench report`` selects
them: the current trials (stored with the config hash the selection gives now) only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.cli_args import add_plan_argument, add_selection_arguments, positive_number

if TYPE_CHECKING:
    import pandas as pd

TARGET = 0.02  # default target difference (CCC-avg) whose seeds and sessions are sized
UNREACHABLE = "not reachable with any number of seeds"
TESTS = {  # the verdict test sized, by whether the folds are fixed test sets: (name, scope)
    False: ("HKSJ random effects over sessions, REML tau^2", "across sessions"),
    True: (
        "t-test over the training runs: each seed's difference averaged over the test sets, "
        "one-sample t over the S runs, S-1 df",
        "these test sets",
    ),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "power",
        help="the smallest CCC-avg difference the report's verdict test detects, and the seeds "
        "and sessions a target difference needs",
        description=(
            "Read the stored predictions of the selected trials (a grid or --variant, as for "
            "bench report; current trials only) and, for each variant against the reference "
            "on CCC-avg, estimate the variance components that the across-session test (the "
            "random-effects meta-analysis over test sessions with the Hartung-Knapp-Sidik-"
            "Jonkman adjustment, REML tau^2) sees: tau^2, the variant x session interaction; "
            "mean v, the within-session variance, split into the seed variance over the seeds "
            "and the test dialogs' part (shared by the seeds or not). From them: the smallest "
            "difference that the test detects with 80% power at two-sided alpha 0.05 with the "
            "grid's sessions and seeds (non-central t with K-1 degrees of freedom; Holm's "
            "correction over the variants is not included, and would need more), the same "
            "with infinitely many seeds, the power at --target, and the seeds per session "
            "(sessions fixed) and the sessions (seeds fixed) that would reach 80% at --target. "
            "More seeds remove neither tau^2 nor the test dialogs' noise that every seed "
            "shares: where those alone keep the power below 80%, the target is "
            f"'{UNREACHABLE}'. The numbers are point estimates from the grid's own sessions: "
            "with five, tau^2 is imprecise and often 0 (then optimistic). On fixed test sets "
            "(a release's test splits, e.g. msp_podcast) the verdict test is the t-test over "
            "the training runs instead (each seed's difference averaged over the test sets, "
            "S-1 df), and what is sized is that test: the variance of the runs' differences, "
            "the difference detected with the grid's runs, the power at --target and the "
            "runs (seeds) that reach 80% there; more runs always help, and the result "
            "covers these test sets only. See docs/power.md."
        ),
    )
    add_selection_arguments(parser)
    add_plan_argument(parser, "the one stored; several need it")
    parser.add_argument(
        "--reference", help="variant the others are compared with (default: the grid's)"
    )
    parser.add_argument(
        "--target", type=positive_number, default=TARGET, metavar="DELTA",
        help=f"CCC-avg difference whose seeds and sessions needed are sized ({TARGET})",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=power_command)


def power_command(args: argparse.Namespace) -> int:
    """``bench power``: the power table of the selection's current trials, or, with no
    selection argument, of the plan stored in ``--results`` (as ``bench report`` reads it),
    and its reading."""
    from tabulate import tabulate

    from bench.cli_args import plans_of, selection_of
    from bench.errors import BenchError
    from bench.report.from_results import left_out_notes
    from bench.report.power import POWER, power_table
    from bench.report.stats import ALPHA
    from bench.results import PREDICTIONS_FILE, load_table
    from bench.run.selection import list_grid_folds
    from bench.run.stored_plan import describe_plan, only_plan, planned_trials

    plans = plans_of(args)
    if plans is None:
        selection = selection_of(args)
        folds, trials = list_grid_folds(selection, args.results)
        plan = describe_plan(selection, folds, trials)
    else:
        name, plan = only_plan(plans, args.results)
        print(f"plan {name}: {plan.command or 'no command line'}", file=sys.stderr)
        trials = planned_trials(plan, args.results)
    current = [t.key for t in trials if t.status == "done"]
    notes = left_out_notes(trials, args.results)
    if not current:
        why = f"; {len(notes)} left out, the first: {notes[0]}" if notes else ""
        raise BenchError(f"no current trials of the selection under {args.results}{why}")
    for note in notes:
        print(f"bench power: left out {note}", file=sys.stderr)
    reference = args.reference or plan.selection.reference
    fixed = plan.protocol.fixed_test_sets
    predictions = load_table(args.results, current, PREDICTIONS_FILE)
    table = power_table(predictions, reference, args.target, resampled_folds=not fixed)
    controls = plan.variants[reference].aa_controls
    runs = [int(n) for n in table[table["detectable"].notna()]["n_runs"].dropna()]
    lines = [reading(table, args.target, POWER, fixed), assumptions(fixed, runs)]
    test, scope = TESTS[fixed]
    if args.json:
        rows = [{k: _plain(v) for k, v in row.items()} for row in table.to_dict("records")]
        print(json.dumps({
            "protocol": plan.protocol.name, "reference": reference, "dimension": "avg",
            "test": test, "scope": scope, "alpha": ALPHA, "power": POWER,
            "target": args.target, "aa_controls": list(controls),
            "comparisons": rows, "reading": lines[0], "assumptions": lines[1],
        }, indent=2))  # fmt: skip
        return 0
    which = "verdict test on these test sets" if fixed else "across-session test"
    print(
        f"protocol {plan.protocol.name}: power of the {which} ({test}; two-sided alpha "
        f"{ALPHA:g}, {POWER:.0%} power, no Holm) on CCC-avg against {reference}; "
        f"target {args.target:g}"
    )
    shown = [(_shown_runs if fixed else _shown)(row, controls) for row in table.itertuples()]
    print(tabulate(shown, headers="keys", disable_numparse=True, missingval="-"))
    print("\n".join(lines))
    return 0


def _plain(value: object) -> object:
    """A JSON value: NaN as None, numpy scalars as Python numbers."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _seeds(seeds: list[int]) -> str:
    """``3`` where every session has 3 seeds, ``2-3`` where they differ."""
    if not seeds:
        return "-"
    low, high = min(seeds), max(seeds)
    return str(low) if low == high else f"{low}-{high}"


def _number(value: object, form: str) -> str:
    """``value`` in ``form``, or ``-`` where it is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, form)


def _seeds_needed(row: pd.Series) -> str:
    """The seeds-needed cell: a number, the unreachable note, or ``-`` (unknown)."""
    if row.seeds_reachable is not None and not row.seeds_reachable:
        return UNREACHABLE
    return _number(row.seeds_needed, "d")


def _variant(row: pd.Series, controls: tuple[str, ...]) -> str:
    """The variant's name, marked where it is an A/A control."""
    return f"{row.variant} (A/A control)" if row.variant in controls else row.variant


def _shown(row: pd.Series, controls: tuple[str, ...]) -> dict[str, str]:
    """One line of the terminal table (HKSJ across sessions)."""
    return {
        "variant": _variant(row, controls),
        "K": _number(row.n_sessions, "d"),
        "seeds": _seeds(row.seeds),
        "tau^2": _number(row.tau2, ".2g"),
        "mean v": _number(row.mean_v, ".2g"),
        "detectable": _number(row.detectable, ".3f"),
        "seeds->inf": _number(row.detectable_seed_limit, ".3f"),
        "power@target": _number(row.power_at_target, ".0%"),
        "seeds needed": _seeds_needed(row),
        "sessions needed": _number(row.sessions_needed, "d"),
    }


def _shown_runs(row: pd.Series, controls: tuple[str, ...]) -> dict[str, str]:
    """One line of the terminal table on fixed test sets (the runs' t-test): no sessions to
    add and no floor that more runs cannot pass, so neither column."""
    return {
        "variant": _variant(row, controls),
        "test sets": _number(row.n_sessions, "d"),
        "runs": _number(row.n_runs, "d"),
        "var D_s": _number(row.runs_variance, ".2g"),
        "detectable": _number(row.detectable, ".3f"),
        "power@target": _number(row.power_at_target, ".0%"),
        "runs needed": _number(row.seeds_needed, "d"),
    }


def _span(values: pd.Series, form: str) -> str:
    """``a`` or ``a-b``, the range of ``values`` in ``form``."""
    low, high = format(values.min(), form), format(values.max(), form)
    return low if low == high else f"{low}-{high}"


def _detects(
    sized: pd.DataFrame, grid: str, test: str, where: str, target: float, power: float
) -> str:
    """The reading's opening: what ``test`` detects with ``grid`` (``where``), and its power
    at ``target``, over the ``sized`` comparisons."""
    return (
        f"Reading: with {grid}, the {test} detects CCC-avg differences of "
        f"{_span(sized['detectable'], '.3f')}{where} with {power:.0%} power ({len(sized)} "
        f"comparisons); at {target:g} its power is {_span(sized['power_at_target'], '.0%')}"
    )


def reading(table: pd.DataFrame, target: float, power: float, fixed_test_sets: bool = False) -> str:
    """One line that says what the power table means: the detectable differences, the power
    at ``target``, and how the comparisons short of it would reach it (seeds or sessions; on
    fixed test sets, runs: :func:`runs_reading`)."""
    if fixed_test_sets:
        return runs_reading(table, target, power)
    sized = table[table["detectable"].notna()]
    if sized.empty:
        return "Reading: no comparison has two sessions with a defined difference: nothing to size."
    seeds = _seeds([s for row in sized["seeds"] for s in row])
    grid = f"{_span(sized['n_sessions'], 'd')} sessions and {seeds} seeds"
    parts = [_detects(sized, grid, "across-session test", "", target, power)]
    short = sized[sized["power_at_target"] < power]
    if short.empty:
        return parts[0] + f": the grid is large enough for {target:g}."
    by_seeds = short[short["seeds_reachable"].eq(True)]  # None: the seed variance is unknown
    unreachable = int(short["seeds_reachable"].eq(False).sum())
    parts.append(f"{len(short)} of {len(sized)} fall short")
    if not by_seeds.empty:
        parts.append(
            f"{len(by_seeds)} would reach it with {_span(by_seeds['seeds_needed'], 'd')} seeds"
        )
    if unreachable:
        why = "tau^2 and the dialog noise all seeds share stay"
        parts.append(f"{unreachable} {UNREACHABLE} ({why})")
    parts.append(f"more sessions reach it: {_span(short['sessions_needed'], 'd')}")
    return "; ".join(parts) + "."


def runs_reading(table: pd.DataFrame, target: float, power: float) -> str:
    """The reading on fixed test sets: what the runs' t-test detects on these test sets, its
    power at ``target`` and the runs that would reach it."""
    sized = table[table["detectable"].notna()]
    if sized.empty:
        return (
            "Reading: no comparison has two runs with differing differences on every test "
            "set: nothing to size."
        )
    grid = f"{_span(sized['n_sessions'], 'd')} test sets and {_span(sized['n_runs'], 'd')} runs"
    parts = [_detects(sized, grid, "t-test over the runs", " on these test sets", target, power)]
    short = sized[sized["power_at_target"] < power]
    if short.empty:
        parts[0] += f": the grid is large enough for {target:g} on these test sets"
    else:
        parts.append(f"{len(short)} of {len(sized)} fall short")
        parts.append(
            f"more runs reach it: {_span(short['seeds_needed'], 'd')} (seeds, each scoring "
            "every test set)"
        )
    return "; ".join(parts) + ". No number of runs speaks for other test sets."


def assumptions(fixed_test_sets: bool, runs: Sequence[int] = ()) -> str:
    """The line under the reading: what the numbers assume (on fixed test sets, ``runs``: the
    runs each sized comparison's test uses; the fewest, ``df = min(runs) - 1``, bound the
    precision of ``var(D_s)``: ``sigma / sigma_hat`` lies within ``sqrt(df / chi2_{df,
    0.975})`` and ``sqrt(df / chi2_{df, 0.025})`` at 95%)."""
    if not fixed_test_sets:
        return (
            "Assumes: sessions independent and like these; variance components are this "
            "grid's point estimates (tau^2 by REML from few sessions is often 0: then "
            "optimistic); v_k counts the seed x dialog noise twice and unequal v_k are "
            "averaged (both conservative); Holm not included (it needs more); see "
            "docs/power.md."
        )
    line = (
        "Assumes: the training runs independent and like these (one run per seed scores "
        "every test set), their differences D_s normal with this grid's variance var(D_s)"
    )
    if runs and min(runs) >= 2:
        from scipy.stats import chi2

        df = min(runs) - 1
        low, high = (math.sqrt(df / chi2.ppf(q, df)) for q in (0.975, 0.025))
        fewest = "as few as " if max(runs) > min(runs) else ""
        line += (
            f", a point estimate on {fewest}{df} degree{'s' if df > 1 else ''} of freedom "
            f"(95%: the true sd within {low:.2f}-{high:.1f} times it)"
        )
    return line + (
        "; Holm not included (it needs more). Covers these test sets only (other training "
        "runs scored on them), not other test sets, dialogs or speakers; see docs/power.md."
    )
