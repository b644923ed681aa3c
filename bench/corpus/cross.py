"""Cross-corpus tables: train and select on one corpus, test on another.

The combined table holds the training corpus's rows as read, then the test corpus's rows
with :data:`TEST_PREFIX` before their ids (``utt_id``, ``session``, ``dialog``, ``speaker``,
``group``), so no id of one corpus can meet one of the other, even where both are the same
release, and the folds find the test corpus by its prefix. Because the prefix also hides a
test corpus that is the training corpus again (the same folder, a link to it, or a tree of
hard links), the two are compared by their audio files, not by id: a test corpus that shares
an audio file with the training corpus is refused. Each corpus keeps its name in the
``corpus`` column and its labels on [0, 1] from its own scale. Features are extracted and
cached per corpus (``Corpus.parts``), as they are for that corpus alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd

from bench.corpus.table import Corpus
from bench.errors import BenchError

TEST_PREFIX = "test/"
ID_COLUMNS = ("utt_id", "session", "dialog", "speaker", "group")
FileIdentity = tuple[int, int] | str  # (st_dev, st_ino), or the resolved path of a missing file


def file_identity(path: str) -> FileIdentity:
    """The file ``path`` leads to: its device and inode numbers, which a symbolic link (to
    the file or to a folder above it) and a hard link share with the original; the resolved
    path where the file cannot be read."""
    try:
        stat = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (stat.st_dev, stat.st_ino)


def shared_audio(train: Iterable[str], test: Iterable[str]) -> list[str]:
    """The paths of ``test`` whose audio file is also one of ``train``'s
    (:func:`file_identity`), in ``test``'s order.

    >>> shared_audio(["/no/a.wav", "/no/b.wav"], ["/no/b.wav", "/no/c.wav", "/no/x/../a.wav"])
    ['/no/b.wav', '/no/x/../a.wav']
    """
    seen = {file_identity(path) for path in train}
    return [path for path in test if file_identity(path) in seen]


def combine(
    train: Corpus, test: Corpus, sources: tuple[str, str] = ("corpus", "test_corpus")
) -> Corpus:
    """The cross-corpus corpus: ``train``'s rows, then ``test``'s with prefixed ids.

    Predictions are written on the test corpus's scale (``label_scale``), which is what is
    scored; CCC and the report's statistics do not depend on the scale. ``sources``: where
    each corpus was read (``corpus.root=/data/x``), named in the error.

    >>> rows = lambda name: pd.DataFrame({"utt_id": ["u1"], "corpus": [name], "session": ["s"],
    ...     "dialog": ["d"], "speaker": ["a"], "group": ["s"], "valence": [0.5],
    ...     "audio_path": [f"/no/{name}/u1.wav"]})
    >>> both = combine(Corpus("iemocap", rows("iemocap")), Corpus("msp", rows("msp"), (1, 7)))
    >>> both.table[["utt_id", "corpus", "speaker"]].values.tolist(), both.label_scale
    ([['u1', 'iemocap', 'a'], ['test/u1', 'msp', 'test/a']], (1, 7))

    Raises:
        BenchError: the test corpus shares audio files with the training corpus (a model
            would be tested on what it trained or selected on), with their count and the
            first of them.
    """
    shared = shared_audio(train.table["audio_path"], test.table["audio_path"])
    if shared:
        raise BenchError(
            f"{sources[1]} and {sources[0]} share {len(shared)} of the test corpus's "
            f"{len(test.table)} audio files (the same file, by path or through a link; first: "
            f"{shared[0]}): a cross-corpus protocol must test on another corpus than it trains "
            f"and selects on"
        )
    renamed = test.table.copy()
    for column in ID_COLUMNS:
        renamed[column] = TEST_PREFIX + renamed[column].astype(str)
    return Corpus(
        name=f"{train.name} -> {test.name}",
        table=pd.concat([train.table, renamed], ignore_index=True),
        label_scale=test.label_scale,
        clipped_labels=train.clipped_labels + test.clipped_labels,
        problems=[f"{part.name}: {problem}" for part in (train, test) for problem in part.problems],
        skipped={
            f"{part.name}: {reason}": n
            for part in (train, test)
            for reason, n in part.skipped.items()
        },
        notes=[f"{part.name}: {note}" for part in (train, test) for note in part.notes],
        parts=(train, test),
    )
