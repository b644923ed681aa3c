"""Where ``bench`` keeps generated corpora and caches."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Where generated corpora and caches live: ``$BENCH_DATA``, else ``./data``."""
    return Path(os.environ.get("BENCH_DATA", "data")).expanduser().resolve()
