"""``bench report``: a selection's current trials -> reports/<protocol>/ tables, stats, plots."""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import replace
from pathlib import Path

from bench.cli_args import add_plan_argument, add_selection_arguments, positive_int
from bench.report.bootstrap import MARGIN

FORMATS = ("md", "tex")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="tables, significance tests and plots from the stored predictions",
        description=(
            "Compute every metric from the stored per-utterance predictions of the selected "
            "trials (a grid or --variant, as for bench run), compare each variant with the "
            "reference (paired hierarchical bootstrap of the CCC difference with a TOST "
            "equivalence test, and a fold-level corrected t-test; Holm-corrected within the "
            "primary family, CCC-avg, and the secondary one, CCC-V and CCC-A), give each "
            "comparison a verdict (better, worse, equivalent or undecided), and write "
            "Markdown/LaTeX tables, stats.csv, trials.csv and "
            "plots (PNG and PDF) to OUT/<protocol>/. Only trials stored with the config "
            "hash that the protocol, the overrides and each variant give now are used; "
            "every other stored trial is named, with the reason, and left out. Given no "
            "selection argument, the plan that bench run stored in --results says what was "
            "run and each trial's config hash instead: no corpus, no tuning folder and no "
            "override is needed, so a copied results folder is reported anywhere."
        ),
    )
    add_selection_arguments(parser)
    add_plan_argument(parser, "the one stored; several need it")
    parser.add_argument(
        "--out", type=Path, default=Path("reports"), help="reports folder (default: ./reports)"
    )
    parser.add_argument(
        "--reference", help="variant the others are compared with (default: the grid's)"
    )
    parser.add_argument(
        "--format", type=_formats, default=list(FORMATS), help="table formats (default: md,tex)"
    )
    parser.add_argument(
        "--bootstrap", type=positive_int, default=10_000, help="bootstrap replicates (10000)"
    )
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap (0)")
    parser.add_argument(
        "--equivalence-margin", type=_margin, default=MARGIN, metavar="DELTA",
        help=f"smallest CCC difference of interest: a difference inside (-DELTA, DELTA) "
        f"counts as equivalent when the TOST says so ({MARGIN})",
    )  # fmt: skip
    parser.set_defaults(func=run_report)


def _formats(text: str) -> list[str]:
    formats = [f.strip() for f in text.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"formats are md and/or tex, not {text!r}")
    return formats


def _margin(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.02, not {text!r}") from exc
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive CCC difference, not {text}")
    return value


def run_report(args: argparse.Namespace) -> int:
    """``bench report``: the report of the selection's current trials, or, with no selection
    argument, of the plan stored in ``--results`` (:func:`bench.cli_args.plans_of`)."""
    from bench.cli_args import plans_of, selection_of  # heavy imports only when run
    from bench.paths import ensure_writable_dir
    from bench.report.from_results import per_test_set, report_plan
    from bench.report.output import summarize, write_report
    from bench.run.selection import list_grid_folds
    from bench.run.stored_plan import describe_plan, only_plan, planned_trials

    plans = plans_of(args)
    if plans is None:
        selection = selection_of(args)
        out = ensure_writable_dir(args.out / selection.protocol.name, "report folder")
        folds, trials = list_grid_folds(selection, args.results)
        plan = describe_plan(selection, folds, trials)
    else:
        name, plan = only_plan(plans, args.results)
        out = ensure_writable_dir(args.out / plan.protocol.name, "report folder")
        print(f"plan {name}: {plan.command or 'no command line'}")
        trials = planned_trials(plan, args.results)
    options = (args.reference, args.bootstrap, args.bootstrap_seed, args.equivalence_margin)
    report = report_plan(plan, trials, args.results, *options, args.tuning)
    for note in report.left_out:
        print(f"bench report: left out {note}", file=sys.stderr)
    written = write_report(report, out, args.format)
    print(summarize(report))
    print(f"wrote {len(written)} files to {out}/: " + ", ".join(p.name for p in written))
    for test_set, (part, part_trials) in per_test_set(plan, trials).items():
        alone = report_plan(part, part_trials, args.results, *options, args.tuning)
        alone = replace(
            alone, corpora=", ".join(filter(None, [alone.corpora, f"test set {test_set}"]))
        )
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_set)
        folder = ensure_writable_dir(out / safe, "report folder")
        files = write_report(alone, folder, args.format)
        print(f"test set {test_set} alone: wrote {len(files)} files to {folder}/")
    return 0
