"""A corpus summary: the release layout read, counts, label statistics, mean labels per
category with the direction checks (:mod:`bench.corpus.directions`), audio formats, which
unit validates and whether validation speakers also train, and every problem found."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pandas as pd
import soundfile as sf
from tabulate import tabulate

from bench.audio import SAMPLE_RATE
from bench.corpus.directions import category_means, direction_warnings
from bench.corpus.table import LABELS, Corpus

if TYPE_CHECKING:
    from bench.protocol import Fold

MIN_SECONDS = 0.1  # shorter audio is reported: too short for most feature extractors


def _audio_summary(paths: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Formats and duration of the audio files, read from their headers only."""
    rates: Counter[int] = Counter()
    channels: Counter[int] = Counter()
    problems = []
    seconds = 0.0
    converted = 0
    for path in paths:
        try:
            info = sf.info(path)
        except (sf.LibsndfileError, RuntimeError) as exc:
            problems.append(f"{path}: unreadable audio ({exc})")
            continue
        rates[info.samplerate] += 1
        channels[info.channels] += 1
        converted += info.samplerate != SAMPLE_RATE or info.channels != 1
        duration = info.frames / info.samplerate
        seconds += duration
        if duration < MIN_SECONDS:
            problems.append(f"{path}: only {duration:.3f} s of audio")
    if converted:
        problems.append(
            f"{converted} files are not 16 kHz mono; they are converted when loaded (not an error)"
        )
    summary = {
        "hours": round(seconds / 3600, 3),
        "sample_rates": {str(k): v for k, v in sorted(rates.items())},
        "channels": {str(k): v for k, v in sorted(channels.items())},
    }
    return summary, problems


def describe(corpus: Corpus) -> dict[str, Any]:
    """Everything ``bench corpus describe`` shows, as one JSON-ready mapping.

    ``categories`` and the direction warnings (also among ``problems``) are each corpus's
    own, on its own scale: a cross-corpus corpus's parts are checked one by one.
    """
    table = corpus.table
    parts = corpus.parts or (corpus,)
    directions = [warning for part in parts for warning in direction_warnings(part)]
    audio, audio_problems = _audio_summary(table["audio_path"].tolist())
    lo, hi = corpus.label_scale
    labels = {}
    for name in LABELS:
        values = corpus.denormalise(table[name].dropna().to_numpy())
        if len(values):
            labels[name] = {
                "mean": round(float(values.mean()), 4),
                "std": round(float(values.std()), 4),
            }
    dialog_sizes = table.groupby("dialog").size()
    splits = table.dropna(subset=["split"]).groupby("split", sort=True)
    return {
        "corpus": corpus.name,
        "release": corpus.release
        or "; ".join(f"{part.name}: {part.release}" for part in corpus.parts if part.release),
        "utterances": len(table),
        "dialogs": int(table["dialog"].nunique()),
        "sessions": int(table["session"].nunique()),
        "speakers": int(table["speaker"].nunique()),
        "groups": int(table["group"].nunique()),
        "clipped_labels": corpus.clipped_labels,
        "per_session": {str(k): int(v) for k, v in table.groupby("session").size().items()},
        "per_speaker": {str(k): int(v) for k, v in table.groupby("speaker").size().items()},
        "per_split": {
            str(split): {
                "utterances": len(rows),
                "speakers": int(rows["speaker"].nunique()),
                "dialogs": int(rows["dialog"].nunique()),
            }
            for split, rows in splits
        },
        "skipped": dict(corpus.skipped),
        "notes": list(corpus.notes),
        "dialog_length": {
            "min": int(dialog_sizes.min()),
            "median": float(dialog_sizes.median()),
            "max": int(dialog_sizes.max()),
        },
        "label_scale": [lo, hi],
        "labels": labels,
        "categories": [row for part in parts for row in category_means(part)],
        "direction_warnings": directions,
        "audio": audio,
        "problems": corpus.problems + audio_problems + directions,
    }


def validation_summary(table: pd.DataFrame, folds: list[Fold]) -> dict[str, Any]:
    """Which unit the folds validate on, what that holds out, and how many validation
    speakers also train.

    ``shared_speakers``: per fold number, the size of the intersection of its validation
    speakers and its training speakers. A unit other than ``dialog`` (whole speakers,
    sessions or groups) promises 0, which :func:`bench.protocol.check_fold` asserts for
    every fold, as it does for the corpus's own partition under ``folds.speaker_overlap:
    error`` (under ``warn``, the partition's shared speakers are counted here); ``dialog``
    holds out a share of each training unit's dialogs, so its validation speakers train too.
    """
    unit = ", ".join(sorted({fold.val_unit for fold in folds}))
    if unit == "dialog":
        held_out = "a share of the dialogs of every training unit (validation.unit dialog)"
    elif all(fold.partition for fold in folds):
        names = ", ".join(sorted({name for fold in folds for name in fold.val_values}))
        held_out = f"the corpus's own partition ({unit} {names}, folds.validation)"
    else:
        held_out = f"whole values of {unit!r} (validation.unit; those sharing a dialog together)"
    shared = {
        str(fold.number): len(
            set(table["speaker"].iloc[fold.val]) & set(table["speaker"].iloc[fold.train])
        )
        for fold in folds
    }
    return {"unit": unit, "held_out": held_out, "shared_speakers": shared}


def _validation_line(validation: dict[str, Any]) -> str:
    """One line: what validates, and how many validation speakers also train."""
    what = f"validation: {validation['held_out']}"
    shared = validation["shared_speakers"]
    if not any(shared.values()):
        return f"{what}; validation speakers that also train: 0 in every fold"
    counts = ", ".join(f"fold {fold}: {n}" for fold, n in shared.items())
    return (
        f"{what}; validation speakers that also train: {counts} (validation.unit=speaker "
        "holds out whole speakers)"
    )


def format_description(summary: dict[str, Any]) -> str:
    """The human-readable form of :func:`describe`."""
    lines = [
        f"corpus {summary['corpus']}: {summary['utterances']} utterances, "
        f"{summary['dialogs']} dialogs, {summary['sessions']} sessions, "
        f"{summary['speakers']} speakers, {summary['audio']['hours']} h of audio",
        *([f"release: {summary['release']}"] if summary["release"] else []),
        f"dialog length: {summary['dialog_length']}",
        "",
        _largest(summary["per_session"], "session"),
        "",
        _largest(summary["per_speaker"], "speaker"),
        "",
        tabulate(
            [(k, v["mean"], v["std"]) for k, v in summary["labels"].items()],
            headers=[f"label (scale {summary['label_scale']})", "mean", "std"],
        ),
        "",
        f"clipped labels: {summary['clipped_labels']}",
    ]
    if summary["categories"]:
        headers = {"corpus": "corpus", "category": "category", "basic": "checked as",
                   "utterances": "utterances", "valence": "mean valence",
                   "arousal": "mean arousal"}  # fmt: skip
        lines += ["", tabulate(summary["categories"], headers=headers)]
        found = len(summary["direction_warnings"])
        lines.append(
            f"label directions: {found} contradiction(s) of arousal angry, happy > sad and "
            "valence happy > angry, sad" + (" (listed under problems)" if found else "")
        )
    if summary["per_split"]:
        rows = [{"split": name, **counts} for name, counts in summary["per_split"].items()]
        lines += ["", tabulate(rows, headers="keys")]
    lines += [f"skipped {n} rows: {reason}" for reason, n in summary["skipped"].items()]
    lines += summary["notes"]
    if summary.get("folds"):
        rows = [
            {**fold, "validation_values": _shorten(fold["validation_values"])}
            for fold in summary["folds"]
        ]
        lines += ["", tabulate(rows, headers="keys")]
    if summary.get("validation"):
        lines.append(_validation_line(summary["validation"]))
    problems = summary["problems"]
    lines.append(f"problems: {len(problems)}")
    lines += [f"  - {p}" for p in problems[:50]]
    if len(problems) > 50:
        lines.append(f"  ... and {len(problems) - 50} more (see --json)")
    return "\n".join(lines)


def _largest(counts: dict[str, int], what: str, shown: int = 60) -> str:
    """Utterances per ``what`` (session, speaker); past ``shown`` rows, only the largest,
    and a count of the rest (MSP-Podcast has thousands of both)."""
    if len(counts) <= shown:
        return tabulate(counts.items(), headers=[what, "utterances"])
    largest = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:shown]
    more = f"\n... and {len(counts) - shown} more (see --json)"
    return tabulate(largest, headers=[what, "utterances (largest)"]) + more


def _shorten(values: list[str], shown: int = 4) -> str:
    """``a, b, c, d, ... (+n)`` for a long list."""
    more = f", ... (+{len(values) - shown})" if len(values) > shown else ""
    return ", ".join(values[:shown]) + more
