"""The ``local`` executor: the same work items, in-process, one after another (for debugging)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from bench.run.worker import SharedInputs, Task, execute


def run_local(
    task: Task,
    works: list[dict[str, Any]],
    inputs: SharedInputs,
    on_start: Callable[[dict], None],
    on_done: Callable[[dict, dict], None],
    on_fail: Callable[[dict, str], None],
) -> None:
    """Run ``task`` on each work item; one that raises is reported and the others go on."""
    for work in works:
        on_start(work)
        try:
            payload = execute(task, work, inputs)
        except Exception:  # a failed trial must not stop the grid
            on_fail(work, traceback.format_exc())
            continue
        on_done(work, payload)
