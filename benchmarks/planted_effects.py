"""Does the report find the synthetic corpus's planted effects, and only those?

For each generator seed it runs a reduced grid (mamba_ema, gru_ema, stateless, no_prosody;
all folds; five training seeds) on the default corpus (dialog moods persist) and on the
null corpus (``corpus.synth.context=false``: independent moods), and tests three
hypotheses fixed in advance, each on CCC-avg with the report's paired hierarchical
bootstrap, Holm-corrected over these three:

1. mamba_ema differs from stateless (planted: it is better, since history carries mood);
2. gru_ema differs from stateless (the same);
3. no_prosody differs from mamba_ema (planted: worse, since prosody carries valence).

On a null corpus hypotheses 1 and 2 have no planted effect. Two rates are counted there:

- *false context claims*: a stateful model significantly better than stateless;
- *any difference*: a stateful model significantly better or worse than stateless (worse
  is no claim about context, but it is a claim the corpus did not plant).

On a context corpus a planned test is a detection when it is significant in the planted
direction. Hypothesis 3 is planted on both corpora (prosody carries valence in both).
It prints every comparison of the full report per corpus, then one Markdown table of the
planned tests and the rates.

    python benchmarks/planted_effects.py --generator-seeds 1,2,3   # about 15 min per seed
    python benchmarks/planted_effects.py --data /tmp/cache train.lr=3e-4   # other settings
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from statsmodels.stats.multitest import multipletests

from bench.cli_args import int_list
from bench.report.grid import report_grid
from bench.run import RunOptions, run_grid, select_trials

VARIANTS = ["mamba_ema", "gru_ema", "stateless", "no_prosody"]
REFERENCES = ["mamba_ema", "stateless"]  # the full report is printed against each
PLANNED = [  # (variant, reference, planted sign on a context corpus, on a null corpus)
    ("mamba_ema", "stateless", +1, 0),
    ("gru_ema", "stateless", +1, 0),
    ("no_prosody", "mamba_ema", -1, -1),
]


@dataclass(frozen=True)
class PlannedTest:
    """One planned CCC-avg comparison on one corpus, Holm-corrected over the three."""

    name: str
    delta: float
    p_holm: float
    significant: bool
    planted: int  # the planted sign of delta: +1, -1, or 0 (no effect)

    @property
    def cell(self) -> str:
        return f"{self.delta:+.3f} ({self.p_holm:.3f}){' †' if self.significant else ''}"


def run_and_compare(
    results: Path, seeds: list[int], overrides: list[str], n_boot: int
) -> dict[str, pd.DataFrame]:
    """Run the reduced grid (Ray, skipping stored trials) and return the CCC-avg comparisons
    of its report against each of ``REFERENCES``."""
    selection = select_trials("synthetic", overrides, variants=VARIANTS, seeds=seeds)
    summary = run_grid(selection, results, "ray", RunOptions(progress=False))
    if not summary.ok:
        sys.exit(f"trials failed for {overrides}: {', '.join(map(str, summary.failed))}")
    tables = {}
    for reference in REFERENCES:
        report = report_grid(selection, results, reference, n_boot, seed=0)
        table = report.comparisons.query("dimension == 'avg'").set_index("variant")
        tables[reference] = table[["delta", "ci_low", "ci_high", "p", "p_holm", "significant"]]
    return tables


def planned_tests(tables: dict[str, pd.DataFrame], context: bool) -> list[PlannedTest]:
    """The three pre-specified tests, from the comparison tables keyed by reference."""
    rows = [tables[reference].loc[variant] for variant, reference, _, _ in PLANNED]
    reject, p_holm, _, _ = multipletests([row["p"] for row in rows], alpha=0.05, method="holm")
    return [
        PlannedTest(
            f"{variant} - {reference}", row["delta"], p, bool(r), on_context if context else on_null
        )
        for (variant, reference, on_context, on_null), row, p, r in zip(
            PLANNED, rows, p_holm, reject, strict=True
        )
    ]


def summary(outcomes: dict[str, list[PlannedTest]]) -> str:
    """The Markdown table of every corpus's planned tests, and the rates over corpora."""
    names = [test.name for test in next(iter(outcomes.values()))]
    lines = ["| corpus | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [f"| {c} | " + " | ".join(t.cell for t in ts) + " |" for c, ts in outcomes.items()]
    planted = [t for ts in outcomes.values() for t in ts if t.planted]
    detected = sum(t.significant and t.delta * t.planted > 0 for t in planted)
    wrong_sign = sum(t.significant and t.delta * t.planted < 0 for t in planted)
    nulls = [t for ts in outcomes.values() for t in ts if not t.planted]
    false_claims = sum(t.significant and t.delta > 0 for t in nulls)
    any_difference = sum(t.significant for t in nulls)
    lines += [
        "",
        "† Holm p < 0.05 over the three planned tests; (p_Holm).",
        f"planted effects detected: {detected} of {len(planted)} "
        f"(significant in the wrong direction: {wrong_sign})",
        f"null corpora, false context claims (stateful significantly better): "
        f"{false_claims} of {len(nulls)} tests",
        f"null corpora, any significant stateful - stateless difference: "
        f"{any_difference} of {len(nulls)} tests",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator-seeds", default="0", help="corpus seeds, e.g. 1,2,3")
    parser.add_argument(
        "--seeds", type=int_list, default=[0, 1, 2, 3, 4], help="training seeds (0,1,2,3,4)"
    )
    parser.add_argument("--bootstrap", type=int, default=4000, help="bootstrap replicates")
    parser.add_argument("--context", default="true,false", help="corpora: true, false or both")
    parser.add_argument("--data", type=Path, help="corpus and feature cache (default: a temp dir)")
    parser.add_argument("--results", type=Path, help="keep the trial results here (default: temp)")
    parser.add_argument("overrides", nargs="*", help="protocol overrides, e.g. train.epochs=30")
    args = parser.parse_args()
    outcomes: dict[str, list[PlannedTest]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-planted-") as tmp:
        for generator in args.generator_seeds.split(","):
            for context in args.context.split(","):
                name = f"seed{generator}-context-{context}"
                results = (args.results or Path(tmp)) / name
                overrides = [f"corpus.synth.seed={generator}", f"corpus.synth.context={context}"]
                os.environ["BENCH_DATA"] = str(args.data or Path(tmp) / "data")
                tables = run_and_compare(
                    results, args.seeds, overrides + args.overrides, args.bootstrap
                )
                print(f"\n== corpus {name}: CCC-avg differences (variant - reference)")
                for reference, table in tables.items():
                    print(f"full report, reference {reference} (Holm over all its tests):")
                    print(table.round(4).to_string())
                label = f"{'context' if context == 'true' else 'null'}, seed {generator}"
                outcomes[label] = planned_tests(tables, context == "true")
    print("\n" + summary(outcomes))


if __name__ == "__main__":
    main()
