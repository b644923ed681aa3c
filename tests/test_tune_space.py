"""The search space of ``bench tune``: its configurations and the keys it refuses."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

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
    ],
)
def test_bad_spaces_are_refused_naming_the_file(tmp_path: Path, space: str, message: str):
    path = write_search(tmp_path, f"space:\n  {space}\n")
    with pytest.raises(BenchError) as error:
        load_search(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_an_unknown_search_names_the_known_ones() -> None:
    with pytest.raises(BenchError, match=r"unknown search 'wide' \(known: default, ramp\)"):
        load_search("wide")


def test_the_ramp_search_adds_only_the_ramp_and_always_ends_it_after_it_starts() -> None:
    default, ramp = load_search("default"), load_search("ramp")
    assert set(ramp.space) - set(default.space) == {"train.sampling_start", "train.sampling_end"}
    start, end = ramp.space["train.sampling_start"], ramp.space["train.sampling_end"]
    assert start.low >= 0.0 and start.high <= end.low and end.high <= 1.0
