"""``bench report``: results/<protocol>/ -> reports/<protocol>/ tables, stats, plots, summary."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bench.report.analysis import Report, build_report
from bench.report.plots import write_plots
from bench.report.stats import ALPHA
from bench.report.tables import Format, ablation_table, per_fold_table, render

FORMATS: tuple[Format, ...] = ("md", "tex")
VERDICT = {-1: "lower", 0: "n.s.", 1: "higher"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="tables, significance tests and plots from the stored predictions",
        description=(
            "Compute every metric from the stored per-utterance predictions of a protocol, "
            "compare each variant with the reference (paired hierarchical bootstrap of "
            "the CCC difference, Holm-corrected), and write Markdown/LaTeX tables, "
            "stats.csv, trials.csv and plots (PNG and PDF) to OUT/<protocol>/."
        ),
    )
    parser.add_argument(
        "--protocol", default="synthetic", help="protocol name under --results (default: synthetic)"
    )
    parser.add_argument("--results", type=Path, default=Path("results"), help="results store")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports folder")
    parser.add_argument(
        "--reference", default="mamba_ema", help="variant the others are compared with"
    )
    parser.add_argument(
        "--format", type=_formats, default=list(FORMATS), help="table formats (default: md,tex)"
    )
    parser.add_argument(
        "--bootstrap", type=_positive, default=10_000, help="bootstrap replicates (10000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (0)")
    parser.set_defaults(func=run_report)


def _formats(text: str) -> list[Format]:
    formats = [f.strip() for f in text.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"formats are md and/or tex, not {text!r}")
    return formats  # type: ignore[return-value]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run_report(args: argparse.Namespace) -> int:
    report = build_report(args.results, args.protocol, args.reference, args.bootstrap, args.seed)
    out = args.out / args.protocol
    written = write_report(report, out, args.format)
    print(summarize(report))
    print(f"wrote {len(written)} files to {out}/: " + ", ".join(p.name for p in written))
    return 0


def write_report(report: Report, out: Path, formats: list[Format]) -> list[Path]:
    """ablations.<fmt>, per_fold.<fmt>, stats.csv, trials.csv and the plots under ``out``."""
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
    lines += [f"  {note}" for note in report.pairing_notes()]
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
