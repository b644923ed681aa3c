"""``bench personalise``: few-shot speaker personalisation of trained trials.

This module parses arguments and calls the library API (:mod:`bench.personalise.run`),
imported when the command runs, so ``bench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json

from bench.cli_args import add_executor_arguments, add_selection_arguments, int_list


def register(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser(
        "personalise",
        help="adapt trained trials to each test speaker from their first k labelled turns",
        description=(
            "For every trial of the grid (or --variant), and each test speaker of its fold, "
            "adapt the declared parameters (film: all FiLM; film_last: FiLM's last layer; "
            "head_bias: the output offset) on the speaker's first k turns, and score every k "
            "on the same later turns (k=0: the trained model). Trials that are not stored "
            "are trained first, with checkpoints. Results go to results/<protocol>/<variant>/"
            "fold<k>/seed<s>/personalise/<adapt>/; what is stored with the same hash is "
            "skipped. Steps, lr and weight decay come from the protocol's personalise: block "
            "(override e.g. personalise.steps=20). The exit code is 1 when a trial failed."
        ),
    )
    add_selection_arguments(command)
    add_executor_arguments(command)
    command.add_argument(
        "--k", type=int_list, help="enrolment sizes, e.g. 0,5,10,20 (default: the protocol's)"
    )
    command.add_argument(
        "--adapt",
        type=lambda text: [m for m in text.split(",") if m],
        help="adapt modes, e.g. film,film_last,head_bias (default: the protocol's)",
    )
    command.add_argument("--force", action="store_true", help="redo stored personalisations")
    command.set_defaults(func=personalise_command)


def personalise_command(args: argparse.Namespace) -> int:
    """``bench personalise``: personalise every selected trial; exit 1 if one failed."""
    from bench.personalise.run import personalise_grid
    from bench.run.command import print_summary, run_options, selection_of

    if args.k is not None:
        args.overrides.append(f"personalise.k={json.dumps(args.k)}")
    if args.adapt is not None:
        args.overrides.append(f"personalise.adapt={json.dumps(args.adapt)}")
    selection = selection_of(args)
    summary = personalise_grid(
        selection, args.results, args.executor, run_options(args, force=args.force)
    )
    if summary.trained.finished or summary.trained.failed:
        print("training (trials that were not stored):")
        print_summary(summary.trained)
    for variant, modes in summary.unsupported.items():
        print(f"{variant}: {', '.join(modes)} left out (the model has no FiLM)")
    for key in summary.no_checkpoint:
        print(
            f"{key}: left out, no checkpoint.pt (rerun it with bench run --force "
            "--save-checkpoints)"
        )
    print("personalisation:")
    print_summary(summary.personalised)
    failed = summary.trained.failed or summary.personalised.failed
    return 1 if failed or summary.personalised.busy else 0
