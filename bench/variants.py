"""Variants and grids: small YAML files found by globbing ``variants/``.

A variant's configuration is resolved in this order, each step changing only keys that
already exist (a typo fails loudly, naming the file):

1. ``variants/base.yaml``: the full model, every field explicit;
2. the protocol's ``model:`` and ``train:`` sections: corpus-specific defaults for every
   variant (e.g. a smaller model for the small synthetic corpus);
3. ``variants/<name>.yaml`` (or a YAML file given by its path, :func:`variant_name`): only
   what the variant changes;
4. ``model.*`` / ``train.*`` overrides from the command line.

A variant file may also hold a ``personalise:`` block (:func:`resolve_personalise`).

The merge runs on plain values in the config layer (:mod:`bench.config`); the result is a
frozen, typed :class:`bench.train.config.TrialSpec`, so an invalid combination (e.g. a
stateless model with feedback) is an error with a message, and nothing after this parses
the configuration again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.config import Origins, apply_overrides, config_from_dict, load_yaml, merge_known
from bench.errors import BenchError
from bench.personalise.config import PersonaliseConfig
from bench.protocol import Protocol
from bench.resources import variants_dir
from bench.train.config import TrialSpec

VARIANT_DIR = variants_dir()
TRIAL_SECTIONS = ("model", "train")
DEFAULT_GRID = "ablations"  # the grid of `bench run`, `bench ls` and `bench report`


# Variants given as a YAML path (``--variant my/wide.yaml``), by name (the file's stem), so
# that every later lookup by that name (planning, tuning, the report) reads the same file.
_GIVEN_FILES: dict[str, Path] = {}


def variant_names() -> list[str]:
    """Every variant file in ``variants/`` except the base."""
    return sorted(p.stem for p in VARIANT_DIR.glob("*.yaml") if p.stem != "base")


def variant_name(name_or_path: str) -> str:
    """The name of a variant given by name (``no_film``) or by the path of a YAML file
    (``my/wide.yaml``, as ``--protocol`` takes one): the file's stem, which from then on
    names that file (a trial's key, its results folder, the report's rows).

    Raises:
        BenchError: an unknown name (listing the known ones), a path that is not a file, or a
            file whose stem is ``base`` or already names another variant file.
    """
    candidate = Path(name_or_path)
    if candidate.suffix not in (".yaml", ".yml"):
        _variant_file(name_or_path)
        return name_or_path
    if not candidate.is_file():
        raise BenchError(f"variant file {candidate} not found")
    name = candidate.stem
    taken = _GIVEN_FILES.get(name, VARIANT_DIR / f"{name}.yaml")
    if name == "base" or (taken.is_file() and not taken.samefile(candidate)):
        raise BenchError(
            f"variant file {candidate}: its name {name!r} is taken by {taken}; rename the file"
        )
    _GIVEN_FILES[name] = candidate.resolve()
    return name


def _variant_file(name: str) -> Path:
    path = _GIVEN_FILES.get(name, VARIANT_DIR / f"{name}.yaml")
    if name == "base" or not path.is_file():
        raise BenchError(f"unknown variant {name!r} (known: {', '.join(variant_names())})")
    return path


def _read_variant(path: Path) -> dict[str, Any]:
    data = load_yaml(path) if path.read_text().strip() else {}
    unknown = set(data) - {"description", "personalise", *TRIAL_SECTIONS}
    if unknown:
        raise BenchError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    return data


def resolve_variant(name: str, protocol: Protocol, overrides: Sequence[str] = ()) -> TrialSpec:
    """The full configuration of a variant, checked: a spec whose ``seed`` and ``device``
    keep their defaults (each trial sets its seed: :func:`bench.run.plan.plan_trials`).

    Raises:
        BenchError: an unknown key or a wrongly typed value, naming the key and where it was
            set (``variants/base.yaml``, the protocol, the variant file or the command line).
    """
    base_path = VARIANT_DIR / "base.yaml"
    base_file = load_yaml(base_path)
    base = {key: base_file[key] for key in TRIAL_SECTIONS}
    origins = Origins(str(base_path))
    protocol_defaults = {"model": protocol.model, "train": protocol.train}
    config = merge_known(base, protocol_defaults, str(protocol.path), origins)
    path = _variant_file(name)
    change = {k: v for k, v in _read_variant(path).items() if k in TRIAL_SECTIONS}
    config = merge_known(config, change, str(path), origins)
    config = apply_overrides(config, overrides, origins)
    try:
        return TrialSpec.from_dict(config, origins)
    except BenchError as exc:
        raise BenchError(f"variant {name} ({path}): {exc}") from exc


def resolve_personalise(
    name: str, protocol: Protocol, overrides: Sequence[str] = ()
) -> PersonaliseConfig:
    """A variant's few-shot personalisation (``bench personalise``): the protocol's
    ``personalise:`` block, then the variant file's own ``personalise:`` block, then the
    command line's ``personalise.*`` ``overrides``, which win.

    Raises:
        BenchError: an unknown key or a wrong value, naming the key and where it was set.
    """
    path = _variant_file(name)
    origins = Origins(str(protocol.path))
    block = {"personalise": _read_variant(path).get("personalise") or {}}
    values = merge_known({"personalise": asdict(protocol.personalise)}, block, str(path), origins)
    values = apply_overrides(values, overrides, origins)
    return config_from_dict(PersonaliseConfig, values["personalise"], "personalise.", origins)


def config_hash(
    spec: TrialSpec,
    protocol: Protocol,
    tuning: dict[str, Any] | None = None,
    data: dict[str, str] | None = None,
) -> str:
    """Short hash of everything that changes a trial's numbers except fold and seed: the
    variant's resolved config (the spec's plain :meth:`~TrialSpec.to_config`, as its record
    stores it), the protocol's corpus, folds, validation and features, the
    tuning the config came from (``bench run --tuned``), so tuned and untuned trials never
    share a hash, and ``data``, the fold's data identity (:mod:`bench.run.identity`: what
    the trial trained, selected and tested on), so a changed corpus or fold never reuses a
    stored trial. ``train.seed_offset`` at 0 is left out (:func:`hashed_trial`)."""
    hashed: dict[str, Any] = {
        "trial": hashed_trial(spec.to_config()),
        "protocol": protocol.hashed(),
    }
    if tuning is not None:
        hashed["tuning"] = tuning
    if data is not None:
        hashed["data"] = data
    text = json.dumps(hashed, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def hashed_trial(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as :func:`config_hash` hashes it: without ``train.seed_offset`` where it is
    0, its default, so trials stored before the key existed keep their hashes.

    >>> hashed_trial({"train": {"lr": 0.001, "seed_offset": 0}})
    {'train': {'lr': 0.001}}
    """
    train = config.get("train")
    if not isinstance(train, dict) or train.get("seed_offset") != 0:
        return config
    return {**config, "train": {k: v for k, v in train.items() if k != "seed_offset"}}


def aa_controls(
    reference: str, variants: Sequence[str], protocol: Protocol, overrides: Sequence[str] = ()
) -> tuple[str, ...]:
    """The variants of ``variants`` that are A/A controls of ``reference``: their resolved
    configuration (:func:`resolve_variant`, with ``overrides``) differs from the reference's
    in ``train.seed_offset`` alone, so they are the reference trained again with other seeds,
    and any difference between the two is noise."""
    base = resolve_variant(reference, protocol, overrides)
    controls = []
    for name in variants:
        spec = resolve_variant(name, protocol, overrides)
        offset = spec.train.seed_offset
        same_otherwise = spec == replace(base, train=replace(base.train, seed_offset=offset))
        if offset != base.train.seed_offset and same_otherwise:
            controls.append(name)
    return tuple(controls)


@dataclass(frozen=True)
class Grid:
    """A named list of variants and seeds, with the reference variant of the report."""

    name: str
    variants: tuple[str, ...]
    seeds: tuple[int, ...]
    reference: str


@dataclass(frozen=True)
class GridFile:
    """The keys of ``variants/grids/<name>.yaml``; ``reference`` defaults to the first variant."""

    variants: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0, 1, 2)
    reference: str | None = None


def load_grid(name: str) -> Grid:
    """Read ``variants/grids/<name>.yaml``; every variant it names must exist."""
    path = VARIANT_DIR / "grids" / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml")))
        raise BenchError(f"unknown grid {name!r} (known: {known})")
    try:
        data = config_from_dict(GridFile, load_yaml(path), "", Origins(str(path)))
    except BenchError as exc:
        raise BenchError(f"grid {name}: {exc}") from exc
    for variant in data.variants:
        _variant_file(variant)
    if not data.variants:
        raise BenchError(f"{path}: no variants listed")
    reference = data.reference or data.variants[0]
    if reference not in data.variants:
        raise BenchError(f"{path}: the reference {reference!r} is not among the variants")
    return Grid(name=name, variants=data.variants, seeds=data.seeds, reference=reference)
