"""Argument helpers shared by the command modules (kept light: no heavy imports).

Every command reads options and ``key=value`` overrides in any order
(``bench run --protocol synthetic corpus.root=X --results R train.epochs=1``): each command's
parser is a :class:`CommandParser`, which parses intermixed. A list option such as
``--variant`` extends its list each time it is given (``--variant a b --variant c`` gives
``[a, b, c]``) and stops at a ``key=value`` token, which is an override.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

OVERRIDES = "overrides"  # the destination of the key=value positional


class CommandParser(argparse.ArgumentParser):
    """A parser whose commands parse options and positionals intermixed.

    argparse's ``parse_known_intermixed_args`` refuses a parser with sub-commands, so a
    parser that has them parses as usual and each command's own parser (created as this
    class: ``add_subparsers`` uses the parent's class) parses the rest intermixed.
    Overrides keep their command-line order, so the later of two values of a key wins.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if getattr(self, "_intermixing", False) or any(
            action.nargs == argparse.PARSER for action in self._actions
        ):
            return super().parse_known_args(args, namespace)
        args = sys.argv[1:] if args is None else list(args)
        self._intermixing = True
        try:
            parsed, extras = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
        if getattr(parsed, OVERRIDES, None):
            setattr(parsed, OVERRIDES, _in_order(getattr(parsed, OVERRIDES), args))
        return parsed, extras


def _in_order(overrides: list[str], args: Sequence[str]) -> list[str]:
    """``overrides`` in the order they appear in ``args`` (equal strings are interchangeable).

    >>> _in_order(["b=2", "a=1"], ["a=1", "--variant", "v", "b=2"])
    ['a=1', 'b=2']
    """
    left = Counter(overrides)
    ordered = []
    for token in args:
        if left[token] > 0:
            left[token] -= 1
            ordered.append(token)
    return ordered


class ExtendNames(argparse.Action):
    """``--opt a b --opt c`` gives ``[a, b, c]``; a ``key=value`` among the values is an
    override (it goes to the ``overrides`` positional), not a name."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        values = list(values or [])
        names = [v for v in values if "=" not in v]
        if not names:
            parser.error(f"{option_string} needs at least one name before any key=value")
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *names])
        overrides = [v for v in values if "=" in v]
        if overrides:
            setattr(
                namespace, OVERRIDES, [*(getattr(namespace, OVERRIDES, None) or []), *overrides]
            )


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """``--protocol P`` and ``key=value`` overrides, anywhere on the line, for every command."""
    parser.add_argument(
        "--protocol",
        default="synthetic",
        help="protocol name in protocols/ or a YAML path (default: synthetic)",
    )
    parser.add_argument(
        OVERRIDES,
        nargs="*",
        action="extend",
        default=[],
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
        action=ExtendNames,
        metavar="V",
        help="these variants instead of a grid (repeatable: --variant a b --variant c)",
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
