"""Which turns of a test speaker enrol, and which are scored.

For each test speaker, the turns in dialog order (dialogs in the table's order, which for
IEMOCAP's names is a session's recording order; turns by start time). The first ``k`` turns
enrol for each ``k``; every ``k`` is scored on the *same* turns, those after the largest
``k``'s enrolment, so a gain over ``k = 0`` is measured on one set.
"""

from __future__ import annotations

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
