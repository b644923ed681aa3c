"""``bench run``: plan the variant x fold x seed trials, execute them, store the results.

The library API, importable from here::

    from bench.run import RunOptions, list_grid, run_grid, select_trials

- :mod:`bench.run.selection`: which trials (:func:`select_trials`), their corpus, folds and
  plan (:func:`list_grid`);
- :mod:`bench.run.driver`: running them and storing the results (:func:`run_grid`);
- :mod:`bench.run.executors`: the ``local`` and ``ray`` executors by name, and
  :class:`RunOptions`;
- :mod:`bench.run.worker`: the inputs every worker gets and the tasks it runs.

This layer runs whatever task it is handed and imports nothing of ``bench.tune`` or
``bench.personalise``, which bring their tasks to it. Its names load on first use, so that
``bench --help`` (which imports :mod:`bench.run.command`) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.run.driver import RunSummary, run_grid
    from bench.run.executors import RunOptions
    from bench.run.selection import Selection, list_grid, select_trials

_HOME = {
    "RunOptions": "bench.run.executors",
    "RunSummary": "bench.run.driver",
    "run_grid": "bench.run.driver",
    "Selection": "bench.run.selection",
    "list_grid": "bench.run.selection",
    "select_trials": "bench.run.selection",
}
__all__ = ["RunOptions", "RunSummary", "Selection", "list_grid", "run_grid", "select_trials"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'bench.run' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
