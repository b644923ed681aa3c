"""The one config layer: YAML files, dotted overrides, and known-key, type and range checks.

Every YAML section that ``bench`` reads (protocols, variants, grids, features, tuning
choices) goes through these functions, so a typo, a wrong type or a value out of range fails
the same way everywhere: one line naming the key and where its value came from (a file, or a
command-line override). A numeric field declares its range with :func:`ranged`; a block
whose class one of its keys names (a feature role's ``extractor``) is read by
:func:`tagged_from_dict`; a block that sets only some fields (a protocol's ``model:``
defaults) is checked by :func:`checked_partial`; typed values are set into a built
configuration, checked, by :func:`with_values`.

>>> from dataclasses import dataclass
>>> @dataclass
... class Train:
...     epochs: int = 30
...     lr: float = 1e-3
>>> config_from_dict(Train, {"epochs": 2, "lr": "3e-4"}, "train.")
Train(epochs=2, lr=0.0003)
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bench.errors import BenchError, InputError

Config = TypeVar("Config")


@dataclass(frozen=True)
class Range:
    """The values a numeric setting may take: ``low <= x`` (``low < x`` when ``low_open``)
    and ``x <= high`` (``x < high`` when ``high_open``); a bound of ``None`` is absent.
    NaN lies in no range.

    >>> dropout = Range(0, 1, high_open=True)
    >>> 0.0 in dropout, 1.0 in dropout, dropout.describe()
    (True, False, 'lie in [0, 1)')
    >>> Range(0, low_open=True).describe(), Range(1).describe()
    ('be > 0', 'be >= 1')
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if math.isnan(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self) -> str:
        """What a value must do, to follow "must": ``lie in [a, b)`` (interval notation), or
        ``be > a`` / ``be <= b`` for one bound."""
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"lie in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"be {'>' if self.low_open else '>='} {self.low:g}"
        return f"be {'<' if self.high_open else '<='} {self.high:g}"


def ranged(
    default: float,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """A dataclass field with ``default`` whose value :func:`checked_fields` requires to lie
    in ``Range(low, high, low_open, high_open)`` (kept in the field's ``metadata["range"]``).

    >>> @dataclass
    ... class Train:
    ...     lr: float = ranged(1e-3, 0, low_open=True)
    >>> config_from_dict(Train, {"lr": 0}, "train.")
    Traceback (most recent call last):
    ...
    bench.errors.BenchError: train.lr must be > 0, not 0.0
    """
    return field(default=default, metadata={"range": Range(low, high, low_open, high_open)})


def field_range(field_: dataclasses.Field) -> Range | None:
    """The :class:`Range` a field was declared with by :func:`ranged`, if any."""
    return field_.metadata.get("range")


def leaf_fields(cls: type, where: str = "") -> dict[str, tuple[Any, dataclasses.Field]]:
    """Every settable leaf of dataclass ``cls`` by dotted key (nested dataclasses expanded),
    with its type hint and field.

    >>> from bench.model.config import ModelConfig
    >>> [key for key in leaf_fields(ModelConfig, "model.") if key.startswith("model.ema.")]
    ['model.ema.mode', 'model.ema.alpha', 'model.ema.min_alpha', 'model.ema.max_alpha']
    """
    hints = typing.get_type_hints(cls)
    leaves: dict[str, tuple[Any, dataclasses.Field]] = {}
    for field_ in dataclasses.fields(cls):
        if not field_.init:
            continue
        hint = hints[field_.name]
        if dataclasses.is_dataclass(hint):
            leaves.update(leaf_fields(hint, f"{where}{field_.name}."))
        else:
            leaves[where + field_.name] = (hint, field_)
    return leaves


def check_range(key: str, bounds: Range | None, value: Any, origins: Origins | None = None) -> None:
    """Refuse a number ``value`` of ``key`` outside ``bounds`` (``None``: any value).

    Raises:
        BenchError: ``key must lie in [a, b), not <value>``, with the value's origin.
    """
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if bounds is not None and number and value not in bounds:
        raise BenchError(f"{key} must {bounds.describe()}, not {value!r}{_from(origins, key)}")


@dataclass
class Origins:
    """Where each value of a configuration was set: a file by default, else an override.

    >>> origins = Origins("protocols/synthetic.yaml")
    >>> origins.set("train.lr", "the command line (train.lr=x)")
    >>> origins.of("train.lr"), origins.of("train.epochs")
    ('the command line (train.lr=x)', 'protocols/synthetic.yaml')
    """

    default: str
    by_key: dict[str, str] = field(default_factory=dict)

    def set(self, key: str, origin: str) -> None:
        self.by_key[key] = origin

    def of(self, key: str) -> str:
        """The origin of ``key``: of its own override, else of the closest overridden parent."""
        parts = key.split(".")
        for end in range(len(parts), 0, -1):
            origin = self.by_key.get(".".join(parts[:end]))
            if origin is not None:
                return origin
        return self.default


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, naming the file (and line) when it is malformed."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("file not found", path=path) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", path=path) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise InputError(f"malformed YAML ({getattr(exc, 'problem', exc)})", path, line) from exc
    if data is None:
        return {}
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


def override_origin(text: str) -> str:
    """How an error names a command-line override."""
    return f"the command line ({text})"


def apply_overrides(
    config: dict[str, Any], overrides: Iterable[str], origins: Origins | None = None
) -> dict[str, Any]:
    """Return a copy of ``config`` with each ``key.path=value`` applied.

    Every key on the path must already exist, so a typo fails loudly instead of being
    ignored. Each applied key is recorded in ``origins`` as coming from the command line.
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
        if origins is not None:
            origins.set(".".join(path), override_origin(text))
    return result


def merge_known(
    base: Mapping[str, Any],
    change: Mapping[str, Any],
    origin: str,
    origins: Origins | None = None,
    prefix: str = "",
) -> dict[str, Any]:
    """``base`` with the values of ``change``, which comes from ``origin`` (a file).

    Every key of ``change`` must exist in ``base``; nested mappings merge key by key.

    Raises:
        BenchError: a key of ``change`` that ``base`` lacks, named with its full path.
    """
    merged = dict(base)
    for key, value in change.items():
        if key not in base:
            known = ", ".join(sorted(base))
            raise BenchError(f"{origin}: unknown key '{prefix}{key}' (known: {known})")
        if isinstance(base[key], dict) and isinstance(value, dict):
            merged[key] = merge_known(base[key], value, origin, origins, f"{prefix}{key}.")
        else:
            merged[key] = value
            if origins is not None:
                origins.set(prefix + key, origin)
    return merged


def config_from_dict(
    cls: type[Config],
    values: Mapping[str, Any],
    where: str = "",
    origins: Origins | None = None,
) -> Config:
    """Build dataclass ``cls`` from ``values``, recursing into nested dataclass fields.

    ``where`` is the dotted prefix of ``values`` (``"model."``); ``origins`` says where each
    value came from, for the error message.

    Raises:
        BenchError: a key that ``cls`` has no field for, or a value of the wrong type, named
            with its dotted path and origin.
    """
    return cls(**checked_fields(cls, values, where, origins))


def checked_fields(
    cls: type,
    values: Mapping[str, Any],
    where: str = "",
    origins: Origins | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """The keyword arguments of ``cls`` from ``values``, with keys, types and ranges
    (:func:`ranged`) checked (the part of :func:`config_from_dict` that does not construct
    ``cls`` itself). ``partial``: a nested dataclass field stays a checked mapping of the
    keys given (:func:`checked_partial`) instead of being built."""
    checked_mapping(values, where, origins)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    names = list(fields)
    unknown = sorted(set(values) - set(names))
    if unknown:
        listed = ", ".join(where + key for key in unknown)
        raise BenchError(
            f"unknown key(s) {listed}{_from(origins, where + unknown[0])}; "
            f"known: {', '.join(names)}"
        )
    kwargs = {}
    for name, value in values.items():
        key = where + name
        if dataclasses.is_dataclass(hints[name]) and isinstance(value, Mapping):
            if partial:
                kwargs[name] = checked_fields(hints[name], value, key + ".", origins, True)
            else:
                kwargs[name] = config_from_dict(hints[name], value, key + ".", origins)
        else:
            kwargs[name] = check_type(key, hints[name], value, origins)
            check_range(key, field_range(fields[name]), kwargs[name], origins)
    return kwargs


def checked_partial(
    cls: type, values: Mapping[str, Any], where: str = "", origins: Origins | None = None
) -> dict[str, Any]:
    """Some fields of dataclass ``cls``, checked: a block that sets defaults for part of a
    configuration (a protocol's ``model:``), merged into a whole one later. Keys, types and
    ranges are checked as :func:`config_from_dict` checks them, nested blocks too, and the
    values come back converted to their fields' types; nothing is built, so a check that
    needs every field (a ``__post_init__``) waits for the whole configuration.

    >>> @dataclass
    ... class Train:
    ...     epochs: int = 30
    ...     lr: float = 1e-3
    >>> checked_partial(Train, {"lr": "3e-4"}, "train.")
    {'lr': 0.0003}
    >>> checked_partial(Train, {"epochs": 2.5}, "train.", Origins("protocols/p.yaml"))
    Traceback (most recent call last):
    ...
    bench.errors.BenchError: train.epochs must be int, not float 2.5 (from protocols/p.yaml)
    """
    return checked_fields(cls, values, where, origins, partial=True)


def check_choice(
    key: str, value: Any, allowed: Iterable[str], origins: Origins | None = None
) -> str:
    """``value`` if it is one of the names ``allowed``.

    Raises:
        BenchError: ``key must be one of a, b, not <value>``, with the value's origin.
    """
    names = tuple(allowed)
    if not isinstance(value, str) or value not in names:
        raise BenchError(
            f"{key} must be one of {', '.join(names)}, not {value!r}{_from(origins, key)}"
        )
    return value


def tagged_from_dict(
    classes: Mapping[str, type[Config]],
    tag: str,
    values: Mapping[str, Any] | None,
    where: str = "",
    origins: Origins | None = None,
) -> Config:
    """The dataclass of ``classes`` that the block's key ``tag`` names (the first where the
    block leaves it out), built from the block's other keys by :func:`config_from_dict`.

    >>> @dataclass
    ... class Logmel:
    ...     n_mels: int = 64
    >>> tagged_from_dict({"logmel": Logmel}, "extractor", {"n_mels": 40}, "speech.")
    Logmel(n_mels=40)
    >>> tagged_from_dict({"logmel": Logmel}, "extractor", {"extractor": "mfcc"}, "speech.")
    Traceback (most recent call last):
    ...
    bench.errors.BenchError: speech.extractor must be one of logmel, not 'mfcc'

    Raises:
        BenchError: a block that is not a mapping, a name not in ``classes``, or an unknown
            key or wrong value for the named class, each with its dotted key and origin.
    """
    rest = dict(checked_mapping(values or {}, where, origins))
    name = check_choice(where + tag, rest.pop(tag, next(iter(classes))), classes, origins)
    return config_from_dict(classes[name], rest, where, origins)


def checked_mapping(
    values: Any, where: str = "", origins: Origins | None = None
) -> Mapping[str, Any]:
    """``values`` if it is a mapping (a configuration block).

    Raises:
        BenchError: ``<where> must be a mapping, not <type> <value>``, with its origin.
    """
    if not isinstance(values, Mapping):
        raise BenchError(
            f"{where.rstrip('.') or 'the top level'} must be a mapping, not "
            f"{type(values).__name__} {values!r}{_from(origins, where.rstrip('.'))}"
        )
    return values


def with_values(config: Config, values: Mapping[str, Any], origin: str) -> Config:
    """A copy of dataclass ``config`` with ``values`` (dotted key -> value, as a search or a
    stored tuning choice gives them) set, as data, and checked as a file's values are: the
    keys must exist, the types and ranges fit. The values keep their types: no round trip
    through ``key=value`` text, where YAML would read a float such as ``3e-05`` as a string.

    >>> @dataclass(frozen=True)
    ... class Train:
    ...     epochs: int = 30
    ...     lr: float = ranged(1e-3, 0, low_open=True)
    >>> with_values(Train(), {"lr": 3e-05}, "chosen.json")
    Train(epochs=30, lr=3e-05)
    >>> with_values(Train(), {"lr": "fast"}, "chosen.json")
    Traceback (most recent call last):
    ...
    bench.errors.BenchError: lr must be float, not str 'fast' (from chosen.json)

    Raises:
        BenchError: a key the configuration does not have, or a value it cannot take, named
            with ``origin``.
    """
    change: dict[str, Any] = {}
    for key, value in values.items():
        *path, last = key.split(".")
        node = change
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    origins = Origins(origin)
    merged = merge_known(dataclasses.asdict(config), change, origin, origins)
    return config_from_dict(type(config), merged, "", origins)


def check_type(key: str, hint: Any, value: Any, origins: Origins | None = None) -> Any:
    """``value`` as type ``hint`` (scalars, ``X | None``, unions, lists and tuples).

    A float takes an int or a number written as text: YAML 1.1 reads ``3e-4`` (no dot) as a
    string. A bool is never an int.

    >>> check_type("train.lr", float, "3e-4")
    0.0003
    >>> check_type("corpus.label_scale", tuple[float, float], [1, 5])
    (1.0, 5.0)

    Raises:
        BenchError: ``key must be <type>, not <type> <value>``, with the value's origin.
    """
    ok, converted = _convert(hint, value)
    if not ok:
        raise BenchError(
            f"{key} must be {_type_name(hint)}, not {type(value).__name__} {value!r}"
            f"{_from(origins, key)}"
        )
    return converted


def _from(origins: Origins | None, key: str) -> str:
    return "" if origins is None else f" (from {origins.of(key)})"


def _convert(hint: Any, value: Any) -> tuple[bool, Any]:
    """(whether ``value`` fits ``hint``, the value converted to it)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True, value
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            ok, converted = _convert(arm, value)
            if ok:
                return True, converted
        return False, value
    if hint is type(None):
        return value is None, value
    if hint is float:
        if isinstance(value, str):
            try:
                return True, float(value)
            except ValueError:
                return False, value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if hint in (int, bool, str):
        return type(value) is hint, value
    if hint is Path:
        return isinstance(value, str | Path), Path(value) if isinstance(value, str) else value
    if origin in (list, tuple):
        return _convert_sequence(origin, args, value)
    return isinstance(value, origin or hint), value


def _convert_sequence(kind: type, args: tuple, value: Any) -> tuple[bool, Any]:
    if not isinstance(value, list | tuple):
        return False, value
    if kind is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            return False, value
        arms = args
    else:
        arms = (args[0] if args else Any,) * len(value)
    converted = []
    for arm, item in zip(arms, value, strict=True):
        ok, item = _convert(arm, item)
        if not ok:
            return False, value
        converted.append(item)
    return True, kind(converted)


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is not None:
        return str(hint).replace("typing.", "")
    return getattr(hint, "__name__", str(hint))
