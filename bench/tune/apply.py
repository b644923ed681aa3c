"""``bench run --tuned``: train each trial with its variant's chosen configuration.

Two modes, named in the report's legend:

- ``nested``: fold k trains with the choice tuned on fold k's own training part, so no
  test session informed any choice;
- ``fold1``: every fold trains with the choice tuned on fold 1's training part; cheaper
  (one search per variant), but fold 1's training part holds the other folds' test
  sessions, so for folds 2..K the test session helped choose the configuration.

:class:`Tuning` is what ``bench run --tuned`` hands the run layer: a
:class:`bench.run.plan.ConfigSource`, which gives each trial its configuration, so
``bench.run`` itself knows nothing of tuning.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import with_values
from bench.errors import BenchError
from bench.protocol import Protocol
from bench.train.config import TrialSpec
from bench.tune.store import CHOSEN_FILE, TuningKey, read_choice
from bench.variants import config_hash, resolve_variant

MODES = ("nested", "fold1")
DEFAULT_ROOT = Path("tuning")


@dataclass(frozen=True)
class Tuning:
    """Which tuned configurations a run trains with: ``mode`` (``MODES``) and the tuning
    folder they are read from. ``protocol`` and ``overrides``: the ``--protocol`` argument
    and every ``key=value`` override as the command line gave them, repeated in the
    ``bench tune`` command that a missing or stale choice suggests (None: the protocol's name
    and the trial's ``model.*``/``train.*`` overrides)."""

    mode: str
    root: Path = DEFAULT_ROOT
    protocol: str | None = None
    overrides: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BenchError(f"--tuned must be one of {', '.join(MODES)}, not {self.mode!r}")

    def __str__(self) -> str:
        return f"--tuned {self.mode}"

    def source_fold(self, fold: int) -> int:
        """The fold whose choice fold ``fold`` trains with."""
        return fold if self.mode == "nested" else 1

    def configure(
        self,
        protocol: Protocol,
        variant: str,
        fold: int,
        overrides: tuple[str, ...],
        chosen_on: Mapping[int, dict[str, str]] | None,
    ) -> tuple[TrialSpec, dict[str, Any]]:
        """A variant's spec on ``fold`` with its chosen values set, as data and checked by the
        config layer (:func:`bench.config.with_values`), and the tuning marker that the
        trial's record keeps and its config hash covers
        (:meth:`bench.run.plan.ConfigSource.configure`).

        ``chosen_on``: fold number -> :func:`bench.run.identity.selection_identity` of the
        fold now, for the folds choices come from; a choice made on other data is refused.
        None where there is no corpus to check against (a listing before the synthetic
        corpus is generated).

        Raises:
            BenchError: no choice stored for the source fold, or one made for another
                configuration of the variant (the protocol, variant file or overrides
                changed) or on other data (the fold's training or validation rows changed),
                or a chosen value the configuration cannot take (named with the file).
        """
        key = TuningKey(protocol.name, variant, self.source_fold(fold))
        choice = read_choice(self.root, key)
        again = f"run `{tune_command(self, key, overrides)}`"
        if choice is None:
            raise BenchError(f"no tuned configuration of {key} under {self.root}/; {again}")
        untuned = resolve_variant(variant, protocol, overrides)
        base = config_hash(untuned, protocol)
        if choice.base_hash != base:
            raise BenchError(
                f"the tuning of {key} under {self.root}/ was made for another configuration "
                f"of the variant (hash {choice.base_hash}, now {base}); {again}"
            )
        if chosen_on is not None and choice.data != chosen_on[key.fold]:
            made = "with no record of its data" if choice.data is None else "on other data"
            raise BenchError(
                f"the tuning of {key} under {self.root}/ was made {made} (the fold's training "
                f"and validation utterances and labels now differ); {again}"
            )
        config = with_values(untuned, choice.values, str(key.folder(self.root) / CHOSEN_FILE))
        marker = {
            "mode": self.mode,
            "fold": key.fold,
            "search": choice.search,
            "described": choice.described,
            "tried": choice.tried,
            "index": choice.index,
            "values": choice.values,
        }
        return config, marker


def tune_command(tuning: Tuning, key: TuningKey, overrides: tuple[str, ...]) -> str:
    """The ``bench tune`` command, quoted for a POSIX shell, that stores the choice of ``key``
    for the configuration the run asks for: the run's protocol, overrides and tuning folder.

    >>> tune_command(Tuning("nested", Path("t"), "p.yaml", ("corpus.root=/a b",)),
    ...              TuningKey("p", "gru_ema", 2), ())
    "bench tune --protocol p.yaml --variant gru_ema --folds 2 --tuning t 'corpus.root=/a b'"
    """
    words = ["bench", "tune", "--protocol", tuning.protocol or key.protocol]
    words += ["--variant", key.variant, "--folds", str(key.fold)]
    if tuning.root != DEFAULT_ROOT:
        words += ["--tuning", str(tuning.root)]
    return shlex.join([*words, *(overrides if tuning.overrides is None else tuning.overrides)])
