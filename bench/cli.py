"""The ``bench`` command line: one sub-command module per stage of the pipeline."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from bench import __version__, predict_command
from bench.cli_args import CommandParser
from bench.corpus import commands as corpus_commands
from bench.errors import BenchError
from bench.features import command as features_commands
from bench.personalise import command as personalise_commands
from bench.report import command as report_commands
from bench.report import power_command
from bench.run import command as run_commands
from bench.tune import command as tune_commands

COMMAND_MODULES = [
    corpus_commands,
    features_commands,
    tune_commands,
    run_commands,
    personalise_commands,
    report_commands,
    power_command,
    predict_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(  # each command parses options and key=value intermixed
        prog="bench",
        description=(
            "Ablation benchmark for streaming valence/arousal models: corpora, features, "
            "variant x fold x seed trials and reports. Every command runs offline on the "
            "built-in synthetic corpus when no corpus is configured."
        ),
    )
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    add_verbose(parser, default=False)
    return parser


def add_verbose(parser: argparse.ArgumentParser, default: Any) -> None:
    """``-v/--verbose`` on ``parser`` and on every (sub-)command under it, so it may come
    before or after the command (``bench -v run`` and ``bench run -v``). Below the top,
    the default is ``SUPPRESS``: a command that is not given ``-v`` leaves the value that
    the top parser set."""
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="log debug messages"
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                add_verbose(command, argparse.SUPPRESS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a :class:`BenchError` becomes one line on stderr and exit code 2,
    Ctrl-C one line and exit code 130 (128 + SIGINT, as a shell reports it)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        print(f"bench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # what is stored stays valid (atomic writes, resumable shards)
        # On a line of its own: the terminal's ^C, or a progress bar cut mid-line, is before it.
        print(f"\nbench {args.command}: interrupted; rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
