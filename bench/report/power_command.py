"""``bench power``: how large a CCC-avg difference the grid's across-session test detects.

This module parses arguments and calls :mod:`bench.report.power`, imported when the command
runs, so ``bench --help`` stays fast. Trials are selected exactly as ``bench report`` selects
them: the current trials (stored with the config hash the selection gives now) only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING

from bench.cli_args import add_selection_arguments, positive_number

if TYPE_CHECKING:
    import pandas as pd

TARGET = 0.02  # default target difference (CCC-avg) whose seeds and sessions are sized
UNREACHABLE = "not reachable with any number of seeds"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "power",
        help="the smallest CCC-avg difference the across-session test detects, and the seeds "
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
            "with five, tau^2 is imprecise and often 0 (then optimistic). See docs/power.md."
        ),
    )
    add_selection_arguments(parser)
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
    """``bench power``: the power table of the selection's current trials, and its reading."""
    from tabulate import tabulate

    from bench.errors import BenchError
    from bench.report.grid import left_out_notes
    from bench.report.power import POWER, power_table
    from bench.report.stats import ALPHA
    from bench.results import PREDICTIONS_FILE, load_table
    from bench.run.command import selection_of
    from bench.run.grid import list_grid_folds
    from bench.variants import aa_controls

    selection = selection_of(args)
    _, plan = list_grid_folds(selection, args.results)
    current = [t.key for t in plan if t.status == "done"]
    notes = left_out_notes(plan, args.results)
    if not current:
        why = f"; {len(notes)} left out, the first: {notes[0]}" if notes else ""
        raise BenchError(f"no current trials of the selection under {args.results}{why}")
    for note in notes:
        print(f"bench power: left out {note}", file=sys.stderr)
    reference = args.reference or selection.reference or selection.variants[0]
    table = power_table(load_table(args.results, current, PREDICTIONS_FILE), reference, args.target)
    controls = aa_controls(reference, selection.variants, selection.protocol, selection.overrides)
    fixed = selection.protocol.fixed_test_sets
    lines = [reading(table, args.target, POWER), assumptions(fixed)]
    if args.json:
        rows = [{k: _plain(v) for k, v in row.items()} for row in table.to_dict("records")]
        print(json.dumps({
            "protocol": selection.protocol.name, "reference": reference, "dimension": "avg",
            "test": "HKSJ random effects over sessions, REML tau^2", "alpha": ALPHA,
            "power": POWER, "target": args.target, "aa_controls": list(controls),
            "comparisons": rows, "reading": lines[0], "assumptions": lines[1],
        }, indent=2))  # fmt: skip
        return 0
    print(
        f"protocol {selection.protocol.name}: power of the across-session test (HKSJ random "
        f"effects over the {'test sets' if fixed else 'sessions'}, REML tau^2; two-sided alpha "
        f"{ALPHA:g}, {POWER:.0%} power, no Holm) on CCC-avg against {reference}; "
        f"target {args.target:g}"
    )
    shown = [_shown(row, controls) for row in table.itertuples()]
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


def _shown(row: pd.Series, controls: tuple[str, ...]) -> dict[str, str]:
    """One line of the terminal table."""
    return {
        "variant": f"{row.variant} (A/A control)" if row.variant in controls else row.variant,
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


def _span(values: pd.Series, form: str) -> str:
    """``a`` or ``a-b``, the range of ``values`` in ``form``."""
    low, high = format(values.min(), form), format(values.max(), form)
    return low if low == high else f"{low}-{high}"


def reading(table: pd.DataFrame, target: float, power: float) -> str:
    """One line that says what the power table means: the detectable differences, the power
    at ``target``, and how the comparisons short of it would reach it (seeds or sessions)."""
    sized = table[table["detectable"].notna()]
    if sized.empty:
        return "Reading: no comparison has two sessions with a defined difference: nothing to size."
    seeds = _seeds([s for row in sized["seeds"] for s in row])
    parts = [
        f"Reading: with {_span(sized['n_sessions'], 'd')} sessions and {seeds} seeds, the "
        f"across-session test detects CCC-avg differences of {_span(sized['detectable'], '.3f')} "
        f"with {power:.0%} power ({len(sized)} comparisons); at {target:g} its power is "
        f"{_span(sized['power_at_target'], '.0%')}"
    ]
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


def assumptions(fixed_test_sets: bool) -> str:
    """The line under the reading: what the numbers assume."""
    line = (
        "Assumes: sessions independent and like these; variance components are this grid's "
        "point estimates (tau^2 by REML from few sessions is often 0: then optimistic); v_k "
        "counts the seed x dialog noise twice and unequal v_k are averaged (both "
        "conservative); Holm not included (it needs more); see docs/power.md."
    )
    if fixed_test_sets:
        line += (
            " The folds are fixed test sets: K counts test sets, and over two the test is "
            "nearly powerless (docs/calibration.md); more seeds buy power there."
        )
    return line
