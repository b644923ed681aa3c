"""``bench run --address`` on a real multi-node Ray cluster started on this machine.

The head node has no CPUs, so no trial can run beside the driver; each of the two worker
nodes has one. The CLI joins the cluster by its address, as a user would. Every Python
process of the worker nodes starts with an audit hook (a ``sitecustomize`` on their
``PYTHONPATH``) that logs any file it writes, creates, renames or removes under the folder
holding the results, so "only the driver writes results/" is observed in the processes
that ran the trials, not assumed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from tests.test_run import FAST

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = pytest.mark.slow  # three Ray nodes, and two grids run on them

AUDIT_HOOK = """
import os
import sys

_ROOT = os.environ["BENCH_AUDIT_ROOT"] + os.sep
_LOG = os.environ["BENCH_AUDIT_LOG"]
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_CHANGES = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.truncate"}


def _under_root(path):
    return (os.path.abspath(os.fsdecode(path)) + os.sep).startswith(_ROOT)


def _hook(event, args):
    if event == "open":
        path, mode, flags = args
        if not (flags & _WRITES or any(c in (mode or "") for c in "wax+")):
            return
    elif event not in _CHANGES:
        return
    if any(_under_root(a) for a in args[:2] if isinstance(a, str | bytes | os.PathLike)):
        with open(os.path.join(_LOG, f"{os.getpid()}.writes"), "a") as log:
            log.write(f"{event} {args!r}\\n")


sys.addaudithook(_hook)
open(os.path.join(_LOG, f"{os.getpid()}.hooked"), "w").close()  # only once the hook is on
"""
N_TRIALS = 4  # 2 variants x 2 folds x 1 seed
SUMMARY = re.compile(r"(\d+) trials finished, (\d+) skipped \(done\), (\d+) failed")


@dataclass
class LocalCluster:
    """A head without CPUs and two one-CPU worker nodes; ``runs`` holds every results
    folder, ``audit`` the worker nodes' audit logs; ``corpus`` the overrides that name the
    tiny corpus and its stored features."""

    cluster: Cluster
    runs: Path
    audit: Path
    node_env: dict[str, str]
    corpus: list[str]

    def add_worker(self):
        return self.cluster.add_node(num_cpus=1, env_vars=self.node_env)

    def worker_ids(self) -> set[str]:
        return {node.node_id for node in self.cluster.worker_nodes}


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, tiny_corpus_root: Path, tiny_feature_cache: Path
):
    base = tmp_path_factory.mktemp("cluster")
    (base / "hook").mkdir()
    (base / "hook" / "sitecustomize.py").write_text(AUDIT_HOOK)
    runs, audit = base / "runs", base / "audit"
    runs.mkdir()
    audit.mkdir()
    path = [str(base / "hook"), *filter(None, [os.environ.get("PYTHONPATH")])]
    node_env = {
        "PYTHONPATH": os.pathsep.join(path),
        "BENCH_AUDIT_ROOT": str(runs.resolve()),
        "BENCH_AUDIT_LOG": str(audit),
    }
    # A private, short Ray temp folder: Ray's socket paths must stay under 108 bytes, and
    # a plain ray.init() elsewhere on this machine must not find (and join) this cluster.
    ray_tmp = tempfile.mkdtemp(prefix="rc", dir="/tmp")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_TMPDIR", ray_tmp)
        env.delenv("RAY_ADDRESS", raising=False)
        env.setenv("BENCH_DATA", str(base / "data"))
        head = {  # a lost node is declared dead after about a second, not half a minute
            "num_cpus": 0,
            "_system_config": {
                "health_check_initial_delay_ms": 0,
                "health_check_period_ms": 500,
                "health_check_timeout_ms": 500,
                "health_check_failure_threshold": 2,
            },
        }
        corpus = [f"corpus.root={tiny_corpus_root}", f"features.cache_dir={tiny_feature_cache}"]
        local = LocalCluster(
            Cluster(initialize_head=True, head_node_args=head), runs, audit, node_env, corpus
        )
        try:
            local.add_worker()
            local.add_worker()
            yield local
        finally:
            local.cluster.shutdown()
            shutil.rmtree(ray_tmp, ignore_errors=True)


def run_grid(
    cluster: LocalCluster, results: Path, address: str | None, capsys: pytest.CaptureFixture
) -> tuple[int, str]:
    """``bench run [--address A]`` of four tiny trials in this process: (exit code, output)."""
    code = main([
        "run", *(["--address", address] if address else []), "--quiet", "--results", str(results),
        "--variant", "stateless", "no_film", "--seeds", "0", "--folds", "1,2",
        *cluster.corpus, *FAST,
    ])  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def stored(results: Path) -> dict[Path, dict]:
    """The trial folders that hold a complete result, with their ``result.json``."""
    return {
        path.parent: json.loads(path.read_text()) for path in sorted(results.glob("**/result.json"))
    }


def files_of(folders) -> dict[Path, bytes]:
    return {f: f.read_bytes() for folder in folders for f in folder.iterdir() if f.is_file()}


def test_trials_run_on_the_worker_nodes_and_only_the_driver_writes_results(
    cluster: LocalCluster, capsys: pytest.CaptureFixture
):
    results = cluster.runs / "grid"
    code, out = run_grid(cluster, results, cluster.cluster.address, capsys)
    assert code == 0, out
    assert f"{N_TRIALS} trials finished, 0 skipped (done), 0 failed" in out
    records = stored(results)
    assert len(records) == N_TRIALS
    workers = [record["worker"] for record in records.values()]
    head = cluster.cluster.head_node.node_id
    assert {w["ray_node_id"] for w in workers} == cluster.worker_ids()  # both, not the head
    assert head not in {w["ray_node_id"] for w in workers}
    assert os.getpid() not in {w["pid"] for w in workers}  # no trial ran in the driver
    # The audit hook ran in every process that ran a trial, and none of them wrote a file
    # (a result, a lock, a temporary) under the results folder: the driver wrote them all.
    hooked = {int(p.stem) for p in cluster.audit.glob("*.hooked")}
    assert {w["pid"] for w in workers} <= hooked
    written = {p.name: p.read_text() for p in cluster.audit.glob("*.writes")}
    assert written == {}
    for folder in records:
        assert len(pd.read_parquet(folder / "predictions.parquet")) > 0

    before = {p: p.stat().st_mtime_ns for p in results.glob("**/*") if p.is_file()}
    code, out = run_grid(cluster, results, cluster.cluster.address, capsys)
    assert code == 0 and f"all {N_TRIALS} trials are done; nothing to run" in out
    assert {p: p.stat().st_mtime_ns for p in results.glob("**/*") if p.is_file()} == before


def test_ray_client_addresses_are_refused_before_any_trial_runs(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    """Under Ray Client, Tune runs its loop (and the driver's result handlers) on the head
    node: results would be written there while this process reported nothing finished."""
    results = cluster.runs / "client"
    code, out = run_grid(cluster, results, "ray://127.0.0.1:10001", capsys)
    assert code == 2 and "Ray Client (ray://) is not supported" in out
    monkeypatch.setenv("RAY_ADDRESS", "ray://127.0.0.1:10001")
    code, out = run_grid(cluster, results, None, capsys)
    assert code == 2 and "Ray Client (ray://) is not supported" in out
    assert not list(results.glob("**/result.json"))


def test_a_worker_node_lost_mid_grid_loses_no_stored_trial(
    cluster: LocalCluster, capsys: pytest.CaptureFixture
):
    results = cluster.runs / "loss"
    seen: dict[str, object] = {}

    def lose_a_node_once_a_trial_is_stored() -> None:
        deadline = time.time() + 300
        while not (records := stored(results)) and time.time() < deadline:
            time.sleep(0.05)
        first = next(iter(records.values()))["worker"]["ray_node_id"]
        node = next(n for n in cluster.cluster.worker_nodes if n.node_id == first)
        seen["before"] = files_of(records)
        seen["lost"] = first
        cluster.cluster.remove_node(node, allow_graceful=False)  # a crash, not a drain

    killer = threading.Thread(target=lose_a_node_once_a_trial_is_stored, daemon=True)
    killer.start()
    code, out = run_grid(cluster, results, cluster.cluster.address, capsys)
    killer.join(timeout=60)
    assert "lost" in seen, out
    finished, skipped, failed = map(int, SUMMARY.search(out).groups())
    records = stored(results)
    # Every trial stored before the loss is intact, byte for byte, including one that the
    # lost node ran; every trial is either stored whole or reported failed, none dropped.
    now = files_of(records)
    assert all(now.get(path) == data for path, data in seen["before"].items())
    assert seen["lost"] in {r["worker"]["ray_node_id"] for r in records.values()}
    assert (finished, skipped, finished + failed) == (len(records), 0, N_TRIALS)
    assert code == (1 if failed else 0), out
    assert not list(results.glob("**/.*.tmp-*"))

    cluster.add_worker()  # a replacement joins, as an autoscaler would add one
    before = {p: p.stat().st_mtime_ns for p in results.glob("**/result.json")}
    code, out = run_grid(cluster, results, cluster.cluster.address, capsys)
    assert code == 0, out
    expected = f"{failed} trials finished, {finished} skipped (done), 0 failed"
    assert (expected if failed else f"all {N_TRIALS} trials are done") in out
    assert len(stored(results)) == N_TRIALS
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
