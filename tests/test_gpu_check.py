"""benchmarks/gpu_check.py on a machine without a GPU: its comparisons with the CPU on both
sides, its guard around each section, and its exit where CUDA is absent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.model import UPDATERS
from bench.model.config import EMA_MODES, FEEDBACK_MODES

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip


def test_every_updater_ema_and_feedback_mode_is_compared() -> None:
    cases = gpu_check.model_configs()
    assert {u for u, _, _ in cases} == set(UPDATERS)
    assert {e for _, e, _ in cases} == set(EMA_MODES)
    assert {f for _, _, f in cases} == set(FEEDBACK_MODES)
    assert ("none", "fixed", "teacher") not in cases  # the stateless model feeds nothing back
    assert len(cases) == (len(UPDATERS) - 1) * len(EMA_MODES) * len(FEEDBACK_MODES) + len(EMA_MODES)


def test_the_cpu_against_itself_differs_by_nothing_and_steps_equal_the_whole() -> None:
    for key, config in gpu_check.model_configs().items():
        found = gpu_check.compare_devices(config, "cpu", gpu_check.QUICK)
        assert found["outputs"] == 0 and found["gradients"] == 0, key
        assert found["largest_gradient"] > 0, key  # the gradients compared are not all zero
        assert found["step_whole"] <= 1e-5, key


def test_step_whole_sees_a_wrong_feedback() -> None:
    """Control: fed the truth where the steps fed their own predictions, the gap shows."""
    config = gpu_check.model_configs()["gru", "fixed", "autoregressive"]
    model = gpu_check.StreamingModel(config, *gpu_check.DIMS).eval()
    inputs = gpu_check.make_inputs(3, 12, "cpu")
    assert gpu_check.step_whole_gap(model, inputs, 0.0) <= 1e-5
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model, "rollout", lambda z, state, truth, p, g: model(z, None, truth))
        assert gpu_check.step_whole_gap(model, inputs, 0.0) > 1e-3


def test_a_failing_section_is_reported_and_the_others_still_run(capsys) -> None:
    def broken() -> bool:
        raise RuntimeError("planted")

    def missing_package() -> bool:
        import package_that_is_not_installed  # noqa: F401

        return True

    def missing_bench_module() -> bool:
        import bench.no_such_module  # noqa: F401

        return True

    def cannot_run_here() -> bool:
        raise gpu_check.Skipped("needs a GPU")

    outcomes = gpu_check.run_sections({
        "broken": broken, "missing": missing_package, "renamed": missing_bench_module,
        "here": cannot_run_here, "off": lambda: False, "good": lambda: True,
    })  # fmt: skip
    assert outcomes == {
        "broken": "failed",
        "missing": "skipped: needs package_that_is_not_installed, which is not installed",
        "renamed": "failed",  # a module of bench itself missing is a bug, not a skip
        "here": "skipped: needs a GPU",
        "off": "failed",
        "good": "passed",
    }
    assert "RuntimeError: planted" in capsys.readouterr().out


def test_without_cuda_it_says_so_and_exits_0() -> None:
    run = run_script()
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == gpu_check.NO_CUDA


def test_an_unknown_section_is_refused() -> None:
    run = run_script("--sections", "updaters,nope")
    assert run.returncode == 2 and "unknown section nope" in run.stderr


@pytest.mark.slow
def test_a_dry_run_on_the_cpu_passes_its_checks() -> None:
    run = run_script("--device", "cpu", "--quick", "--sections", "updaters,mamba_kernel,embeddings")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "-- updaters: passed" in run.stdout and "-- embeddings: passed" in run.stdout
    assert "-- mamba_kernel: skipped: mamba-ssm's kernel runs on CUDA only" in run.stdout
    assert "gpu_check: 2 passed, 0 failed, 1 skipped" in run.stdout
