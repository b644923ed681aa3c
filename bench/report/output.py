"""Writing a report: tables, CSVs and plots to a folder, and the terminal summary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report.analysis import Report
from bench.report.comparison import ComparisonTest
from bench.report.comparisons import comparison, secondary, verdict_test
from bench.report.personalisation_output import personalisation_lines, write_personalisation
from bench.report.plots import write_plots
from bench.report.stats import ALPHA
from bench.report.tables import (
    AA_MARK,
    Format,
    ablation_table,
    per_fold_table,
    render,
    tuning_table,
)


def write_report(report: Report, out: Path, formats: list[Format]) -> list[Path]:
    """ablations.<fmt>, per_fold.<fmt>, stats.csv, trials.csv, selection.csv (kept epochs),
    tuning.<fmt> and tuning.csv (the chosen configurations, when tuned), the personalisation
    section's files (when there is one) and the plots under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    tables = {"ablations": ablation_table(report), "per_fold": per_fold_table(report),
              "tuning": tuning_table(report)}  # fmt: skip
    for name, table in tables.items():
        if table is None:
            continue
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
    if report.tuning.chosen is not None and not report.tuning.chosen.empty:
        report.tuning.chosen.to_csv(out / "tuning.csv", index=False)
        written.append(out / "tuning.csv")
    if report.personalisation is not None:
        section = report.personalisation
        written += write_personalisation(section, report.protocol, report.n_boot, out, formats)
    return written + write_plots(report, out)


def _smallest_p_note(report: Report) -> list[str]:
    """A warning where too few replicates let no primary bootstrap test (the secondary
    statement about these sessions) reach ``ALPHA`` after Holm."""
    m = int(report.comparisons.query("family == 'primary'")["p"].notna().sum())
    smallest = {"difference": 2 * m / (report.n_boot + 1), "TOST": m / (report.n_boot + 1)}
    out = [name for name, p in smallest.items() if m and p >= ALPHA]
    if not out:
        return []
    values = ", ".join(f"{name} {smallest[name]:.3f}" for name in out)
    return [
        f"  note: with {report.n_boot} replicates the smallest attainable p_Holm is {values}, "
        f"so no such test can reach {ALPHA}; use more --bootstrap replicates"
    ]


def _test_lines(report: Report) -> list[str]:
    """The terminal's account of the tests: which gives the verdict and what each covers, in
    the registry's order."""
    kind = report.fold_kind
    n_primary = int(report.comparisons.query("family == 'primary'")["p"].notna().sum())
    others = [
        test.terminal(report)
        + (f" (its verdict after '{test.scopes[kind]}')" if test.verdict_column else "")
        for test in secondary(kind)
    ]
    rule = (
        f"better/worse: difference p_Holm < {ALPHA}; equivalent: TOST p_Holm < {ALPHA} within "
        f"+-{report.margin:g} CCC; otherwise undecided; the interval is the verdict test's at "
        "the level Holm gives the row (the TOST's for equivalent); Holm within the primary "
        f"family (CCC-avg, {n_primary} tests) and the secondary one (CCC-V, CCC-A):"
    )
    lines = [f"verdict: {verdict_test(kind).terminal(report)};"]
    return lines + ([f"secondary: {'; '.join(others)};"] if others else []) + [rule]


def _p_holm(test: ComparisonTest, row: pd.Series) -> str:
    """A test's Holm-corrected p-values in a summary line: ``difference p, TOST p``, or the
    one p of a test without a TOST."""
    if not test.p_tost:
        return f"{row[test.holm[test.p]]:.3f}"
    return f"difference {row[test.holm[test.p]]:.3f}, TOST {row[test.holm[test.p_tost]]:.3f}"


def _p_values(report: Report, row: pd.Series) -> str:
    """The Holm-corrected p-values of a summary line: the verdict test's, then each secondary
    test's (with its own verdict and scope where it has one)."""
    kind = report.fold_kind
    parts = [_p_holm(comparison(row["test"]), row)]
    for test in secondary(kind):
        if test.verdict_column:
            parts.append(
                f"{test.scopes[kind]} ({test.name}) {row[test.verdict_column]}, "
                + _p_holm(test, row)
            )
        else:
            parts.append(f"{test.name} {_p_holm(test, row)}")
    return "; ".join(parts)


def summarize(report: Report) -> str:
    """A few lines for the terminal: trials found, missing ones, and the verdicts with the
    tests behind them, the A/A controls marked (their verdict should be equivalent or
    undecided)."""
    v, c = report.variants, report.comparisons
    lines = [
        f"protocol {report.title}: {len(v)} variants, {v['n'].sum()} trials "
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
    lines.append(f"  {report.tuning.note}")
    lines += [*_test_lines(report), *_smallest_p_note(report)]
    by_variant = c.set_index(["variant", "dimension"])
    names = {v: f"{v} {AA_MARK}" if v in report.aa_controls else v for v in c["variant"]}
    width = max((len(name) for name in names.values()), default=0)
    for variant in c["variant"].unique():
        avg, val, aro = (by_variant.loc[(variant, d)] for d in ("avg", "v", "a"))
        lines.append(
            f"  {names[variant]:{width}}  {avg['verdict']:10}  "
            f"CCC-avg difference {avg['verdict_delta']:+.3f} "
            f"[{avg['verdict_low']:+.3f}, {avg['verdict_high']:+.3f}] "
            f"({avg['verdict_level']:.1%})  p_Holm: {_p_values(report, avg)}"
            + f"  (secondary: V {val['verdict']}, A {aro['verdict']})"
        )
    if report.aa_controls:
        lines.append(
            f"{AA_MARK}: {', '.join(report.aa_controls)}, {report.reference} again with other "
            "seeds: its verdict should be equivalent or undecided, else a false positive"
        )
    if report.personalisation is not None:
        lines += personalisation_lines(report.personalisation)
    return "\n".join(lines)
