"""The personalisation section of a report: gains over the unadapted model, per speaker.

For each variant, adapt mode and ``k > 0``, the adapted model's predictions on a trial's
scored turns are compared with the unadapted model's (``k = 0``) on the *same* turns, with
the ablation table's statistics (:func:`bench.report.stats.comparison_rows`): the verdict
test (HKSJ across sessions, or the t-test over the training runs on fixed test sets) with its
TOST within the margin, and beside it the paired hierarchical bootstrap over the scored
turns' dialogs and seeds (these sessions) and the fold-level corrected t-test. Holm runs over
every comparison of the section together (CCC-avg the primary family, CCC-V and CCC-A the
secondary), :func:`bench.report.stats.corrected`.

Per speaker, the change of CCC-avg on the speaker's own scored turns (mean over seeds)
shows whether a gain on average hides speakers who lose.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.metrics import va_scores
from bench.personalise.config import PersonaliseConfig
from bench.personalise.run import supported_modes
from bench.personalise.store import load_personalised, personalise_hash, read_personalised
from bench.report.stats import comparison_rows, corrected
from bench.report.summary import PRED, TRUE, trial_metrics
from bench.run.plan import PlannedTrial

UNADAPTED = "unadapted"
SPEAKER = ["variant", "adapt", "k", "fold", "speaker"]


@dataclass(frozen=True)
class PersonalisationReport:
    """levels: per (variant, adapt, k) the mean CCC over trials of the scored turns;
    comparisons: the stats table of every (variant, adapt, k > 0) against k = 0 (columns of
    :func:`bench.report.stats.columns` plus ``model``, ``adapt`` and ``k``); speakers: per
    (variant, adapt, k > 0) how many speakers gain and lose, the worst and median change;
    per_speaker: each speaker's change; configs: per variant, the declared adaptation."""

    levels: pd.DataFrame
    comparisons: pd.DataFrame
    speakers: pd.DataFrame
    per_speaker: pd.DataFrame
    configs: dict[str, PersonaliseConfig]


def load_personalisation(
    plan: Iterable[PlannedTrial], results: str | Path, configs: dict[str, PersonaliseConfig]
) -> tuple[pd.DataFrame | None, list[str]]:
    """The stored personalisations of the plan's current trials made with their variant's
    config (``configs``), and a note for each one left out (made with another configuration,
    or for another training)."""
    frames, notes = [], []
    for trial in plan:
        if trial.status != "done":
            continue
        config = configs[trial.key.variant]
        for mode in supported_modes(trial, config):
            record = read_personalised(results, trial.key, mode)
            if record is None:
                continue
            wanted = personalise_hash(trial.config_hash, mode, config)
            if record.config_hash != wanted:
                notes.append(
                    f"{trial.key} personalise/{mode}: made with another personalise: block or "
                    f"training (hash {record.config_hash}, now {wanted}); give bench report "
                    "the personalise.* overrides it was made with"
                )
                continue
            frames.append(load_personalised(results, record))
    return (pd.concat(frames, ignore_index=True) if frames else None), notes


def personalisation_report(
    rows: pd.DataFrame,
    configs: dict[str, PersonaliseConfig],
    n_boot: int,
    seed: int,
    margin: float,
    resampled_folds: bool = True,
) -> PersonalisationReport:
    """The section's numbers from stored personalisations (``load_personalisation``);
    ``resampled_folds``: False where the folds are fixed test sets (no fold-level test)."""
    parts = []
    for model, own in rows.groupby("variant", sort=True):
        unadapted = own[own["k"] == 0].drop_duplicates(["fold", "seed", "utt_id"])
        adapted = own[own["k"] > 0]
        labels = adapted["adapt"] + " k=" + adapted["k"].astype(str)
        predictions = pd.concat(
            [unadapted.assign(variant=UNADAPTED), adapted.assign(variant=labels)],
            ignore_index=True,
        )
        table = comparison_rows(
            predictions,
            trial_metrics(predictions),
            UNADAPTED,
            n_boot,
            seed,
            margin,
            resampled_folds,
        )
        names = adapted.assign(variant=labels).drop_duplicates("variant")
        table = table.merge(names[["variant", "adapt", "k"]], on="variant", how="left")
        parts.append(table.assign(model=model))
    comparisons = corrected(pd.concat(parts, ignore_index=True))
    comparisons = comparisons.sort_values(["model", "adapt", "k"], kind="stable")
    per_speaker = speaker_changes(rows)
    return PersonalisationReport(
        levels=_levels(rows),
        comparisons=comparisons,
        speakers=_spread(per_speaker),
        per_speaker=per_speaker,
        configs=configs,
    )


def _levels(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, adapt, k): trials, scored turns per trial, mean CCC-V/A/avg."""
    out = []
    for (model, adapt, k), group in rows.groupby(["variant", "adapt", "k"], sort=True):
        trials = trial_metrics(group)
        out.append({
            "variant": model, "adapt": adapt, "k": k, "trials": len(trials),
            "turns": trials["n_utts"].mean(), "ccc_v": trials["ccc_v"].mean(),
            "ccc_a": trials["ccc_a"].mean(), "ccc_avg": trials["ccc_avg"].mean(),
        })  # fmt: skip
    return pd.DataFrame(out)


def speaker_changes(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, adapt, k > 0, fold, speaker): ``gain``, the change of CCC-avg over
    ``k = 0`` on the speaker's own scored turns, the mean over seeds."""
    keys = ["variant", "adapt", "k", "fold", "seed", "speaker"]
    scores = [
        {**dict(zip(keys, key, strict=True)),
         "ccc_avg": va_scores(g[TRUE].to_numpy(float), g[PRED].to_numpy(float))["ccc_avg"]}
        for key, g in rows.groupby(keys, sort=True)
    ]  # fmt: skip
    frame = pd.DataFrame(scores, columns=[*keys, "ccc_avg"])
    base = frame[frame["k"] == 0].drop(columns="k")
    joined = frame[frame["k"] > 0].merge(
        base, on=["variant", "adapt", "fold", "seed", "speaker"], suffixes=("", "_k0")
    )
    joined["gain"] = joined["ccc_avg"] - joined["ccc_avg_k0"]
    return joined.groupby(SPEAKER, sort=True)["gain"].mean().reset_index()


def _spread(per_speaker: pd.DataFrame) -> pd.DataFrame:
    grouped = per_speaker.groupby(["variant", "adapt", "k"], sort=True)["gain"]
    return grouped.agg(
        speakers="size",
        gained=lambda g: int((g > 0).sum()),
        lost=lambda g: int((g < 0).sum()),
        worst="min",
        median="median",
    ).reset_index()
