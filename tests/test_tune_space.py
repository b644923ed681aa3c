"""The search space of ``bench tune``: its configurations and the keys it refuses."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.tune.space import Parameter, load_search

SHIPPED = load_search()


def write_search(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(text)
    return path


def test_configurations_are_seeded_prefixes_inside_the_space() -> None:
    many = SHIPPED.configurations(32)
    assert SHIPPED.configurations(8) == many[:8]  # a larger budget extends a smaller one
    assert len({tuple(sorted(c.items())) for c in many}) == 32
    for key, parameter in SHIPPED.space.items():
        values = [c[key] for c in many]
        assert all(parameter.low <= v <= parameter.high for v in values)
        if parameter.distribution == "log_uniform":  # covers the decades, not only the top
            logs = [math.log(v) for v in values]
            middle = (math.log(parameter.low) + math.log(parameter.high)) / 2
            assert 10 <= sum(v < middle for v in logs) <= 22


def test_another_searcher_seed_gives_other_configurations(tmp_path: Path) -> None:
    text = SHIPPED.path.read_text().replace("searcher_seed: 0", "searcher_seed: 1")
    other = load_search(write_search(tmp_path, text))
    assert other.configurations(4) != SHIPPED.configurations(4)


def test_a_choice_maps_the_unit_interval_onto_its_values() -> None:
    widths = Parameter("choice", values=(32, 64, 128))
    assert [widths.value(u) for u in (0.0, 0.34, 0.99)] == [32, 64, 128]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("model.updater: {distribution: choice, values: [gru, mamba]}", "ablation switch"),
        ("model.ema.alpha: {distribution: uniform, low: 0.5, high: 0.9}", "ablation switch"),
        ("train.epochs: {distribution: choice, values: [10, 30]}", "epoch budget"),
        ("corpus.seed: {distribution: choice, values: [0, 1]}", "only model.* and train.*"),
        ("train.lr: {distribution: normal, low: 0.1, high: 1}", "distribution must be one of"),
        ("train.lr: {distribution: log_uniform, low: 0, high: 1}", "needs low > 0"),
        ("train.lr: {distribution: uniform, low: 1, high: 0.1}", "needs low < high"),
        ("train.lr: {distribution: uniform, lo: 1}", "unknown key(s) space.train.lr.lo"),
        (
            "model.dropout: {distribution: uniform, low: 0.0, high: 1.5}",
            "space.model.dropout reaches 1.5, but model.dropout must lie in [0, 1)",
        ),
        (  # Sobol values rounded to 6 digits can reach an open end
            "model.dropout: {distribution: uniform, low: 0.0, high: 1.0}",
            "space.model.dropout reaches 1, but model.dropout must lie in [0, 1)",
        ),
        (
            "train.lr: {distribution: uniform, low: 0.0, high: 0.01}",
            "space.train.lr reaches 0, but train.lr must be > 0",
        ),
        (
            "model.d_model: {distribution: choice, values: [32, 0]}",
            "space.model.d_model: model.d_model must be >= 1, not 0",
        ),
        (
            "model.d_model: {distribution: choice, values: [32, 48.5]}",
            "space.model.d_model: model.d_model must be int, not float 48.5",
        ),
        (
            "model.d_model: {distribution: uniform, low: 16, high: 64}",
            "space.model.d_model: a uniform range gives floats, but model.d_model takes no float",
        ),
    ],
)
def test_bad_spaces_are_refused_naming_the_file(tmp_path: Path, space: str, message: str):
    path = write_search(tmp_path, f"space:\n  {space}\n")
    with pytest.raises(BenchError) as error:
        load_search(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_an_unknown_key_names_the_file_and_key_and_lists_the_known_keys(tmp_path: Path):
    path = write_search(
        tmp_path, "space:\n  train.lrr: {distribution: uniform, low: 0.1, high: 1}\n"
    )
    with pytest.raises(BenchError) as error:
        load_search(path)
    message = str(error.value)
    assert message.startswith(f"{path}: unknown key space.train.lrr; known: ")
    known = message.split("known: ")[1].split(", ")
    assert {"train.lr", "train.weight_decay", "model.dropout", "model.mamba.d_state"} <= set(known)
    assert "model.updater" not in known and "train.epochs" not in known  # never searched
    assert "override" not in message


def test_an_unknown_search_names_the_known_ones() -> None:
    with pytest.raises(
        BenchError, match=r"unknown search 'wide' \(known: default, equal_epochs, ramp\)"
    ):
        load_search("wide")


def test_a_missing_search_file_is_named(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(BenchError, match=f"^search file {re.escape(str(missing))} not found$"):
        load_search(missing)
    assert main(["tune", "--search", str(missing)]) == 2
    assert capsys.readouterr().err == f"bench tune: error: search file {missing} not found\n"


def test_the_ramp_search_adds_only_the_ramp_and_always_ends_it_after_it_starts() -> None:
    default, ramp = load_search("default"), load_search("ramp")
    assert set(ramp.space) - set(default.space) == {"train.sampling_start", "train.sampling_end"}
    start, end = ramp.space["train.sampling_start"], ramp.space["train.sampling_end"]
    assert start.low >= 0.0 and start.high <= end.low and end.high <= 1.0
