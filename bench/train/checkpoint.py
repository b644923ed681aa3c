"""A trial's checkpoint: everything online inference needs, as one ``torch.save`` file.

The file holds plain values and tensors only, so ``torch.load(path, weights_only=True)``
reads it (no pickled classes, no code run on load)::

    format         "bench.checkpoint/1"
    state_dict     the model's weights (CPU tensors), of the epoch the trial evaluated
    spec           the resolved trial spec: {"model": {...}, "train": {...}, "seed", "device"}
    standardisers  role -> {"mean": [D], "std": [D]}: x' = (x - mean) / std, fitted on the
                   fold's training rows
    dims           role -> D, the feature sizes the model was built for
    features       the protocol's parsed ``features:`` block (extractors, their parameters
                   and ``speaker.level``), or None when the trial was not told
    label_scale    [lo, hi]: a normalised prediction y is lo + y (hi - lo) on the corpus scale
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from bench.atomic import atomic_write
from bench.errors import InputError
from bench.model import StreamingModel
from bench.train.config import TrialSpec
from bench.train.data import FEATURES, Standardiser, TrialData

FORMAT = "bench.checkpoint/1"
KEYS = ("format", "state_dict", "spec", "standardisers", "dims", "features", "label_scale")
ZIP_MAGIC = b"PK\x03\x04"  # what torch.save writes (since torch 1.6) is a zip archive
PICKLE_MAGIC = b"\x80"  # a pickle of protocol 2 or later (what older torch.save wrote)


def make_checkpoint(
    model: StreamingModel,
    spec: TrialSpec,
    standardisers: dict[str, Standardiser],
    data: TrialData,
) -> dict[str, Any]:
    """The checkpoint of a trained trial (see the module docstring for its keys)."""
    return {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "spec": spec.to_dict(),
        "standardisers": {
            role: {"mean": torch.from_numpy(s.mean), "std": torch.from_numpy(s.std)}
            for role, s in standardisers.items()
        },
        "dims": {role: int(data.features[role].shape[1]) for role in FEATURES},
        "features": data.features_config,
        "label_scale": [float(x) for x in data.label_scale],
    }


def checkpoint_bytes(checkpoint: dict[str, Any]) -> bytes:
    """The ``torch.save`` bytes of a checkpoint: what ``checkpoint.pt`` holds."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return buffer.getvalue()


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any] | bytes) -> Path:
    """Write a checkpoint (or its bytes) to ``path`` atomically: a temporary file, renamed."""
    path = Path(path)
    data = checkpoint if isinstance(checkpoint, bytes) else checkpoint_bytes(checkpoint)
    atomic_write(path, lambda f: f.write(data))
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    Raises:
        InputError: the file is missing, unreadable (empty, truncated, not a ``torch.save``
            file, or holding pickled Python objects), or not a bench checkpoint; the message
            names the file and says what is wrong in bench's words.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("checkpoint not found", path=path)
    try:
        with warnings.catch_warnings():  # torch's note on a plain pickle's protocol
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged bytes fail anywhere in torch's reader, with any type
        raise InputError(f"unreadable checkpoint: {_unreadable(path, exc)}", path=path) from exc
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise InputError(f"not a {FORMAT} checkpoint", path=path)
    missing = [key for key in KEYS if key not in checkpoint]
    if missing:
        raise InputError(f"checkpoint lacks {', '.join(missing)}", path=path)
    return checkpoint


def _unreadable(path: Path, exc: Exception) -> str:
    """What is wrong with a file ``torch.load`` refused (``exc``), from its first bytes:
    torch's own message advises loading with ``weights_only=False``, which would run any
    code a pickle holds, so it is not repeated."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(ZIP_MAGIC))
    except OSError as error:  # the file system's, not the content's
        return error.strerror or type(error).__name__
    if not head:
        return "the file is empty"
    found = re.search(r"GLOBAL (\S+)", str(exc))  # torch's name of a class it refused
    if found:
        return (
            f"it holds a pickled Python object ({found[1]}); a bench checkpoint holds plain "
            "values and tensors only"
        )
    if head == ZIP_MAGIC:
        return "the torch.save archive is truncated or damaged"
    if head.startswith(PICKLE_MAGIC):
        return "a pickle that is not a torch.save file of plain values and tensors"
    return "not a torch.save file (its first bytes are neither a zip archive nor a pickle)"


def checkpoint_standardisers(checkpoint: dict[str, Any]) -> dict[str, Standardiser]:
    """The stored standardisers, role -> ``Standardiser`` (numpy, the dtypes they had)."""
    return {
        role: Standardiser(mean=s["mean"].numpy(), std=s["std"].numpy())
        for role, s in checkpoint["standardisers"].items()
    }


def checkpoint_model(checkpoint: dict[str, Any]) -> StreamingModel:
    """The stored model with its weights loaded strictly, in eval mode, on the CPU."""
    spec = TrialSpec.from_dict(checkpoint["spec"])
    dims = checkpoint["dims"]
    model = StreamingModel(spec.model, *(dims[role] for role in FEATURES))
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()
