"""``bench tune``: the same hyperparameter search for every variant, per fold.

This module parses arguments and calls the library API (:mod:`bench.tune.search`),
imported when the command runs, so ``bench --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli_args import (
    add_executor_arguments,
    add_variant_arguments,
    exit_status,
    positive_int,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    tune = subparsers.add_parser(
        "tune",
        help="tune every variant's nuisance hyperparameters with one search and budget",
        description=(
            "For each variant of the grid (or --variant) and each fold (or --folds), train "
            "the first --budget configurations of the search (variants/search/<name>.yaml: "
            "lr, dropout, weight decay; never an ablation switch) on the fold's training "
            "part, stop the weak ones early with ASHA on validation CCC-avg, and keep the "
            "best. The test session is never given to a worker. Every variant gets the same "
            "configurations, seed, epochs and stopping rule. Results go to "
            "tuning/<protocol>/<variant>/fold<k>/ as they arrive; a rerun trains only what "
            "is missing. Then `bench run --tuned nested` trains with the choices. The exit "
            "code is 1 when a configuration failed, 75 when none failed but another bench "
            "tune held a search (rerun when it ends)."
        ),
    )
    add_variant_arguments(tune)
    add_executor_arguments(tune)
    tune.add_argument(
        "--budget", type=positive_int, help="configurations per variant and fold (default: 16)"
    )
    tune.add_argument(
        "--search", default="default", help="variants/search/<name>.yaml or a YAML path"
    )
    tune.add_argument(
        "--tuning", type=Path, default=Path("tuning"), help="tuning folder (default: ./tuning)"
    )
    tune.set_defaults(func=tune_command)


def tune_command(args: argparse.Namespace) -> int:
    """``bench tune``: run every missing configuration; print the choices; the exit code of
    :func:`bench.cli_args.exit_status` (1: a configuration failed; 75: none failed, another
    bench tune holds a search)."""
    from tabulate import tabulate

    from bench.run.command import run_options
    from bench.run.selection import select_trials
    from bench.tune.search import tune_grid
    from bench.tune.space import load_search

    search = load_search(args.search)
    selection = select_trials(args.protocol, args.overrides, args.grid, args.variant, None,
                              args.folds)  # fmt: skip
    summary = tune_grid(
        selection, args.tuning, search, args.budget, args.executor, run_options(args)
    )
    rows = [
        {"search": str(key), "tried": choice.tried, "chosen": choice.index,
         "val_ccc_avg": choice.score, **choice.values}
        for key, choice in summary.chosen.items()
    ]  # fmt: skip
    if rows:
        print(tabulate(rows, headers="keys", floatfmt=".4g"))
    print(
        f"{summary.trained} configurations trained, {summary.skipped} stored, "
        f"{len(summary.failed)} failed, {len(summary.busy)} searches busy in "
        f"{summary.seconds:.1f} s; search: {search.describe()}"
    )
    for name, error in summary.failed.items():
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        print(f"  failed {name}: {last}")
    return exit_status(bool(summary.failed), bool(summary.busy))
