"""The work behind ``bench run`` and ``bench ls``: plan, extract features, execute, summarise."""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

from tabulate import tabulate

from bench.errors import BenchError
from bench.features.config import features_block, parse_features_config
from bench.features.extract import extract_features
from bench.features.load import load_features
from bench.protocol import load_protocol, make_folds, prepare_corpus
from bench.results import read_record
from bench.run.command import DEFAULT_GRID
from bench.run.driver import RunSummary, run_planned
from bench.run.local import run_local
from bench.run.plan import PlannedTrial, plan_trials
from bench.run.worker import SharedInputs
from bench.variants import TRIAL_SECTIONS, load_grid


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
                "seconds": (record or {}).get("timings", {}).get("total_s"),
            }
        )
    return rows


def list_trials(args: argparse.Namespace) -> int:
    """``bench ls``: the plan's trials with their status and stored test scores."""
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


def run_trials(args: argparse.Namespace) -> int:
    """``bench run``: run every planned trial that is not done; exit 1 if one failed."""
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
    features_cfg = parse_features_config(protocol.get("features"))
    extract_features(corpus.table, features_cfg, progress=progress)
    features = load_features(corpus.table, features_cfg)
    inputs = SharedInputs(
        table=corpus.table,
        features=dict(features),
        valid=features.valid,
        folds={n: {"train": f.train, "val": f.val, "test": f.test} for n, f in folds.items()},
        label_scale=corpus.label_scale,
        features_config=features_block(features_cfg),
    )
    summary = run_planned(
        plan, inputs, _executor(args), args.results, progress, args.save_checkpoints
    )
    _print_summary(summary)
    return 0 if summary.ok else 1
