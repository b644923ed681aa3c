"""A protocol's configuration: which corpus, how it is split into folds, how validation is
chosen, the features, and the protocol's defaults for every variant's ``model:`` and
``train:``; the folds themselves are made by :mod:`bench.protocol.folds`.

A protocol is ``protocols/<name>.yaml`` (or any YAML path) plus dotted overrides such as
``corpus.root=/data/IEMOCAP_full_release``. Each section is read by the config layer
(:mod:`bench.config`), so an unknown or mistyped key fails when the protocol is loaded, as
one line naming the key and where it was set. A corpus section is a
:class:`~bench.corpus.section.CorpusSection`, whose kind must be registered in
:data:`bench.corpus.registry.CORPUS_READERS` (the one list of kinds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.config import (
    Origins,
    apply_overrides,
    checked_partial,
    config_from_dict,
    load_yaml,
    merge_known,
    override_origin,
    parse_override,
)
from bench.corpus.registry import corpus_reader
from bench.corpus.section import CorpusSection
from bench.errors import BenchError
from bench.features.config import ROLES, FeaturesConfig, parse_features_config
from bench.features.config import role_defaults as features_role_defaults
from bench.model.config import ModelConfig
from bench.personalise.config import PersonaliseConfig
from bench.resources import protocols_dir
from bench.train.config import TrainConfig

PROTOCOL_DIR = protocols_dir()


FOLD_MODES = ("leave_one_out", "predefined")
SPEAKER_OVERLAP = ("warn", "error")


@dataclass(frozen=True)
class FoldsSection:
    """``folds:``: how the corpus is split (:func:`bench.protocol.folds.make_folds`).

    mode: ``leave_one_out``: each fold tests one value of the column ``unit`` (fold ``k``
        the value numbered ``k``, :func:`bench.protocol.folds.fold_units`) and trains on the
        rest (validation as the ``validation:`` section says).
        ``predefined``: the release's own partition in the table column ``column``: rows
        whose value is in ``train`` train, those in ``validation`` select models, and fold
        ``k`` tests the rows of the ``k``-th name in ``test``, where the corpus has it (each
        test set its own fold, reported separately). Rows of other values are not used
        (:func:`bench.corpus.prepare.prepare_protocol_corpus` reports them as problems).
    speaker_overlap: what a predefined partition whose parts share speakers does (releases
        need not be speaker-disjoint: MSP-Podcast draws Test2 by podcast): ``warn`` logs the
        speakers each pair of parts shares and runs; ``error`` refuses it, as leave-one-out
        folds always refuse a speaker in two parts. It decides whether a protocol runs, not
        its folds, so it is not hashed.
    """

    mode: str = "leave_one_out"
    unit: str = "group"
    column: str = "split"
    train: tuple[str, ...] = ("Train",)
    validation: tuple[str, ...] = ("Development", "Validation")
    test: tuple[str, ...] = ("Test1", "Test2")
    speaker_overlap: str = "warn"

    def __post_init__(self) -> None:
        if self.mode not in FOLD_MODES:
            modes = ", ".join(FOLD_MODES)
            raise BenchError(f"folds.mode must be one of {modes}, not {self.mode!r}")
        if self.speaker_overlap not in SPEAKER_OVERLAP:
            raise BenchError(
                f"folds.speaker_overlap must be one of {', '.join(SPEAKER_OVERLAP)}, "
                f"not {self.speaker_overlap!r}"
            )
        if self.mode == "predefined":
            named = [*self.train, *self.validation, *self.test]
            if not (self.train and self.validation and self.test) or len(set(named)) < len(named):
                raise BenchError(
                    "folds.train, folds.validation and folds.test must each name some values "
                    f"of folds.column, none twice; not {self.train}, {self.validation}, "
                    f"{self.test}"
                )

    def hashed(self) -> dict[str, Any]:
        """The keys that decide the folds: ``unit`` alone for ``leave_one_out`` (as before the
        predefined mode existed, so those trials keep their hashes)."""
        if self.mode == "leave_one_out":
            return {"unit": self.unit}
        unhashed = ("unit", "speaker_overlap")
        return {key: value for key, value in asdict(self).items() if key not in unhashed}


@dataclass(frozen=True)
class ValidationSection:
    """``validation:``: what model selection holds out from a fold's training part.

    unit: ``dialog`` holds out a seeded share ``fraction`` of the dialogs of every training
        fold unit (validation speakers are also training speakers). Any column of the
        utterance table (``session``, ``speaker``, ``group``) holds out whole values of that
        column instead, so validation speakers are unseen in training, as test speakers are.
        Values that share a dialog form one block (IEMOCAP's two speakers of a session), so
        ``speaker`` there means session-disjoint. ``ceil(fraction * n_blocks)`` blocks are
        held out, chosen by rotation from a seeded offset, so folds validate on different
        blocks.
    """

    unit: str = "dialog"
    fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise BenchError(f"validation.fraction must lie in (0, 1), not {self.fraction}")


@dataclass(frozen=True)
class Protocol:
    """A loaded, checked protocol.

    ``model`` and ``train`` are corpus-specific defaults for every variant: only the keys the
    protocol sets (nested blocks likewise), checked against :class:`ModelConfig` and
    :class:`TrainConfig` when the protocol is loaded and converted to their fields' types
    (:func:`bench.config.checked_partial`), merged into each variant's configuration by
    :func:`bench.variants.resolve_variant`. ``test_corpus``, where set, is tested on instead
    of a part of ``corpus`` (:func:`bench.protocol.folds.cross_folds`).
    """

    name: str
    path: Path
    corpus: CorpusSection
    folds: FoldsSection
    validation: ValidationSection
    features: FeaturesConfig
    personalise: PersonaliseConfig = field(default_factory=PersonaliseConfig)
    test_corpus: CorpusSection | None = None
    model: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fixed_test_sets(self) -> bool:
        """The folds are fixed test sets (a release's own splits, or a ``test_corpus``), each
        reported on its own too, not left-out units that resample one population."""
        return self.folds.mode == "predefined" or self.test_corpus is not None

    def hashed(self) -> dict[str, Any]:
        """The sections that change a trial's numbers, as plain values, defaults filled in
        (the feature cache folder, run-time settings such as the device, and ``personalise``,
        which acts only after training, left out)."""
        features = {
            role: {"extractor": spec.name, **spec.hashed_params()}
            for role, spec in self.features.extractors.items()
        }
        features["speaker"]["level"] = self.features.speaker_level
        hashed = {
            "corpus": self.corpus.hashed(),
            "folds": self.folds.hashed(),
            "validation": asdict(self.validation),
            "features": features,
        }
        if self.test_corpus is not None:
            hashed["test_corpus"] = self.test_corpus.hashed()
        return hashed


def corpus_label(corpus: CorpusSection) -> str:
    """A corpus by name: its kind, a manifest's file name, a synthetic corpus's seed.

    >>> corpus_label(CorpusSection(kind="jsonl", manifest="/data/podcasts.jsonl"))
    'podcasts.jsonl'
    """
    if corpus_reader(corpus).setting == "manifest" and corpus.manifest:
        return Path(corpus.manifest).name
    if corpus.kind == "synthetic":
        return f"synthetic seed {corpus.synth.seed}"
    return corpus.kind


def corpora_note(protocol: Protocol) -> str:
    """``trained and selected on A, tested on B`` for a cross-corpus protocol, else ``""``."""
    if protocol.test_corpus is None:
        return ""
    return (
        f"trained and selected on {corpus_label(protocol.corpus)}, "
        f"tested on {corpus_label(protocol.test_corpus)}"
    )


SECTIONS = {
    "corpus": CorpusSection,
    "folds": FoldsSection,
    "validation": ValidationSection,
    "personalise": PersonaliseConfig,
}
TRIAL_DEFAULTS = {"model": ModelConfig, "train": TrainConfig}
TEST_CORPUS = "test_corpus"  # an optional corpus: test on it, train and select on ``corpus``


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


def load_protocol(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> Protocol:
    """Read a protocol, apply ``key=value`` overrides and check every section.

    Every section is first filled with its defaults, so an override may set any known key.
    An override of ``features.<role>.extractor`` to another extractor resets that role's
    parameters to the new extractor's defaults; the role's other overrides still apply.

    Raises:
        BenchError: an unknown key or a wrongly typed value, naming the key and its origin
            (the protocol file or the command-line override).
    """
    path = protocol_path(name_or_path)
    raw = load_yaml(path)
    origins = Origins(str(path))
    known = {"name", "description", *SECTIONS, TEST_CORPUS, "features", *TRIAL_DEFAULTS}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BenchError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    if not isinstance(raw.get("name"), str):
        raise BenchError(f"{path}: needs a 'name:' (a string)")
    filled: dict[str, Any] = {"name": raw["name"]}
    for section, cls in SECTIONS.items():
        defaults = asdict(cls(**({"kind": "synthetic"} if cls is CorpusSection else {})))
        given = _mapping(raw, section, path)
        filled[section] = merge_known(defaults, given, str(path), origins, f"{section}.")
    if TEST_CORPUS in raw:
        given = _mapping(raw, TEST_CORPUS, path)
        defaults = asdict(CorpusSection())
        filled[TEST_CORPUS] = merge_known(defaults, given, str(path), origins, f"{TEST_CORPUS}.")
    filled["features"] = _filled_features(_mapping(raw, "features", path), path, origins)
    for section in TRIAL_DEFAULTS:
        filled[section] = _mapping(raw, section, path)
    trial = [o for o in overrides if o.partition(".")[0] in TRIAL_DEFAULTS]
    if trial:
        raise BenchError(
            f"override {trial[0]!r}: model.* and train.* overrides apply to each variant's "
            f"configuration; give them to bench run, ls or report"
        )
    switches = [o for o in overrides if _is_extractor_switch(o)]
    for text in switches:
        (_, role, _), extractor = parse_override(text)
        origins.set(f"features.{role}", override_origin(text))
        filled["features"][role] = features_role_defaults(role, extractor, origins)
    rest = [o for o in overrides if o not in switches]
    filled = apply_overrides(filled, rest, origins)
    return _checked_protocol(filled, path, origins)


def _mapping(raw: dict[str, Any], section: str, path: Path) -> dict[str, Any]:
    value = raw.get(section) or {}
    if not isinstance(value, dict):
        raise BenchError(f"{path}: {section} must be a mapping, not {value!r}")
    return value


def _is_extractor_switch(text: str) -> bool:
    keys = text.partition("=")[0].split(".")
    return len(keys) == 3 and keys[0] == "features" and keys[1] in ROLES and keys[2] == "extractor"


def _filled_features(block: dict[str, Any], path: Path, origins: Origins) -> dict[str, Any]:
    """A ``features:`` block with every role and parameter present (defaults filled in)."""
    filled: dict[str, Any] = {"cache_dir": None}
    for role in ROLES:
        given = block.get(role) or {}
        if not isinstance(given, dict):
            raise BenchError(f"{path}: features.{role} must be a mapping, not {given!r}")
        filled[role] = features_role_defaults(role, given.get("extractor"), origins)
    return merge_known(filled, block, str(path), origins, "features.")


def _checked_protocol(filled: dict[str, Any], path: Path, origins: Origins) -> Protocol:
    sections = {
        name: config_from_dict(cls, filled[name], f"{name}.", origins)
        for name, cls in SECTIONS.items()
    }
    defaults = {
        name: checked_partial(cls, filled[name], f"{name}.", origins)
        for name, cls in TRIAL_DEFAULTS.items()
    }
    if TEST_CORPUS in filled:
        sections[TEST_CORPUS] = config_from_dict(
            CorpusSection, filled[TEST_CORPUS], f"{TEST_CORPUS}.", origins
        )
    for key in ("corpus", TEST_CORPUS):
        if key in sections:
            corpus_reader(sections[key], key)  # a registered kind, and a dialog unit it takes
    return Protocol(
        name=filled["name"],
        path=path,
        features=parse_features_config(filled["features"], origins),
        **defaults,
        **sections,
    )
