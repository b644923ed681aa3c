"""torch and torchaudio must be of one release (major.minor): checked before torchaudio loads.

torchaudio's compiled extensions are built against one torch release. Up to 2.10 its wheels
pin that torch exactly, but pip still leaves a mismatched pair behind when torch is changed
afterwards (``pip install torch==...`` only warns), and torchaudio 2.11.0 declares no torch
requirement at all, so a resolver may put it beside an older torch. Either way ``import
torchaudio`` then fails with an undefined symbol, or loads and misbehaves; speechbrain and
transformers' audio code import torchaudio too. :func:`check_torchaudio` reads both versions
from the installed metadata (nothing is imported) and names them in one error instead.
"""

from __future__ import annotations

import functools
import re
from importlib import metadata

from bench.errors import BenchError


def release(version: str) -> tuple[int, int]:
    """``(major, minor)`` of a version string; local labels and patch levels are ignored.

    >>> release("2.9.1+cu128"), release("2.11.0rc1")
    ((2, 9), (2, 11))
    """
    found = re.match(r"(\d+)\.(\d+)", version)
    if found is None:
        raise BenchError(f"cannot read a release from the version {version!r}")
    return int(found[1]), int(found[2])


def mismatch(torch_version: str, torchaudio_version: str) -> str | None:
    """Why this pair cannot work together, or None when torch and torchaudio share their
    major.minor release.

    >>> mismatch("2.9.1+cu128", "2.9.1") is None
    True
    >>> print(mismatch("2.10.0", "2.9.1"))
    torchaudio 2.9.1 is built for torch 2.9, but torch 2.10.0 is installed: install a \
matching pair, e.g. pip install "torch==2.9.*" "torchaudio==2.9.*"
    """
    wanted = release(torchaudio_version)
    if release(torch_version) == wanted:
        return None
    pair = f"{wanted[0]}.{wanted[1]}"
    return (
        f"torchaudio {torchaudio_version} is built for torch {pair}, but torch "
        f"{torch_version} is installed: install a matching pair, e.g. pip install "
        f'"torch=={pair}.*" "torchaudio=={pair}.*"'
    )


@functools.cache
def check_torchaudio() -> None:
    """Raise before torchaudio is imported if its release differs from torch's.

    Nothing is checked where either package is missing: the import that follows says so.

    Raises:
        BenchError: torch and torchaudio of different releases, both versions named.
    """
    try:
        versions = metadata.version("torch"), metadata.version("torchaudio")
    except metadata.PackageNotFoundError:
        return
    problem = mismatch(*versions)
    if problem:
        raise BenchError(problem)
