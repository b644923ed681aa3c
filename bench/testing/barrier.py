"""Shared inputs whose trials wait for each other, so a test of concurrent trials does not
depend on how fast a loaded machine starts worker processes.

A trial one epoch long ends in about a second, while Ray may start the next trial's worker
a second later: whether two trials overlap is then a matter of timing. Each trial that asks
for its data under :class:`BarrierInputs` first leaves a mark in a folder, then waits until
``parties`` marks are there (or ``timeout`` seconds pass, after which it goes on alone, and
the test's own overlap check fails and says so).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.run.worker import SharedInputs
from bench.train.data import TrialData


@dataclass
class BarrierInputs(SharedInputs):
    """:class:`SharedInputs` whose first ``parties`` trials start together."""

    barrier: str = ""  # a folder every worker can reach (one machine, or a shared disk)
    parties: int = 1
    timeout: float = 60.0

    def trial_data(self, fold: int) -> TrialData:
        folder = Path(self.barrier)
        (folder / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
        deadline = time.monotonic() + self.timeout
        while len(list(folder.iterdir())) < self.parties and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().trial_data(fold)


def with_barrier(inputs: SharedInputs, folder: Path, parties: int) -> BarrierInputs:
    """``inputs`` whose first ``parties`` trials wait for each other in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    fields = {name: getattr(inputs, name) for name in SharedInputs.__dataclass_fields__}
    return BarrierInputs(**fields, barrier=str(folder), parties=parties)
