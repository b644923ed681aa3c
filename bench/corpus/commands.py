"""``bench corpus synth`` and ``bench corpus describe``."""

from __future__ import annotations

import argparse
import json

from bench.cli_args import add_protocol_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    corpus = subparsers.add_parser(
        "corpus", help="generate or inspect a corpus", description="Corpus tools."
    )
    sub = corpus.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")

    synth = sub.add_parser(
        "synth",
        help="write the built-in synthetic corpus in IEMOCAP's layout",
        description=(
            "Generate speech-like audio (glottal source + formant filters) with planted "
            "effects: arousal drives F0, loudness, rate and tilt strongly; valence has weak "
            "cues; dialog moods drift as AR(1); speakers differ in baseline and "
            "expressiveness. Labels are means of 2-3 simulated raters on 1..5. The same "
            "arguments give byte-identical files."
        ),
    )
    synth.add_argument("out", help="output folder (must not exist or be empty)")
    synth.add_argument(
        "--size",
        default="medium",
        help=(
            "tiny: 120 utterances (tests); small: 1,000 in 50 dialogs; medium: 2,000 in 100 "
            "dialogs (default); iemocap: IEMOCAP's counts"
        ),
    )
    synth.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    synth.add_argument(
        "--no-context",
        action="store_true",
        help="independent moods: history carries no information (null corpus)",
    )
    synth.add_argument(
        "--no-speaker-effect",
        action="store_true",
        help="all speakers share one acoustic baseline and expressiveness",
    )
    synth.add_argument(
        "--speaker-scale",
        type=float,
        default=1.0,
        help="multiply the speaker effects (baseline sd 0.4 and log-expressiveness sd 0.25 on "
        "the arousal drive) by this; 1 (default) is the protocols' corpus. Read the result "
        "with corpus.root=OUT",
    )
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=run_synth)

    desc = sub.add_parser(
        "describe",
        help="counts, label statistics, problems and folds of a protocol's corpus",
        description=(
            "Read the protocol's corpus and summarise it: the release layout recognised, "
            "counts, labels, mean valence and arousal per categorical label with a warning "
            "where a direction contradicts the literature (arousal angry, happy > sad; "
            "valence happy > angry, sad), audio problems, and each fold's test unit, "
            "validation hold-out (validation.unit) and part sizes, and how many validation "
            "speakers also train (0 unless validation.unit is dialog); --json for machines."
        ),
    )
    add_protocol_arguments(desc)
    desc.add_argument("--json", action="store_true", help="print one JSON object")
    desc.set_defaults(func=run_describe)


def run_synth(args: argparse.Namespace) -> int:
    from bench.corpus.synth import SynthConfig, generate  # heavy imports only when run

    config = SynthConfig(
        size=args.size,
        seed=args.seed,
        context=not args.no_context,
        speaker_effect=not args.no_speaker_effect,
    )
    out = generate(args.out, config, not args.quiet, args.speaker_scale)
    scaled = "" if args.speaker_scale == 1.0 else f", speaker effects x{args.speaker_scale:g}"
    print(f"wrote the synthetic corpus ({config}{scaled}) to {out}")
    return 0


def run_describe(args: argparse.Namespace) -> int:
    from bench.corpus.describe import describe, format_description, validation_summary
    from bench.corpus.prepare import prepare_protocol_corpus
    from bench.protocol import describe_folds, load_protocol, make_folds

    protocol = load_protocol(args.protocol, args.overrides)
    corpus = prepare_protocol_corpus(protocol, progress=not args.json)
    summary = describe(corpus)
    folds = make_folds(corpus.table, protocol)
    summary["folds"] = describe_folds(corpus.table, folds)
    summary["validation"] = validation_summary(corpus.table, folds)
    print(json.dumps(summary, indent=2) if args.json else format_description(summary))
    return 0
