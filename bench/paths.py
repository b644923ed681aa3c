"""Where ``bench`` keeps generated corpora and caches, and the check of an output folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.errors import BenchError


def data_dir() -> Path:
    """Where generated corpora and caches live: ``$BENCH_DATA``, else ``./data``."""
    return Path(os.environ.get("BENCH_DATA", "data")).expanduser().resolve()


def ensure_writable_dir(path: str | Path, what: str) -> Path:
    """Create the folder ``path`` (with its parents) if needed and check that a file can be
    written in it, so a command fails before any work rather than after it.

    ``what`` names the folder in the message (``"results folder"``).

    Raises:
        BenchError: one line naming the path: it or a parent is a file, or it cannot be
            created or written.
    """
    path = Path(path).expanduser()
    try:
        blocker = next((p for p in (path, *path.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            where = "is a file" if blocker == path else f"sits under the file {blocker}"
            raise BenchError(f"{what} {path} {where}, not a folder")
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise BenchError(f"{what} {path} is not writable ({exc.strerror or exc})") from exc
    return path
