"""What a report says about how each variant's configuration was chosen.

Untuned, every variant trains with one shared recipe. Tuned (``bench run --tuned``), the
report names the search (space, searcher, scheduler), the budget and the mode with its
leakage, shows the chosen values per variant and fold, and the best validation CCC-avg
after each number of configurations tried, so a reader sees whether a budget saturated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.tune.apply import Tuning
from bench.tune.store import TuningKey, read_choice, read_configuration

UNTUNED = (
    "Untuned: every variant trains with one shared recipe (variants/base.yaml, the "
    "protocol's model and train sections, the variant's own changes), so a difference "
    "measures the architecture under that recipe."
)
MODE_NOTES = {
    "nested": "tuned on each fold's own training part (its validation rule applied), so no "
    "test session informed a choice",
    "fold1": "tuned once on fold 1's training part and applied to every fold; that part "
    "holds the test sessions of folds 2 and up, so for those folds the test session helped "
    "choose the configuration (leakage)",
}


@dataclass(frozen=True)
class TuningView:
    """note: one legend sentence; chosen: per variant and source fold, the chosen index,
    values and validation score (None untuned); curves: per variant, source fold and
    number of configurations tried, the best validation CCC-avg so far (None untuned)."""

    note: str
    chosen: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None


def tuning_view(tuning: Tuning | None, protocol: str, variants: Sequence[str],
                folds: Sequence[int]) -> TuningView:  # fmt: skip
    """The view of the tuning the report's trials were trained with."""
    if tuning is None:
        return TuningView(UNTUNED)
    chosen, curves, described = [], [], set()
    for variant in variants:
        for fold in sorted({tuning.source_fold(f) for f in folds}):
            key = TuningKey(protocol, variant, fold)
            choice = read_choice(tuning.root, key)
            if choice is None:
                continue
            described.add((choice.described, choice.tried))
            chosen.append({"variant": variant, "fold": fold, "chosen": choice.index,
                           "tried": choice.tried, "val_ccc_avg": choice.score,
                           **choice.values})  # fmt: skip
            scores = [read_configuration(tuning.root, key, i) for i in range(choice.tried)]
            best = np.fmax.accumulate([np.nan if r is None or r.score is None else r.score
                                       for r in scores])  # fmt: skip
            curves += [{"variant": variant, "fold": fold, "tried": n + 1, "best": b}
                       for n, b in enumerate(best)]  # fmt: skip
    searches = "; ".join(f"{tried} configurations per variant and tuned fold, from: {text}"
                         for text, tried in sorted(described))  # fmt: skip
    note = (
        f"Tuned (bench tune, mode {tuning.mode}): each variant's nuisance hyperparameters "
        f"were {MODE_NOTES[tuning.mode]}; the same search for every variant, "
        f"{searches or 'no tuning record found'}. Chosen values: tuning.csv."
    )
    return TuningView(note, pd.DataFrame(chosen), pd.DataFrame(curves))
