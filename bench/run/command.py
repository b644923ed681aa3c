"""``bench run`` (train the grid's trials) and ``bench ls`` (show the trials and their state).

This module parses arguments and calls the library API (:mod:`bench.run.selection`,
:mod:`bench.run.driver`), imported when a command runs, so ``bench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from bench.cli_args import (
    EXIT_BUSY,
    EXIT_FAILED,
    add_executor_arguments,
    add_plan_argument,
    add_selection_arguments,
    exit_status,
    plans_of,
    selection_of,
)

SHOWN_BUSY = 5  # busy trials named in the summary; the rest are counted

if TYPE_CHECKING:
    from bench.run.driver import RunSummary
    from bench.run.executors import RunOptions
    from bench.run.plan import PlannedTrial


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="train every variant x fold x seed trial that is not stored yet",
        description=(
            "Train and evaluate the trials of a grid (or of --variant). A trial is "
            "(protocol, variant, fold, seed); its result lives in "
            "results/<protocol>/<variant>/fold<k>/seed<s>/. Trials stored with the same "
            "config hash are skipped, stale ones (config changed) rerun, --force reruns. "
            "key=value overrides, anywhere on the line, go to the protocol or, for model.* "
            "and train.*, to every variant's resolved config (e.g. train.epochs=2). Exit "
            f"codes: 0 when every selected trial is stored; {EXIT_FAILED} when a trial failed "
            f"(the others still ran); {EXIT_BUSY} when none failed but another bench run was "
            "training some of them in this results folder (they were left to it: rerun when "
            "it ends); 2 for bad input."
        ),
    )
    add_selection_arguments(run)
    add_executor_arguments(run)
    run.add_argument("--force", action="store_true", help="rerun trials that are stored")
    run.add_argument("--dry-run", action="store_true", help="list what would run and exit")
    run.add_argument(
        "--save-checkpoints",
        action="store_true",
        help="also store each trial's model as checkpoint.pt, for bench.online "
        "(result.json and the config hash stay the same)",
    )
    run.set_defaults(func=run_command)

    ls = subparsers.add_parser(
        "ls",
        help="table of a grid's trials, their state and test scores",
        description=(
            "Show every trial of the grid (or --variant): done, stale or missing. Given no "
            "selection argument, show what each bench run stored in --results ran: its plan, "
            "read with no corpus and no override repeated (a trial stored with another "
            "config hash than the plan's is stale, with the reason)."
        ),
    )
    add_selection_arguments(ls)
    add_plan_argument(ls, "every stored plan")
    ls.add_argument("--json", action="store_true", help="print one JSON list")
    ls.set_defaults(func=ls_command)


def run_options(args: argparse.Namespace, **more: Any) -> RunOptions:
    """The :class:`RunOptions` of ``add_executor_arguments`` (``bench run``, ``bench tune``)."""
    from bench.run.executors import RunOptions

    return RunOptions(
        progress=not args.quiet,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        address=args.address,
        **more,
    )


def trial_row(trial: PlannedTrial) -> dict[str, Any]:
    """One line of ``bench ls``: the trial, its status and its stored test scores."""
    outcome = trial.stored.outcome if trial.stored else None
    test = outcome.metrics.get("test", {}) if outcome else {}
    return {
        "variant": trial.key.variant,
        "fold": trial.key.fold,
        "tests": trial.data["tests"] if trial.data else None,
        "seed": trial.key.seed,
        "status": trial.status,
        "ccc_avg": test.get("ccc_avg"),
        "ccc_v": test.get("ccc_v"),
        "ccc_a": test.get("ccc_a"),
        "seconds": outcome.timings.get("total_s") if outcome else None,
    }


def ls_command(args: argparse.Namespace) -> int:
    """``bench ls``: the selected trials with their status and stored test scores; with no
    selection argument, those of each plan stored in ``--results``
    (:func:`bench.cli_args.plans_of`), each under a line naming it (in ``--json``, a
    ``plan`` key on each row)."""
    from bench.run.selection import list_grid
    from bench.run.stored_plan import planned_trials

    plans = plans_of(args)
    listings = (
        [("", "", list_grid(selection_of(args), args.results))]
        if plans is None
        else [(name, f"plan {name}: {plan.command or 'no command line'}",
               planned_trials(plan, args.results)) for name, plan in plans.items()]
    )  # fmt: skip
    if args.json:
        rows = [
            ({"plan": name} if name else {}) | trial_row(t) | {"why": t.reason or None}
            for name, _, trials in listings
            for t in trials
        ]
        print(json.dumps(rows, indent=2))
        return 0
    for _, heading, trials in listings:
        if heading:
            print(heading)
        print_trials(trials)
    return 0


def print_trials(trials: list[PlannedTrial]) -> None:
    """The table of ``bench ls``, its counts by status, and why each stale trial is."""
    from tabulate import tabulate

    rows = [trial_row(t) for t in trials]
    print(tabulate(rows, headers="keys", floatfmt=".3f", missingval="-"))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "stale", "missing")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" of {len(rows)} trials")
    print_stale(trials)


def print_stale(plan: list[PlannedTrial]) -> None:
    """Why each stale trial of ``plan`` is stale (its data or its configuration changed)."""
    for trial in plan:
        if trial.status == "stale":
            print(f"  stale {trial.key}: {trial.reason}")


def print_summary(summary: RunSummary) -> None:
    """How many trials finished, were skipped, failed or busy, why each failed, and that the
    busy ones were left to the run that holds them (not failed)."""
    print(
        f"{len(summary.finished)} trials finished, {len(summary.skipped)} skipped (done), "
        f"{len(summary.failed)} failed, {len(summary.busy)} busy in {summary.seconds:.1f} s"
    )
    for key, error in summary.failed.items():
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        print(f"  failed {key}: {last}")
    if summary.replaced:
        print(
            f"  {len(summary.replaced)} stored trials were replaced; each earlier record is kept "
            "in replaced-<time>/ of its trial's folder"
        )
    if summary.busy:
        named = ", ".join(map(str, summary.busy[:SHOWN_BUSY]))
        more = len(summary.busy) - SHOWN_BUSY
        print(
            f"  busy, not failed: another bench run holds {len(summary.busy)} of these trials "
            f"in this results folder and trains them; rerun when it ends: {named}"
            + (f" and {more} more" if more > 0 else "")
        )


def run_command(args: argparse.Namespace) -> int:
    """``bench run``: run every selected trial that is not done; the exit code of
    :func:`bench.cli_args.exit_status` (1: one failed; 75: none failed, some busy)."""
    from tabulate import tabulate

    from bench.run.driver import run_grid
    from bench.run.selection import list_grid

    selection = selection_of(args)
    if args.dry_run:
        plan = list_grid(selection, args.results, force=args.force)
        rows = [
            (str(t.key), t.data["tests"] if t.data else "-", "run" if t.needs_run else "skip",
             t.status)
            for t in plan
        ]  # fmt: skip
        print(tabulate(rows, headers=["trial", "tests", "action", "status"]))
        todo = sum(t.needs_run for t in plan)
        print(f"{todo} to run, {len(plan) - todo} to skip")
        print_stale(plan)
        return 0
    options = run_options(args, force=args.force, save_checkpoints=args.save_checkpoints)
    summary = run_grid(selection, args.results, args.executor, options)
    if not summary.finished and not summary.failed and not summary.busy:
        print(f"all {len(summary.skipped)} trials are done; nothing to run (--force reruns)")
        return 0
    print_summary(summary)
    return exit_status(bool(summary.failed), bool(summary.busy))
