"""``bench predict``: a trained trial's predictions for wav files without labels, as a CSV
(the MSP-Podcast challenge's attribute file, or a plain one).

This module parses arguments and calls :mod:`bench.predict`, imported when the command
runs, so ``bench --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

# The choices, the default first: bench.predict's DIALOGS and FORMATS (a test checks), named
# here too so that building the parser imports no torch.
DIALOGS = ("file", "list", "podcast")
FORMATS = ("plain", "msp")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="a checkpoint's valence and arousal for wav files without labels -> CSV "
        "(e.g. MSP-Podcast's Test3)",
        description=(
            "Stream wav files through a trial's checkpoint (bench run --save-checkpoints), "
            "dialog by dialog from the model's initial state, and write one CSV row per "
            "file. Audio of any rate and channels is averaged and resampled to 16 kHz mono. "
            "The files: --files LIST, one path per line (relative to the list's folder; "
            "blank and #-lines skipped; a line may name its dialog after a tab: "
            "PATH<TAB>DIALOG), or --audio-dir DIR, its *.wav files by name, with --split "
            "NAME --root RELEASE only those that the MSP-Podcast release's Partitions.txt "
            "puts in that split (Test3 is the challenge's unlabelled test set). Rows follow "
            "the files' order; a missing or undecodable file is an error naming the list "
            "and line, and every file is checked to exist before the first is predicted. "
            "--format plain (the default) writes file,dialog,valence,arousal on the "
            "checkpoint's own scale; --format msp writes the challenge's attribute file "
            "FileName,EmoAct,EmoVal (the file name with .wav; arousal, valence on 1..7), "
            "for a checkpoint trained on MSP-Podcast's 1..7 scale only (another scale is "
            "refused: no linear map makes its values MSP-Podcast ratings). It has no EmoDom "
            "column: the model predicts no dominance, and a made-up constant would be scored "
            "as a prediction; a submission that requires the column needs dominance "
            "predictions from elsewhere. "
            "The output is written atomically. See docs/online.md."
        ),
    )
    parser.add_argument("checkpoint", type=Path, help="a trial's checkpoint.pt")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--files", type=Path, metavar="LIST", help="a text file of wav paths")
    source.add_argument("--audio-dir", type=Path, metavar="DIR", help="a folder of wav files")
    parser.add_argument(
        "--split", metavar="NAME", help="with --audio-dir: only this split's files (--root)"
    )
    parser.add_argument(
        "--root", type=Path, metavar="RELEASE",
        help="with --split: the MSP-Podcast release folder that holds Partitions.txt",
    )  # fmt: skip
    parser.add_argument(
        "--dialogs",
        choices=DIALOGS,
        default=DIALOGS[0],
        help="file: every file its own dialog (default); list: the dialog each line of "
        "--files names after a tab, its files in list order; podcast: MSP-Podcast's training "
        "unit, a podcast's segments in segment order, from the file names "
        "(MSP-PODCAST_<podcast>_<segment>[_<part>].wav; a test set's file, "
        "MSP-PODCAST_test3_0001.wav, names no podcast and is its own dialog). Use the unit "
        "the checkpoint was trained on (corpus.dialog_unit; MSP-Podcast's default: podcast)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the CSV to write")
    parser.add_argument(
        "--format", choices=FORMATS, default=FORMATS[0],
        help="plain: file,dialog,valence,arousal (default); msp: FileName,EmoAct,EmoVal on 1..7",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", help="where the model runs (default: cpu)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=predict_command)


def predict_command(args: argparse.Namespace) -> int:
    """``bench predict``: write the predictions' CSV and say where it went.

    Raises:
        BenchError: --split without --root (or the reverse), or either with --files; and what
            :func:`bench.predict.predict` raises.
    """
    from bench.errors import BenchError
    from bench.predict import folder_files, predict, read_file_list

    if (args.split is None) != (args.root is None):
        raise BenchError("--split and --root go together (the release's Partitions.txt)")
    if args.files is not None and args.split is not None:
        raise BenchError("--split and --root select among --audio-dir's files, not --files'")
    if args.files is not None:
        listed = read_file_list(args.files)
    else:
        listed = folder_files(args.audio_dir, args.split, args.root)
    table = predict(
        args.checkpoint, listed, args.out, args.dialogs, args.format, args.device, not args.quiet
    )
    print(f"{len(table)} predictions ({args.format}) written to {args.out}")
    return 0
