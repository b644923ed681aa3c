"""Writing a report: tables, CSVs and plots to a folder, and the terminal summary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report.analysis import Report
from bench.report.plots import write_plots
from bench.report.stats import ALPHA
from bench.report.tables import Format, ablation_table, per_fold_table, render

VERDICT = {-1: "lower", 0: "n.s.", 1: "higher"}


def write_report(report: Report, out: Path, formats: list[Format]) -> list[Path]:
    """ablations.<fmt>, per_fold.<fmt>, stats.csv, trials.csv, selection.csv (kept epochs)
    and the plots under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    tables = {"ablations": ablation_table(report), "per_fold": per_fold_table(report)}
    for name, table in tables.items():
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            path.write_text(render(table, fmt))
            written.append(path)
    for name, frame in [("stats.csv", report.comparisons), ("trials.csv", report.trials)]:
        frame.to_csv(out / name, index=False)
        written.append(out / name)
    if report.selection is not None:
        report.selection.to_csv(out / "selection.csv", index_label="variant")
        written.append(out / "selection.csv")
    return written + write_plots(report, out)


def _verdict(row: pd.Series) -> str:
    """``lower``/``higher`` only where the corrected test says so, else ``n.s.``."""
    return VERDICT[int(row["significant"]) * (1 if row["delta"] > 0 else -1)]


def summarize(report: Report) -> str:
    """A few lines for the terminal: trials found, missing ones, and what the tests support."""
    v, c = report.variants, report.comparisons
    n_tests = int(c["p"].notna().sum())
    lines = [
        f"protocol {report.protocol}: {len(v)} variants, {v['n'].sum()} trials "
        f"(expected {v['n_expected'].max()} per variant); reference {report.reference}"
    ]
    lines += [f"  missing trials of {note}" for note in report.missing_notes()]
    lines += [f"  left out {note}" for note in report.left_out]
    lines += [f"  {note}" for note in report.pairing_notes()]
    if report.selection is not None:
        lines.append("kept epochs (best validation CCC-avg) and the teacher probability there:")
        lines += [
            f"  {name}: epoch {r.kept_epoch_mean:.1f} ({r.kept_epoch_min}-{r.kept_epoch_max}), "
            f"teacher probability {r.teacher_probability_mean:.2f}"
            for name, r in report.selection.iterrows()
        ]
    lines.append(
        f"paired hierarchical bootstrap ({report.n_boot} replicates, seed {report.seed}), "
        f"Holm over {n_tests} tests; p_Holm < {ALPHA} counts as a difference:"
    )
    if n_tests and 2 * n_tests / (report.n_boot + 1) >= ALPHA:
        lines.append(
            f"  note: with {report.n_boot} replicates the smallest attainable p_Holm is "
            f"{2 * n_tests / (report.n_boot + 1):.3f}, so no test can reach {ALPHA}; "
            "use more --bootstrap replicates"
        )
    by_variant = c.set_index(["variant", "dimension"])
    width = max((len(name) for name in c["variant"]), default=0)
    for variant in c["variant"].unique():
        avg, val, aro = (by_variant.loc[(variant, d)] for d in ("avg", "v", "a"))
        verdict = _verdict(avg)
        verdict = "no significant difference" if verdict == "n.s." else f"significantly {verdict}"
        lines.append(
            f"  {variant:{width}}  CCC-avg difference {avg['delta']:+.3f} "
            f"[{avg['ci_low']:+.3f}, {avg['ci_high']:+.3f}]  p_Holm {avg['p_holm']:.3f}  "
            f"{verdict} (V {_verdict(val)}, A {_verdict(aro)})"
        )
    return "\n".join(lines)
