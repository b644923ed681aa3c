"""A non-editable install works outside the checkout, with variants/ and protocols/ inside it.

The package is built and installed (``pip install --no-deps --no-build-isolation``, not ``-e``)
into a fresh virtualenv from a copy of the checkout (less its environment, data and caches),
so the checkout gets no ``build/`` folder. torch and the other dependencies (gigabytes) are
not installed again: a ``.pth`` file puts this interpreter's site-packages after the new
environment's own, so ``bench`` itself is imported from the new site-packages. On this
2-core machine the install took 2 s idle (8 s when busy), the dry run 7 s (22 s).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LOCAL_ONLY = {
    ".git",
    ".venv",
    ".pytest_cache",
    ".ruff_cache",
    "build",
    "data",
    "results",
    "reports",
    "runs",
}
# Stored measurements, not code: thousands of small files the install never reads.
DATA_ONLY = shutil.ignore_patterns("__pycache__", "results")
TRIAL_LINE = re.compile(
    r"^synthetic/(\w+)/fold(\d+)/seed(\d+)\s+Ses0\2\s+run\s+missing$", re.MULTILINE
)


def run(args: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Run outside the checkout, with nothing on PYTHONPATH that could find it."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | env
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=environ, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with ``bench`` installed non-editable; returns its root."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    for entry in REPO.iterdir():
        if entry.name in LOCAL_ONLY or entry.name.endswith(".egg-info"):
            continue
        if entry.is_dir():
            shutil.copytree(entry, source / entry.name, ignore=DATA_ONLY)
        elif entry.is_file():
            shutil.copy2(entry, source / entry.name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    (site_packages(venv) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index"]
    installed = run([venv / "bin/python", *pip, "--ignore-installed", source], cwd=root)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def test_bench_is_imported_from_the_new_environment(venv: Path, tmp_path: Path):
    found = run([venv / "bin/python", "-c", "import bench; print(bench.__file__)"], tmp_path)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(site_packages(venv))


def test_every_module_and_yaml_file_is_installed(venv: Path):
    installed = site_packages(venv) / "bench"
    modules = {p.relative_to(REPO) for p in (REPO / "bench").rglob("*.py")}
    assert modules <= {p.relative_to(installed.parent) for p in installed.rglob("*.py")}
    for folder in ("variants", "protocols"):
        shipped = {p.relative_to(REPO / folder) for p in (REPO / folder).rglob("*.yaml")}
        copied = installed / "resources" / folder
        assert shipped and shipped == {p.relative_to(copied) for p in copied.rglob("*.yaml")}


def test_benchmarks_is_not_installed(venv: Path, tmp_path: Path):
    assert not (site_packages(venv) / "benchmarks").exists()
    spec = "import importlib.util; print(importlib.util.find_spec('benchmarks'))"
    assert run([venv / "bin/python", "-c", spec], tmp_path).stdout.strip() == "None"


def test_dry_run_of_the_grid_from_another_folder(venv: Path, tmp_path: Path):
    """The protocol and the grid come from the installed package, not the checkout."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    args = ["run", "--grid", "ablations", "--dry-run", "corpus.synth.size=tiny"]
    plan = run([venv / "bin/bench", *args], work, BENCH_DATA=str(tmp_path / "data"))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    grid = yaml.safe_load((REPO / "variants/grids/ablations.yaml").read_text())
    listed = {(v, int(f), int(s)) for v, f, s in TRIAL_LINE.findall(plan.stdout)}
    folds = range(1, 6)  # the synthetic corpus has 5 sessions
    assert listed == {(v, f, s) for v in grid["variants"] for f in folds for s in grid["seeds"]}
