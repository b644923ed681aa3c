"""The trial plan: which (variant, fold, seed) trials a run asks for and which are done.

Each planned trial carries its frozen, typed :class:`bench.train.config.TrialSpec`, which
its work item hands the worker as it is; its config hash and record cover the spec's plain
configuration (:meth:`~bench.train.config.TrialSpec.to_config`).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.protocol import Protocol
from bench.results import TrialKey, TrialRecord, read_record
from bench.run.identity import data_change
from bench.train.config import TrialSpec
from bench.variants import config_hash, resolve_variant


class ConfigSource(typing.Protocol):
    """Where a run's configurations come from when they are not the variants' own: each
    fold's configuration was chosen on the training data of a source fold. The layer that
    chooses them implements it (``bench run --tuned``: :class:`bench.tune.apply.Tuning`), so
    this one needs nothing of it; ``str()`` names it in messages (``--tuned nested``)."""

    def source_fold(self, fold: int) -> int:
        """The fold on whose training data the configuration of ``fold`` was chosen."""
        ...

    def configure(
        self,
        protocol: Protocol,
        variant: str,
        fold: int,
        overrides: tuple[str, ...],
        chosen_on: Mapping[int, dict[str, str]] | None,
    ) -> tuple[TrialSpec, dict[str, Any]]:
        """The variant's configuration on ``fold`` (a spec whose seed each trial sets) and
        the marker its trial's record keeps (and its config hash covers). ``chosen_on``:
        source fold -> its selection identity now
        (:func:`bench.run.identity.selection_identity`), None where there is no corpus to
        check against.

        Raises:
            BenchError: no configuration for it, or one chosen for another configuration of
                the variant or on other data.
        """
        ...


@dataclass(frozen=True)
class PlannedTrial:
    """A trial with its resolved spec and its state in the results store.

    spec: what the worker trains, frozen and typed (its seed the key's). status: ``done``
    (stored with this config hash), ``stale`` (stored with another hash: ``reason`` says
    whether its data or its config changed), ``missing`` (not stored, only partly, or with a
    corrupt record), or ``forced`` (``force`` reruns it). stored: the record in the store,
    if there is a valid one. tuning: where the config came from when a
    :class:`ConfigSource` gave it (``bench run --tuned``: :mod:`bench.tune.apply`), or None.
    data: the fold's data identity (:mod:`bench.run.identity`), which the config hash covers.
    """

    key: TrialKey
    spec: TrialSpec
    config_hash: str
    status: str
    stored: TrialRecord | None = None
    tuning: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    reason: str = ""

    @property
    def needs_run(self) -> bool:
        return self.status != "done"

    @property
    def config(self) -> dict[str, Any]:
        """The configuration as plain values, as the trial's record stores it."""
        return self.spec.to_config()

    def work(self) -> dict[str, Any]:
        """What the worker gets: the trial's id, its fold and its spec (picklable, so it
        reaches a Ray worker as it is)."""
        return {"trial_id": str(self.key), "fold": self.key.fold, "spec": self.spec}


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
    tuning: ConfigSource | None = None,
    tuned_on: Mapping[int, dict[str, str]] | None = None,
) -> list[PlannedTrial]:
    """Every requested trial, in (variant, fold, seed) order, with its status.

    ``folds``: fold number -> its data identity (:func:`bench.run.identity.fold_identities`),
    which each trial's config hash covers. ``overrides`` (``model.*``, ``train.*``) apply to
    every variant's resolved config; ``tuning`` gives each variant's configuration per fold
    instead (``bench run --tuned``), checked against ``tuned_on``
    (:meth:`ConfigSource.configure`).
    """
    plan = []
    for variant in variants:
        untuned = resolve_variant(variant, protocol, overrides)
        for fold, data in folds.items():
            config, marker = untuned, None
            if tuning is not None:
                config, marker = tuning.configure(
                    protocol, variant, fold, tuple(overrides), tuned_on
                )
            digest = config_hash(config, protocol, marker, data)
            for seed in seeds:
                key = TrialKey(protocol.name, variant, fold, seed)
                stored = read_record(key.folder(results_root))
                status, reason = _status(stored, digest, data, force)
                spec = replace(config, seed=seed)
                plan.append(PlannedTrial(key, spec, digest, status, stored, marker, data, reason))
    return plan
