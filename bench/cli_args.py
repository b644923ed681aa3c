"""Argument helpers shared by the command modules (kept light: no heavy imports)."""

from __future__ import annotations

import argparse


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """``--protocol P`` and trailing ``key=value`` overrides, shared by every command."""
    parser.add_argument(
        "--protocol",
        default="synthetic",
        help="protocol name in protocols/ or a YAML path (default: synthetic)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="dotted overrides of the protocol, e.g. corpus.root=/data/IEMOCAP_full_release",
    )


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text}")
    return value


def int_list(text: str) -> list[int]:
    """argparse type: comma-separated integers such as ``0,1,2``."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like 0,1,2, not {text!r}") from exc
