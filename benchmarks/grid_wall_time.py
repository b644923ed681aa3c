"""What a whole ablation grid costs, measured in one run (prints figures and ratios).

1. the ablation grid under Ray on a fresh data folder: corpus, features and every trial,
   wall time;
2. the same trials in-process (the ``local`` executor): the Ray scheduling overhead;
3. the same Ray run again with everything done: the cost of a no-op rerun (in this
   process, so without the interpreter start and imports of a ``bench run`` command);
4. one full-model trial on the IEMOCAP-sized synthetic corpus (10,039 utterances).

Ray runs ``P`` trials at once (one per CPU). Its overhead is the wall time beyond the ideal
``sum(trial seconds) / P``; the in-process executor runs them one after another, so its
ideal is ``sum(trial seconds)``. Both are reported as ``wall / ideal - 1``.

    python benchmarks/grid_wall_time.py   # full grid: 15 min, measured with the small corpus
    python benchmarks/grid_wall_time.py --seeds 0 --folds 1 --skip-iemocap   # a quick look

It calls the library API (:func:`bench.run.run_grid`) in this process; each call under Ray
starts and stops a local Ray cluster, as ``bench run`` does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.cli_args import int_list
from bench.corpus.prepare import prepare_corpus
from bench.features.extract import extract_features
from bench.run import RunOptions, Selection, list_grid, run_grid, select_trials

QUIET = RunOptions(progress=False)


def timed_run(selection: Selection, results: Path, executor: str) -> float:
    """Run a grid quietly; return its wall time in seconds."""
    began = time.perf_counter()
    summary = run_grid(selection, results, executor, QUIET)
    if not summary.ok:
        sys.exit(f"trials failed: {', '.join(map(str, summary.failed))}")
    return time.perf_counter() - began


def corpus_and_features(selection: Selection) -> float:
    """Prepare the corpus and extract its features (what a cold run does first); seconds."""
    began = time.perf_counter()
    protocol = selection.protocol
    extract_features(
        prepare_corpus(protocol.corpus, False).table, protocol.features, progress=False
    )
    return time.perf_counter() - began


def trial_seconds(selection: Selection, results: Path) -> list[float]:
    """The training+evaluation seconds each stored trial reports."""
    return [t.stored.outcome.timings["total_s"] for t in list_grid(selection, results) if t.stored]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int_list, default=[0, 1, 2], help="seeds (0,1,2)")
    parser.add_argument("--folds", type=int_list, help="folds of the grid (default: all)")
    parser.add_argument("--skip-iemocap", action="store_true", help="skip measurement 4")
    args = parser.parse_args()
    parallel = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-grid-") as tmp:
        os.environ["BENCH_DATA"] = str(Path(tmp) / "data")  # before the protocol is loaded
        grid = select_trials(grid="ablations", seeds=args.seeds, folds=args.folds)
        ray_results, local_results = Path(tmp) / "ray", Path(tmp) / "local"
        features = corpus_and_features(grid)  # corpus and features, cold
        ray_wall = timed_run(grid, ray_results, "ray")
        ray_trials = trial_seconds(grid, ray_results)
        local = timed_run(grid, local_results, "local")
        local_trials = trial_seconds(grid, local_results)
        rerun = timed_run(grid, ray_results, "ray")
        print(f"grid: {len(ray_trials)} trials, {parallel} at once under Ray")
        print(
            f"  corpus + features {features:.1f} s, then the trials under Ray {ray_wall:.1f} s: "
            f"{features + ray_wall:.1f} s in all"
        )
        ray_ideal = sum(ray_trials) / parallel
        print(f"  Ray trials: wall ~{ray_wall:.1f} s, ideal {ray_ideal:.1f} s, "
              f"overhead {ray_wall / ray_ideal - 1:+.1%}")  # fmt: skip
        local_ideal = sum(local_trials)
        print(f"  in-process: wall {local:.1f} s, ideal {local_ideal:.1f} s, "
              f"overhead {local / local_ideal - 1:+.1%}")  # fmt: skip
        print(f"  Ray trials wall / in-process wall: {ray_wall / local:.2f}")
        print(f"  rerun with every trial done: {rerun:.1f} s")
        if not args.skip_iemocap:
            big = select_trials(
                overrides=["corpus.synth.size=iemocap"], variants=["mamba_ema"], seeds=[0],
                folds=[1],
            )  # fmt: skip
            big_features = corpus_and_features(big)
            big_results = Path(tmp) / "big"
            trial = timed_run(big, big_results, "local")
            [seconds] = trial_seconds(big, big_results)
            print(f"IEMOCAP-sized corpus: corpus + features {big_features:.1f} s, "
                  f"one full-model trial {seconds:.1f} s (call {trial:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
