"""What a whole ablation grid costs, measured in one run (prints figures and ratios).

1. ``bench run --grid ablations`` under Ray on a fresh data folder: corpus, features and
   every trial, wall time;
2. the same trials in-process (``--executor local``): the Ray scheduling overhead;
3. the same Ray command again with everything done: the cost of a no-op rerun;
4. one full-model trial on the IEMOCAP-sized synthetic corpus (10,039 utterances).

Ray runs ``P`` trials at once (one per CPU). Its overhead is the wall time beyond the ideal
``sum(trial seconds) / P``; the in-process executor runs them one after another, so its
ideal is ``sum(trial seconds)``. Both are reported as ``wall / ideal - 1``.

    python benchmarks/grid.py     # full grid: 15 min here, measured when small was the default
    python benchmarks/grid.py --seeds 0 --folds 1 --skip-iemocap   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bench(*args: str, env: dict[str, str]) -> float:
    """Run one ``bench`` command quietly; return its wall time in seconds."""
    began = time.perf_counter()
    command = [sys.executable, "-m", "bench.cli", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - began


def trial_seconds(results: Path) -> list[float]:
    """The training+evaluation seconds each stored trial reports."""
    paths = results.glob("*/*/fold*/seed*/result.json")
    return [json.loads(p.read_text())["timings"]["total_s"] for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the grid (0,1,2)")
    parser.add_argument("--folds", default="1,2,3,4,5", help="folds of the grid (all)")
    parser.add_argument("--skip-iemocap", action="store_true", help="skip measurement 4")
    args = parser.parse_args()
    parallel = len(os.sched_getaffinity(0))
    selection = ["--grid", "ablations", "--seeds", args.seeds, "--folds", args.folds, "--quiet"]
    with tempfile.TemporaryDirectory(prefix="bench-grid-") as tmp:
        env = {**os.environ, "BENCH_DATA": str(Path(tmp) / "data")}
        ray_results, local_results = Path(tmp) / "ray", Path(tmp) / "local"
        features = bench("features", "--quiet", env=env)  # corpus and features, cold
        ray_wall = bench("run", *selection, "--results", str(ray_results), env=env)
        ray_trials = trial_seconds(ray_results)
        local = bench(
            "run", *selection, "--executor", "local", "--results", str(local_results), env=env
        )
        local_trials = trial_seconds(local_results)
        rerun = bench("run", *selection, "--results", str(ray_results), env=env)
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
            big = ["--protocol", "synthetic", "corpus.synth.size=iemocap"]
            big_features = bench("features", "--quiet", *big, env=env)
            big_results = Path(tmp) / "big"
            trial = bench(
                "run", "--variant", "mamba_ema", "--seeds", "0", "--folds", "1", "--executor",
                "local", "--quiet", "--results", str(big_results), *big, env=env,
            )  # fmt: skip
            [seconds] = trial_seconds(big_results)
            print(f"IEMOCAP-sized corpus: corpus + features {big_features:.1f} s, "
                  f"one full-model trial {seconds:.1f} s (command {trial:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
