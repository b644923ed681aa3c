"""torch and torchaudio of different releases are refused, naming both, before torchaudio loads."""

from __future__ import annotations

from importlib import metadata

import pytest

from bench.errors import BenchError
from bench.features import torch_versions
from bench.features.logmel import LogMelSpec
from bench.features.torch_versions import check_torchaudio, mismatch, release


@pytest.mark.parametrize(
    ("torch", "torchaudio"),
    [("2.9.1+cu128", "2.9.1+cu128"), ("2.9.1", "2.9.0"), ("2.11.0+cu130", "2.11.1")],
)
def test_a_pair_of_one_release_passes(torch: str, torchaudio: str) -> None:
    assert mismatch(torch, torchaudio) is None


@pytest.mark.parametrize(
    ("torch", "torchaudio"), [("2.10.0", "2.9.1"), ("2.8.0+cpu", "2.11.0"), ("3.9.1", "2.9.1")]
)
def test_a_pair_of_two_releases_names_both_versions(torch: str, torchaudio: str) -> None:
    message = mismatch(torch, torchaudio)
    assert message is not None
    assert f"torch {torch} is installed" in message
    assert f"torchaudio {torchaudio} is built for torch {torchaudio[:3]}" in message


def test_release_reads_pre_releases_and_refuses_what_is_no_version() -> None:
    assert release("2.12.0rc1") == (2, 12)
    with pytest.raises(BenchError, match="'nightly'"):
        release("nightly")


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch):
    """Pretend these distributions are installed: name -> version (absent: not installed)."""

    def pretend(versions: dict[str, str]) -> None:
        def version(name: str) -> str:
            if name not in versions:
                raise metadata.PackageNotFoundError(name)
            return versions[name]

        monkeypatch.setattr(torch_versions.metadata, "version", version)
        check_torchaudio.cache_clear()

    yield pretend
    check_torchaudio.cache_clear()


def test_the_logmel_extractor_refuses_a_mismatched_pair_before_importing_torchaudio(
    installed,
) -> None:
    installed({"torch": "2.10.0", "torchaudio": "2.9.1"})
    with pytest.raises(BenchError, match=r"torchaudio 2\.9\.1 .* torch 2\.10\.0 is installed"):
        LogMelSpec().build()


def test_a_missing_package_is_left_to_its_import(installed) -> None:
    installed({"torch": "2.10.0"})
    check_torchaudio()  # no error: ``import torchaudio`` names the missing package itself


def test_the_installed_pair_passes() -> None:
    check_torchaudio.cache_clear()
    check_torchaudio()
    assert LogMelSpec().build().dim == 120
