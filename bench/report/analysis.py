"""Everything a report shows, computed from the results store in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from bench.report.bootstrap import MARGIN
from bench.report.comparison import FoldKind, fold_kind
from bench.report.comparisons import verdict_test
from bench.report.power import power_table
from bench.report.stats import compare_to_reference
from bench.report.summary import fold_summary, trial_metrics, variant_summary
from bench.report.tuning import UNTUNED, TuningView

if TYPE_CHECKING:
    from bench.report.personalisation import PersonalisationReport


@dataclass(frozen=True)
class Report:
    """The numbers behind every table, plot and the terminal summary of one protocol.

    absent: variants of the grid with no trial to report; left_out: one note per stored
    trial (or group of trials) the report did not use, and why. aa_controls: the variants
    that are the reference trained again with other seeds
    (:func:`bench.variants.aa_controls`), whose verdict shows the noise floor.
    """

    protocol: str
    reference: str
    trials: pd.DataFrame  # one row per trial (summary.trial_metrics)
    variants: pd.DataFrame  # one row per variant, indexed by name (summary.variant_summary)
    folds: pd.DataFrame  # one row per variant x fold (summary.fold_summary)
    comparisons: pd.DataFrame  # one row per variant x dimension (stats.compare_to_reference)
    history: pd.DataFrame  # per-epoch validation scores with variant, fold, seed
    n_boot: int
    seed: int
    margin: float = MARGIN  # the equivalence margin (smallest CCC difference of interest)
    absent: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
    selection: pd.DataFrame | None = None  # per variant: kept epochs, teacher probability
    tuning: TuningView = field(default_factory=lambda: TuningView(UNTUNED))  # how chosen
    personalisation: PersonalisationReport | None = None  # where bench personalise stored some
    corpora: str = ""  # where it is not one corpus: which corpus trains and which tests
    fold_tests: dict[int, str] = field(default_factory=dict)  # fold -> what it tests, if known
    resampled_folds: bool = True  # folds leave one unit out; False: fixed test sets
    aa_controls: tuple[str, ...] = ()  # the reference again with other seeds
    power: pd.DataFrame | None = None  # per variant, the verdict test's power (power_table)

    @property
    def tested(self) -> str:
        """What a fold's test set is, in the legends: a session, or a fixed test set."""
        return "session" if self.resampled_folds else "test set"

    @property
    def fold_kind(self) -> FoldKind:
        """``resampled`` where the folds leave one unit out, ``fixed`` for fixed test sets."""
        return fold_kind(self.resampled_folds)

    @property
    def scope(self) -> str:
        """What the verdicts cover: across sessions (HKSJ), or these fixed test sets (the
        t-test over the training runs); :data:`bench.report.comparisons.VERDICT`."""
        return verdict_test(self.fold_kind).scopes[self.fold_kind]

    @property
    def title(self) -> str:
        """The protocol's name, and which corpora its numbers are on where that is not one."""
        return f"{self.protocol} ({self.corpora})" if self.corpora else self.protocol

    def order(self) -> list[str]:
        """The variants to show: the reference first, its A/A controls next (beside it, the
        noise floor), then the others by name."""
        others = sorted(v for v in self.variants.index if v != self.reference)
        return [self.reference, *sorted(others, key=lambda v: v not in self.aa_controls)]

    def missing_notes(self) -> list[str]:
        """``variant: fold3/seed2 ...`` for every variant that lacks trials of the grid."""
        notes = [f"{name}: {r.missing}" for name, r in self.variants.iterrows() if r.missing]
        return notes + [f"{name}: all {self.variants['n_expected'].max()} trials"
                        for name in self.absent]  # fmt: skip

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
    predictions: pd.DataFrame,
    history: pd.DataFrame,
    protocol: str,
    reference: str = "mamba_ema",
    n_boot: int = 10_000,
    seed: int = 0,
    expected: set[tuple[int, int]] | None = None,
    grid: Sequence[str] = (),
    left_out: Sequence[str] = (),
    kept: pd.DataFrame | None = None,
    margin: float = MARGIN,
    tuning: TuningView | None = None,
    resampled_folds: bool = True,
) -> Report:
    """Compute the report from the trials' predictions and histories (each with variant,
    fold and seed columns, as :func:`bench.results.load_table` gives them).

    ``expected``: the (fold, seed) pairs of the grid (default: every pair found); ``grid``:
    its variants, so one with no trials shows as absent; ``left_out``: notes on stored
    trials that were not used; ``kept``: each trial's kept epoch and its teacher probability
    (``variant, best_epoch, teacher_probability``, from the trial records), summarised per
    variant; ``margin``: the equivalence margin of the TOST, in CCC; ``tuning``: how the
    configurations were chosen (default: untuned, one shared recipe); ``resampled_folds``:
    False where the folds are fixed test sets (no fold-level or across-session test: the
    verdicts are the t-test over the training runs', and so is the power).
    ``build_report(...).comparisons`` is the stats table with the verdicts (see
    :func:`bench.report.stats.compare_to_reference`).
    """
    trials = trial_metrics(predictions)
    variants = variant_summary(trials, expected)
    return Report(
        protocol=protocol,
        reference=reference,
        trials=trials,
        variants=variants,
        folds=fold_summary(trials),
        comparisons=compare_to_reference(
            predictions, trials, reference, n_boot, seed, margin, resampled_folds
        ),
        history=history,
        n_boot=n_boot,
        seed=seed,
        margin=margin,
        absent=tuple(v for v in grid if v not in variants.index),
        left_out=tuple(left_out),
        selection=None if kept is None or kept.empty else selection_summary(kept),
        tuning=tuning or TuningView(UNTUNED),
        resampled_folds=resampled_folds,
        power=power_table(predictions, reference, resampled_folds=resampled_folds),
    )


def selection_summary(kept: pd.DataFrame) -> pd.DataFrame:
    """Per variant: the kept (best validation) epoch's mean, min and max, and the mean
    teacher-forcing probability at it, so a reader sees that a feedback schedule ran."""
    by_variant = kept.groupby("variant")
    return pd.DataFrame({
        "trials": by_variant.size(),
        "kept_epoch_mean": by_variant["best_epoch"].mean(),
        "kept_epoch_min": by_variant["best_epoch"].min(),
        "kept_epoch_max": by_variant["best_epoch"].max(),
        "teacher_probability_mean": by_variant["teacher_probability"].mean(),
    })  # fmt: skip
