"""Fabricated results with known, planted differences: the fixtures of the report tests.

Labels on IEMOCAP's 1..5 scale: each dialog has a mood, each utterance varies around it.
A variant predicts ``true + dialog error + utterance error + trial bias``; its noise level
sets its expected CCC, so a variant with more noise is truly worse, and one with the same
noise as the reference is a null variant (only independent noise draws differ).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.summary import trial_metrics
from bench.results import (
    PREDICTIONS_FILE,
    TrialKey,
    TrialOutcome,
    TrialRecord,
    load_table,
    read_record,
    write_trial,
)
from bench.run.plan import PlannedTrial

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


def near_twin(
    predictions: pd.DataFrame, of: str, name: str, sd: float = 0.005, seed: int = 0
) -> pd.DataFrame:
    """Variant ``of``'s predictions under the name ``name``, each moved by N(0, sd) noise: a
    variant that equals ``of`` up to tiny noise (an equivalent one)."""
    twin = predictions[predictions["variant"] == of].assign(variant=name)
    noise = np.random.default_rng(seed).normal(0.0, sd, (len(twin), 2))  # [n, 2]
    return twin.assign(
        valence_pred=twin["valence_pred"] + noise[:, 0],
        arousal_pred=twin["arousal_pred"] + noise[:, 1],
    )


def history(ccc_avg: float, epochs: int = 6) -> pd.DataFrame:
    """A learning curve rising towards ``ccc_avg``."""
    epoch = np.arange(1, epochs + 1)
    val = ccc_avg * (1 - np.exp(-epoch / 2))
    return pd.DataFrame(
        {"epoch": epoch, "train_loss": 1 - val, "val_ccc_v": val, "val_ccc_a": val,
         "val_ccc_avg": val}
    )  # fmt: skip


def histories(predictions: pd.DataFrame) -> pd.DataFrame:
    """The learning curve of every trial of ``predictions``, with variant, fold and seed."""
    scores = trial_metrics(predictions)
    return pd.concat(
        [history(r.ccc_avg).assign(variant=r.variant, fold=r.fold, seed=r.seed)
         for r in scores.itertuples()],
        ignore_index=True,
    )  # fmt: skip


def fake_record(
    key: TrialKey, config_hash: str, ccc_avg: float, data: dict[str, str] | None = None
) -> TrialRecord:
    """A valid record of a fabricated trial (``data``: its data identity)."""
    return TrialRecord(
        protocol=key.protocol, variant=key.variant, fold=key.fold, seed=key.seed,
        config={}, config_hash=config_hash,
        outcome=TrialOutcome({"test": {"ccc_avg": ccc_avg}}, 0, 1.0, {"total_s": 1.0}, {}),
        git_commit="fabricated", versions={}, created="2026-01-01T00:00:00", worker={},
        data=data,
    )  # fmt: skip


def write_results(
    root: Path,
    predictions: pd.DataFrame,
    hashes: Mapping[str, str] | None = None,
    protocol: str = "synthetic",
    planned: Sequence[PlannedTrial] = (),
) -> list[TrialKey]:
    """Store every trial of ``predictions`` under ``root`` as ``bench run`` would, with the
    config hash ``hashes[variant]`` (default ``fabricated``), or, where ``planned`` has the
    variant and fold, as that planned trial (its config hash and data identity); returns the
    trials' keys."""
    scores = trial_metrics(predictions).set_index(["variant", "fold", "seed"])
    current = {(t.key.variant, t.key.fold): t for t in planned}
    keys = []
    for (variant, fold, seed), trial in predictions.groupby(["variant", "fold", "seed"]):
        key = TrialKey(protocol, variant, int(fold), int(seed))
        ccc_avg = float(scores.loc[(variant, fold, seed), "ccc_avg"])
        digest, data = (hashes or {}).get(variant, "fabricated"), None
        if (variant, fold) in current:
            digest, data = current[variant, fold].config_hash, current[variant, fold].data
        write_trial(root, fake_record(key, digest, ccc_avg, data), trial, history(ccc_avg))
        keys.append(key)
    return keys


PLANTED = {"mamba_ema": REFERENCE_NOISE, "no_film": REFERENCE_NOISE, "worse": 0.8, "better": 0.45}


def planted_predictions() -> pd.DataFrame:
    """A better, a worse and a null variant against mamba_ema; no_film lacks fold3/seed2."""
    predictions = fabricate(PLANTED)
    lost = (predictions["variant"] == "no_film") & (predictions["fold"] == 3)
    return predictions[~(lost & (predictions["seed"] == 2))]


def test_a_near_twin_differs_from_its_original_by_tiny_noise_only() -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE}, seeds=(0,))
    twin = near_twin(predictions, "mamba_ema", "twin", sd=0.01)
    assert (twin["variant"] == "twin").all() and len(twin) == len(predictions)
    moved = twin["valence_pred"].to_numpy() - predictions["valence_pred"].to_numpy()
    assert 0.005 < moved.std() < 0.015 and (moved != 0).all()
    assert twin["utt_id"].tolist() == predictions["utt_id"].tolist()


def test_fabricated_results_round_trip(tmp_path: Path) -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE, "no_film": 1.2}, seeds=(0, 1))
    keys = write_results(tmp_path, predictions, {"no_film": "abc"})
    loaded = load_table(tmp_path, keys, PREDICTIONS_FILE)
    assert len(loaded) == len(predictions) == 2 * 5 * 2 * 72
    means = trial_metrics(loaded).groupby("variant")["ccc_avg"].mean()
    assert 0.6 < means["mamba_ema"] < 0.9 and means["no_film"] < means["mamba_ema"] - 0.1
    record = read_record(keys[-1].folder(tmp_path))
    assert record.key == keys[-1] and record.config_hash == "abc"
