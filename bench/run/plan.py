"""The trial plan: which (variant, fold, seed) trials a run asks for and which are done."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.protocol import Protocol
from bench.results import TrialKey, TrialRecord, read_record
from bench.run.identity import data_change
from bench.tune.apply import Tuning, tuned_config
from bench.variants import config_hash, resolve_variant


@dataclass(frozen=True)
class PlannedTrial:
    """A trial with its resolved configuration and its state in the results store.

    status: ``done`` (stored with this config hash), ``stale`` (stored with another hash:
    ``reason`` says whether its data or its config changed), ``missing`` (not stored, only
    partly, or with a corrupt record), or ``forced`` (``force`` reruns it). stored: the record
    in the store, if there is a valid one. tuning: where the config's tuned values came from
    (:mod:`bench.tune.apply`), or None. data: the fold's data identity
    (:mod:`bench.run.identity`), which the config hash covers.
    """

    key: TrialKey
    config: dict[str, Any]
    config_hash: str
    status: str
    stored: TrialRecord | None = None
    tuning: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    reason: str = ""

    @property
    def needs_run(self) -> bool:
        return self.status != "done"

    def work(self) -> dict[str, Any]:
        """What the worker gets: the trial's id, its fold and the ``bench.train`` spec."""
        spec = {**self.config, "seed": self.key.seed, "device": "auto"}
        return {"trial_id": str(self.key), "fold": self.key.fold, "spec": spec}


def stale_reason(stored: TrialRecord, digest: str, data: Mapping[str, str]) -> str:
    """Why a stored trial is not current: its data changed (:func:`data_change`), else its
    configuration (the config, the protocol or the tuning it came from)."""
    changed = data_change(stored.data, data)
    if changed is not None:
        return changed
    return f"its configuration changed (stored with config hash {stored.config_hash}, now {digest})"


def _status(
    stored: TrialRecord | None, digest: str, data: Mapping[str, str], force: bool
) -> tuple[str, str]:
    if force:
        return "forced", ""
    if stored is None:
        return "missing", ""
    if stored.config_hash == digest:
        return "done", ""
    return "stale", stale_reason(stored, digest, data)


def plan_trials(
    protocol: Protocol,
    variants: Sequence[str],
    seeds: Sequence[int],
    folds: Mapping[int, dict[str, str]],
    results_root: Path,
    overrides: Sequence[str] = (),
    force: bool = False,
    tuning: Tuning | None = None,
    tuned_on: Mapping[int, dict[str, str]] | None = None,
) -> list[PlannedTrial]:
    """Every requested trial, in (variant, fold, seed) order, with its status.

    ``folds``: fold number -> its data identity (:func:`bench.run.identity.fold_identities`),
    which each trial's config hash covers. ``overrides`` (``model.*``, ``train.*``) apply to
    every variant's resolved config; ``tuning`` applies each variant's chosen values per fold
    (``bench run --tuned``), checked against ``tuned_on``
    (:func:`bench.tune.apply.tuned_config`).
    """
    plan = []
    for variant in variants:
        untuned = resolve_variant(variant, protocol, overrides)
        for fold, data in folds.items():
            config, marker = untuned, None
            if tuning is not None:
                config, marker = tuned_config(
                    tuning, protocol, variant, fold, tuple(overrides), tuned_on
                )
            digest = config_hash(config, protocol, marker, data)
            for seed in seeds:
                key = TrialKey(protocol.name, variant, fold, seed)
                stored = read_record(key.folder(results_root))
                status, reason = _status(stored, digest, data, force)
                plan.append(PlannedTrial(key, config, digest, status, stored, marker, data, reason))
    return plan
