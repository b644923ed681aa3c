"""Cross-corpus tables: train and select on one corpus, test on another.

The combined table holds the training corpus's rows as read, then the test corpus's rows
with :data:`TEST_PREFIX` before their ids (``utt_id``, ``session``, ``dialog``, ``speaker``,
``group``), so no id of one corpus can meet one of the other, even where both are the same
release, and the folds find the test corpus by its prefix. Each corpus keeps its name in
the ``corpus`` column and its labels on [0, 1] from its own scale. Features are extracted
and cached per corpus (``Corpus.parts``), as they are for that corpus alone.
"""

from __future__ import annotations

import pandas as pd

from bench.corpus.table import Corpus

TEST_PREFIX = "test/"
ID_COLUMNS = ("utt_id", "session", "dialog", "speaker", "group")


def combine(train: Corpus, test: Corpus) -> Corpus:
    """The cross-corpus corpus: ``train``'s rows, then ``test``'s with prefixed ids.

    Predictions are written on the test corpus's scale (``label_scale``), which is what is
    scored; CCC and the report's statistics do not depend on the scale.

    >>> rows = lambda name: pd.DataFrame({"utt_id": ["u1"], "corpus": [name], "session": ["s"],
    ...     "dialog": ["d"], "speaker": ["a"], "group": ["s"], "valence": [0.5]})
    >>> both = combine(Corpus("iemocap", rows("iemocap")), Corpus("msp", rows("msp"), (1, 7)))
    >>> both.table[["utt_id", "corpus", "speaker"]].values.tolist(), both.label_scale
    ([['u1', 'iemocap', 'a'], ['test/u1', 'msp', 'test/a']], (1, 7))
    """
    renamed = test.table.copy()
    for column in ID_COLUMNS:
        renamed[column] = TEST_PREFIX + renamed[column].astype(str)
    return Corpus(
        name=f"{train.name} -> {test.name}",
        table=pd.concat([train.table, renamed], ignore_index=True),
        label_scale=test.label_scale,
        clipped_labels=train.clipped_labels + test.clipped_labels,
        problems=[*train.problems, *test.problems],
        skipped={
            f"{part.name}: {reason}": n
            for part in (train, test)
            for reason, n in part.skipped.items()
        },
        notes=[f"{part.name}: {note}" for part in (train, test) for note in part.notes],
        parts=(train, test),
    )
