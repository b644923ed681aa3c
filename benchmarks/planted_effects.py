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

Three hypotheses are fixed in advance, each tested on CCC-avg with the report's functions
(:func:`family_table`: :func:`bench.report.stats.comparison_rows` of each pair, Holm over
these three by :func:`bench.report.stats.corrected`):

1. mamba_ema differs from stateless (planted on a context corpus: better);
2. gru_ema differs from stateless (the same);
3. no_prosody differs from mamba_ema (planted on both corpora: worse).

Each test is stated twice. The verdict is the report's: the HKSJ random-effects test over
the test sessions (:mod:`bench.report.meta`), "across sessions" (other sessions like these),
with its estimate ``re_delta``, its interval at the level Holm gives the row and its
``re_p_holm``. Beside it the paired hierarchical bootstrap's, "these sessions" (other dialogs
and seeds of these test sessions): ``delta``, ``p_holm``, ``bootstrap_verdict``. A planted
effect counts as detected by a test when that test's verdict is better or worse in the
planted direction.

On a null corpus tests 1 and 2 have no planted *context*; any significant difference there,
in either direction, is counted (two-sided). That count is not a type-I error rate: a null
corpus gives the previous label no information, but the stateful models' expected CCC
need not equal stateless's there (the models differ, and one that feeds back its own
prediction may lose); the tests' type-I error is what ``benchmarks/calibration.py``
measures. The V and A estimates of each test are printed beside CCC-avg (the secondary
family). The output ends with one Markdown table, the methods side by side, and the counts
under each test.

The default generator seeds are 7, 8 and 9. Seeds 0 to 3 were used while choosing the
protocol's defaults (model size, epochs, validation share), and seeds 4 to 6 while choosing
the session validation unit and the ramp search (the README's table): neither set is
evidence for what it helped choose.

The trials and tuning searches are kept outside the repository, by default under
``$BENCH_DATA/benchmarks/planted_effects/`` (``--records``; one folder per corpus,
``seed<g>-context-<true|false>``, holding one per method and the tuning stores): a rerun
trains only what is missing there. The tables come from the trials' per-dialog moments
(:func:`summarise_records.trial_moments`), as ``rederive_claims.py`` computes them from the
committed summary; ``--summaries benchmarks/summaries`` then writes the summary of every
record under ``--records`` (``summarise_records.py`` does the same on its own).

    python benchmarks/planted_effects.py                           # seeds 7,8,9, old and new
    python benchmarks/planted_effects.py --methods old --generator-seeds 10
    python benchmarks/planted_effects.py --methods old,ramp --summaries benchmarks/summaries
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from summarise_records import default_records, study_tables, trial_moments, write_summary
from summary_stats import comparison_rows

from bench.cli_args import int_list
from bench.report.bootstrap import MARGIN
from bench.report.stats import corrected
from bench.results import PREDICTIONS_FILE, load_table
from bench.run import RunOptions, Selection, run_grid, select_trials
from bench.run.selection import list_grid_folds
from bench.tune.apply import Tuning
from bench.tune.search import tune_grid
from bench.tune.space import DEFAULT_SEARCH, load_search

VARIANTS = ["mamba_ema", "gru_ema", "stateless", "no_prosody"]
PLANNED = [  # (variant, reference, planted sign on a context corpus, on a null corpus)
    ("mamba_ema", "stateless", +1, 0),
    ("gru_ema", "stateless", +1, 0),
    ("no_prosody", "mamba_ema", -1, -1),
]
PLANNED_PAIRS = [(variant, reference) for variant, reference, _, _ in PLANNED]
METHODS = {  # name: (protocol overrides, the search each variant is tuned with, or None)
    "old": (["validation.unit=dialog"], None),
    "session": (["validation.unit=session"], None),  # isolates the validation unit
    "new": (["validation.unit=session"], DEFAULT_SEARCH),
    "ramp": (["validation.unit=session"], "ramp"),  # also searches the sampling ramp
}
TESTS = {"across": "across sessions (HKSJ)", "these": "these sessions (bootstrap)"}
QUIET = RunOptions(progress=False)
STUDY = "planted_effects"


@dataclass(frozen=True)
class Statement:
    """What one test says of one comparison: its estimate, its Holm-corrected p and its
    verdict (better, worse, equivalent or undecided)."""

    delta: float
    p_holm: float
    verdict: str

    @property
    def significant(self) -> bool:
        """The test's difference test rejects after Holm."""
        return self.verdict in ("better", "worse")

    @property
    def short(self) -> str:
        """``-0.093 † (p 0.013)``: † where the difference test rejects after Holm."""
        return f"{self.delta:+.3f}{' †' if self.significant else ''} (p {self.p_holm:.3f})"

    @property
    def cell(self) -> str:
        """``-0.093 † worse (p 0.013)``."""
        return self.short.replace(" (p", f" {self.verdict} (p", 1)


def statements(row: pd.Series) -> dict[str, Statement]:
    """A row of :func:`bench.report.stats.corrected` as its two statements: ``across``, the
    verdict's test (HKSJ over sessions), and ``these``, the bootstrap's."""
    return {
        "across": Statement(row["verdict_delta"], row["re_p_holm"], row["verdict"]),
        "these": Statement(row["delta"], row["p_holm"], row["bootstrap_verdict"]),
    }


@dataclass(frozen=True)
class PlannedTest:
    """One planned comparison on one corpus: CCC-avg under both tests (Holm over the three
    planned tests), and the HKSJ estimates of V and A (the secondary family)."""

    name: str
    across: Statement
    these: Statement
    delta_v: float
    delta_a: float
    planted: int  # the planted sign of delta: +1, -1, or 0 (no planted effect)

    @property
    def cell(self) -> str:
        """The verdict across sessions; the bootstrap's estimate and p for these sessions."""
        return f"{self.across.cell}; these sessions {self.these.short}"


def family_table(
    summary: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    n_boot: int,
    seed: int = 0,
    margin: float = MARGIN,
) -> pd.DataFrame:
    """The report's comparisons of each (variant, reference) pair as one family, indexed by
    (variant, reference, dimension), from the trials' per-dialog moments (``summary``, as
    :func:`summarise_records.trial_moments` makes them from predictions):
    :func:`summary_stats.comparison_rows` per pair (the report's
    :func:`bench.report.stats.comparison_rows`), concatenated and passed to
    :func:`bench.report.stats.corrected`, so each test's p-values are Holm-corrected over
    these pairs (CCC-avg the primary family; CCC-V and CCC-A the secondary) and the
    verdicts follow (HKSJ across sessions; the bootstrap's beside)."""
    parts = [
        comparison_rows(summary[summary["variant"].isin(pair)], pair[1], n_boot, seed, margin)
        for pair in pairs
    ]
    table = corrected(pd.concat(parts, ignore_index=True))
    return table.set_index(["variant", "reference", "dimension"])


def planned_tests(table: pd.DataFrame, context: bool) -> list[PlannedTest]:
    """The three pre-specified tests, from their :func:`family_table`."""
    tests = []
    for variant, reference, on_context, on_null in PLANNED:
        said = statements(table.loc[(variant, reference, "avg")])
        v, a = (table.loc[(variant, reference, d), "re_delta"] for d in ("v", "a"))
        planted = on_context if context else on_null
        tests.append(PlannedTest(f"{variant} - {reference}", said["across"], said["these"], v,
                                 a, planted))  # fmt: skip
    return tests


def counts(outcomes: dict[str, list[PlannedTest]], test: str) -> str:
    """Under ``test`` (``across`` or ``these``): detections of planted effects, and the
    two-sided significant differences of the tests with no planted effect."""
    said = [(getattr(t, test), t.planted) for ts in outcomes.values() for t in ts]
    planted = [(s, sign) for s, sign in said if sign]
    detected = sum(s.significant and s.delta * sign > 0 for s, sign in planted)
    wrong_sign = sum(s.significant and s.delta * sign < 0 for s, sign in planted)
    nulls = [s for s, sign in said if not sign]
    better = sum(s.significant and s.delta > 0 for s in nulls)
    worse = sum(s.significant and s.delta < 0 for s in nulls)
    return (f"{TESTS[test]}: planted effects detected {detected} of {len(planted)} (wrong "
            f"direction: {wrong_sign}); null-context stateful - stateless significant "
            f"(two-sided) {better + worse} of {len(nulls)} (better {better}, "
            f"worse {worse})")  # fmt: skip


def summary(outcomes: dict[str, dict[str, list[PlannedTest]]]) -> str:
    """One Markdown table, a row per corpus and method, and the counts per method under each
    test."""
    names = [t.name for t in next(iter(next(iter(outcomes.values())).values()))]
    lines = ["| corpus | method | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for corpus, by_method in outcomes.items():
        lines += [f"| {corpus} | {m} | " + " | ".join(t.cell for t in ts) + " |"
                  for m, ts in by_method.items()]  # fmt: skip
    lines += ["", "CCC-avg: the HKSJ estimate across sessions, its verdict and p_Holm over the "
              "three planned tests († where < 0.05); then the bootstrap's estimate and p_Holm, "
              "which speak for these sessions only.", "",
              "| corpus | method | " + " | ".join(f"{n}: V, A" for n in names) + " |",
              "|---" * (len(names) + 2) + "|"]  # fmt: skip
    for corpus, by_method in outcomes.items():
        lines += [f"| {corpus} | {m} | "
                  + " | ".join(f"{t.delta_v:+.3f}, {t.delta_a:+.3f}" for t in ts) + " |"
                  for m, ts in by_method.items()]  # fmt: skip
    lines += ["", "CCC-V and CCC-A: HKSJ estimates across sessions (the secondary family, "
              "not among the planned tests)."]  # fmt: skip
    methods = dict.fromkeys(m for by_method in outcomes.values() for m in by_method)
    for method in methods:
        per_corpus = {c: by_method[method] for c, by_method in outcomes.items()
                      if method in by_method}  # fmt: skip
        lines += [f"- {method}, {counts(per_corpus, test)}" for test in TESTS]
    return "\n".join(lines)


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


def current_predictions(selection: Selection, results: Path) -> pd.DataFrame:
    """The predictions of the selection's trials stored with their current config hash."""
    _, plan = list_grid_folds(selection, results)
    return load_table(results, [t.key for t in plan if t.status == "done"], PREDICTIONS_FILE)


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
    parser.add_argument("--records", "--results", type=Path, default=default_records(STUDY),
                        help=f"keep trials and tuning here ({default_records(STUDY)})")  # fmt: skip
    parser.add_argument("--summaries", type=Path,
                        help="then write the summary of every record there to this folder "
                        "(benchmarks/summaries: what rederive_claims.py reads)")  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="protocol overrides, e.g. train.epochs=30")
    args = parser.parse_args()
    outcomes: dict[str, dict[str, list[PlannedTest]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-planted-") as tmp:
        os.environ["BENCH_DATA"] = str(args.data or Path(tmp) / "data")
        for generator in args.generator_seeds:
            for context in args.context.split(","):
                corpus = f"{'context' if context == 'true' else 'null'}, seed {generator}"
                folder = args.records / f"seed{generator}-context-{context}"
                overrides = [f"corpus.synth.seed={generator}", f"corpus.synth.context={context}"]
                for method in args.methods:
                    selection = run_method(method, folder / method, folder / "tuning", args,
                                           overrides + args.overrides)  # fmt: skip
                    predictions = current_predictions(selection, folder / method)
                    table = family_table(trial_moments(predictions), PLANNED_PAIRS, args.bootstrap)
                    print(f"\n== corpus {corpus}, method {method}: the planned tests (Holm over "
                          "the three; V and A the secondary family)")  # fmt: skip
                    columns = ["re_delta", "verdict_low", "verdict_high", "re_p_holm", "verdict",
                               "delta", "p_holm", "bootstrap_verdict"]  # fmt: skip
                    print(table[columns].round(4).to_string())
                    outcomes.setdefault(corpus, {})[method] = planned_tests(
                        table, context == "true"
                    )
    print("\n" + summary(outcomes))
    if args.summaries is not None:
        write_summary(study_tables(STUDY, args.records), STUDY, args.summaries)


if __name__ == "__main__":
    main()
