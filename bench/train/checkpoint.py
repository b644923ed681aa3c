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
import pickle
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
        InputError: the file is missing, corrupt, or not a bench checkpoint (names the file).
    """
    if not Path(path).is_file():
        raise InputError("checkpoint not found", path=path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"corrupt or unreadable checkpoint ({reason})", path=path) from exc
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise InputError(f"not a {FORMAT} checkpoint", path=path)
    missing = [key for key in KEYS if key not in checkpoint]
    if missing:
        raise InputError(f"checkpoint lacks {', '.join(missing)}", path=path)
    return checkpoint


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
