"""``bench run``: plan the variant x fold x seed trials, execute them, store the results.

The library API (:mod:`bench.run.grid`), importable from here::

    from bench.run import RunOptions, list_grid, run_grid, select_trials

Its names load on first use, so that ``bench --help`` (which imports
:mod:`bench.run.command`) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.run.driver import RunSummary
    from bench.run.grid import RunOptions, Selection, list_grid, run_grid, select_trials

__all__ = ["RunOptions", "RunSummary", "Selection", "list_grid", "run_grid", "select_trials"]
_HOME = {"RunSummary": "bench.run.driver"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'bench.run' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME.get(name, "bench.run.grid")), name)
