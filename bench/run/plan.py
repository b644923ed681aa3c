"""The trial plan: which (variant, fold, seed) trials a run asks for and which are done."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results import TrialKey, trial_status
from bench.variants import config_hash, resolve_variant


@dataclass(frozen=True)
class PlannedTrial:
    """A trial with its resolved configuration and its state in the results store.

    status: ``done`` (stored with this config hash), ``stale`` (stored with another hash),
    ``missing`` (not stored, or only partly), or ``forced`` (``--force`` reruns it).
    """

    key: TrialKey
    config: dict[str, Any]
    config_hash: str
    status: str

    @property
    def needs_run(self) -> bool:
        return self.status != "done"

    def work(self) -> dict[str, Any]:
        """What the worker gets: the trial's id, its fold and the ``bench.train`` spec."""
        spec = {**self.config, "seed": self.key.seed, "device": "auto"}
        return {"trial_id": str(self.key), "fold": self.key.fold, "spec": spec}


def plan_trials(
    protocol: dict,
    variants: list[str],
    seeds: list[int],
    folds: list[int],
    results_root: Path,
    overrides: list[str] = (),  # type: ignore[assignment]
    force: bool = False,
) -> list[PlannedTrial]:
    """Every requested trial, in (variant, fold, seed) order, with its status."""
    plan = []
    for variant in variants:
        config = resolve_variant(variant, protocol, overrides)
        digest = config_hash(config, protocol)
        for fold in folds:
            for seed in seeds:
                key = TrialKey(protocol["name"], variant, fold, seed)
                status = "forced" if force else trial_status(results_root, key, digest)
                plan.append(PlannedTrial(key, config, digest, status))
    return plan
