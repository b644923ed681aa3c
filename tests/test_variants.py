"""Variant files and grids: explicit base, small diffs, loud errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from bench import variants
from bench.cli import main
from bench.errors import BenchError
from bench.protocol import Protocol, load_protocol
from bench.results import read_record
from bench.train.config import TrialSpec
from bench.variants import (
    aa_controls,
    config_hash,
    hashed_trial,
    load_grid,
    resolve_personalise,
    resolve_variant,
    variant_name,
    variant_names,
)

ABLATIONS = [
    "mamba_ema", "stateless", "gru_ema", "no_prosody", "no_film", "learnable_alpha",
    "teacher_forcing", "autoregressive", "no_feedback", "mamba_ema_aa",
]  # fmt: skip


def keys(tree: dict, prefix: str = "") -> set[str]:
    found = set()
    for key, value in tree.items():
        found |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return found


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    return load_protocol("synthetic")


def test_base_lists_every_field_of_the_trial_config():
    base = variants.load_yaml(variants.VARIANT_DIR / "base.yaml")
    defaults = asdict(TrialSpec())
    for section in ("model", "train"):
        assert keys(base[section]) == keys(defaults[section]), section


def test_grids_name_the_issue_variants_and_three_seeds():
    grid = load_grid("ablations")
    assert list(grid.variants) == ABLATIONS and grid.seeds == (0, 1, 2)
    assert grid.reference == "mamba_ema"
    extended = load_grid("extended")
    assert set(extended.variants) == {*ABLATIONS, "mlp_ema", "mamba_no_ema", "per_channel_alpha"}
    assert set(variant_names()) == set(extended.variants)


def test_each_variant_changes_what_its_name_says(protocol: Protocol):
    resolved = {name: resolve_variant(name, protocol).to_config() for name in variant_names()}
    reference = resolved["mamba_ema"]
    assert reference["model"]["updater"] == "mamba" and reference["model"]["ema"]["alpha"] == 0.8

    def differences(name: str) -> set[str]:
        flat = keys(resolved[name])
        return {
            k for k in flat if _get(resolved[name], k) != _get(reference, k)
        }  # fmt: skip

    assert differences("stateless") == {"model.updater", "model.feedback"}
    assert differences("gru_ema") == {"model.updater"}
    assert differences("no_film") == {"model.film"}
    assert differences("no_prosody") == {"model.prosody"}
    assert differences("learnable_alpha") == {"model.ema.mode"}
    assert differences("mamba_no_ema") == {"model.ema.alpha"}
    assert differences("mamba_ema_aa") == {"train.seed_offset"}
    assert resolved["teacher_forcing"]["model"]["feedback"] == "teacher"
    assert resolved["autoregressive"]["model"]["feedback"] == "autoregressive"


def _get(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def test_overrides_and_protocol_train_section_apply_in_order(protocol: Protocol):
    with_protocol = dataclasses.replace(protocol, train={"epochs": 7})
    config = resolve_variant("no_film", with_protocol, ["train.lr=0.01"])
    assert config.train.epochs == 7 and config.train.lr == 0.01
    assert config_hash(config, protocol) != config_hash(
        resolve_variant("no_film", protocol), protocol
    )
    read_back = TrialSpec.from_dict(json.loads(json.dumps(config.to_dict())))
    assert config_hash(config, protocol) == config_hash(read_back, load_protocol("synthetic"))
    changed_corpus = load_protocol("synthetic", ["corpus.synth.seed=3"])
    assert config_hash(config, changed_corpus) != config_hash(config, protocol)


def test_invalid_combination_and_unknown_keys_fail_with_a_message(
    tmp_path: Path, monkeypatch, protocol
):
    with pytest.raises(BenchError, match="variant stateless .*stateless: set model.feedback"):
        resolve_variant("stateless", protocol, ["model.feedback=scheduled"])
    with pytest.raises(BenchError, match="no key 'epoch' under train"):
        resolve_variant("mamba_ema", protocol, ["train.epoch=3"])
    folder = shutil.copytree(variants.VARIANT_DIR, tmp_path / "variants")
    monkeypatch.setattr(variants, "VARIANT_DIR", folder)
    (folder / "typo.yaml").write_text("model:\n  ema:\n    alfa: 0.5\n")
    with pytest.raises(BenchError, match=r"typo.yaml: unknown key 'model.ema.alfa'"):
        resolve_variant("typo", protocol)
    (folder / "extra.yaml").write_text("optimiser: sgd\n")
    with pytest.raises(BenchError, match="extra.yaml: unknown top-level key"):
        resolve_variant("extra", protocol)
    (folder / "grids" / "bad.yaml").write_text("variants: [mamba_ema, nope]\n")
    with pytest.raises(BenchError, match="unknown variant 'nope'"):
        load_grid("bad")
    with pytest.raises(BenchError, match="unknown grid"):
        load_grid("missing")


def test_a_type_error_names_where_the_value_came_from(protocol: Protocol):
    with pytest.raises(BenchError, match=r"train.lr must be float.*\(from the command line"):
        resolve_variant("mamba_ema", protocol, ["train.lr=fast"])
    bad = dataclasses.replace(protocol, train={"lr": "fast"})
    with pytest.raises(BenchError, match=r"train.lr must be float.*from .*synthetic.yaml\)"):
        resolve_variant("mamba_ema", bad)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.dropout=2.0", r"model.dropout must lie in \[0, 1\), not 2.0"),
        ("train.lr=0", "train.lr must be > 0, not 0.0"),
        ("train.lr=-1e-3", "train.lr must be > 0, not -0.001"),
        ("train.weight_decay=-0.1", "train.weight_decay must be >= 0, not -0.1"),
        ("train.grad_clip=0", "train.grad_clip must be > 0, not 0.0"),
        ("train.mse_weight=-1", "train.mse_weight must be >= 0, not -1.0"),
        ("train.epochs=0", "train.epochs must be >= 1, not 0"),
        ("train.chunk_len=0", "train.chunk_len must be >= 1, not 0"),
        ("train.sampling_end=1.5", r"train.sampling_end must lie in \[0, 1\], not 1.5"),
    ],
)
def test_a_value_out_of_range_names_key_value_range_and_source(
    protocol: Protocol, override: str, message: str
):
    source = rf" \(from the command line \({override}\)\)"
    with pytest.raises(BenchError, match=message + source):
        resolve_variant("mamba_ema", protocol, [override])


def test_scheduled_sampling_cannot_end_before_it_starts(protocol: Protocol):
    with pytest.raises(BenchError, match=r"sampling_start \(0.9\) must not exceed .*end \(0.8\)"):
        resolve_variant("mamba_ema", protocol, ["train.sampling_start=0.9"])


def test_a_value_out_of_range_in_a_file_names_the_file(tmp_path: Path, monkeypatch, protocol):
    folder = shutil.copytree(variants.VARIANT_DIR, tmp_path / "variants")
    monkeypatch.setattr(variants, "VARIANT_DIR", folder)
    (folder / "wide.yaml").write_text("model:\n  d_model: 0\n")
    with pytest.raises(BenchError, match=r"model.d_model must be >= 1, not 0 \(from .*wide.yaml"):
        resolve_variant("wide", protocol)
    bad = dataclasses.replace(protocol, model={"dropout": 1.0})
    with pytest.raises(BenchError, match=r"model.dropout .* not 1.0 \(from .*synthetic.yaml\)"):
        resolve_variant("mamba_ema", bad)


def test_a_dry_run_refuses_a_value_out_of_range(tiny_corpus_root: Path, tmp_path: Path, capsys):
    argv = ["run", "--dry-run", f"corpus.root={tiny_corpus_root}", "--results",
            str(tmp_path / "results"), "--variant", "no_film", "model.dropout=2.0"]  # fmt: skip
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("bench run: error: ")
    refused = (
        "model.dropout must lie in [0, 1), not 2.0 (from the command line (model.dropout=2.0))"
    )
    assert refused in captured.err


def test_a_grid_with_a_wrongly_typed_seed_fails_naming_the_file(tmp_path: Path, monkeypatch):
    folder = shutil.copytree(variants.VARIANT_DIR, tmp_path / "variants")
    monkeypatch.setattr(variants, "VARIANT_DIR", folder)
    (folder / "grids" / "typed.yaml").write_text("variants: [mamba_ema]\nseeds: [0, one]\n")
    with pytest.raises(BenchError, match=r"seeds must be tuple\[int, \.\.\.\].*typed.yaml"):
        load_grid("typed")


def test_a_variant_file_can_declare_its_personalisation(tmp_path: Path, monkeypatch):
    folder = shutil.copytree(variants.VARIANT_DIR, tmp_path / "variants")
    monkeypatch.setattr(variants, "VARIANT_DIR", folder)
    (folder / "calibrated.yaml").write_text(
        "model: {film: false}\npersonalise: {adapt: [head_bias], lr: 0.01, steps: 20}\n"
    )
    overrides = ["personalise.steps=5"]
    protocol = load_protocol("synthetic", overrides)
    config = resolve_personalise("calibrated", protocol, overrides)
    assert config.adapt == ("head_bias",) and config.lr == 0.01  # the variant's block
    assert config.steps == 5  # the command line wins over it
    assert resolve_personalise("mamba_ema", protocol, overrides) == protocol.personalise
    (folder / "typo.yaml").write_text("personalise: {step: 20}\n")
    with pytest.raises(BenchError, match=r"typo.yaml: unknown key 'personalise.step'"):
        resolve_personalise("typo", protocol)
    (folder / "bad.yaml").write_text("personalise: {k: [5, 10]}\n")
    with pytest.raises(BenchError, match="include 0"):
        resolve_personalise("bad", protocol)


def test_a_seed_offset_of_0_keeps_the_hash_of_trials_stored_before_the_key(protocol: Protocol):
    """``train.seed_offset`` came after trials and tunings were stored: at 0 it is not hashed,
    so a stored trial of the reference stays current (its hash is the one computed from the
    plain configuration without the key); any other offset is a new trial."""
    spec = resolve_variant("mamba_ema", protocol)
    assert spec.train.seed_offset == 0
    config = spec.to_config()
    before = {**config, "train": {k: v for k, v in config["train"].items() if k != "seed_offset"}}
    assert hashed_trial(config) == before
    text = json.dumps({"trial": before, "protocol": protocol.hashed()}, sort_keys=True, default=str)
    assert config_hash(spec, protocol) == hashlib.sha256(text.encode()).hexdigest()[:12]
    shifted = resolve_variant("mamba_ema_aa", protocol)
    assert shifted.train.seed_offset == 1
    assert config_hash(shifted, protocol) != config_hash(spec, protocol)
    with pytest.raises(BenchError, match="train.seed_offset must be >= 0, not -1"):
        resolve_variant("mamba_ema", protocol, ["train.seed_offset=-1"])


def test_the_a_a_control_is_found_by_its_configuration(
    tmp_path: Path, monkeypatch, protocol: Protocol
):
    """A variant is an A/A control of the reference when its resolved configuration differs
    from the reference's in ``train.seed_offset`` alone, whatever its name."""
    folder = shutil.copytree(variants.VARIANT_DIR, tmp_path / "variants")
    monkeypatch.setattr(variants, "VARIANT_DIR", folder)
    (folder / "again.yaml").write_text("train: {seed_offset: 2}\n")
    (folder / "again_no_film.yaml").write_text("model: {film: false}\ntrain: {seed_offset: 1}\n")
    grid = ["mamba_ema", "no_film", "mamba_ema_aa", "again", "again_no_film"]
    assert aa_controls("mamba_ema", grid, protocol) == ("mamba_ema_aa", "again")
    assert aa_controls("no_film", grid, protocol) == ("again_no_film",)
    # the same overrides apply to every variant: still the reference with other seeds
    assert aa_controls("mamba_ema", grid, protocol, ["train.lr=0.01"]) == ("mamba_ema_aa", "again")
    assert aa_controls("mamba_ema_aa", ["mamba_ema"], protocol) == ("mamba_ema",)


def test_a_variant_given_as_a_yaml_path_is_named_by_its_stem(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(variants, "_GIVEN_FILES", {})
    (tmp_path / "wide.yaml").write_text("model: {d_model: 96}\n")
    assert variant_name(str(tmp_path / "wide.yaml")) == "wide"
    assert resolve_variant("wide", load_protocol("synthetic")).model.d_model == 96
    assert variant_name(str(variants.VARIANT_DIR / "no_film.yaml")) == "no_film"
    (tmp_path / "no_film.yaml").write_text("model: {film: false}\n")
    with pytest.raises(BenchError, match="its name 'no_film' is taken by .*variants/no_film"):
        variant_name(str(tmp_path / "no_film.yaml"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "wide.yaml").write_text("model: {d_model: 32}\n")
    with pytest.raises(BenchError, match="its name 'wide' is taken by .*wide.yaml; rename"):
        variant_name(str(tmp_path / "other" / "wide.yaml"))
    with pytest.raises(BenchError, match="variant file .*missing.yaml not found"):
        variant_name(str(tmp_path / "missing.yaml"))
    with pytest.raises(BenchError, match=r"unknown variant 'nope' \(known: .*mamba_ema_aa"):
        variant_name("nope")


def test_a_yaml_path_variant_runs_under_its_stem(
    tiny_corpus_root: Path, tiny_feature_cache: Path, tmp_path: Path, monkeypatch, capsys
):
    """``bench run --variant my/file.yaml`` trains that file's configuration and stores it as
    the variant ``file``; a bad path is one line on stderr."""
    monkeypatch.setattr(variants, "_GIVEN_FILES", {})
    (tmp_path / "narrow_aa.yaml").write_text("model: {d_model: 4}\ntrain: {seed_offset: 3}\n")
    results = tmp_path / "results"
    argv = ["run", "--variant", str(tmp_path / "narrow_aa.yaml"), "--seeds", "0", "--folds",
            "1", "--executor", "local", "--quiet", "--results", str(results),
            f"corpus.root={tiny_corpus_root}", f"features.cache_dir={tiny_feature_cache}",
            "train.epochs=1", "train.chunk_len=8"]  # fmt: skip
    assert main(argv) == 0
    record = read_record(results / "synthetic" / "narrow_aa" / "fold1" / "seed0")
    assert record is not None and record.key.variant == "narrow_aa"
    assert record.config["model"]["d_model"] == 4 and record.config["train"]["seed_offset"] == 3
    capsys.readouterr()
    assert main([*argv[:2], str(tmp_path / "absent.yaml"), *argv[3:]]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"bench run: error: variant file {tmp_path / 'absent.yaml'} not found"
