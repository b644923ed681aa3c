"""ASHA for the ``local`` executor: the rule of Ray Tune's ``ASHAScheduler`` (one bracket),
applied to configurations that run one after another.

Rungs sit at ``grace * eta**k`` epochs for ``k = 0 .. floor(log_eta(max_epochs / grace))``.
The first time a configuration reports an epoch at or past a rung, its value there is
compared with the values recorded at that rung before it: it is stopped if it is below
their ``(1 - 1/eta)`` quantile, and its value is recorded either way. So about the best
``1/eta`` of configurations pass each rung. ``tests/test_tune_asha.py`` checks that this
class and Ray's bracket decide alike.

>>> rule = Asha(grace_period=1, reduction_factor=2, max_epochs=4)
>>> rule.rungs
[1, 2, 4]
>>> [rule.goes_on(name, 1, value) for name, value in [("a", 0.5), ("b", 0.2), ("c", 0.9)]]
[True, False, True]
"""

from __future__ import annotations

import math

import numpy as np


class Asha:
    """Asynchronous successive halving on a value to maximise (validation CCC-avg)."""

    def __init__(self, grace_period: int, reduction_factor: int, max_epochs: int):
        self.eta = reduction_factor
        count = 0
        if max_epochs >= grace_period:
            count = int(math.log(max_epochs / grace_period) / math.log(reduction_factor) + 1)
        self.rungs = [grace_period * reduction_factor**k for k in range(count)]
        self.recorded: dict[int, dict[str, float]] = {rung: {} for rung in self.rungs}

    def goes_on(self, name: str, epoch: int, value: float) -> bool:
        """Whether configuration ``name``, with ``value`` after ``epoch`` epochs, goes on."""
        for rung in reversed(self.rungs):
            recorded = self.recorded[rung]
            if epoch < rung or name in recorded:
                continue
            cutoff = None
            if recorded:
                cutoff = np.nanpercentile(list(recorded.values()), (1 - 1 / self.eta) * 100)
            recorded[name] = value
            return cutoff is None or not value < cutoff
        return True
