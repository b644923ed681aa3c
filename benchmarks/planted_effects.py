"""Does the report find the synthetic corpus's planted effects, and only those, under the
old method (one shared recipe, validation dialogs whose speakers train) and the new one
(each variant tuned with the same budget, speaker-disjoint validation)?

For each generator seed it runs a reduced grid (mamba_ema, gru_ema, stateless, no_prosody;
all folds; several training seeds) on the context corpus (dialog moods persist) and on its
null twin (``corpus.synth.context=false``: independent moods), once per method:

- ``old``: ``validation.unit=dialog``, every variant with the shared recipe;
- ``session``: ``validation.unit=session`` (validation speakers unseen in training, as test
  speakers are), the shared recipe: the validation unit's own share of the change;
- ``new``: ``validation.unit=session``, and each variant trained with its configuration from
  ``bench tune`` (``--budget`` configurations of the default search; ``--tuning-mode nested``
  tunes every fold on its own training part, ``fold1`` tunes once on fold 1's and names the
  leakage);
- ``ramp``: as ``new``, with the search ``variants/search/ramp.yaml``, which also searches
  where scheduled sampling's ramp starts and ends.

Three hypotheses are fixed in advance, each tested on CCC-avg with the report's paired
hierarchical bootstrap, Holm-corrected over these three:

1. mamba_ema differs from stateless (planted on a context corpus: better);
2. gru_ema differs from stateless (the same);
3. no_prosody differs from mamba_ema (planted on both corpora: worse).

On a null corpus tests 1 and 2 have no planted effect; any significant difference there,
in either direction, is counted (two-sided). The V and A deltas of each test are printed
beside CCC-avg. The output ends with one Markdown table, the methods side by side.

The default generator seeds are 7, 8 and 9. Seeds 0 to 3 were used while choosing the
protocol's defaults (model size, epochs, validation share), and seeds 4 to 6 while choosing
the session validation unit and the ramp search (the README's table): neither set is
evidence for what it helped choose.

    python benchmarks/planted_effects.py                           # seeds 7,8,9, old and new
    python benchmarks/planted_effects.py --methods old --generator-seeds 10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.cli_args import int_list
from bench.report.grid import report_grid
from bench.report.stats import ALPHA, holm
from bench.run import RunOptions, Selection, run_grid, select_trials
from bench.tune.apply import Tuning
from bench.tune.search import tune_grid
from bench.tune.space import DEFAULT_SEARCH, load_search

VARIANTS = ["mamba_ema", "gru_ema", "stateless", "no_prosody"]
REFERENCES = ["mamba_ema", "stateless"]  # the full report is computed against each
PLANNED = [  # (variant, reference, planted sign on a context corpus, on a null corpus)
    ("mamba_ema", "stateless", +1, 0),
    ("gru_ema", "stateless", +1, 0),
    ("no_prosody", "mamba_ema", -1, -1),
]
METHODS = {  # name: (protocol overrides, the search each variant is tuned with, or None)
    "old": (["validation.unit=dialog"], None),
    "session": (["validation.unit=session"], None),  # isolates the validation unit
    "new": (["validation.unit=session"], DEFAULT_SEARCH),
    "ramp": (["validation.unit=session"], "ramp"),  # also searches the sampling ramp
}
QUIET = RunOptions(progress=False)


@dataclass(frozen=True)
class PlannedTest:
    """One planned comparison on one corpus: CCC-avg (tested, Holm over the three) and the
    V and A deltas (printed, not tested)."""

    name: str
    delta: float
    delta_v: float
    delta_a: float
    p_holm: float
    significant: bool
    planted: int  # the planted sign of delta: +1, -1, or 0 (no effect)

    @property
    def cell(self) -> str:
        mark = " †" if self.significant else ""
        return (f"{self.delta:+.3f}{mark} (p {self.p_holm:.3f}; "
                f"V {self.delta_v:+.3f}, A {self.delta_a:+.3f})")  # fmt: skip


def run_method(
    method: str, results: Path, tuning: Path, args: argparse.Namespace, overrides: list[str]
) -> Selection:
    """Tune (new method) and run the reduced grid; the selection its report reads."""
    method_overrides, search_name = METHODS[method]
    overrides = overrides + method_overrides
    if search_name is not None and search_name != DEFAULT_SEARCH:
        tuning = tuning.with_name(f"{tuning.name}-{search_name}")  # one search per store
    tuned = Tuning(args.tuning_mode, tuning) if search_name is not None else None
    selection = select_trials("synthetic", overrides, variants=VARIANTS, seeds=args.seeds,
                              tuning=tuned)  # fmt: skip
    if tuned is not None:
        folds = [1] if args.tuning_mode == "fold1" else None
        search = select_trials("synthetic", overrides, variants=VARIANTS, folds=folds)
        tuned_summary = tune_grid(search, tuning, load_search(search_name), budget=args.budget,
                                  options=QUIET)  # fmt: skip
        if not tuned_summary.ok:
            sys.exit(f"tuning failed for {overrides}: {', '.join(tuned_summary.failed)}")
    summary = run_grid(selection, results, "ray", QUIET)
    if not summary.ok:
        sys.exit(f"trials failed for {overrides}: {', '.join(map(str, summary.failed))}")
    return selection


def comparisons(selection: Selection, results: Path, n_boot: int) -> dict[str, pd.DataFrame]:
    """Per reference, the report's comparisons indexed by (variant, dimension)."""
    return {
        reference: report_grid(selection, results, reference, n_boot, seed=0).comparisons.set_index(
            ["variant", "dimension"]
        )
        for reference in REFERENCES
    }


def planned_tests(tables: dict[str, pd.DataFrame], context: bool) -> list[PlannedTest]:
    """The three pre-specified tests, from the comparison tables keyed by reference."""
    rows = [tables[reference].loc[(variant, "avg")] for variant, reference, _, _ in PLANNED]
    p_holm = holm(np.array([row["p"] for row in rows]))
    reject = p_holm < ALPHA  # as the report decides
    tests = []
    for (variant, reference, on_context, on_null), row, p, r in zip(
        PLANNED, rows, p_holm, reject, strict=True
    ):
        v, a = (tables[reference].loc[(variant, d), "delta"] for d in ("v", "a"))
        name = f"{variant} - {reference}"
        planted = on_context if context else on_null
        tests.append(PlannedTest(name, row["delta"], v, a, p, bool(r), planted))
    return tests


def counts(outcomes: dict[str, list[PlannedTest]]) -> list[str]:
    """Detections of planted effects and two-sided significant differences on null tests."""
    planted = [t for ts in outcomes.values() for t in ts if t.planted]
    detected = sum(t.significant and t.delta * t.planted > 0 for t in planted)
    wrong_sign = sum(t.significant and t.delta * t.planted < 0 for t in planted)
    nulls = [t for ts in outcomes.values() for t in ts if not t.planted]
    better = sum(t.significant and t.delta > 0 for t in nulls)
    worse = sum(t.significant and t.delta < 0 for t in nulls)
    return [
        f"planted effects detected {detected} of {len(planted)} (wrong direction: {wrong_sign})",
        f"null stateful - stateless tests significant (two-sided) {better + worse} of "
        f"{len(nulls)} (better {better}, worse {worse})",
    ]


def summary(outcomes: dict[str, dict[str, list[PlannedTest]]]) -> str:
    """One Markdown table, a row per corpus and method, and the counts per method."""
    names = [t.name for t in next(iter(next(iter(outcomes.values())).values()))]
    lines = ["| corpus | method | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for corpus, by_method in outcomes.items():
        lines += [f"| {corpus} | {m} | " + " | ".join(t.cell for t in ts) + " |"
                  for m, ts in by_method.items()]  # fmt: skip
    lines += ["", "CCC-avg delta († Holm p < 0.05 over the three planned tests), with the "
              "untested V and A deltas."]  # fmt: skip
    methods = next(iter(outcomes.values()))
    for method in methods:
        per_corpus = {c: by_method[method] for c, by_method in outcomes.items()}
        lines += [f"{method}: " + "; ".join(counts(per_corpus))]
    return "\n".join(lines)


def method_list(text: str) -> list[str]:
    """``old,new`` -> ["old", "new"], every name one of ``METHODS``."""
    methods = text.split(",")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown method {', '.join(unknown)}: not in "
                                         f"{', '.join(METHODS)}")  # fmt: skip
    return methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--generator-seeds", type=int_list, default=[7, 8, 9], help="corpus seeds (7,8,9)"
    )
    parser.add_argument("--seeds", type=int_list, default=[0, 1, 2], help="training seeds")
    parser.add_argument("--methods", type=method_list, default=["old", "new"],
                        help=f"of {', '.join(METHODS)} (old,new)")  # fmt: skip
    parser.add_argument("--budget", type=int, default=8, help="configurations per search (8)")
    parser.add_argument("--tuning-mode", choices=("nested", "fold1"), default="fold1")
    parser.add_argument("--bootstrap", type=int, default=4000, help="bootstrap replicates")
    parser.add_argument("--context", default="true,false", help="corpora: true, false or both")
    parser.add_argument("--data", type=Path, help="corpus and feature cache (default: temp)")
    parser.add_argument("--results", type=Path, help="keep results and tuning here (temp)")
    parser.add_argument("overrides", nargs="*", help="protocol overrides, e.g. train.epochs=30")
    args = parser.parse_args()
    outcomes: dict[str, dict[str, list[PlannedTest]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-planted-") as tmp:
        os.environ["BENCH_DATA"] = str(args.data or Path(tmp) / "data")
        for generator in args.generator_seeds:
            for context in args.context.split(","):
                corpus = f"{'context' if context == 'true' else 'null'}, seed {generator}"
                folder = (args.results or Path(tmp)) / f"seed{generator}-context-{context}"
                overrides = [f"corpus.synth.seed={generator}", f"corpus.synth.context={context}"]
                for method in args.methods:
                    selection = run_method(method, folder / method, folder / "tuning", args,
                                           overrides + args.overrides)  # fmt: skip
                    tables = comparisons(selection, folder / method, args.bootstrap)
                    print(f"\n== corpus {corpus}, method {method}: differences (variant - ref.)")
                    for reference, table in tables.items():
                        columns = ["delta", "ci_low", "ci_high", "p_holm", "verdict"]
                        print(f"reference {reference} (Holm within each family of its report):")
                        print(table[columns].round(4).to_string())
                    outcomes.setdefault(corpus, {})[method] = planned_tests(
                        tables, context == "true"
                    )
    print("\n" + summary(outcomes))


if __name__ == "__main__":
    main()
