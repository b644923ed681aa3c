"""Cross-corpus tables: train and select on one corpus, test on another.

The combined table holds the training corpus's rows as read, then the test corpus's rows
with :data:`TEST_PREFIX` before their ids (``utt_id``, ``session``, ``dialog``, ``speaker``,
``group``), so no id of one corpus can meet one of the other, even where both are the same
release, and the folds find the test corpus by its prefix. Because the prefix also hides a
test corpus that is the training corpus again (the same folder, a link to it, a tree of
hard links, or a copy), the two are compared by their audio files, not by id: a test corpus
that shares an audio file (or its bytes) with the training corpus is refused. Each corpus
keeps its name in the ``corpus`` column and its labels on [0, 1] from its own scale.
Features are extracted and cached per corpus (``Corpus.parts``), as they are for that
corpus alone.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
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


def content_digest(path: str) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_size(path: str) -> int | None:
    """The size of a file in bytes; None where it cannot be read."""
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def shared_audio(train: Iterable[str], test: Iterable[str]) -> list[str]:
    """The paths of ``test`` whose audio file is also one of ``train``'s, in ``test``'s order:
    the same file (:func:`file_identity`: by path or through a link), or a copy of one (the
    same bytes; only files of a size that a training file has are read and hashed, so two
    different corpora cost a size look-up per file).

    >>> shared_audio(["/no/a.wav", "/no/b.wav"], ["/no/b.wav", "/no/c.wav", "/no/x/../a.wav"])
    ['/no/b.wav', '/no/x/../a.wav']
    """
    train = list(train)
    seen = {file_identity(path) for path in train}
    by_size: dict[int, list[str]] = defaultdict(list)
    for path in train:
        size = file_size(path)
        if size is not None:
            by_size[size].append(path)
    hashed: dict[int, set[str]] = {}  # size -> digests of the training files of that size

    def is_copy(path: str) -> bool:
        size = file_size(path)
        if size not in by_size:
            return False
        if size not in hashed:
            hashed[size] = {content_digest(p) for p in by_size[size]}
        return content_digest(path) in hashed[size]

    return [path for path in test if file_identity(path) in seen or is_copy(path)]


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
            f"{len(test.table)} audio files (the same file, by path, through a link or as a "
            f"copy; first: {shared[0]}): a cross-corpus protocol must test on another corpus "
            "than it trains and selects on"
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
