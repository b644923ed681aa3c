"""``bench run`` (train the grid's trials) and ``bench ls`` (show the trials and their state)."""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

from tabulate import tabulate

from bench.corpus.commands import add_protocol_arguments
from bench.errors import BenchError
from bench.features import extract_features, load_features
from bench.protocol import load_protocol, make_folds, prepare_corpus
from bench.results import read_record
from bench.run.driver import RunSummary, run_planned
from bench.run.local import run_local
from bench.run.plan import PlannedTrial, plan_trials
from bench.run.worker import SharedInputs
from bench.variants import TRIAL_SECTIONS, load_grid

DEFAULT_GRID = "ablations"


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like 0,1,2, not {text!r}") from exc


def _add_selection(parser: argparse.ArgumentParser) -> None:
    add_protocol_arguments(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--grid", help=f"grid in variants/grids/ (default: {DEFAULT_GRID})")
    which.add_argument("--variant", nargs="+", metavar="V", help="these variants instead")
    parser.add_argument("--seeds", "--seed", type=_int_list, help="e.g. 0,1,2 (default: grid's)")
    parser.add_argument("--folds", "--fold", type=_int_list, help="e.g. 1,3 (default: all)")
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
    run.set_defaults(func=run_command)

    ls = subparsers.add_parser(
        "ls", help="table of a grid's trials, their state and test scores",
        description="Show every trial of the grid (or --variant): done, stale or missing.",
    )  # fmt: skip
    _add_selection(ls)
    ls.add_argument("--json", action="store_true", help="print one JSON list")
    ls.set_defaults(func=ls_command)


def _split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(protocol overrides, trial overrides): ``model.*`` and ``train.*`` go to the trials."""
    trial = [o for o in overrides if o.split(".", 1)[0] in TRIAL_SECTIONS]
    return [o for o in overrides if o not in trial], trial


def _plan(args: argparse.Namespace, progress: bool):
    protocol_overrides, trial_overrides = _split_overrides(args.overrides)
    protocol = load_protocol(args.protocol, protocol_overrides)
    grid = load_grid(args.grid or DEFAULT_GRID)
    variants = args.variant or list(grid.variants)
    seeds = args.seeds if args.seeds is not None else list(grid.seeds)
    corpus = prepare_corpus(protocol, progress=progress)
    folds = {f.number: f for f in make_folds(corpus.table, protocol)}
    wanted = args.folds if args.folds is not None else sorted(folds)
    unknown = sorted(set(wanted) - set(folds))
    if unknown:
        raise BenchError(f"no fold(s) {unknown}; this protocol has folds 1..{len(folds)}")
    force = getattr(args, "force", False)
    plan = plan_trials(protocol, variants, seeds, wanted, args.results, trial_overrides, force)
    return protocol, corpus, folds, plan


def _plan_table(plan: list[PlannedTrial], results: Path) -> list[dict]:
    rows = []
    for trial in plan:
        record = read_record(trial.key.folder(results)) if trial.status != "missing" else None
        test = (record or {}).get("metrics", {}).get("test", {})
        rows.append(
            {
                "variant": trial.key.variant,
                "fold": trial.key.fold,
                "seed": trial.key.seed,
                "status": trial.status,
                "ccc_avg": test.get("ccc_avg"),
                "ccc_v": test.get("ccc_v"),
                "ccc_a": test.get("ccc_a"),
                "seconds": (record or {}).get("timings", {}).get("total"),
            }
        )
    return rows


def ls_command(args: argparse.Namespace) -> int:
    _, _, _, plan = _plan(args, progress=False)
    rows = _plan_table(plan, args.results)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(tabulate(rows, headers="keys", floatfmt=".3f", missingval="-"))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "stale", "missing")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" of {len(rows)} trials")
    return 0


def _executor(args: argparse.Namespace):
    if args.executor == "local":
        return run_local
    from bench.run.ray_adapter import RayOptions, run_ray  # Ray loads only when asked for

    options = RayOptions(args.cpus_per_trial, args.gpus_per_trial, args.address)
    return functools.partial(run_ray, options=options, storage=args.results / ".ray")


def _print_summary(summary: RunSummary) -> None:
    print(
        f"{len(summary.finished)} trials finished, {len(summary.skipped)} skipped (done), "
        f"{len(summary.failed)} failed, {len(summary.busy)} busy in {summary.seconds:.1f} s"
    )
    for key, error in summary.failed.items():
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        print(f"  failed {key}: {last}")


def run_command(args: argparse.Namespace) -> int:
    progress = not args.quiet
    protocol, corpus, folds, plan = _plan(args, progress)
    for trial in plan:
        if trial.status == "stale":
            print(f"stale: {trial.key} was stored with another config; it reruns")
    todo = [t for t in plan if t.needs_run]
    if args.dry_run:
        rows = [(str(t.key), "run" if t.needs_run else "skip", t.status) for t in plan]
        print(tabulate(rows, headers=["trial", "action", "status"]))
        print(f"{len(todo)} to run, {len(plan) - len(todo)} to skip")
        return 0
    if not todo:
        print(f"all {len(plan)} trials are done; nothing to run (--force reruns)")
        return 0
    features_cfg = protocol.get("features")
    extract_features(corpus.table, features_cfg, progress=progress)
    inputs = SharedInputs(
        table=corpus.table,
        features=dict(load_features(corpus.table, features_cfg)),
        folds={n: {"train": f.train, "val": f.val, "test": f.test} for n, f in folds.items()},
        label_scale=corpus.label_scale,
    )
    summary = run_planned(plan, inputs, _executor(args), args.results, progress)
    _print_summary(summary)
    return 0 if summary.ok else 1
