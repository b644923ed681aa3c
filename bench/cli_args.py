"""Argument helpers shared by the command modules (kept light: no heavy imports).

Every command reads options and ``key=value`` overrides in any order
(``bench run --protocol synthetic corpus.root=X --results R train.epochs=1``): each command's
parser is a :class:`CommandParser`, which parses intermixed. A list option such as
``--variant`` extends its list each time it is given (``--variant a b --variant c`` gives
``[a, b, c]``) and stops at a ``key=value`` token, which is an override.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.run.selection import Selection
    from bench.run.stored_plan import StoredPlan

OVERRIDES = "overrides"  # the destination of the key=value positional
COMMAND_LINE = "command_line"  # the whole command line as typed, quoted for a shell
DEFAULT_PROTOCOL = "synthetic"
# The destinations of the selection arguments, by option: given none, bench ls and
# bench report read the plans stored in the results folder.
SELECTION_OPTIONS = {"protocol": "--protocol", "grid": "--grid", "variant": "--variant",
                     "folds": "--folds", "seeds": "--seeds", "tuned": "--tuned",
                     OVERRIDES: "key=value overrides"}  # fmt: skip
EXIT_FAILED = 1  # a trial (or configuration) failed; the others still ran
EXIT_BUSY = 75  # sysexits' EX_TEMPFAIL: nothing failed, another run holds some of the work


def exit_status(failed: bool, busy: bool) -> int:
    """The exit code of a command that runs trials: ``EXIT_FAILED`` when one failed, else
    ``EXIT_BUSY`` when another process held some (they were left to it; rerun when it ends
    to see them stored), else 0 (every selected trial is stored).

    >>> exit_status(failed=True, busy=True), exit_status(False, True), exit_status(False, False)
    (1, 75, 0)
    """
    if failed:
        return EXIT_FAILED
    return EXIT_BUSY if busy else 0


class CommandParser(argparse.ArgumentParser):
    """A parser whose commands parse options and positionals intermixed.

    argparse's ``parse_known_intermixed_args`` refuses a parser with sub-commands, so a
    parser that has them parses as usual and each command's own parser (created as this
    class: ``add_subparsers`` uses the parent's class) parses the rest intermixed.
    Overrides keep their command-line order, so the later of two values of a key wins.
    The parser with sub-commands keeps the line it parsed, as typed, in ``COMMAND_LINE``
    (the outermost one parses last, so the whole line stays), for the run's stored plan.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        args = sys.argv[1:] if args is None else list(args)
        if any(action.nargs == argparse.PARSER for action in self._actions):
            parsed, extras = super().parse_known_args(args, namespace)
            setattr(parsed, COMMAND_LINE, shlex.join([self.prog, *args]))
            return parsed, extras
        if getattr(self, "_intermixing", False):
            return super().parse_known_args(args, namespace)
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


def add_variant_arguments(parser: argparse.ArgumentParser) -> None:
    """Which variants and folds: protocol and overrides, ``--grid`` or ``--variant``,
    ``--folds`` (``bench tune``, and with the rest of the selection ``bench run``)."""
    add_protocol_arguments(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--grid", help="grid in variants/grids/ (default: ablations)")
    which.add_argument(
        "--variant",
        nargs="+",
        action=ExtendNames,
        metavar="V",
        help="these variants instead of a grid (repeatable: --variant a b --variant c): "
        "names in variants/ or YAML paths, each named by its file's stem",
    )
    parser.add_argument("--folds", "--fold", type=int_list, help="e.g. 1,3 (default: all)")


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """Which trials: the variants and folds, ``--seeds``, ``--tuned`` and the results folder
    (``bench run``, ``bench ls``, ``bench report``). ``--protocol`` is None unless given
    (:func:`selection_of` reads ``DEFAULT_PROTOCOL`` then), so that :func:`plans_of` sees
    whether any selection argument was given."""
    add_variant_arguments(parser)
    parser.set_defaults(protocol=None)
    parser.add_argument("--seeds", "--seed", type=int_list, help="e.g. 0,1,2 (default: grid's)")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder (default: ./results)")  # fmt: skip
    parser.add_argument(
        "--tuned",
        choices=("nested", "fold1"),
        help="the trials trained with each variant's configuration chosen by `bench tune`: "
        "nested, fold k's own choice (no test session informs it); fold1, fold 1's choice "
        "for every fold (one search per variant; folds 2..K's test sessions informed it)",
    )
    parser.add_argument("--tuning", type=Path, default=Path("tuning"),
                        help="tuning folder that --tuned reads (default: ./tuning)")  # fmt: skip


def selection_of(args: argparse.Namespace) -> Selection:
    """The trials that the arguments of :func:`add_selection_arguments` select
    (``bench run``, ``bench ls``, ``bench report``, ``bench personalise``): ``--tuned`` is
    the one place where a run is handed tune's chosen configurations
    (:class:`bench.tune.apply.Tuning`), so that ``bench.run`` needs nothing of ``bench.tune``."""
    from bench.run.selection import select_trials
    from bench.tune.apply import Tuning

    protocol = args.protocol or DEFAULT_PROTOCOL
    tuning = None
    if args.tuned:  # a stale or missing choice names the bench tune to run, with these
        tuning = Tuning(args.tuned, args.tuning, protocol, tuple(args.overrides))
    return select_trials(protocol, args.overrides, args.grid, args.variant, args.seeds,
                         args.folds, tuning, getattr(args, COMMAND_LINE, ""))  # fmt: skip


def add_plan_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--plan NAME``: a plan that ``bench run`` stored in the results folder, read instead
    of selection arguments (``bench ls``, ``bench report``); ``default`` says what is read
    without it."""
    parser.add_argument(
        "--plan",
        metavar="NAME",
        help="with no selection arguments (--protocol, --grid, --variant, --folds, --seeds, "
        "--tuned, key=value), what a bench run stored in --results is read instead: the plan "
        "it ran (results/<protocol>/plans/NAME.json), with no corpus, tuning folder or "
        f"override needed; --plan names one (default: {default})",
    )


def plans_of(args: argparse.Namespace) -> dict[str, StoredPlan] | None:
    """The stored plans that ``bench ls`` and ``bench report`` read instead of a selection
    (:mod:`bench.run.stored_plan`): with no selection argument, those under ``--results``
    by name (``--plan``'s alone if given). None where selection arguments are given, or
    where no plan is stored and ``--plan`` is not given: the selection's defaults apply then,
    as they did before runs stored their plans.

    Raises:
        BenchError: ``--plan`` beside selection arguments, or naming no stored plan; a plan
            file that is not a readable plan.
    """
    from bench.errors import BenchError
    from bench.run.stored_plan import stored_plans

    given = [option for dest, option in SELECTION_OPTIONS.items() if getattr(args, dest, None)]
    if given and args.plan is not None:
        raise BenchError(
            f"--plan reads the selection from the stored plan; give it without {', '.join(given)}"
        )
    if given:
        return None
    return stored_plans(args.results, args.plan) or None


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """Where trials run: ``--executor``, the Ray cluster and resources per trial, and
    ``--quiet`` (``bench run``, ``bench tune``)."""
    parser.add_argument(
        "--executor",
        choices=("ray", "local"),
        default="ray",
        help="ray: Ray Tune over the CPUs/GPUs/cluster (default); local: in-process",
    )
    parser.add_argument("--address", help="Ray cluster to join (default: $RAY_ADDRESS or local)")
    parser.add_argument(
        "--cpus-per-trial",
        type=positive_number,
        default=1.0,
        help="CPUs per trial, at most a node's (default 1)",
    )
    parser.add_argument(
        "--gpus-per-trial",
        type=non_negative_number,
        default=0.0,
        help="GPU share per trial, at most a node's GPUs; 0.25 packs four trials per GPU "
        "(default 0)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, not {text}")
    return value


def positive_number(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, not {text}")
    return value


def non_negative_number(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, not {text}")
    return value


def int_list(text: str) -> list[int]:
    """argparse type: comma-separated integers such as ``0,1,2``."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like 0,1,2, not {text!r}") from exc
