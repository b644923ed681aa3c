"""Fabricated results with known, planted differences: the fixtures of the report tests.

Labels on IEMOCAP's 1..5 scale: each dialog has a mood, each utterance varies around it.
A variant predicts ``true + dialog error + utterance error + trial bias``; its noise level
sets its expected CCC, so a variant with more noise is truly worse, and one with the same
noise as the reference is a null variant (only independent noise draws differ).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.summary import trial_metrics
from bench.results import PREDICTIONS_FILE, TrialKey, load_table, write_trial

REFERENCE_NOISE = 0.6
FOLDS = (1, 2, 3, 4, 5)


def fabricate(
    noise: dict[str, float],
    seed: int = 0,
    seeds: tuple[int, ...] = (0, 1, 2),
    dialogs: int = 6,
    utterances: int = 12,
) -> pd.DataFrame:
    """Predictions of every variant (name -> utterance noise sd) on every fold and seed."""
    rng = np.random.default_rng(seed)
    frames = []
    for fold in FOLDS:
        n = dialogs * utterances
        dialog = np.repeat([f"S{fold}_d{d}" for d in range(dialogs)], utterances)
        mood = np.repeat(rng.normal(3.0, 0.6, (dialogs, 2)), utterances, axis=0)  # [n, 2]
        true = np.clip(mood + rng.normal(0.0, 0.6, (n, 2)), 1.0, 5.0)
        test = pd.DataFrame(
            {"utt_id": [f"S{fold}_u{i:03d}" for i in range(n)], "dialog": dialog,
             "speaker": [f"S{fold}_{'FM'[i % 2]}" for i in range(n)], "session": f"S{fold}",
             "valence_true": true[:, 0], "arousal_true": true[:, 1]}
        )  # fmt: skip
        for variant, sd in noise.items():
            for s in seeds:
                error = np.repeat(rng.normal(0.0, 0.2, (dialogs, 2)), utterances, axis=0)
                pred = true + error + rng.normal(0.0, sd, (n, 2)) + rng.normal(0.0, 0.1, 2)
                frames.append(
                    test.assign(
                        valence_pred=pred[:, 0], arousal_pred=pred[:, 1],
                        variant=variant, fold=fold, seed=s,
                    )
                )  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def history(ccc_avg: float, epochs: int = 6) -> pd.DataFrame:
    """A learning curve rising towards ``ccc_avg``."""
    epoch = np.arange(1, epochs + 1)
    val = ccc_avg * (1 - np.exp(-epoch / 2))
    return pd.DataFrame(
        {"epoch": epoch, "train_loss": 1 - val, "val_ccc_v": val, "val_ccc_a": val,
         "val_ccc_avg": val}
    )  # fmt: skip


def write_results(root: Path, predictions: pd.DataFrame, protocol: str = "synthetic") -> Path:
    """Store every trial of ``predictions`` under ``root`` as ``bench run`` would."""
    scores = trial_metrics(predictions).set_index(["variant", "fold", "seed"])
    for (variant, fold, seed), trial in predictions.groupby(["variant", "fold", "seed"]):
        key = TrialKey(protocol, variant, int(fold), int(seed))
        ccc_avg = float(scores.loc[(variant, fold, seed), "ccc_avg"])
        record = {"protocol": protocol, "variant": variant, "fold": int(fold),
                  "seed": int(seed), "metrics": {"test": {"ccc_avg": ccc_avg}}}  # fmt: skip
        write_trial(root, key, record, trial, history(ccc_avg))
    return root


PLANTED = {"mamba_ema": REFERENCE_NOISE, "no_film": REFERENCE_NOISE, "worse": 0.8, "better": 0.45}


def planted_results(root: Path) -> Path:
    """A store with a better, a worse and a null variant; no_film lacks fold3/seed2."""
    predictions = fabricate(PLANTED)
    lost = (predictions["variant"] == "no_film") & (predictions["fold"] == 3)
    return write_results(root, predictions[~(lost & (predictions["seed"] == 2))])


def test_fabricated_results_round_trip(tmp_path: Path) -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE, "no_film": 1.2}, seeds=(0, 1))
    loaded = load_table(write_results(tmp_path, predictions), "synthetic", PREDICTIONS_FILE)
    assert len(loaded) == len(predictions) == 2 * 5 * 2 * 72
    means = trial_metrics(loaded).groupby("variant")["ccc_avg"].mean()
    assert 0.6 < means["mamba_ema"] < 0.9 and means["no_film"] < means["mamba_ema"] - 0.1
