"""What a report says about how each variant's configuration was chosen.

Untuned, every variant trains with one shared recipe. Tuned (``bench run --tuned``), the
report names the search (space, searcher, scheduler), the budget and the mode with its
leakage, shows the chosen values per variant and fold, and the best validation CCC-avg
after each number of configurations tried, so a reader sees whether a budget saturated.
It also shows the compute each search spent, from the stored curves: its epochs (every
epoch each configuration trained) and the configurations ASHA stopped early, since the
same number of configurations is not the same compute for every variant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.tune.apply import Tuning
from bench.tune.store import ConfigurationRecord, TuningKey, read_choice, read_configuration

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


COMPUTE_NOTE = (
    "ASHA's clock counts only epochs eligible for selection (after a scheduled-sampling "
    "ramp), so a scheduled-sampling configuration trains its whole ramp before ASHA can "
    "stop it: for the same number of configurations those variants spend more epochs; "
    "an equal-epoch budget (budget_epochs in the search file) gives every variant the same "
    "epochs, and they try fewer configurations instead."
)


@dataclass(frozen=True)
class TuningView:
    """note: the legend's sentences; chosen: per variant and source fold, the chosen
    index, values and validation score, and the search's compute (:func:`search_compute`;
    None untuned); curves: per variant, source fold and number of configurations tried,
    the best validation CCC-avg so far (None untuned)."""

    note: str
    chosen: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None


def search_compute(records: Sequence[ConfigurationRecord | None]) -> dict[str, int | bool]:
    """What one search spent, from its stored configuration records (None: unreadable, not
    counted): ``epochs``, the sum over configurations of the epochs each trained (its
    history's length, eligible or not); ``asha_stopped``, the configurations ASHA stopped
    early; ``cut``, those an equal-epoch budget cut; ``ramp``, whether any epoch was not
    eligible for selection (a scheduled-sampling ramp)."""
    stored = [r for r in records if r is not None]
    return {
        "epochs": sum(len(r.history) for r in stored),
        "asha_stopped": sum(r.status == "stopped" for r in stored),
        "cut": sum(r.status == "cut" for r in stored),
        "ramp": any(not row.get("eligible", True) for r in stored for row in r.history),
    }


def _span(values: Iterable[int]) -> str:
    """``a`` or ``a-b``: the range of the integers ``values``."""
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def compute_note(chosen: pd.DataFrame) -> str:
    """The legend's sentences on compute: per search, the epochs, configurations and ASHA
    stops of the variants with a scheduled-sampling ramp and of those without, and why
    they differ (``chosen``: :attr:`TuningView.chosen`)."""
    parts = [
        f"variants {name} {_span(rows['epochs'])} epochs in {_span(rows['tried'])} "
        f"configurations, {_span(rows['asha_stopped'])} stopped early by ASHA"
        for name, rows in (("with a scheduled-sampling ramp", chosen[chosen["ramp"]]),
                           ("without one", chosen[~chosen["ramp"]]))
        if len(rows)
    ]  # fmt: skip
    spent = "; ".join(parts)
    return f"Compute per search (every epoch trained; tuning.csv): {spent}. {COMPUTE_NOTE}"


def tuning_view(tuning: Tuning | None, protocol: str, variants: Sequence[str],
                folds: Sequence[int]) -> TuningView:  # fmt: skip
    """The view of the tuning the report's trials were trained with."""
    if tuning is None:
        return TuningView(UNTUNED)
    chosen, curves, described = [], [], defaultdict(set)
    for variant in variants:
        for fold in sorted({tuning.source_fold(f) for f in folds}):
            key = TuningKey(protocol, variant, fold)
            choice = read_choice(tuning.root, key)
            if choice is None:
                continue
            described[choice.described].add(choice.tried)
            records = [read_configuration(tuning.root, key, i) for i in range(choice.tried)]
            chosen.append({"variant": variant, "fold": fold, "chosen": choice.index,
                           "tried": choice.tried, "val_ccc_avg": choice.score,
                           **search_compute(records), **choice.values})  # fmt: skip
            best = np.fmax.accumulate([np.nan if r is None or r.score is None else r.score
                                       for r in records])  # fmt: skip
            curves += [{"variant": variant, "fold": fold, "tried": n + 1, "best": b}
                       for n, b in enumerate(best)]  # fmt: skip
    searches = "; ".join(f"{_span(tried)} configurations per variant and tuned fold, from: "
                         f"{text}" for text, tried in sorted(described.items()))  # fmt: skip
    note = (
        f"Tuned (bench tune, mode {tuning.mode}): each variant's nuisance hyperparameters "
        f"were {MODE_NOTES[tuning.mode]}; the same search for every variant, "
        f"{searches or 'no tuning record found'}. Chosen values: tuning.csv."
    )
    frame = pd.DataFrame(chosen)
    if chosen:
        note = f"{note} {compute_note(frame)}"
    return TuningView(note, frame, pd.DataFrame(curves))
