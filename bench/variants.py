"""Variants and grids: small YAML files found by globbing ``variants/``.

A variant's configuration is resolved in this order, each step changing only keys that
already exist (a typo fails loudly, naming the file):

1. ``variants/base.yaml``: the full model, every field explicit;
2. the protocol's ``model:`` and ``train:`` sections: corpus-specific defaults for every
   variant (e.g. a smaller model for the small synthetic corpus);
3. ``variants/<name>.yaml``: only what the variant changes;
4. ``model.*`` / ``train.*`` overrides from the command line.

The result is checked by :class:`bench.train.config.TrialSpec`, so an invalid combination
(e.g. a stateless model with feedback) is an error with a message.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import apply_overrides, load_yaml
from bench.errors import BenchError
from bench.resources import variants_dir
from bench.train.config import TrialSpec

VARIANT_DIR = variants_dir()
TRIAL_SECTIONS = ("model", "train")
PROTOCOL_SECTIONS_HASHED = ("corpus", "folds", "validation", "features")


def merge_known(base: dict[str, Any], change: dict[str, Any], where: str) -> dict[str, Any]:
    """``base`` with the values of ``change``; every key of ``change`` must exist in ``base``."""
    merged = dict(base)
    for key, value in change.items():
        if key not in base:
            known = ", ".join(sorted(base))
            raise BenchError(f"{where}: unknown key {key!r} (known: {known})")
        if isinstance(base[key], dict) and isinstance(value, dict):
            merged[key] = merge_known(base[key], value, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


def variant_names() -> list[str]:
    """Every variant file in ``variants/`` except the base."""
    return sorted(p.stem for p in VARIANT_DIR.glob("*.yaml") if p.stem != "base")


def _variant_file(name: str) -> Path:
    path = VARIANT_DIR / f"{name}.yaml"
    if name == "base" or not path.is_file():
        raise BenchError(f"unknown variant {name!r} (known: {', '.join(variant_names())})")
    return path


def _read_variant(path: Path) -> dict[str, Any]:
    data = load_yaml(path) if path.read_text().strip() else {}
    unknown = set(data) - {"description", *TRIAL_SECTIONS}
    if unknown:
        raise BenchError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    return data


def resolve_variant(name: str, protocol: dict, overrides: list[str] = ()) -> dict[str, Any]:
    """The full ``{"model": ..., "train": ...}`` configuration of a variant, checked."""
    base_path = VARIANT_DIR / "base.yaml"
    base = {key: load_yaml(base_path)[key] for key in TRIAL_SECTIONS}
    corpus_defaults = {section: protocol.get(section) or {} for section in TRIAL_SECTIONS}
    config = merge_known(base, corpus_defaults, f"protocol {protocol['name']}: ")
    path = _variant_file(name)
    change = {k: v for k, v in _read_variant(path).items() if k in TRIAL_SECTIONS}
    config = merge_known(config, change, f"{path}: ")
    config = apply_overrides(config, overrides)
    try:
        TrialSpec.from_dict(config)
    except BenchError as exc:
        raise BenchError(f"variant {name} ({path}): {exc}") from exc
    return config


def config_hash(config: dict[str, Any], protocol: dict) -> str:
    """Short hash of everything that changes a trial's numbers except fold and seed."""
    hashed = {
        "trial": config,
        "protocol": {key: protocol.get(key) for key in PROTOCOL_SECTIONS_HASHED},
    }
    text = json.dumps(hashed, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Grid:
    """A named list of variants and seeds, with the reference variant of the report."""

    name: str
    variants: tuple[str, ...]
    seeds: tuple[int, ...]
    reference: str


def load_grid(name: str) -> Grid:
    """Read ``variants/grids/<name>.yaml``; every variant it names must exist."""
    path = VARIANT_DIR / "grids" / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml")))
        raise BenchError(f"unknown grid {name!r} (known: {known})")
    data = load_yaml(path)
    unknown = set(data) - {"variants", "seeds", "reference"}
    if unknown:
        raise BenchError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    variants = tuple(data.get("variants") or ())
    for variant in variants:
        _variant_file(variant)
    if not variants:
        raise BenchError(f"{path}: no variants listed")
    reference = data.get("reference", variants[0])
    if reference not in variants:
        raise BenchError(f"{path}: the reference {reference!r} is not among the variants")
    seeds = tuple(int(s) for s in data.get("seeds", (0, 1, 2)))
    return Grid(name=name, variants=variants, seeds=seeds, reference=reference)
