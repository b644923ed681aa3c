"""Does the report find the synthetic corpus's planted effects, and only those?

For each generator seed it runs a reduced grid (mamba_ema, gru_ema, stateless, no_prosody;
all folds; a few training seeds) twice, on the default corpus (dialog moods persist) and on
the null corpus (``corpus.synth.context=false``: independent moods), and builds the report
with the paired hierarchical bootstrap and Holm correction.

Expected on the default corpus: mamba_ema and gru_ema beat stateless on CCC-avg with
p_Holm < 0.05, and no_prosody is below mamba_ema. Expected on the null corpus: stateless is
not significantly below the stateful variants. It prints every comparison and the rate of
false claims ("stateless significantly lower") over the null corpora.

    python benchmarks/planted_effects.py --generator-seeds 0,1,2      # about 5 min per corpus
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

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
    return table[["delta", "ci_low", "ci_high", "p_holm", "significant"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator-seeds", default="0", help="corpus seeds, e.g. 0,1,2")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds per trial (0,1,2)")
    parser.add_argument("--bootstrap", type=int, default=4000, help="bootstrap replicates")
    args = parser.parse_args()
    false_claims, nulls = 0, 0
    with tempfile.TemporaryDirectory(prefix="bench-planted-") as tmp:
        for generator in args.generator_seeds.split(","):
            for context in ("true", "false"):
                name = f"seed{generator}-context-{context}"
                results = Path(tmp) / name
                overrides = [f"corpus.synth.seed={generator}", f"corpus.synth.context={context}"]
                run_grid(results, Path(tmp) / "data", args.seeds, overrides)
                against_mamba = comparisons(results, "mamba_ema", args.bootstrap)
                against_stateless = comparisons(results, "stateless", args.bootstrap)
                print(f"\n== corpus {name}: CCC-avg differences (variant - reference)")
                print("reference mamba_ema:\n" + against_mamba.round(4).to_string())
                print("reference stateless:\n" + against_stateless.round(4).to_string())
                stateless_lower = bool(
                    against_mamba.loc["stateless", "significant"]
                    and against_mamba.loc["stateless", "delta"] < 0
                )
                if context == "true":
                    gru_higher = bool(
                        against_stateless.loc["gru_ema", "significant"]
                        and against_stateless.loc["gru_ema", "delta"] > 0
                    )
                    no_prosody_lower = against_mamba.loc["no_prosody", "delta"] < 0
                    print(f"planted: stateless below mamba_ema (Holm): {stateless_lower}; "
                          f"gru_ema above stateless (Holm): {gru_higher}; "
                          f"no_prosody below mamba_ema: {no_prosody_lower}")  # fmt: skip
                else:
                    nulls += 1
                    false_claims += stateless_lower
                    print(f"null: stateless flagged below mamba_ema: {stateless_lower}")
    print(f"\nfalse claims on null corpora: {false_claims} of {nulls}")


if __name__ == "__main__":
    main()
