"""A corpus summary: counts, label statistics, audio formats and every problem found."""

from __future__ import annotations

from collections import Counter
from typing import Any

import soundfile as sf
from tabulate import tabulate

from bench.audio import SAMPLE_RATE
from bench.corpus.table import LABELS, Corpus

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
    """Everything ``bench corpus describe`` shows, as one JSON-ready mapping."""
    table = corpus.table
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
        "audio": audio,
        "problems": corpus.problems + audio_problems,
    }


def format_description(summary: dict[str, Any]) -> str:
    """The human-readable form of :func:`describe`."""
    lines = [
        f"corpus {summary['corpus']}: {summary['utterances']} utterances, "
        f"{summary['dialogs']} dialogs, {summary['sessions']} sessions, "
        f"{summary['speakers']} speakers, {summary['audio']['hours']} h of audio",
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
