"""The extractor contract: a hashed parameter record (spec) that builds a runner.

A *spec* is a frozen dataclass of plain values. Its hashed fields, its name and the versions
of the packages it names make up the extractor part of the cache key, so it must be cheap
to create and never import a heavy library. ``spec.build()`` runs where the work happens
(a worker process or the main one): it imports the library, loads weights and returns a
*runner* that maps a list of 16 kHz waveforms to an ``[n, dim]`` float32 array.

Fields that do not change the numbers (the device, batch sizes) are declared with
:func:`runtime_field` and left out of the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar, Protocol

import numpy as np

from bench.audio import SAMPLE_RATE
from bench.features.hub import HubModel

SILENCE_PEAK = 1e-4
"""Audio whose peak ``max_t |x_t|`` is below this (-80 dBFS) counts as silent."""


class Runner(Protocol):
    """A built extractor: ``dim`` outputs per utterance."""

    dim: int

    def __call__(self, waves: list[np.ndarray]) -> np.ndarray:
        """Map ``n`` 16 kHz mono waveforms (each ``[t_i]``) to features ``[n, dim]``."""
        ...


def runtime_field(default: Any) -> Any:
    """A spec field that does not change the numbers, so it stays out of the cache key."""
    return dataclasses.field(default=default, metadata={"hashed": False})


@dataclass(frozen=True)
class ExtractorSpec:
    """Parameters shared by every extractor.

    Attributes:
        min_seconds: utterances shorter than this are not extracted (outcome ``too_short``).
    """

    name: ClassVar[str]
    packages: ClassVar[tuple[str, ...]]  # distributions whose versions change the numbers

    min_seconds: float = 0.25

    def hashed_params(self) -> dict[str, Any]:
        """The parameters that change the numbers (the cache key's share of this spec)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get("hashed", True)
        }

    def versions(self) -> dict[str, str]:
        """Installed versions of :attr:`packages`, read from metadata without importing."""
        return {name: metadata.version(name) for name in self.packages}

    def model_identity(self) -> str | None:
        """What identifies the weights (none for weight-free extractors)."""
        return None

    def weights(self) -> HubModel | None:
        """The spec's ``model`` (a folder or hub id) and the files :meth:`build` reads from
        it; None for extractors without weights or with weights shipped in a package.
        Checked for every role before extraction (:func:`bench.features.hub.check_models`)."""
        return None

    def wants_gpu(self) -> bool:
        """True when extraction should run in one process on a GPU."""
        return False

    def build(self) -> Runner:
        """Import the library, load the model and return the runner (slow)."""
        raise NotImplementedError


def screen(wave: np.ndarray, min_seconds: float) -> str | None:
    """Why ``wave`` cannot be extracted (``too_short`` or ``silent``), or None if it can."""
    if wave.size < min_seconds * SAMPLE_RATE:
        return "too_short"
    if float(np.max(np.abs(wave))) < SILENCE_PEAK:
        return "silent"
    return None


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible, else ``cpu``; others pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def local_model_identity(source: str) -> str:
    """Identify a model by hub id, or a local folder by its files' names, sizes and mtimes.

    A local folder's identity changes when any file in it is replaced, so re-trained or
    re-downloaded weights get a fresh cache entry; a hub id is taken as is.
    """
    folder = Path(source)
    if not folder.is_dir():
        return source
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return f"{folder.resolve()}@{digest.hexdigest()[:16]}"


def limit_threads(threads: int) -> None:
    """Cap BLAS/OpenMP and torch intra-op threads of a worker process at ``threads``.

    Environment variables cover libraries imported later; torch, if already imported,
    is told directly. Several workers each using every core ran 19x slower here.
    """
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads, then restore the setting.

    Per-utterance work is too small to share across threads: on 2 busy cores the
    log-Mel statistics of 3 s of audio took 120 ms with 2 threads and 2 ms with one.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Run the block with Ctrl-C held back; a SIGINT that came meanwhile acts on leaving.

    For a library that calls back into Python from C (openSMILE's ctypes sink callback):
    Python runs its SIGINT handler at the next Python line, which during such a call is
    inside the callback, and ctypes prints and drops the ``KeyboardInterrupt`` raised
    there, so the command runs on with the callback's work undone. Here the handler only
    notes the signal for the block; on leaving (normally or not) the previous handler is
    put back and, if a SIGINT came, called (the default one raises ``KeyboardInterrupt``).
    Where Python runs no handler (another thread, SIGINT ignored as in a pool worker, or
    left to the OS) the block runs as it is.
    """
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[FrameType | None] = []
    signal.signal(signal.SIGINT, lambda _signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            previous(signal.SIGINT, received[0])
