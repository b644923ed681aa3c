"""YAML configuration files with dotted ``key=value`` overrides (``train.epochs=2``)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError, InputError


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, naming the file (and line) when it is malformed."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("file not found", path=path) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise InputError(f"malformed YAML ({getattr(exc, 'problem', exc)})", path, line) from exc
    if not isinstance(data, dict):
        raise InputError("expected a YAML mapping at the top level", path=path)
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into the key path and the YAML-parsed value.

    >>> parse_override("train.epochs=2")
    (['train', 'epochs'], 2)
    >>> parse_override("corpus.label_scale=[0, 1]")
    (['corpus', 'label_scale'], [0, 1])
    """
    key, sep, raw = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise BenchError(f"override {text!r} is not of the form key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise BenchError(f"override {text!r}: the value is not valid YAML") from exc
    return key.split("."), value


def apply_overrides(config: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``config`` with each ``key.path=value`` applied.

    Every key on the path must already exist, so a typo fails loudly instead of being ignored.
    """
    result = copy.deepcopy(config)
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for depth, key in enumerate(path):
            if not isinstance(node, dict) or key not in node:
                where = ".".join(path[:depth]) or "the top level"
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
                raise BenchError(
                    f"override {text!r}: no key {key!r} under {where} (known: {known})"
                )
            if depth == len(path) - 1:
                node[key] = value
            else:
                node = node[key]
    return result
