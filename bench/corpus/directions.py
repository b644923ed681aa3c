"""Label-direction checks: mean valence and arousal per categorical label, against the
directions the literature agrees on.

A corpus whose raters gave both a categorical label (the ``category`` column) and
dimensional ratings holds two readings of each turn, and they must agree in direction:
angry and happy speech is rated more aroused than sad speech, and happy speech more positive
than angry or sad speech (the circumplex of Russell, 1980; IEMOCAP's and the MSP corpora's
own papers show the same ordering of their category means). A rating scale read upside down
(MSP-IMPROV stores arousal high to low: :mod:`bench.corpus.msp_improv`), a scale set wrong or
a swapped column contradicts it, which :func:`direction_warnings` reports; a check needs
:data:`MIN_UTTERANCES` utterances of each category it compares.

Categories are matched, case aside, by the codes the readers give (IEMOCAP ``ang``, ``hap``,
``exc``, ``sad``; MSP ``A``, ``H``, ``S``) or by name (``angry``, ``happiness``). IEMOCAP's
``exc`` (excited) counts as happy, as is usual for that corpus.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.corpus.table import Corpus

BASIC = {
    "angry": ("ang", "a", "angry", "anger"),
    "happy": ("hap", "exc", "h", "happy", "happiness", "excited"),
    "sad": ("sad", "s", "sadness"),
}
BASIC_OF = {code: basic for basic, codes in BASIC.items() for code in codes}
# (label, the category rated higher, the category rated lower), as the literature has it
RULES = (
    ("arousal", "angry", "sad"),
    ("arousal", "happy", "sad"),
    ("valence", "happy", "angry"),
    ("valence", "happy", "sad"),
)
MIN_UTTERANCES = 5
HINTS = {"arousal": "MSP-IMPROV: corpus.arousal_reversed", "valence": "a column swapped?"}


def basic_emotion(category: str) -> str | None:
    """The basic emotion a corpus's category code stands for, where it is one
    :data:`RULES` compares; else None.

    >>> basic_emotion("exc"), basic_emotion("A"), basic_emotion("fru")
    ('happy', 'angry', None)
    """
    return BASIC_OF.get(str(category).strip().lower())


def category_means(corpus: Corpus) -> list[dict[str, Any]]:
    """Per category of ``corpus``'s table: utterances, and mean valence and arousal on the
    corpus's own scale, in category order; none where the corpus has no categories."""
    table = corpus.table.dropna(subset=["category"])
    rows = []
    for category, part in table.groupby("category", sort=True):
        means = {
            name: round(float(corpus.denormalise(part[name].mean())), 3)
            for name in ("valence", "arousal")
        }
        name = str(category)
        rows.append(
            {"corpus": corpus.name, "category": name, "basic": basic_emotion(name),
             "utterances": len(part), **means}
        )  # fmt: skip
    return rows


def direction_warnings(corpus: Corpus) -> list[str]:
    """One warning per rule of :data:`RULES` that ``corpus``'s category means contradict (the
    category the literature rates higher has the lower or an equal mean), where both
    categories have :data:`MIN_UTTERANCES` utterances."""
    table = corpus.table.dropna(subset=["category"])
    basic = table["category"].map(basic_emotion)
    groups = {name: part for name, part in table.groupby(basic) if len(part) >= MIN_UTTERANCES}
    warnings = []
    for label, higher, lower in RULES:
        if higher not in groups or lower not in groups:
            continue
        high, low = (_mean(corpus, groups[name], label) for name in (higher, lower))
        if high[0] <= low[0]:
            warnings.append(
                f"{corpus.name}: mean {label} of {higher} ({high[0]:.2f}, {high[1]} utterances) "
                f"is not above {lower} ({low[0]:.2f}, {low[1]} utterances), as the literature "
                f"has it: is {label} read upside down ({HINTS[label]}) or on the wrong scale "
                "(label_scale)?"
            )
    return warnings


def _mean(corpus: Corpus, part: pd.DataFrame, label: str) -> tuple[float, int]:
    """The mean of ``label`` over ``part`` on the corpus's scale, and the utterances it has."""
    return float(corpus.denormalise(part[label].mean())), len(part)
