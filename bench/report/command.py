"""``bench report``: results/<protocol>/ -> reports/<protocol>/ tables, stats, plots, summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli_args import positive_int

FORMATS = ("md", "tex")


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
        "--bootstrap", type=positive_int, default=10_000, help="bootstrap replicates (10000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (0)")
    parser.set_defaults(func=run_report)


def _formats(text: str) -> list[str]:
    formats = [f.strip() for f in text.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"formats are md and/or tex, not {text!r}")
    return formats


def run_report(args: argparse.Namespace) -> int:
    from bench.report.analysis import build_report  # heavy imports only when run
    from bench.report.output import summarize, write_report

    report = build_report(args.results, args.protocol, args.reference, args.bootstrap, args.seed)
    out = args.out / args.protocol
    written = write_report(report, out, args.format)
    print(summarize(report))
    print(f"wrote {len(written)} files to {out}/: " + ", ".join(p.name for p in written))
    return 0
