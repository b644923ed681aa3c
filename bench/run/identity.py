"""What a trial's data is: the utterances it trained, selected and tested on, as hashes.

A trial's config hash (:func:`bench.variants.config_hash`) covers its fold's data identity,
so a stored trial stays current only while the corpus and the fold's three utterance sets are
what it was trained, selected and tested on. A label file removed, a session gone (its fold
now testing another), a relabelled utterance or a replaced audio file makes it stale.

The identity of a fold (:func:`fold_identity`) holds

- ``corpus``: :func:`bench.features.store.corpus_identity` of the whole table (each
  utterance's id and its audio file's size and modification time, as the feature cache
  keys its stores);
- ``train``, ``val``, ``test``: :func:`rows_hash` of each split's rows (ids, dialogs,
  speakers, onsets and labels);
- ``tests``: the sessions the fold tests, readable, so a message can say what changed.

A tuning's configurations and its choice cover :func:`selection_identity` of the fold it
searched on, so a changed fold reruns the search and ``bench run --tuned`` refuses its old
choice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bench.features.store import corpus_identity

SPLITS = ("train", "val", "test")
HASHED_COLUMNS = ["utt_id", "dialog", "speaker", "session", "start", "valence", "arousal"]
SHOWN_SESSIONS = 3  # sessions named in ``tests``; more are counted
PENDING = "not generated yet"  # the identity of a synthetic corpus still to be generated

FoldRows = Mapping[str, np.ndarray]  # "train", "val", "test" -> row indices into the table


def rows_hash(rows: pd.DataFrame) -> str:
    """16 hex digits of SHA-256 over the rows' ``HASHED_COLUMNS`` in ``utt_id`` order.

    >>> table = pd.DataFrame({"utt_id": ["b", "a"], "dialog": "d", "speaker": "s",
    ...                       "session": "S1", "start": [1.0, 0.0], "valence": [0.5, 0.25],
    ...                       "arousal": 0.5})
    >>> rows_hash(table) == rows_hash(table.iloc[::-1])  # the order of rows does not count
    True
    >>> rows_hash(table) == rows_hash(table.assign(valence=[0.5, 0.5]))  # a label does
    False
    """
    ordered = rows.sort_values("utt_id")[HASHED_COLUMNS].reset_index(drop=True)
    row_hashes = pd.util.hash_pandas_object(ordered, index=False).to_numpy()  # [n] uint64
    return hashlib.sha256(row_hashes.tobytes()).hexdigest()[:16]


def sessions_tested(rows: pd.DataFrame) -> str:
    """The sessions of a fold's test rows, sorted: ``Ses03``; ``Ses01, Ses02, Ses03 +2 more``."""
    sessions = sorted(rows["session"].astype(str).unique())
    shown = ", ".join(sessions[:SHOWN_SESSIONS])
    more = len(sessions) - SHOWN_SESSIONS
    return shown + (f" +{more} more" if more > 0 else "")


def fold_identity(table: pd.DataFrame, rows: FoldRows, corpus: str) -> dict[str, str]:
    """The data identity of one fold: ``corpus`` (the table's corpus identity), a hash of each
    split's rows, and the sessions it tests."""
    identity = {"corpus": corpus}
    identity |= {split: rows_hash(table.iloc[rows[split]]) for split in SPLITS}
    identity["tests"] = sessions_tested(table.iloc[rows["test"]])
    return identity


def selection_identity(table: pd.DataFrame, rows: FoldRows) -> dict[str, str]:
    """What a search on a fold trains and selects on (``bench tune``): hashes of the fold's
    training and validation rows. Not the audio files' times: a tuning made on a corpus that
    generates byte for byte the same (the synthetic one) holds on every machine."""
    return {split: rows_hash(table.iloc[rows[split]]) for split in ("train", "val")}


def fold_identities(table: pd.DataFrame, folds: Mapping[int, FoldRows]) -> dict[int, dict]:
    """:func:`fold_identity` of every fold (fold number -> its row indices), the corpus
    identity computed once."""
    corpus = corpus_identity(table)
    return {number: fold_identity(table, rows, corpus) for number, rows in folds.items()}


def pending_identity(tests: str) -> dict[str, str]:
    """The data identity of a fold of a synthetic corpus not generated yet: no stored trial
    matches it (a newly generated corpus is new audio, as the feature cache sees it)."""
    return dict.fromkeys(("corpus", *SPLITS), PENDING) | {"tests": tests}


def data_change(stored: Mapping[str, str] | None, current: Mapping[str, str]) -> str | None:
    """What differs between a stored trial's data identity and the fold's current one, in
    words (None when nothing does).

    >>> old = {"corpus": "c1", "train": "t", "val": "v", "test": "x", "tests": "Ses03"}
    >>> data_change(old, old) is None
    True
    >>> data_change(old, old | {"test": "y", "tests": "Ses04"})
    'its test set changed (it tested Ses03, the fold now tests Ses04)'
    >>> data_change(old, old | {"corpus": "c2", "train": "u"})
    'the corpus changed (audio or utterances); its training set changed'
    >>> data_change(old, pending_identity("Ses03"))
    'the corpus is not generated yet (bench run generates it: new data)'
    """
    if current["corpus"] == PENDING:
        return "the corpus is not generated yet (bench run generates it: new data)"
    if stored is None:
        return "it was stored without its data identity (by an older bench)"
    changes = []
    if stored.get("corpus") != current["corpus"]:
        changes.append("the corpus changed (audio or utterances)")
    names = {"train": "training", "val": "validation", "test": "test"}
    for split in SPLITS:
        if stored.get(split) == current[split]:
            continue
        change = f"its {names[split]} set changed"
        if split == "test" and stored.get("tests") != current["tests"]:
            change += f" (it tested {stored.get('tests')}, the fold now tests {current['tests']})"
        changes.append(change)
    return "; ".join(changes) or None
