"""The feature cache: one ``[n_utts, dim]`` float32 array per (corpus, extractor config).

Layout under ``cache_dir`` for a store named ``<extractor>-<key>``::

    logmel-3f2a9c0e1b7d4a55.npy       [n, dim] float32, rows in utt_id order, memory-mapped
    logmel-3f2a9c0e1b7d4a55.json      index: utt_ids, failed utterances, dim, sha256, config
    logmel-3f2a9c0e1b7d4a55.partial/  shard-00000.npz ... while extraction is unfinished

``key`` is a hash of everything that changes the numbers (:func:`store_key`): the
extractor's name and hashed parameters, the versions of the packages it names, the
identity of its weights, a format number, and the corpus identity
(:func:`corpus_identity`). Rows are in sorted ``utt_id`` order, the canonical order the
identity is computed in; loading realigns them to any table.

Crash safety: every file is written to a temporary name and renamed into place. Shards
are checked against the utt_ids they should hold, so a killed extraction resumes with the
first missing shard. The ``.json`` index is written last: a store without one is
unfinished. Opening checks the index, the array's shape and dtype and its SHA-256, so a
truncated, replaced or bit-flipped store is detected (:class:`CorruptStore`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from bench.atomic import atomic_write
from bench.errors import BenchError
from bench.features.base import ExtractorSpec

FORMAT = 1  # bump when the stored numbers' meaning changes (screening, layout)


class CorruptStore(BenchError):
    """A finished-looking store that fails its checks; ``bench features`` rebuilds it."""


def corpus_identity(table: pd.DataFrame) -> str:
    """Hash of the corpus content, cheap enough to check on every run.

    For each utterance in sorted ``utt_id`` order: its id, and the size and modification
    time (ns) of its audio file (``-`` when missing). Reading the headers of thousands of
    files costs milliseconds, where hashing their bytes would cost minutes. Replacing,
    re-generating or touching a file changes the identity (a fresh extraction); moving the
    corpus with its times preserved (``cp -p``, ``rsync -t``) does not.
    """
    digest = hashlib.sha256()
    ordered = table.sort_values("utt_id")
    for utt_id, path in zip(ordered["utt_id"], ordered["audio_path"], strict=True):
        try:
            stat = os.stat(path)
            digest.update(f"{utt_id}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{utt_id}\t-\n".encode())
    return digest.hexdigest()


def store_key(spec: ExtractorSpec, identity: str) -> str:
    """16 hex digits of SHA-256 over the extractor config, versions and corpus identity."""
    payload = {
        "format": FORMAT,
        "extractor": spec.name,
        "params": spec.hashed_params(),
        "versions": spec.versions(),
        "model": spec.model_identity(),
        "corpus": identity,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Shard:
    """Extracted rows for consecutive utterances: values ``[k, dim]``, reasons (None = ok)."""

    index: int
    utt_ids: list[str]
    values: np.ndarray
    reasons: list[str | None]


@dataclass
class StoredFeatures:
    """A finished store: ``values`` is a read-only memory map ``[n, dim]``."""

    utt_ids: list[str]
    values: np.ndarray
    failed: dict[str, str]
    meta: dict[str, Any]

    def align(self, utt_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Rows for ``utt_ids`` in their order: values ``[N, dim]`` and validity ``[N]``."""
        index = {u: i for i, u in enumerate(self.utt_ids)}
        missing = [u for u in utt_ids if u not in index]
        if missing:
            raise CorruptStore(f"store lacks utterances {missing[:5]}")
        rows = np.fromiter((index[u] for u in utt_ids), dtype=np.int64, count=len(utt_ids))
        valid = np.array([u not in self.failed for u in utt_ids], dtype=bool)  # [N]
        return np.asarray(self.values[rows], dtype=np.float32), valid  # [N, dim]


def stored_digest(path: Path) -> str:
    """SHA-256 of the array bytes of the ``.npy`` file ``path`` (C order), read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        major, _ = np.lib.format.read_magic(handle)
        read_header = {1: np.lib.format.read_array_header_1_0}.get(
            major, np.lib.format.read_array_header_2_0
        )
        read_header(handle)  # to the first byte of the rows
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FeatureStore:
    """The store of one extractor spec on one corpus (see the module docstring)."""

    def __init__(self, cache_dir: str | Path, spec: ExtractorSpec, identity: str):
        self.spec = spec
        self.identity = identity
        self.name = f"{spec.name}-{store_key(spec, identity)}"
        self.cache_dir = Path(cache_dir)
        self.array_path = self.cache_dir / f"{self.name}.npy"
        self.index_path = self.cache_dir / f"{self.name}.json"
        self.partial_dir = self.cache_dir / f"{self.name}.partial"

    def open(self) -> StoredFeatures | None:
        """The finished store, or None when there is none.

        Raises:
            CorruptStore: the index exists but the store fails a check.
        """
        if not self.index_path.exists():
            return None
        try:
            meta = json.loads(self.index_path.read_text())
            values = np.load(self.array_path, mmap_mode="r", allow_pickle=False)
            shape, digest = (len(meta["utt_ids"]), meta["dim"]), meta["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptStore(f"{self.index_path}: unreadable store ({exc})") from exc
        if values.shape != shape or values.dtype != np.float32:
            raise CorruptStore(f"{self.array_path}: {values.shape} {values.dtype}, not {shape}")
        if stored_digest(self.array_path) != digest:
            raise CorruptStore(f"{self.array_path}: checksum mismatch")
        return StoredFeatures(meta["utt_ids"], values, meta["failed"], meta)

    def remove(self) -> None:
        """Delete the finished files (not the shards of an unfinished run)."""
        self.index_path.unlink(missing_ok=True)
        self.array_path.unlink(missing_ok=True)

    def shard_path(self, index: int) -> Path:
        return self.partial_dir / f"shard-{index:05d}.npz"

    def has_shard(self, index: int, utt_ids: list[str]) -> bool:
        """Whether shard ``index`` was written and holds exactly ``utt_ids`` (its values are
        not read)."""
        try:
            with np.load(self.shard_path(index), allow_pickle=False) as data:
                return data["utt_ids"].tolist() == utt_ids
        except (OSError, ValueError, KeyError):
            return False

    def read_shard(self, index: int) -> Shard:
        """Shard ``index`` as written."""
        with np.load(self.shard_path(index), allow_pickle=False) as data:
            reasons = [r or None for r in data["reasons"].tolist()]
            return Shard(index, data["utt_ids"].tolist(), data["values"], reasons)

    def write_shard(self, shard: Shard) -> None:
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(
            self.shard_path(shard.index),
            lambda f: np.savez(
                f,
                utt_ids=np.array(shard.utt_ids, dtype=str),
                values=shard.values,
                reasons=np.array([r or "" for r in shard.reasons], dtype=str),
            ),
        )

    def finish(self, shards: list[int]) -> StoredFeatures:
        """Join the written shards (indices, in order) into the final array and index; drop
        the shards. One shard is in memory at a time, so the memory this takes is flat in
        the number of utterances."""
        n_rows = 0
        for index in shards:  # the shape first (the .npy header precedes the rows): ids only
            with np.load(self.shard_path(index), allow_pickle=False) as data:
                n_rows += len(data["utt_ids"])
        dim = self.read_shard(shards[0]).values.shape[1]
        header = {"descr": "<f4", "fortran_order": False, "shape": (n_rows, dim)}
        digest = hashlib.sha256()
        utt_ids: list[str] = []
        failed: dict[str, str] = {}

        def write(handle: IO[bytes]) -> None:
            np.lib.format.write_array_header_1_0(handle, header)
            for index in shards:
                shard = self.read_shard(index)
                rows = np.ascontiguousarray(shard.values, dtype="<f4").tobytes()  # [k, dim]
                digest.update(rows)
                handle.write(rows)
                utt_ids.extend(shard.utt_ids)
                failed.update(
                    {u: r for u, r in zip(shard.utt_ids, shard.reasons, strict=True) if r}
                )

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.array_path, write)
        meta = {
            "format": FORMAT,
            "extractor": self.spec.name,
            "params": self.spec.hashed_params(),
            "versions": self.spec.versions(),
            "model": self.spec.model_identity(),
            "corpus": self.identity,
            "dim": dim,
            "sha256": digest.hexdigest(),
            "failed": failed,
            "utt_ids": utt_ids,
        }
        atomic_write(self.index_path, lambda f: f.write(json.dumps(meta).encode()))
        shutil.rmtree(self.partial_dir, ignore_errors=True)
        values = np.load(self.array_path, mmap_mode="r", allow_pickle=False)
        return StoredFeatures(utt_ids, values, failed, meta)
