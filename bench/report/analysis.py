"""Everything a report shows, computed from the results store in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.report.stats import compare_to_reference
from bench.report.summary import fold_summary, trial_metrics, variant_summary
from bench.results import HISTORY_FILE, PREDICTIONS_FILE, load_table


@dataclass(frozen=True)
class Report:
    """The numbers behind every table, plot and the terminal summary of one protocol."""

    protocol: str
    reference: str
    trials: pd.DataFrame  # one row per trial (summary.trial_metrics)
    variants: pd.DataFrame  # one row per variant, indexed by name (summary.variant_summary)
    folds: pd.DataFrame  # one row per variant x fold (summary.fold_summary)
    comparisons: pd.DataFrame  # one row per variant x dimension (stats.compare_to_reference)
    history: pd.DataFrame  # per-epoch validation scores with variant, fold, seed
    n_boot: int
    seed: int

    def order(self) -> list[str]:
        """The variants to show: the reference first, then the others by name."""
        others = sorted(v for v in self.variants.index if v != self.reference)
        return [self.reference, *others]

    def missing_notes(self) -> list[str]:
        """``variant: fold3/seed2 ...`` for every variant that lacks trials of the grid."""
        return [f"{name}: {r.missing}" for name, r in self.variants.iterrows() if r.missing]

    def pairing_notes(self) -> list[str]:
        """For every comparison that could not pair everything: what was left out."""
        notes = []
        for r in self.comparisons.drop_duplicates("variant").itertuples():
            parts = [f"only the reference has {r.only_reference}"] if r.only_reference else []
            parts += [f"only {r.variant} has {r.only_variant}"] if r.only_variant else []
            parts += [f"{r.unpaired_utts} unpaired utterances"] if r.unpaired_utts else []
            if parts:
                notes.append(f"{r.variant} vs {self.reference}: {r.n_pairs} paired trials; "
                             + "; ".join(parts))  # fmt: skip
        return notes


def build_report(
    results: str | Path,
    protocol: str,
    reference: str = "mamba_ema",
    n_boot: int = 10_000,
    seed: int = 0,
) -> Report:
    """Load every complete trial of ``protocol`` under ``results`` and compute the report.

    ``build_report(...).comparisons`` is the stats table (see
    :func:`bench.report.stats.compare_to_reference`).
    """
    predictions = load_table(results, protocol, PREDICTIONS_FILE)
    trials = trial_metrics(predictions)
    return Report(
        protocol=protocol,
        reference=reference,
        trials=trials,
        variants=variant_summary(trials),
        folds=fold_summary(trials),
        comparisons=compare_to_reference(predictions, trials, reference, n_boot, seed),
        history=load_table(results, protocol, HISTORY_FILE),
        n_boot=n_boot,
        seed=seed,
    )
