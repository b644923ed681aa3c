"""The personalisation section's table, plot and terminal lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bench.report.comparisons import comparison
from bench.report.meta import HKSJ
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


def _scope(report: PersonalisationReport) -> str:
    """What the section's verdicts cover (``across sessions`` or ``these test sets``)."""
    return str(report.comparisons["scope"].iloc[0]) if len(report.comparisons) else ""


def _test_words(report: PersonalisationReport, n_boot: int) -> str:
    """The verdict test of the section, in the legend's words."""
    if _scope(report) == HKSJ.scopes["resampled"]:
        return (
            "across sessions by the Hartung-Knapp-Sidik-Jonkman random-effects test over the "
            "test sessions (the paired hierarchical bootstrap over dialogs and seeds, "
            f"{n_boot} replicates, scoped to these sessions, is in personalisation_stats.csv)"
        )
    return (
        "on these test sets by the t-test over the training runs (each seed's gain averaged "
        "over the test sets; the paired hierarchical bootstrap over dialogs and seeds, "
        f"{n_boot} replicates, is in personalisation_stats.csv)"
    )


def _interval(test: pd.Series) -> tuple[float, float, float]:
    """The verdict's estimate and its Holm-level interval."""
    return test["verdict_delta"], test["verdict_low"], test["verdict_high"]


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
                Cell("ci", numbers=_interval(test), marker=bool(test["significant"])),
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
        f"{{Delta}}CCC-avg: the gain over k = 0 on the same turns, {_test_words(report, n_boot)}, "
        "with its interval at the level Holm's procedure gives the row (the TOST's for an "
        f"equivalent verdict); {{dagger}}: p_Holm < {ALPHA}, Holm over the table's {n_tests} "
        "CCC-avg comparisons. Verdict: better or worse (that test), equivalent (its TOST "
        "within the margin), else undecided. "
        "Speakers: how many gained / lost CCC-avg on their own scored turns (mean over "
        "seeds); worst: the largest loss (or smallest gain)."
    )
    headers = ["Variant", "Adapted", "k", "CCC-V", "CCC-A", "CCC-avg", "{Delta}CCC-avg\n[Holm CI]",
               f"Verdict\n({_scope(report)})", "Speakers\ngained / lost",
               "Worst\nspeaker"]  # fmt: skip
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
            delta = np.r_[0.0, gains["verdict_delta"].to_numpy()]  # [n + 1]
            below = np.r_[0.0, (gains["verdict_delta"] - gains["verdict_low"]).to_numpy()]
            above = np.r_[0.0, (gains["verdict_high"] - gains["verdict_delta"]).to_numpy()]
            ax.errorbar(k, base + delta, yerr=[below, above], marker="o", capsize=3,
                        label=adapt, color=ADAPT_COLORS.get(adapt))  # fmt: skip
        ax.set_xticks(sorted(levels["k"].unique()))
        ax.set(title=model, xlabel="enrolment turns k", ylabel="CCC-avg of the scored turns")
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{protocol}: few-shot personalisation (bars: the gain over k = 0 with the verdict "
        f"test's Holm-level interval, {_scope(report)})"
    )
    return fig


def personalisation_lines(report: PersonalisationReport) -> list[str]:
    """The terminal summary: one line per (variant, adapt, k > 0)."""
    avg = _avg(report)
    spread = report.speakers.set_index(["variant", "adapt", "k"])
    lines = [
        f"personalisation (gain over k=0 on the same turns; verdicts {_scope(report)}, Holm "
        f"over {int(avg['p'].notna().sum())} CCC-avg comparisons):"
    ]
    for (model, adapt, k), r in avg.sort_index().iterrows():
        who = spread.loc[(model, adapt, k)]
        test = comparison(r["test"])
        p_holm = r[test.holm[test.p]]
        lines.append(
            f"  {model} {adapt} k={k}: {r['verdict']}, CCC-avg {r['verdict_delta']:+.3f} "
            f"[{r['verdict_low']:+.3f}, {r['verdict_high']:+.3f}] p_Holm {p_holm:.3f} "
            f"(bootstrap, these sessions: {r['bootstrap_verdict']}); speakers "
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
