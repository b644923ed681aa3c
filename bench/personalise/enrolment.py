"""Which turns of a test speaker enrol, and which are scored.

For each test speaker, the turns in dialog order (dialogs in the table's order, which for
IEMOCAP's names is a session's recording order; turns by start time). The first ``k`` turns
enrol for each ``k``; every ``k`` is scored on the *same* turns, those after the largest
``k``'s enrolment, so a gain over ``k = 0`` is measured on one set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_SCORED = 2  # a CCC needs at least two turns


@dataclass(frozen=True)
class SpeakerPlan:
    """One speaker's turns as table rows: ``enrol`` (the first ``k_max``, in order) and
    ``scored`` (the rest, in order)."""

    speaker: str
    enrol: np.ndarray
    scored: np.ndarray

    def enrolment(self, k: int) -> np.ndarray:
        """The rows of the first ``k`` turns."""
        return self.enrol[:k]


@dataclass(frozen=True)
class EnrolmentPlan:
    """Every test speaker with enough turns, and those skipped (too few turns to enrol
    ``k_max`` and score at least :data:`MIN_SCORED`), with their turn counts."""

    speakers: list[SpeakerPlan]
    skipped: dict[str, int]


def plan_enrolment(table: pd.DataFrame, rows: np.ndarray, k_max: int) -> EnrolmentPlan:
    """Split each speaker's turns among ``rows`` (table row indices, e.g. a fold's test
    split) into the first ``k_max`` (enrolment) and the rest (scored).

    >>> table = pd.DataFrame({"dialog": ["d2", "d1", "d1", "d1"], "start": [0.0, 5.0, 1.0, 3.0],
    ...                       "speaker": ["A", "A", "A", "B"]})
    >>> plan = plan_enrolment(table, np.arange(4), k_max=1)
    >>> [(s.speaker, s.enrol.tolist(), s.scored.tolist()) for s in plan.speakers], plan.skipped
    ([('A', [2], [1, 0])], {'B': 1})
    """
    part = table.iloc[rows].assign(row=rows)
    ordered = part.sort_values(["dialog", "start"], kind="stable")
    speakers, skipped = [], {}
    for speaker, turns in ordered.groupby("speaker", sort=True):
        own = turns["row"].to_numpy()
        if len(own) < k_max + MIN_SCORED:
            skipped[str(speaker)] = len(own)
            continue
        speakers.append(SpeakerPlan(str(speaker), own[:k_max], own[k_max:]))
    return EnrolmentPlan(speakers, skipped)


def unreachable_k(table: pd.DataFrame, rows: np.ndarray, ks: Iterable[int]) -> dict[int, str]:
    """The enrolment sizes of ``ks`` that no speaker among ``rows`` (a fold's test split) can
    have, each with the reason in words: ``k`` needs ``k + MIN_SCORED`` turns of one speaker
    (``k`` to enrol, :data:`MIN_SCORED` to score), more than any speaker has.

    >>> table = pd.DataFrame({"speaker": ["A"] * 5 + ["B"] * 3})
    >>> unreachable_k(table, np.arange(8), (0, 2, 3, 4))
    {4: 'no test speaker has more than 5 turns (k=4 needs 4 to enrol and 2 to score)'}
    """
    counts = table["speaker"].iloc[rows].value_counts()
    most = int(counts.max()) if len(counts) else 0
    return {
        k: f"no test speaker has more than {most} turns (k={k} needs {k} to enrol and "
        f"{MIN_SCORED} to score)"
        for k in sorted(ks)
        if k + MIN_SCORED > most
    }
