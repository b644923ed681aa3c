"""A checkpoint that cannot be read is one message in bench's words, naming the file."""

from __future__ import annotations

import pickle
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.errors import InputError
from bench.train.checkpoint import FORMAT, load_checkpoint, save_checkpoint


def write(path: Path, case: str) -> None:
    """A damaged or foreign ``checkpoint.pt`` of the kind ``case`` names."""
    if case in ("truncated", "cut short"):
        save_checkpoint(path, {"format": FORMAT, "weights": torch.ones(1000)})
        data = path.read_bytes()
        path.write_bytes(data[:100] if case == "truncated" else data[: len(data) - 50])
    elif case == "pickled object":
        torch.save({"format": FORMAT, "share": Fraction(1, 3)}, path)
    elif case == "plain pickle":
        path.write_bytes(pickle.dumps({"format": FORMAT}))
    elif case == "random bytes":
        path.write_bytes(bytes([7]) + np.random.default_rng(0).bytes(299))
    else:
        path.write_bytes({"text": b"hello world\n", "empty": b""}[case])


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("text", "not a torch.save file (its first bytes are neither a zip archive nor a pickle)"),
        ("random bytes", "not a torch.save file"),
        ("empty", "the file is empty"),
        ("truncated", "the torch.save archive is truncated or damaged"),
        ("cut short", "the torch.save archive is truncated or damaged"),
        ("pickled object", "it holds a pickled Python object (fractions.Fraction); a bench "
                           "checkpoint holds plain values and tensors only"),
        ("plain pickle", "a pickle that is not a torch.save file of plain values and tensors"),
    ],
)  # fmt: skip
def test_an_unreadable_checkpoint_says_what_is_wrong(tmp_path, case, reason) -> None:
    path = tmp_path / "checkpoint.pt"
    write(path, case)
    with pytest.raises(InputError) as raised:
        load_checkpoint(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: unreadable checkpoint: {reason}")
    assert "\n" not in message and "weights_only" not in message


def test_a_torch_file_of_another_kind_is_not_a_bench_checkpoint(tmp_path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"weights": torch.ones(3)}, path)
    with pytest.raises(InputError, match=f"{path}: not a {FORMAT} checkpoint"):
        load_checkpoint(path)
