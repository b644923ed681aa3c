"""Shared fixtures: the synthetic corpus at tiny size is the end-to-end fixture."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from bench.corpus.iemocap import read_iemocap
from bench.corpus.synth import SynthConfig, generate
from bench.features.extract import extract_features
from bench.testing.msp_releases import MspReleases, read_msp_releases, write_msp_releases

# What subprocesses (bench CLI runs, Ray workers, feature workers) read for their thread pools.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which a machine may set, are left alone.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a ``slow`` test first, in their own order, then the rest in theirs.

    ``make test`` runs two pytest-xdist workers that take whole files in this order
    (``--no-loadscope-reorder``): the longest start first, so the two finish together
    instead of one running a Ray file alone at the end.
    """
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)  # a stable sort


@pytest.fixture(scope="session", autouse=True)
def one_thread_everywhere() -> Iterator[None]:
    """Every test, and every process it starts, computes on one thread.

    Tiny models run fastest (and least disturbed by other jobs) on one thread. Session scope,
    so that module fixtures (a Ray cluster, a corpus trained on once) see it too; the
    environment is restored at the end of the session.
    """
    with pytest.MonkeyPatch.context() as patch:
        for variable in THREAD_VARIABLES:
            patch.setenv(variable, "1")
        torch.set_num_threads(1)
        yield


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Back to one torch thread around each test (``execute(threads=n)`` changes it)."""
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(1)


def made_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder ``name`` that ``make(folder)`` filled, made once per test run even under
    pytest-xdist: its workers share the parent of their temporary folders, and the first
    worker to take the lock makes the folder while the others wait for it."""
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's folder, above the workers' own
    folder, made = base / name, base / f"{name}.made"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the worker dies
        if not made.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker killed while making it
            make(folder)
            made.touch()
    return folder


@pytest.fixture(scope="session")
def tiny_corpus_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 120-utterance synthetic corpus in IEMOCAP's layout (5 sessions x 2 speakers), shared
    by every test of the run: tests that change files change a copy."""
    return made_once(
        tmp_path_factory, "tiny-corpus", lambda f: generate(f, SynthConfig(size="tiny"), False)
    )


@pytest.fixture(scope="session")
def tiny_feature_cache(tiny_corpus_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A feature cache holding the tiny corpus's default features (those of the synthetic
    protocol), extracted once per run; tests that need them, not their extraction, read it
    (``features.cache_dir=<it>``)."""

    def extract(cache: Path) -> None:
        table = read_iemocap(tiny_corpus_root).table
        extract_features(table, {"cache_dir": str(cache)}, workers=1, progress=False)

    return made_once(tmp_path_factory, "tiny-features", extract)


@pytest.fixture(scope="session")
def msp_releases(tmp_path_factory: pytest.TempPathFactory) -> MspReleases:
    """The MSP release fixtures and their features, made once per run (under xdist too);
    tests that change a release write their own."""
    return read_msp_releases(made_once(tmp_path_factory, "msp-releases", write_msp_releases))


@pytest.fixture(scope="session")
def small_corpus_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 1,000-utterance synthetic corpus (half the default size, for speed)."""
    return generate(tmp_path_factory.mktemp("corpus") / "small", SynthConfig("small"), False)
