"""Argument helpers shared by the command modules (kept light: no heavy imports)."""

from __future__ import annotations

import argparse
from pathlib import Path

OVERRIDES = "overrides"  # the destination of the key=value positional


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """``--protocol P`` and trailing ``key=value`` overrides, shared by every command."""
    parser.add_argument(
        "--protocol",
        default="synthetic",
        help="protocol name in protocols/ or a YAML path (default: synthetic)",
    )
    parser.add_argument(
        OVERRIDES,
        nargs="*",
        metavar="key=value",
        help="dotted overrides of the protocol, e.g. corpus.root=/data/IEMOCAP_full_release; "
        "model.* and train.* apply to every variant",
    )


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """Which trials: protocol and overrides, ``--grid`` or ``--variant``, ``--seeds``,
    ``--folds`` and the results folder (``bench run``, ``bench ls``, ``bench report``)."""
    add_protocol_arguments(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--grid", help="grid in variants/grids/ (default: ablations)")
    which.add_argument(
        "--variant",
        nargs="+",
        metavar="V",
        help="these variants instead of a grid",
    )
    parser.add_argument("--seeds", "--seed", type=int_list, help="e.g. 0,1,2 (default: grid's)")
    parser.add_argument("--folds", "--fold", type=int_list, help="e.g. 1,3 (default: all)")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder (default: ./results)")  # fmt: skip


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
