"""``bench run`` (train the grid's trials) and ``bench ls`` (show the trials and their state).

This module only builds the parsers; the work is in :mod:`bench.run.jobs`, imported when a
command runs, so ``bench --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli_args import add_protocol_arguments, int_list

DEFAULT_GRID = "ablations"


def _add_selection(parser: argparse.ArgumentParser) -> None:
    add_protocol_arguments(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--grid", help=f"grid in variants/grids/ (default: {DEFAULT_GRID})")
    which.add_argument("--variant", nargs="+", metavar="V", help="these variants instead")
    parser.add_argument("--seeds", "--seed", type=int_list, help="e.g. 0,1,2 (default: grid's)")
    parser.add_argument("--folds", "--fold", type=int_list, help="e.g. 1,3 (default: all)")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder (default: ./results)")  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="train every variant x fold x seed trial that is not stored yet",
        description=(
            "Train and evaluate the trials of a grid (or of --variant). A trial is "
            "(protocol, variant, fold, seed); its result lives in "
            "results/<protocol>/<variant>/fold<k>/seed<s>/. Trials stored with the same "
            "config hash are skipped, stale ones (config changed) rerun, --force reruns. "
            "key=value overrides go to the protocol or, for model.* and train.*, to every "
            "variant's resolved config (e.g. train.epochs=2). The exit code is 1 when a "
            "trial failed."
        ),
    )
    _add_selection(run)
    run.add_argument(
        "--executor",
        choices=("ray", "local"),
        default="ray",
        help="ray: Ray Tune over the CPUs/GPUs/cluster (default); local: in-process",
    )
    run.add_argument("--force", action="store_true", help="rerun trials that are stored")
    run.add_argument("--dry-run", action="store_true", help="list what would run and exit")
    run.add_argument("--address", help="Ray cluster to join (default: $RAY_ADDRESS or local)")
    run.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per trial (1)")
    run.add_argument(
        "--gpus-per-trial",
        type=float,
        default=0.0,
        help="GPU share per trial; 0.25 packs four trials per GPU (default 0)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument(
        "--save-checkpoints",
        action="store_true",
        help="also store each trial's model as checkpoint.pt, for bench.online "
        "(result.json and the config hash stay the same)",
    )
    run.set_defaults(func=run_command)

    ls = subparsers.add_parser(
        "ls", help="table of a grid's trials, their state and test scores",
        description="Show every trial of the grid (or --variant): done, stale or missing.",
    )  # fmt: skip
    _add_selection(ls)
    ls.add_argument("--json", action="store_true", help="print one JSON list")
    ls.set_defaults(func=ls_command)


def run_command(args: argparse.Namespace) -> int:
    from bench.run.jobs import run_trials

    return run_trials(args)


def ls_command(args: argparse.Namespace) -> int:
    from bench.run.jobs import list_trials

    return list_trials(args)
