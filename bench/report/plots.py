"""Figures of a report, each written as PNG and PDF; the reference variant is drawn in black.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, so no global
figure state and no interactive backend), styled with seaborn.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.report.analysis import Report

REFERENCE_COLOR = "black"
DIMENSION_LABELS = {"v": "ΔCCC-V", "a": "ΔCCC-A", "avg": "ΔCCC-avg"}


def _label(variant: str, report: Report) -> str:
    return f"{variant} (reference)" if variant == report.reference else variant


def _palette(report: Report) -> dict[str, object]:
    """Black for the reference, distinct colours (no grey) for the others."""
    others = report.order()[1:]
    tab10 = sns.color_palette("tab10")
    distinct = [c for i, c in enumerate(tab10) if i != 7]  # tab10's grey reads as the reference
    colors = distinct[: len(others)] if len(others) <= 9 else sns.color_palette("husl", len(others))
    return {report.reference: REFERENCE_COLOR, **dict(zip(others, colors, strict=True))}


def _save(fig: Figure, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path, dpi=200, bbox_inches="tight")
    return paths


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, sharey=True, squeeze=False)[0]
    return fig, list(axes)


def plot_variants(report: Report) -> Figure:
    """CCC-avg of every trial per variant: box plot with the trials as points."""
    order = report.order()
    fig, (ax,) = _figure(7.0, 1.2 + 0.45 * len(order))
    data = report.trials.assign(label=[_label(v, report) for v in report.trials["variant"]])
    labels = [_label(v, report) for v in order]
    palette = {_label(v, report): c for v, c in _palette(report).items()}
    common = {"data": data, "x": "ccc_avg", "y": "label", "order": labels, "ax": ax}
    sns.boxplot(**common, hue="label", palette=palette, legend=False, fliersize=0,
                boxprops={"alpha": 0.35}, width=0.6)  # fmt: skip
    sns.stripplot(**common, color="0.15", size=3.5, jitter=0.15, alpha=0.8)
    reference_mean = report.variants.loc[report.reference, "ccc_avg_mean"]
    ax.axvline(reference_mean, color=REFERENCE_COLOR, ls="--", lw=1, label="reference mean")
    ax.set(xlabel="CCC-avg (pooled over each fold's test utterances)", ylabel="")
    ax.set_title(f"{report.title}: CCC-avg per trial (folds × seeds)", fontsize=11)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_forest(report: Report) -> Figure:
    """ΔCCC against the reference with the verdict test's Holm-level intervals
    (:mod:`bench.report.stats`), one panel per dimension, over the shaded
    equivalence margin; red where the difference test rejects after Holm (within the
    primary family on CCC-avg, the secondary one on CCC-V and CCC-A)."""
    others = report.order()[1:]
    fig, axes = _figure(10.0, 1.6 + 0.45 * len(others), ncols=3)
    table = report.comparisons.set_index(["variant", "dimension"])
    y = np.arange(len(others))
    for ax, (dimension, title) in zip(axes, DIMENSION_LABELS.items(), strict=True):
        rows = table.xs(dimension, level="dimension").reindex(others)
        delta = rows["verdict_delta"]
        error = [delta - rows["verdict_low"], rows["verdict_high"] - delta]
        significant = rows["significant"].fillna(False).astype(bool).to_numpy()
        styles = [(significant, "C3", "C3", "Holm p < 0.05"), (~significant, "0.3", "white",
                  "not significant")]  # fmt: skip
        for mask, color, face, name in styles:
            xerr = [e[mask] for e in error]
            ax.errorbar(
                delta[mask], y[mask], xerr=xerr, fmt="o", color=color, mfc=face,
                capsize=3, label=name,
            )  # fmt: skip
        ax.axvspan(-report.margin, report.margin, color="0.88", lw=0, zorder=0,
                   label=f"±{report.margin:g} (equivalence margin)")  # fmt: skip
        ax.axvline(0, color=REFERENCE_COLOR, lw=1)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(f"variant − {report.reference}")
    axes[0].set_yticks(y, others)
    axes[0].invert_yaxis()
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    fig.suptitle(
        f"{report.title}: difference to {report.reference} (reference, at 0); "
        f"the verdict test's interval at Holm's level ({report.scope})",
        fontsize=11,
    )
    return fig


def _lines(ax: Axes, data: pd.DataFrame, x: str, y: str, report: Report, **kwargs) -> None:
    """One seaborn line per variant (kwargs go to lineplot); the reference thick and black."""
    palette = _palette(report)
    others = data[data["variant"] != report.reference]
    if not others.empty:
        sns.lineplot(
            data=others, x=x, y=y, hue="variant", hue_order=report.order()[1:], palette=palette,
            ax=ax, **kwargs,
        )  # fmt: skip
    reference = data[data["variant"] == report.reference]
    label = _label(report.reference, report)
    sns.lineplot(
        data=reference, x=x, y=y, color=REFERENCE_COLOR, lw=2.5, label=label, ax=ax, **kwargs
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)


def plot_folds(report: Report) -> Figure:
    """CCC-avg per test fold (mean over seeds), one line per variant."""
    fig, (ax,) = _figure(7.5, 4.0)
    _lines(ax, report.folds, "fold", "ccc_avg", report, marker="o", errorbar=None)
    ax.set_xticks(sorted(report.folds["fold"].unique()))
    ax.set(xlabel="test fold", ylabel="CCC-avg (mean over seeds)")
    ax.set_title(f"{report.title}: CCC-avg per test fold", fontsize=11)
    return fig


def still_training(history: pd.DataFrame, share: float = 0.5) -> pd.DataFrame:
    """The epochs that at least ``share`` of a variant's trials reached.

    Early stopping ends trials at different epochs; past the point where most have stopped,
    a mean over the few survivors would jump about and mislead.
    """
    trials = history.groupby("variant")[["fold", "seed"]].apply(lambda g: len(g.drop_duplicates()))
    reached = history.groupby(["variant", "epoch"])["epoch"].transform("size")
    return history[reached >= share * history["variant"].map(trials)]


def plot_learning_curves(report: Report) -> Figure:
    """Validation CCC-avg per epoch: mean and ± 1 std band over folds × seeds, drawn for the
    epochs that at least half of a variant's trials reached (:func:`still_training`)."""
    fig, (ax,) = _figure(7.5, 4.0)
    _lines(ax, still_training(report.history), "epoch", "val_ccc_avg", report, errorbar="sd")
    ax.set(xlabel="epoch", ylabel="validation CCC-avg")
    ax.set_title(
        f"{report.title}: learning curves (mean ± std over folds × seeds; "
        "epochs that half the trials reached)",
        fontsize=10,
    )
    return fig


def plot_tuning(report: Report) -> Figure:
    """Best validation CCC-avg after n configurations tried, one line per variant (mean and
    range over the tuned folds): where a line is flat, that variant's budget saturated."""
    fig, (ax,) = _figure(7.5, 4.0)
    _lines(ax, report.tuning.curves, "tried", "best", report, marker="o", errorbar=("pi", 100))
    ax.set(xlabel="configurations tried", ylabel="best validation CCC-avg so far")
    ax.set_title(f"{report.title}: tuning budget (mean and range over folds)", fontsize=11)
    return fig


PLOTS: dict[str, Callable[[Report], Figure]] = {
    "ccc_avg_per_variant": plot_variants,
    "delta_forest": plot_forest,
    "per_fold": plot_folds,
    "learning_curves": plot_learning_curves,
    "tuning_budget": plot_tuning,
}


def write_plots(report: Report, out: Path) -> list[Path]:
    """Every figure of ``PLOTS`` as ``<name>.png`` and ``<name>.pdf`` under ``out``.

    The forest plot needs at least one variant besides the reference, the learning curves
    a stored history, the tuning budget plot a tuned report; a figure without its data is
    left out.
    """
    skip = set()
    if report.tuning.curves is None or report.tuning.curves.empty:
        skip.add("tuning_budget")
    if report.comparisons.empty:
        skip.add("delta_forest")
    if report.history.empty or report.history["val_ccc_avg"].isna().all():
        skip.add("learning_curves")
    paths = []
    with sns.axes_style("whitegrid"):
        for name, plot in PLOTS.items():
            if name not in skip:
                paths += _save(plot(report), out, name)
    return paths
