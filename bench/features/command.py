"""``bench features --protocol P [key=value ...] [--json]``: extract or verify every store."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from bench.cli_args import add_protocol_arguments, positive_int

if TYPE_CHECKING:
    from bench.features.extract import ExtractionSummary

SHOWN_FAILURES = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "features",
        help="extract (or verify) the protocol's speech, prosody and speaker features",
        description=(
            "Fill the feature cache of the protocol's corpus: one store per extractor, "
            "extracted in shards (an interrupted run resumes), checked by checksum when "
            "it already exists. Utterances an extractor cannot process fall back to zeros "
            "marked invalid and are listed."
        ),
    )
    add_protocol_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON list of summaries")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="CPU worker processes (default: the usable cores)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_features)


def run_features(args: argparse.Namespace) -> int:
    from bench.corpus.prepare import prepare_protocol_corpus
    from bench.features.extract import extract_corpus_features  # heavy imports only when run
    from bench.paths import ensure_writable_dir
    from bench.protocol import load_protocol

    protocol = load_protocol(args.protocol, args.overrides)
    ensure_writable_dir(protocol.features.cache_dir, "feature cache folder")
    corpus = prepare_protocol_corpus(protocol, progress=not args.quiet)
    summaries = extract_corpus_features(
        corpus, protocol.features, workers=args.workers, progress=not args.quiet
    )
    if args.json:
        print(json.dumps([s.to_json() for s in summaries], indent=2))
    else:
        print(format_summaries(summaries))
    return 0


def format_summaries(summaries: list[ExtractionSummary]) -> str:
    """One line per extractor, then the utterances that fell back (at most 20 each)."""
    lines = []
    for s in summaries:
        state = "cached" if s.cached else f"extracted {s.computed}"
        lines.append(
            f"{s.role:8} {s.name:12} dim {s.dim:5}  {s.utterances} utterances  "
            f"{len(s.failed)} failed  {state} in {s.seconds:.1f} s  {s.store}"
        )
        for utt_id, outcome in list(s.failed.items())[:SHOWN_FAILURES]:
            lines.append(f"    {utt_id}: {outcome}")
        if len(s.failed) > SHOWN_FAILURES:
            lines.append(f"    ... and {len(s.failed) - SHOWN_FAILURES} more (see --json)")
    return "\n".join(lines)
