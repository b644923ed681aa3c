"""Extraction: fill the store of every role's extractor, in shards, over worker processes.

What happens to each utterance is one *outcome*; every one but ``ok`` is a fallback to a
row of zeros marked invalid in the store (``load_features(...).valid``) and named in the
summary:

=============  =================================================================
ok             extracted
missing        the audio file does not exist
unreadable     soundfile cannot decode it (corrupt, wrong format)
too_short      shorter than the extractor's ``min_seconds`` (default 0.25 s)
silent         peak amplitude below 1e-4 (-80 dBFS)
non_finite     the extractor returned NaN or infinity
=============  =================================================================

Work is split into shards of ``shard_size`` utterances (in utt_id order). With more than
one shard to do and no GPU, shards run in ``workers`` spawned processes (one pool for all
extractors); otherwise in this process. Either way torch uses one thread per process:
openSMILE and the CPU models scale per process, while torch's own threads on a shared
2-core machine oversubscribe.

Ctrl-C: workers ignore SIGINT (a terminal sends it to the whole process group, and
openSMILE inside a worker would swallow it and finish its shard first), so only this
process sees it; the ``KeyboardInterrupt`` stops the workers at once on its way up. In this
process, the openSMILE runner holds a Ctrl-C back until its utterance is done
(:func:`~bench.features.base.sigint_deferred`): raised inside openSMILE's callback, it was
dropped, and the utterance stored as ``non_finite``. Every shard written so far stays
valid, so a rerun resumes.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from bench.audio import load_audio
from bench.corpus.table import Corpus
from bench.errors import InputError
from bench.features.base import ExtractorSpec, limit_threads, screen, torch_threads
from bench.features.config import FeaturesConfig, as_features_config
from bench.features.hub import check_models
from bench.features.store import CorruptStore, FeatureStore, Shard, StoredFeatures, corpus_identity

log = logging.getLogger(__name__)

SHARD_SIZE = 64


@dataclass
class ExtractionSummary:
    """What ``bench features`` reports for one role's extractor.

    Attributes:
        role: ``speech``, ``prosody`` or ``speaker``.
        name: the extractor (``logmel``, ``egemaps``, ...).
        dim: features per utterance.
        utterances: rows in the store.
        computed: utterances extracted by this call (0 when cached).
        seconds: wall time of this call for this extractor.
        cached: True when nothing had to be computed.
        failed: utt_id -> outcome, for every utterance that fell back to zeros.
        store: path of the store's array file.
    """

    role: str
    name: str
    dim: int
    utterances: int
    computed: int
    seconds: float
    cached: bool
    failed: dict[str, str]
    store: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``failed`` is the count, ``failed_utts`` names them."""
        out = asdict(self)
        out["failed"] = len(self.failed)
        out["failed_utts"] = self.failed
        out["outcomes"] = dict(Counter(self.failed.values()))
        return out


@dataclass
class Task:
    """One shard to extract: utterance ids and their audio paths."""

    index: int
    utt_ids: list[str]
    paths: list[str]


class ShardWorker:
    """Loads, screens and extracts the utterances of one shard with a built runner."""

    def __init__(self, spec: ExtractorSpec):
        self.spec = spec
        self.runner = spec.build()

    def __call__(self, task: Task) -> Shard:
        values, reasons = self.extract([self.load(path) for path in task.paths])
        return Shard(task.index, task.utt_ids, values, reasons)

    def extract(
        self, loaded: list[tuple[str | None, np.ndarray | None]]
    ) -> tuple[np.ndarray, list[str | None]]:
        """Features ``[k, dim]`` and outcomes (None: ok) of ``(outcome, wave)`` pairs.

        A wave with no outcome yet is screened, then extracted; every other row is zeros.
        """
        reasons = [
            reason if wave is None else screen(wave, self.spec.min_seconds)
            for reason, wave in loaded
        ]
        waves = [wave for (_, wave), reason in zip(loaded, reasons, strict=True) if not reason]
        values = np.zeros((len(loaded), self.runner.dim), dtype=np.float32)  # [k, dim]
        ok = np.array([r is None for r in reasons], dtype=bool)  # [k]
        if waves:
            values[ok] = self.runner(waves)  # [k_ok, dim]
        for row in np.flatnonzero(ok & ~np.isfinite(values).all(axis=1)):
            reasons[row] = "non_finite"
            values[row] = 0.0
        return values, reasons

    def load(self, path: str) -> tuple[str | None, np.ndarray | None]:
        """``(None, wave)`` for readable audio, else ``(outcome, None)``."""
        if not Path(path).is_file():
            return "missing", None
        try:
            return None, load_audio(path)  # [t]
        except InputError:
            return "unreadable", None


_WORKER: ShardWorker | None = None  # a pool process's worker for the spec it last ran


def _start_worker(threads: int) -> None:
    """Pool initializer: ignore Ctrl-C (the parent stops its workers) and cap the threads."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold SIGINT in this thread for the block; a Ctrl-C meanwhile is raised on leaving.

    Processes spawned in the block inherit the held signal, so a worker cannot be
    interrupted while it starts up, before :func:`_start_worker` ignores SIGINT.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _run_task(spec: ExtractorSpec, task: Task) -> Shard:
    """Extract one shard in a pool process; a failed build reaches the caller as raised."""
    global _WORKER
    if _WORKER is None or _WORKER.spec != spec:
        _WORKER = ShardWorker(spec)
    return _WORKER(task)


class Workers:
    """Spawned single-threaded worker processes, started on first use, shared by extractors.

    Spawning and importing cost seconds per process, so one pool serves every extractor
    of a call; each process keeps the runner of the extractor it ran last. Leaving the
    ``with`` block on an exception (Ctrl-C included) terminates the workers instead of
    waiting for their shards.
    """

    def __init__(self, count: int | None = None):
        self.count = count or len(os.sched_getaffinity(0))
        self.pool: ProcessPoolExecutor | None = None

    def run(self, spec: ExtractorSpec, todo: list[Task]) -> Iterator[Shard]:
        """Yield the extracted shards of ``todo`` (in completion order)."""
        if not todo:
            return
        if spec.wants_gpu() or min(self.count, len(todo)) == 1:
            with torch_threads(1):
                yield from map(ShardWorker(spec), todo)
            return
        if self.pool is None:
            context = get_context("spawn")
            self.pool = ProcessPoolExecutor(
                self.count, mp_context=context, initializer=_start_worker, initargs=(1,)
            )
        with _sigint_held():  # submit() spawns the workers
            futures = [self.pool.submit(_run_task, spec, task) for task in todo]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc_info: object) -> None:
        if self.pool is None:
            return
        if kind is not None:  # nobody waits for the running shards: stop them now
            for process in list(self.pool._processes.values()):  # no public API before 3.14
                process.terminate()
        self.pool.shutdown(cancel_futures=True)


def extract_features(
    table: pd.DataFrame,
    features_cfg: FeaturesConfig | Mapping[str, Any] | None,
    *,
    workers: int | None = None,
    progress: bool = True,
    shard_size: int = SHARD_SIZE,
) -> list[ExtractionSummary]:
    """Make sure every role's store exists for ``table``'s corpus; extract what is missing.

    Args:
        table: the utterance table (``utt_id``, ``audio_path`` are used).
        features_cfg: the protocol's ``features:`` block (or its parsed form).
        workers: processes for CPU extraction (default: the usable cores).
        progress: show a progress bar per extractor (on stderr).
        shard_size: utterances per shard (the unit of resumption).

    Returns:
        One summary per role, in role order.

    Raises:
        BenchError: before any extraction, naming every role's model that cannot be loaded.
    """
    config = as_features_config(features_cfg)
    identity = corpus_identity(table)
    ordered = table.sort_values("utt_id")
    utt_ids = ordered["utt_id"].astype(str).tolist()
    paths = ordered["audio_path"].astype(str).tolist()
    tasks = [
        Task(i // shard_size, utt_ids[i : i + shard_size], paths[i : i + shard_size])
        for i in range(0, len(utt_ids), shard_size)
    ]
    stores = {
        role: FeatureStore(config.cache_dir, spec, identity)
        for role, spec in config.extractors.items()
    }
    check_models(
        {
            f"features.{role}.model": weights
            for role, store in stores.items()
            if not store.index_path.exists() and (weights := store.spec.weights())
        }
    )  # a finished store needs no model (a corrupt one is rebuilt; its build checks again)
    summaries = []
    with Workers(workers) as pool:
        for role, store in stores.items():
            spec = store.spec
            start = time.perf_counter()
            stored, computed = open_or_extract(store, tasks, pool, progress, desc=role)
            summaries.append(
                ExtractionSummary(
                    role=role,
                    name=spec.name,
                    dim=int(stored.values.shape[1]),
                    utterances=len(stored.utt_ids),
                    computed=computed,
                    seconds=time.perf_counter() - start,
                    cached=computed == 0,
                    failed=stored.failed,
                    store=str(store.array_path),
                )
            )
    return summaries


def extract_corpus_features(
    corpus: Corpus,
    features_cfg: FeaturesConfig | Mapping[str, Any] | None,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> list[ExtractionSummary]:
    """:func:`extract_features` for ``corpus``: for a cross-corpus table, for each of its
    parts, so each corpus has (and reuses) its own stores."""
    parts = corpus.parts or (corpus,)
    return [
        summary
        for part in parts
        for summary in extract_features(
            part.table, features_cfg, workers=workers, progress=progress
        )
    ]


def open_or_extract(
    store: FeatureStore, tasks: list[Task], pool: Workers, progress: bool, desc: str
) -> tuple[StoredFeatures, int]:
    """The finished store (rebuilt if corrupt) and how many utterances this call extracted."""
    try:
        stored = store.open()
    except CorruptStore as exc:
        log.warning("%s; rebuilding it", exc)
        store.remove()
        stored = None
    if stored is not None:
        return stored, 0
    todo = [t for t in tasks if not store.has_shard(t.index, t.utt_ids)]
    total = sum(len(t.utt_ids) for t in tasks)
    computed = sum(len(t.utt_ids) for t in todo)
    with tqdm(
        total=total,
        initial=total - computed,
        desc=f"{desc} {store.spec.name}",
        unit="utt",
        disable=not progress,
    ) as bar:
        for shard in pool.run(store.spec, todo):
            store.write_shard(shard)  # kept on disk only: memory is flat in the corpus size
            bar.update(len(shard.utt_ids))
    return store.finish([t.index for t in tasks]), computed
