"""The local executor's ASHA decides as Ray Tune's ASHA bracket does."""

from __future__ import annotations

import numpy as np
import pytest

from bench.tune.asha import Asha

async_hyperband = pytest.importorskip("ray.tune.schedulers.async_hyperband")


class _Trial:  # what Ray's bracket reads of a trial
    def __init__(self, trial_id: str):
        self.trial_id = trial_id


@pytest.mark.parametrize(("grace", "eta", "max_epochs"), [(1, 2, 8), (5, 3, 30), (2, 4, 20)])
def test_decisions_match_rays_bracket(grace: int, eta: int, max_epochs: int) -> None:
    rng = np.random.default_rng(grace * 100 + eta)
    ours = Asha(grace, eta, max_epochs)
    theirs = async_hyperband._Bracket(grace, max_epochs, eta, s=0)
    assert ours.rungs == sorted(milestone for milestone, _ in theirs._rungs)
    alive = {f"c{i}": _Trial(f"c{i}") for i in range(12)}
    decisions = 0
    for epoch in range(1, max_epochs + 1):  # configurations interleave, as under Ray
        for name in list(alive):
            value = float(rng.normal(epoch * 0.01, 0.1))
            goes_on = ours.goes_on(name, epoch, value)
            assert goes_on == (theirs.on_result(alive[name], epoch, value) == "CONTINUE")
            decisions += 1
            if not goes_on:
                del alive[name]
    assert 0 < len(alive) < 12 and decisions > 12  # some stopped, some ran on


def test_about_the_best_third_passes_a_rung() -> None:
    rule = Asha(grace_period=5, reduction_factor=3, max_epochs=30)
    passed = [rule.goes_on(f"c{i}", 5, v) for i, v in enumerate(np.linspace(0, 1, 30))]
    assert passed[0]  # the first has nothing to be compared with
    assert sum(passed[1:]) == 29  # rising values: each is the best so far, so each goes on
    falling = Asha(5, 3, 30)
    passed = [falling.goes_on(f"c{i}", 5, v) for i, v in enumerate(np.linspace(1, 0, 30))]
    assert passed[0] and not any(passed[1:])  # each new one is the worst so far
