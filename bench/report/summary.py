"""Per-trial metrics from stored predictions, and their summaries per variant and per fold.

Every score is recomputed from ``predictions.parquet`` with :mod:`bench.metrics`:

- ``ccc_v, ccc_a, ccc_avg, rmse_v, rmse_a``: pooled over all test utterances of the trial's
  fold (the primary metrics);
- ``dialog_ccc_v, dialog_ccc_a, dialog_ccc_avg``: the *mean of per-dialog CCCs* (CCC within
  each test dialog, then the mean over dialogs where it is defined), a secondary view that
  ignores differences between dialogs' label means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.metrics import ccc, va_scores

TRIAL = ["variant", "fold", "seed"]
METRICS = ["ccc_v", "ccc_a", "ccc_avg", "rmse_v", "rmse_a"]
DIALOG_METRICS = ["dialog_ccc_v", "dialog_ccc_a", "dialog_ccc_avg"]
TRUE = ["valence_true", "arousal_true"]
PRED = ["valence_pred", "arousal_pred"]


def _dialog_means(dialogs: np.ndarray, true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Mean over dialogs of the per-dialog CCC of valence and arousal (NaN dialogs skipped)."""
    per_dialog = np.array(
        [
            [ccc(true[rows, j], pred[rows, j]) for j in range(2)]
            for rows in (dialogs == d for d in np.unique(dialogs))
        ]
    )  # [n_dialogs, 2]
    v, a = (float(np.nanmean(c)) if np.isfinite(c).any() else np.nan for c in per_dialog.T)
    return {"dialog_ccc_v": v, "dialog_ccc_a": a, "dialog_ccc_avg": 0.5 * (v + a)}


def trial_metrics(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: variant, fold, seed, n_utts, n_dialogs, METRICS, DIALOG_METRICS."""
    true, pred = predictions[TRUE].to_numpy(float), predictions[PRED].to_numpy(float)  # [N, 2]
    dialogs = predictions["dialog"].to_numpy()
    rows = []
    for (variant, fold, seed), index in sorted(predictions.groupby(TRIAL).indices.items()):
        d = dialogs[index]
        rows.append(
            {"variant": variant, "fold": fold, "seed": seed, "n_utts": len(index),
             "n_dialogs": len(np.unique(d)), **va_scores(true[index], pred[index]),
             **_dialog_means(d, true[index], pred[index])}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=[*TRIAL, "n_utts", "n_dialogs", *METRICS, *DIALOG_METRICS])


def trial_pairs(trials: pd.DataFrame) -> set[tuple[int, int]]:
    """The (fold, seed) pairs of a frame's trials."""
    return {(int(f), int(s)) for f, s in zip(trials["fold"], trials["seed"], strict=True)}


def format_trials(pairs: set[tuple[int, int]]) -> str:
    """``fold2/seed1 fold3/seed0``: a readable list of (fold, seed) pairs."""
    return " ".join(f"fold{f}/seed{s}" for f, s in sorted(pairs))


def variant_summary(
    trials: pd.DataFrame, expected: set[tuple[int, int]] | None = None
) -> pd.DataFrame:
    """Per variant: ``n`` trials of ``n_expected``, the ``missing`` ones, and for every metric
    ``<metric>_mean`` and ``<metric>_std`` (sample std, ddof 1) over its folds x seeds.

    ``expected``: the (fold, seed) pairs of the grid; by default every pair that any variant
    has, so a fold missing in every variant only shows when the grid is given."""
    grid = trial_pairs(trials) if expected is None else expected
    rows = []
    for variant, group in trials.groupby("variant", sort=True):
        row = {"variant": variant, "n": len(group), "n_expected": len(grid)}
        row["missing"] = format_trials(grid - trial_pairs(group))
        for metric in METRICS + DIALOG_METRICS:
            row[f"{metric}_mean"] = group[metric].mean()
            row[f"{metric}_std"] = group[metric].std(ddof=1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


def fold_summary(trials: pd.DataFrame) -> pd.DataFrame:
    """Per variant x fold: ``n_seeds`` and the mean over seeds of every metric."""
    grouped = trials.groupby(["variant", "fold"], sort=True)
    means = grouped[METRICS + DIALOG_METRICS].mean()
    return means.assign(n_seeds=grouped.size()).reset_index()
