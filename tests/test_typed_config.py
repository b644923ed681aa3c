"""Typed configuration end to end: a protocol's ``model:``/``train:`` defaults are checked when
it loads, a trial's spec is resolved once into a frozen :class:`TrialSpec` that reaches the
worker as it is, and tuned values are set into it as data, checked by the config layer."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.protocol import load_protocol
from bench.run import worker
from bench.run.plan import plan_trials
from bench.run.selection import select_trials
from bench.train.config import TrialSpec
from bench.tune.apply import Tuning
from bench.tune.search import plan_search
from bench.tune.space import load_search
from bench.tune.store import CHOSEN_FILE, Choice, TuningKey, write_choice
from bench.variants import config_hash, resolve_variant

DATA = {"train": "t", "val": "v", "test": "s"}  # a fold's data identity, as the hash sees it


def protocol_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(f"name: mine\n{text}\n")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: {d_modl: 8}", "unknown key(s) model.d_modl"),
        ("model: {ema: {alfa: 0.5}}", "unknown key(s) model.ema.alfa"),
        ("model: {dropout: high}", "model.dropout must be float, not str 'high'"),
        ("train: {epochs: 2.5}", "train.epochs must be int, not float 2.5"),
        ("train: {lr: 0}", "train.lr must be > 0, not 0.0"),
    ],
)
def test_a_protocol_default_that_no_config_takes_fails_at_load(
    tmp_path: Path, text: str, message: str
):
    """Checked when the protocol loads, before any variant is resolved, naming the key and
    the protocol file."""
    path = protocol_file(tmp_path, text)
    with pytest.raises(BenchError) as error:
        load_protocol(str(path))
    assert message in str(error.value) and f"(from {path})" in str(error.value)


def test_protocol_defaults_hold_only_what_the_protocol_sets_as_typed_values(tmp_path: Path):
    """YAML reads ``3e-4`` (no dot) as text; the loaded default is the float, and keys the
    protocol leaves out stay out (a variant's base value applies to them)."""
    path = protocol_file(tmp_path, "model: {ema: {alpha: 0.7}, dropout: 0}\ntrain: {lr: 3e-4}")
    protocol = load_protocol(str(path))
    assert protocol.model == {"ema": {"alpha": 0.7}, "dropout": 0.0}
    assert protocol.train == {"lr": 0.0003} and isinstance(protocol.train["lr"], float)
    spec = resolve_variant("mamba_ema", protocol)
    assert (spec.model.ema.alpha, spec.model.ema.mode, spec.train.lr) == (0.7, "fixed", 0.0003)


def test_the_spec_a_worker_gets_is_the_plans_frozen_and_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    protocol = load_protocol("synthetic")
    plan = plan_trials(protocol, ["no_film"], [0, 2], {1: DATA}, tmp_path, ["train.lr=0.01"])
    trial = plan[1]
    spec = trial.work()["spec"]
    assert isinstance(spec, TrialSpec) and spec is trial.spec
    assert (spec.seed, spec.model.film, spec.train.lr) == (2, False, 0.01)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.model.film = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.train.lr = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.model.ema.alpha = 0.5  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(spec)) == spec  # how it reaches a Ray worker
    # Seeds share one configuration, its record's plain form and its hash.
    assert trial.config == plan[0].config == spec.to_config()
    assert trial.config_hash == config_hash(spec, protocol, None, DATA)

    def unread(*args, **kwargs):
        raise AssertionError("the worker parsed the spec again")

    class Trained:
        def __init__(self, spec: TrialSpec, data, keep_checkpoint: bool):
            self.spec = spec

        def to_json(self) -> dict:
            return {"spec": self.spec}

    monkeypatch.setattr(TrialSpec, "from_dict", unread)
    monkeypatch.setattr(worker, "run_trial", Trained)
    assert worker.train_task(trial.work(), None, None)["spec"] is spec  # type: ignore[arg-type]


def chosen(root: Path, values: dict, key: TuningKey) -> Tuning:
    """A stored choice of ``values`` for ``key`` made for the variant's configuration now."""
    untuned = resolve_variant(key.variant, load_protocol(key.protocol))
    base = config_hash(untuned, load_protocol(key.protocol))
    write_choice(root, key, Choice(3, values, 0.5, 8, "default", "a space", base, None))
    return Tuning("nested", root)


def test_tuned_values_are_merged_as_data_and_checked(tmp_path: Path):
    protocol = load_protocol("synthetic")
    key = TuningKey("synthetic", "mamba_ema", 1)
    values = {"train.lr": 3e-05, "train.weight_decay": 0, "model.dropout": 0.25}
    tuning = chosen(tmp_path, values, key)
    spec, marker = tuning.configure(protocol, "mamba_ema", 1, (), None)
    assert isinstance(spec, TrialSpec)
    assert (spec.train.lr, spec.model.dropout) == (3e-05, 0.25)
    assert spec.train.weight_decay == 0.0 and isinstance(spec.train.weight_decay, float)
    assert spec.model.updater == "mamba" and spec.train.epochs == 30  # untouched
    assert marker["values"] == values and marker["mode"] == "nested"  # the record's marker
    untuned = resolve_variant("mamba_ema", protocol)
    assert config_hash(spec, protocol, marker) != config_hash(untuned, protocol, marker)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"train.lr": "fast"}, "train.lr must be float, not str 'fast' (from {file})"),
        ({"train.lr": True}, "train.lr must be float, not bool True (from {file})"),
        ({"model.dropout": 1.5}, "model.dropout must lie in [0, 1), not 1.5 (from {file})"),
        ({"train.lrr": 0.1}, "{file}: unknown key 'train.lrr'"),
    ],
)
def test_a_stored_choice_the_configuration_cannot_take_is_refused_naming_its_file(
    tmp_path: Path, values: dict, message: str
):
    key = TuningKey("synthetic", "mamba_ema", 1)
    tuning = chosen(tmp_path, values, key)
    with pytest.raises(BenchError) as error:
        tuning.configure(load_protocol("synthetic"), "mamba_ema", 1, (), None)
    assert message.format(file=key.folder(tmp_path) / CHOSEN_FILE) in str(error.value)


def test_a_searchs_configurations_are_typed_specs_with_its_values(tmp_path: Path):
    search = load_search()
    selection = select_trials("synthetic", variants=["gru_ema"])
    planned = plan_search(selection, search, 3, tmp_path, "gru_ema", 1, DATA)
    for configuration in planned.configurations:
        spec = configuration.spec
        assert isinstance(spec, TrialSpec) and spec.seed == search.settings.training_seed
        assert spec.model.updater == "gru"
        for dotted, value in configuration.values.items():
            section, name = dotted.split(".")
            assert getattr(getattr(spec, section), name) == value
