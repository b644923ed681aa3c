"""The output-folder check: a folder that cannot be written is one line naming it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.paths import data_dir, ensure_writable_dir


def test_creates_the_folder_and_its_parents(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    assert ensure_writable_dir(folder, "results folder") == folder and folder.is_dir()
    assert list(folder.iterdir()) == []  # the probe file is gone
    assert ensure_writable_dir(folder, "results folder") == folder  # an existing one is fine


def test_a_path_at_or_under_a_file(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(BenchError, match=f"^results folder {file} is a file, not a folder$"):
        ensure_writable_dir(file, "results folder")
    inside = file / "x" / "y"
    message = f"^report folder {inside} sits under the file {file}, not a folder$"
    with pytest.raises(BenchError, match=message):
        ensure_writable_dir(inside, "report folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(BenchError, match=r"is not writable \(Permission denied\)$"):
            ensure_writable_dir(tmp_path / "results", "results folder")
    finally:
        tmp_path.chmod(0o700)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no sysfs")
def test_a_folder_the_kernel_refuses_even_to_root() -> None:
    with pytest.raises(BenchError, match="^results folder /sys/bench-results is not writable"):
        ensure_writable_dir("/sys/bench-results", "results folder")


def test_data_dir_follows_bench_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "cache"))
    assert data_dir() == tmp_path / "cache"
