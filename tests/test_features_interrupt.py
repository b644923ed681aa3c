"""Ctrl-C during ``bench features``: one line, exit 130, no worker left, and a rerun resumes.

With a worker pool, the command runs in its own process group and the interrupt goes to the
whole group, as a terminal's Ctrl-C does, so the worker processes receive it too. In this
process (``--workers 1``), the interrupt arrives inside openSMILE's callback into Python,
where ctypes drops an exception.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from opensmile.core.smile import Smile

from bench.cli import main
from bench.features.base import sigint_deferred
from bench.features.extract import SHARD_SIZE

STARTUP_SECONDS = 600  # importing torch and starting the workers on a busy machine
INTERRUPTED = "bench features: interrupted; rerun to resume"  # the command's last line
STOP_SECONDS = 2.0  # from a Ctrl-C in this process to the command's return
HANG_SECONDS = 60  # a hang guard, not a speed test: an interrupted run stops in ~3 s here,
# and the reported bug was a 28 s wait; a busy shared machine can take several times longer


@contextmanager
def sigint_not_ignored() -> Iterator[None]:
    """Children started in the block get SIGINT's default action, as under a terminal.

    A shell without job control starts a background job (``make test &`` in a script) with
    SIGINT ignored, and every child inherits that: the command would never see the Ctrl-C.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_for_first_shard(process: subprocess.Popen, features: Path) -> None:
    """Return once extraction has written a shard (so workers are busy), or fail."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while not any(features.glob("*.partial/shard-*.npz")):
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"no shard was written:\n{process.communicate()[1]}")
        time.sleep(0.05)


def group_is_gone(pgid: int) -> bool:
    """True once no process of the group is left (the resource tracker leaves last)."""
    deadline = time.monotonic() + HANG_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow  # a subprocess, its worker pool, and the rerun's
def test_ctrl_c_stops_extraction_with_one_line_and_a_rerun_resumes(
    tmp_path: Path, tiny_corpus_root: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    env = {**os.environ, "BENCH_DATA": str(tmp_path), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "bench.cli", "features", f"corpus.root={tiny_corpus_root}"]
    command += ["--workers", "2"]  # a pool even on a one-core machine
    with sigint_not_ignored():
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
    wait_for_first_shard(process, tmp_path / "features")
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, err = process.communicate(timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"still running {HANG_SECONDS} s after Ctrl-C:\n{process.communicate()[1]}")
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.splitlines()[-1] == INTERRUPTED
    assert group_is_gone(process.pid), "a worker outlived the interrupted command"

    monkeypatch.setenv("BENCH_DATA", str(tmp_path))  # the rerun, in this process
    assert main([*command[3:], "--json", "--quiet"]) == 0
    summaries = json.loads(capsys.readouterr().out)
    assert [s["utterances"] for s in summaries] == [120, 120, 120]
    assert sum(s["computed"] for s in summaries) < 3 * 120  # stored shards were kept


def test_ctrl_c_inside_opensmile_in_this_process_stops_and_stores_no_failure(
    tmp_path: Path, tiny_corpus_root: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The Ctrl-C arrives inside openSMILE's sink callback, in the prosody store's second
    shard: the command stops at once with exit 130 and no utterance is stored as failed."""
    interrupted_at = SHARD_SIZE + 6  # an utterance of the second shard (of 120 utterances)
    calls: list[float] = []  # time of each callback
    collector = Smile._sink_callback

    def interrupting(y: list, starts: list, ends: list) -> Callable[[np.ndarray, object], None]:
        collect = collector(y, starts, ends)

        def callback(data: np.ndarray, meta: object) -> None:
            calls.append(time.monotonic())
            if len(calls) == interrupted_at:
                signal.raise_signal(signal.SIGINT)  # the handler runs here, in the callback
            collect(data, meta)

        return callback

    monkeypatch.setattr(Smile, "_sink_callback", staticmethod(interrupting))
    cache = tmp_path / "features"
    command = ["features", f"corpus.root={tiny_corpus_root}", f"features.cache_dir={cache}"]
    with sigint_not_ignored():
        code = main([*command, "--workers", "1", "--quiet"])
    stopped = time.monotonic()
    assert code == 130
    assert capsys.readouterr().err.splitlines()[-1] == INTERRUPTED
    assert len(calls) == interrupted_at  # no utterance after the interrupted one
    assert stopped - calls[-1] < STOP_SECONDS
    assert not list(cache.glob("egemaps-*.json"))  # the prosody store is unfinished
    (partial,) = cache.glob("egemaps-*.partial")
    shards = sorted(path.name for path in partial.iterdir())
    assert shards == ["shard-00000.npz"]  # the interrupted shard is not written
    with np.load(partial / shards[0], allow_pickle=False) as shard:
        assert (shard["reasons"] == "").all() and np.isfinite(shard["values"]).all()


def test_a_deferred_ctrl_c_lets_the_block_finish_then_raises() -> None:
    done = []
    with sigint_not_ignored():
        with pytest.raises(KeyboardInterrupt), sigint_deferred():
            signal.raise_signal(signal.SIGINT)
            done.append("block")  # not interrupted: raised on leaving
        assert done == ["block"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a pool worker: left alone
        with sigint_deferred():
            signal.raise_signal(signal.SIGINT)
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
