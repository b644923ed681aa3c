"""The trial plan: which (variant, fold, seed) trials a run asks for and which are done."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.protocol import Protocol
from bench.results import TrialKey, TrialRecord, read_record
from bench.variants import config_hash, resolve_variant


@dataclass(frozen=True)
class PlannedTrial:
    """A trial with its resolved configuration and its state in the results store.

    status: ``done`` (stored with this config hash), ``stale`` (stored with another hash),
    ``missing`` (not stored, only partly, or with a corrupt record), or ``forced``
    (``force`` reruns it). stored: the record in the store, if there is a valid one.
    """

    key: TrialKey
    config: dict[str, Any]
    config_hash: str
    status: str
    stored: TrialRecord | None = None

    @property
    def needs_run(self) -> bool:
        return self.status != "done"

    def work(self) -> dict[str, Any]:
        """What the worker gets: the trial's id, its fold and the ``bench.train`` spec."""
        spec = {**self.config, "seed": self.key.seed, "device": "auto"}
        return {"trial_id": str(self.key), "fold": self.key.fold, "spec": spec}


def _status(stored: TrialRecord | None, digest: str, force: bool) -> str:
    if force:
        return "forced"
    if stored is None:
        return "missing"
    return "done" if stored.config_hash == digest else "stale"


def plan_trials(
    protocol: Protocol,
    variants: Sequence[str],
    seeds: Sequence[int],
    folds: Sequence[int],
    results_root: Path,
    overrides: Sequence[str] = (),
    force: bool = False,
) -> list[PlannedTrial]:
    """Every requested trial, in (variant, fold, seed) order, with its status.

    ``overrides`` (``model.*``, ``train.*``) apply to every variant's resolved config.
    """
    plan = []
    for variant in variants:
        config = resolve_variant(variant, protocol, overrides)
        digest = config_hash(config, protocol)
        for fold in folds:
            for seed in seeds:
                key = TrialKey(protocol.name, variant, fold, seed)
                stored = read_record(key.folder(results_root))
                plan.append(
                    PlannedTrial(key, config, digest, _status(stored, digest, force), stored)
                )
    return plan
