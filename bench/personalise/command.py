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
            "skipped, and an earlier run stored there moves into replaced-<time>/ before a new "
            "one is written. A k that no test speaker of a trial's fold has enough turns for "
            "(k to enrol, 2 to score) is skipped in that trial, with the reason. Steps, lr and "
            "weight decay come from the protocol's personalise: block (override e.g. "
            "personalise.steps=20). The exit code is 1 when a trial failed or was left out "
            "for an unreadable checkpoint (a warning names the file; the other trials go "
            "on), and 2 when no selected trial has a checkpoint or none has a k > 0 to adapt."
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
    """``bench personalise``: personalise every selected trial; exit 1 if one failed or had
    an unreadable checkpoint.

    Raises:
        BenchError: no selected trial has a checkpoint, or none has a ``k > 0`` that some
            test speaker has the turns for.
    """
    from bench.cli_args import selection_of
    from bench.errors import BenchError
    from bench.personalise.run import personalise_grid
    from bench.run.command import print_summary, run_options

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
    if summary.no_checkpoint and not summary.reached and not summary.nothing_to_adapt:
        raise BenchError(
            "none of the selected trials has a checkpoint.pt to personalise "
            f"({len(summary.no_checkpoint)} stored without one); make them with bench run "
            "--force --save-checkpoints and the same selection"
        )
    for key in summary.no_checkpoint:
        print(
            f"{key}: left out, no checkpoint.pt (rerun it with bench run --force "
            "--save-checkpoints)"
        )
    for key, skipped in summary.skipped_k.items():
        for k, why in skipped.items():
            print(f"{key}: k={k} skipped: {why}")
    for key in summary.nothing_to_adapt:
        print(f"{key}: left out, no k > 0 to adapt")
    if summary.nothing_to_adapt and not summary.reached:
        raise BenchError(
            "nothing was adapted: every k > 0 asked was skipped, no test speaker has the "
            "turns for it (see the lines above)"
        )
    print("personalisation:")
    print_summary(summary.personalised)
    if summary.unreadable:
        keys = ", ".join(str(key) for key in summary.unreadable)
        print(f"{len(summary.unreadable)} left out for an unreadable checkpoint: {keys}")
    if summary.replaced:
        print(
            f"{len(summary.replaced)} earlier personalisations kept, not overwritten, in "
            f"replaced-<time>/ folders (e.g. {summary.replaced[0]})"
        )
    failed = summary.trained.failed or summary.personalised.failed or summary.unreadable
    return 1 if failed or summary.personalised.busy else 0
