"""Protocols: which corpus, how it is split into folds, and how validation is chosen.

A protocol is ``protocols/<name>.yaml`` (or any YAML path) plus dotted overrides such as
``corpus.root=/data/IEMOCAP_full_release``. Folds are leave-one-unit-out: fold ``k`` tests the
``k``-th value (in sorted order) of the fold unit column (IEMOCAP: the session), and trains
on the rest, minus a seeded, dialog-disjoint validation share of every training unit.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.config import apply_overrides, load_yaml
from bench.corpus.iemocap import read_iemocap
from bench.corpus.jsonl import read_jsonl
from bench.corpus.synth import GENERATOR_VERSION, SynthConfig, check_version, generate
from bench.corpus.table import Corpus
from bench.errors import BenchError
from bench.paths import data_dir
from bench.resources import protocols_dir

PROTOCOL_DIR = protocols_dir()


def protocol_path(name_or_path: str) -> Path:
    """Resolve a protocol name (``synthetic``) or a YAML path to a file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise BenchError(f"protocol file {candidate} not found")
        return candidate
    path = PROTOCOL_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml")))
        raise BenchError(f"unknown protocol {name_or_path!r} (known: {known})")
    return path


def load_protocol(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Read a protocol and apply ``key=value`` overrides (every key must exist)."""
    protocol = apply_overrides(load_yaml(protocol_path(name_or_path)), overrides)
    for section in ("name", "corpus", "folds", "validation"):
        if section not in protocol:
            raise BenchError(f"protocol {name_or_path!r} has no {section!r} section")
    return protocol


def synth_config(corpus_cfg: dict[str, Any]) -> SynthConfig:
    """The generator arguments of a ``kind: synthetic`` corpus section."""
    try:
        return SynthConfig(**corpus_cfg.get("synth", {}))
    except TypeError as exc:
        raise BenchError(f"corpus.synth: {exc}") from exc


def synthetic_root(corpus_cfg: dict[str, Any]) -> Path:
    """The folder of a synthetic corpus: ``corpus.root``, else one named by its arguments and
    the generator version (so a newer generator never reads an older corpus)."""
    if corpus_cfg.get("root"):
        return Path(corpus_cfg["root"]).expanduser().resolve()
    config = synth_config(corpus_cfg)
    name = f"{config.size}-seed{config.seed}"
    name += "" if config.context else "-nocontext"
    name += "" if config.speaker_effect else "-nospeaker"
    name += f"-v{GENERATOR_VERSION}"
    return data_dir() / "synthetic" / name


def prepare_corpus(protocol: dict, progress: bool = True) -> Corpus:
    """Read the protocol's corpus, generating the synthetic one on first use."""
    corpus_cfg = protocol["corpus"]
    kind = corpus_cfg.get("kind")
    scale = tuple(float(x) for x in corpus_cfg.get("label_scale", (1, 5)))
    if kind == "synthetic":
        root = synthetic_root(corpus_cfg)
        if not root.is_dir():
            print(f"generating the synthetic corpus in {root} (first use)", file=sys.stderr)
            generate(root, synth_config(corpus_cfg), progress=progress)
        check_version(root)
        return read_iemocap(root, name="synthetic")
    if kind == "iemocap":
        if not corpus_cfg.get("root"):
            raise BenchError("set corpus.root=/path/to/IEMOCAP_full_release")
        return read_iemocap(corpus_cfg["root"])
    if kind == "jsonl":
        if not corpus_cfg.get("manifest"):
            raise BenchError("set corpus.manifest=/path/to/manifest.jsonl")
        return read_jsonl(corpus_cfg["manifest"], label_scale=scale)  # type: ignore[arg-type]
    raise BenchError(f"corpus.kind {kind!r} is not one of synthetic, iemocap, jsonl")


@dataclass(frozen=True)
class Fold:
    """One leave-one-unit-out fold: row indices into the utterance table."""

    number: int  # 1-based
    test_unit: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def fold_units(table: pd.DataFrame, protocol: dict) -> list[str]:
    """The sorted values of the fold unit column; fold k tests the k-th."""
    column = protocol["folds"].get("unit", "group")
    if column not in table:
        raise BenchError(f"folds.unit {column!r} is not a column of the utterance table")
    return sorted(table[column].astype(str).unique())


def _validation_dialogs(
    train: pd.DataFrame, column: str, fraction: float, rng: np.random.Generator
) -> set[str]:
    """Hold out ``ceil(fraction * n)`` of the ``n`` dialogs of every training unit (n > 1)."""
    chosen: set[str] = set()
    for _, unit in train.groupby(column, sort=True):
        dialogs = sorted(unit["dialog"].unique())
        if len(dialogs) < 2:
            continue
        n_val = min(len(dialogs) - 1, max(1, math.ceil(fraction * len(dialogs))))
        chosen.update(rng.choice(dialogs, n_val, replace=False).tolist())
    return chosen


def make_folds(table: pd.DataFrame, protocol: dict) -> list[Fold]:
    """Every fold of the protocol, each checked for leakage."""
    column = protocol["folds"].get("unit", "group")
    units = fold_units(table, protocol)
    if len(units) < 2:
        raise BenchError(f"need at least 2 values of folds.unit {column!r}, found {units}")
    fraction = float(protocol["validation"].get("fraction", 0.2))
    seed = int(protocol["validation"].get("seed", 0))
    unit_of = table[column].astype(str)
    folds = []
    for number, unit in enumerate(units, start=1):
        is_test = (unit_of == unit).to_numpy()
        rng = np.random.default_rng([seed, number])
        val_dialogs = _validation_dialogs(table[~is_test], column, fraction, rng)
        is_val = ~is_test & table["dialog"].isin(val_dialogs).to_numpy()
        fold = Fold(
            number=number,
            test_unit=unit,
            train=np.flatnonzero(~is_test & ~is_val),
            val=np.flatnonzero(is_val),
            test=np.flatnonzero(is_test),
        )
        check_fold(table, fold)
        folds.append(fold)
    return folds


def check_fold(table: pd.DataFrame, fold: Fold) -> None:
    """Assert no leakage: test shares no speaker, session or dialog with train or val, and
    val shares no dialog with train.

    Raises:
        BenchError: naming the leaking values.
    """
    parts = {name: table.iloc[getattr(fold, name)] for name in ("train", "val", "test")}
    if not len(parts["train"]) or not len(parts["test"]):
        raise BenchError(f"fold {fold.number}: empty train or test part")
    checks = [("test", "train", c) for c in ("speaker", "session", "dialog")]
    checks += [("test", "val", c) for c in ("speaker", "session", "dialog")]
    checks.append(("val", "train", "dialog"))
    for left, right, column in checks:
        shared = set(parts[left][column]) & set(parts[right][column])
        if shared:
            raise BenchError(
                f"fold {fold.number}: {left} and {right} share {column}(s) "
                f"{', '.join(sorted(map(str, shared))[:10])}; choose a fold unit that keeps "
                f"them apart (folds.unit)"
            )
