"""The personalisation section's table, plot and terminal lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from bench.report.personalisation import PersonalisationReport
from bench.report.stats import ALPHA
from bench.report.tables import Cell, Format, Table, render

ADAPT_COLORS = dict(
    zip(("film", "film_last", "head_bias"), sns.color_palette("tab10"), strict=False)
)


def _avg(report: PersonalisationReport):
    """The CCC-avg comparisons indexed by (model, adapt, k)."""
    c = report.comparisons
    return c[c["dimension"] == "avg"].set_index(["model", "adapt", "k"])


def _speakers(spread) -> str:
    return f"{int(spread['gained'])} / {int(spread['lost'])} of {int(spread['speakers'])}"


def personalisation_table(report: PersonalisationReport, protocol: str, n_boot: int) -> Table:
    """Per variant: the unadapted row, then each adapt mode and k > 0 with its gain."""
    avg = _avg(report)
    spread = report.speakers.set_index(["variant", "adapt", "k"])
    rows = []
    for model, own in report.levels.groupby("variant", sort=True):
        base = own[own["k"] == 0].iloc[0]
        rows.append([
            Cell("text", model), Cell("text", "none"), Cell("text", "0"),
            *(Cell("num", numbers=(base[m],)) for m in ("ccc_v", "ccc_a", "ccc_avg")),
            Cell("text", ""), Cell("text", ""), Cell("text", ""), Cell("text", ""),
        ])  # fmt: skip
        for r in own[own["k"] > 0].itertuples():
            test = avg.loc[(model, r.adapt, r.k)]
            who = spread.loc[(model, r.adapt, r.k)]
            rows.append([
                Cell("text", model), Cell("text", r.adapt), Cell("text", str(r.k)),
                *(Cell("num", numbers=(getattr(r, m),)) for m in ("ccc_v", "ccc_a", "ccc_avg")),
                Cell("ci", numbers=(test["delta"], test["ci_low"], test["ci_high"]),
                     marker=bool(test["significant"])),
                Cell("text", str(test["verdict"])),
                Cell("text", _speakers(who)),
                Cell("num", numbers=(who["worst"],)),
            ])  # fmt: skip
    n_tests = int(avg["p"].notna().sum())
    settings = {f"{c.steps} AdamW steps at lr {c.lr:g}" for c in report.configs.values()}
    if len(settings) > 1:
        settings = {"per variant " + "; ".join(
            f"{name}: {c.steps} AdamW steps at lr {c.lr:g}" for name, c in report.configs.items()
        )}  # fmt: skip
    legend = (
        f"Protocol {protocol}. Few-shot personalisation: each test speaker's first k turns "
        "(dialogs in order, turns by start time) enrol, and every k is scored on the same "
        "later turns of that speaker (k = 0: the trained model). Adapted: film (every FiLM "
        "parameter), film_last (FiLM's last layer) or head_bias (the output offset), "
        f"everything else frozen; {settings.pop()}. "
        "{Delta}CCC-avg: the gain over k = 0 on the same turns with its 95% CI (paired "
        f"hierarchical bootstrap over dialogs and seeds, {n_boot} replicates); {{dagger}}: "
        f"p_Holm < {ALPHA}, Holm over the table's {n_tests} CCC-avg comparisons. Verdict: "
        "better or worse (that test), equivalent (TOST within the margin), else undecided. "
        "Speakers: how many gained / lost CCC-avg on their own scored turns (mean over "
        "seeds); worst: the largest loss (or smallest gain)."
    )
    headers = ["Variant", "Adapted", "k", "CCC-V", "CCC-A", "CCC-avg", "{Delta}CCC-avg",
               "Verdict", "Speakers\ngained / lost", "Worst\nspeaker"]  # fmt: skip
    align = ["left", "left", *["right"] * 8]
    return Table(headers, align, rows, legend, f"{protocol}-personalisation")


def plot_personalisation(report: PersonalisationReport, protocol: str) -> Figure:
    """CCC-avg against k, one line per adapt mode and one panel per variant: at k = 0 the
    trained model's CCC-avg, at k > 0 that plus the gain, with the gain's 95% CI as bars."""
    models = sorted(report.levels["variant"].unique())
    fig = Figure(figsize=(4.0 * len(models) + 1.0, 3.6), layout="constrained")
    axes = fig.subplots(1, len(models), sharey=True, squeeze=False)[0]
    avg = _avg(report).reset_index()
    for ax, model in zip(axes, models, strict=True):
        levels = report.levels[report.levels["variant"] == model]
        base = float(levels[levels["k"] == 0]["ccc_avg"].iloc[0])
        for adapt, gains in avg[avg["model"] == model].groupby("adapt", sort=True):
            gains = gains.sort_values("k")
            k = np.r_[0, gains["k"].to_numpy()]  # [n + 1]
            delta = np.r_[0.0, gains["delta"].to_numpy()]  # [n + 1]
            below = np.r_[0.0, (gains["delta"] - gains["ci_low"]).to_numpy()]  # [n + 1]
            above = np.r_[0.0, (gains["ci_high"] - gains["delta"]).to_numpy()]  # [n + 1]
            ax.errorbar(k, base + delta, yerr=[below, above], marker="o", capsize=3,
                        label=adapt, color=ADAPT_COLORS.get(adapt))  # fmt: skip
        ax.set_xticks(sorted(levels["k"].unique()))
        ax.set(title=model, xlabel="enrolment turns k", ylabel="CCC-avg of the scored turns")
        ax.legend(fontsize=8)
    fig.suptitle(f"{protocol}: few-shot personalisation (bars: 95% CI of the gain over k = 0)")
    return fig


def personalisation_lines(report: PersonalisationReport) -> list[str]:
    """The terminal summary: one line per (variant, adapt, k > 0)."""
    avg = _avg(report)
    spread = report.speakers.set_index(["variant", "adapt", "k"])
    lines = [
        "personalisation (gain over k=0 on the same turns; Holm over "
        f"{int(avg['p'].notna().sum())} CCC-avg comparisons):"
    ]
    for (model, adapt, k), r in avg.sort_index().iterrows():
        who = spread.loc[(model, adapt, k)]
        lines.append(
            f"  {model} {adapt} k={k}: {r['verdict']}, CCC-avg {r['delta']:+.3f} "
            f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] p_Holm {r['p_holm']:.3f}; speakers "
            f"gained {int(who['gained'])}, lost {int(who['lost'])} of {int(who['speakers'])}, "
            f"worst {who['worst']:+.3f}"
        )
    return lines


def write_personalisation(
    report: PersonalisationReport, protocol: str, n_boot: int, out: Path, formats: list[Format]
) -> list[Path]:
    """personalisation.<fmt>, personalisation_stats.csv, personalisation_speakers.csv and
    personalisation.png/pdf under ``out``."""
    written = []
    table = personalisation_table(report, protocol, n_boot)
    for fmt in formats:
        path = out / f"personalisation.{fmt}"
        path.write_text(render(table, fmt))
        written.append(path)
    for name, frame in (("personalisation_stats.csv", report.comparisons),
                        ("personalisation_speakers.csv", report.per_speaker)):  # fmt: skip
        frame.to_csv(out / name, index=False)
        written.append(out / name)
    with sns.axes_style("whitegrid"):
        fig = plot_personalisation(report, protocol)
    for suffix in ("png", "pdf"):
        fig.savefig(out / f"personalisation.{suffix}", dpi=200, bbox_inches="tight")
        written.append(out / f"personalisation.{suffix}")
    return written
