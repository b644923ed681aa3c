"""Does the report find the synthetic corpus's planted effects, and only those?

For each generator seed it runs a reduced grid (mamba_ema, gru_ema, stateless, no_prosody;
all folds; five training seeds) on the default corpus (dialog moods persist) and on the
null corpus (``corpus.synth.context=false``: independent moods), and tests three
hypotheses fixed in advance, each on CCC-avg with the report's paired hierarchical
bootstrap, Holm-corrected over these three:

1. mamba_ema differs from stateless (planted: it is better, since history carries mood);
2. gru_ema differs from stateless (the same);
3. no_prosody differs from mamba_ema (planted: worse, since prosody carries valence).

On the null corpus hypotheses 1 and 2 have no planted effect: a significant "stateless is
worse" there is a false claim about context. It prints every comparison of the full report
too, and the rate of false claims over the null corpora.

    python benchmarks/planted_effects.py --generator-seeds 0,1,2      # about 6 min per corpus
    python benchmarks/planted_effects.py --data /tmp/cache train.lr=3e-4   # other settings
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from statsmodels.stats.multitest import multipletests

from bench.report.analysis import build_report

VARIANTS = ["mamba_ema", "gru_ema", "stateless", "no_prosody"]


def run_grid(results: Path, data: Path, seeds: str, overrides: list[str]) -> None:
    command = [sys.executable, "-m", "bench.cli", "run", "--variant", *VARIANTS, "--seeds", seeds]
    command += ["--results", str(results), "--quiet", *overrides]
    done = subprocess.run(command, env={**os.environ, "BENCH_DATA": str(data)}, text=True)
    if done.returncode != 0:
        sys.exit(f"bench run failed for {overrides}")


def comparisons(results: Path, reference: str, n_boot: int):
    report = build_report(results, "synthetic", reference, n_boot, seed=0)
    table = report.comparisons.query("dimension == 'avg'").set_index("variant")
    return table[["delta", "ci_low", "ci_high", "p", "p_holm", "significant"]]


def planned_tests(against_stateless, against_mamba) -> list[tuple[str, float, float, bool]]:
    """The three pre-specified CCC-avg tests: (name, delta, p_holm, significant)."""
    rows = [
        ("mamba_ema - stateless", against_stateless.loc["mamba_ema"]),
        ("gru_ema - stateless", against_stateless.loc["gru_ema"]),
        ("no_prosody - mamba_ema", against_mamba.loc["no_prosody"]),
    ]
    reject, p_holm, _, _ = multipletests([row["p"] for _, row in rows], alpha=0.05, method="holm")
    outcomes = zip(rows, p_holm, reject, strict=True)
    return [(name, row["delta"], p, bool(r)) for (name, row), p, r in outcomes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator-seeds", default="0", help="corpus seeds, e.g. 0,1,2")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="training seeds (0,1,2,3,4)")
    parser.add_argument("--bootstrap", type=int, default=4000, help="bootstrap replicates")
    parser.add_argument("--context", default="true,false", help="corpora: true, false or both")
    parser.add_argument("--data", type=Path, help="corpus and feature cache (default: a temp dir)")
    parser.add_argument("--results", type=Path, help="keep the trial results here (default: temp)")
    parser.add_argument("overrides", nargs="*", help="protocol overrides, e.g. train.epochs=30")
    args = parser.parse_args()
    false_claims, nulls = 0, 0
    with tempfile.TemporaryDirectory(prefix="bench-planted-") as tmp:
        for generator in args.generator_seeds.split(","):
            for context in args.context.split(","):
                name = f"seed{generator}-context-{context}"
                results = (args.results or Path(tmp)) / name
                overrides = [f"corpus.synth.seed={generator}", f"corpus.synth.context={context}"]
                data = args.data or Path(tmp) / "data"
                run_grid(results, data, args.seeds, overrides + args.overrides)
                against_mamba = comparisons(results, "mamba_ema", args.bootstrap)
                against_stateless = comparisons(results, "stateless", args.bootstrap)
                print(f"\n== corpus {name}: CCC-avg differences (variant - reference)")
                print("full report, reference mamba_ema (Holm over all 9 tests):")
                print(against_mamba.round(4).to_string())
                print("full report, reference stateless:")
                print(against_stateless.round(4).to_string())
                print("the three planned tests (Holm over 3):")
                tests = planned_tests(against_stateless, against_mamba)
                for test, delta, p_holm, significant in tests:
                    print(
                        f"  {test:24} {delta:+.4f}  p_Holm {p_holm:.4f}  significant {significant}"
                    )
                if context == "false":
                    nulls += 1
                    false_claims += any(sig and delta > 0 for _, delta, _, sig in tests[:2])
    print(f"\nfalse claims on null corpora: {false_claims} of {nulls}")


if __name__ == "__main__":
    main()
