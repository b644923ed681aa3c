"""Where an extractor's weights come from: a local folder, the Hugging Face cache, or the hub.

A model is named by a folder or a hub id. :func:`locate` turns it into a folder to load
with no network access (the folder itself, or the cached snapshot holding every file the
loader reads), or says why it cannot be loaded. Only a hub id that is not cached costs a
request: one metadata lookup with a short timeout, never the loaders' retries (a minute
per model when the hub cannot be reached). :func:`check_models` runs this for every role
before any extraction starts, so a user without network learns every key to set at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError

PROBE_SECONDS = 10.0
"""Timeout of the one request asking the hub whether an uncached model exists."""


@dataclass(frozen=True)
class HubModel:
    """A model an extractor loads and the files its loader reads.

    Attributes:
        model: a local folder or a Hugging Face hub id (``org/name``).
        files: each entry is a tuple of alternatives, one of which must be present
            (e.g. ``("model.safetensors", "pytorch_model.bin")``).
    """

    model: str
    files: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Located:
    """The outcome of :func:`locate`: a folder to load offline, the hub id, or a problem."""

    folder: Path | None = None
    hub_id: str | None = None
    problem: str | None = None


def missing_files(folder: Path, files: tuple[tuple[str, ...], ...]) -> list[str]:
    """The entries of ``files`` with no alternative present in ``folder`` (``a or b``)."""
    return [
        " or ".join(choices)
        for choices in files
        if not any((folder / name).is_file() for name in choices)
    ]


def cached_snapshot(hub_id: str, files: tuple[tuple[str, ...], ...]) -> Path | None:
    """The snapshot folder of ``hub_id``'s ``main`` revision in the local Hugging Face cache
    when it holds every entry of ``files``, else None. Reads the cache only."""
    from huggingface_hub import try_to_load_from_cache

    snapshots = set()
    for choices in files:
        found = [try_to_load_from_cache(hub_id, name) for name in choices]
        paths = [Path(p) for p in found if isinstance(p, str)]
        if not paths:
            return None
        snapshots.add(paths[0].parent)
    return snapshots.pop() if len(snapshots) == 1 else None


def probe_hub(hub_id: str) -> str | None:
    """None when the hub answers that ``hub_id`` exists, else why it cannot be downloaded.

    One request with a :data:`PROBE_SECONDS` timeout and no retries.
    """
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        huggingface_hub.model_info(hub_id, timeout=PROBE_SECONDS)
    except RepositoryNotFoundError:
        return "is not on the Hugging Face hub (or is private or gated: log in first)"
    except Exception as exc:  # whatever the transport raises: DNS, refused, timeout, proxy
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        return f"is not in the Hugging Face cache and the hub cannot be reached ({reason})"
    return None


def locate(model: HubModel) -> Located:
    """Where to load ``model`` from: a folder (offline), the hub id (download), or why not.

    A folder must hold every file the loader reads. A hub id is looked up in the cache,
    then (unless ``HF_HUB_OFFLINE`` is set) asked of the hub once, see :func:`probe_hub`.
    A problem reads after the model's name: ``'org/name' is not in the ...``.
    """
    from huggingface_hub import constants
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    folder = Path(model.model).expanduser()
    if folder.is_dir():
        missing = missing_files(folder, model.files)
        if missing:
            return Located(problem=f"is a folder without {', '.join(missing)}")
        return Located(folder=folder.resolve())
    try:
        validate_repo_id(model.model)
    except HFValidationError:
        return Located(problem="is neither a folder nor a hub id")
    snapshot = cached_snapshot(model.model, model.files)
    if snapshot is not None:
        return Located(folder=snapshot)
    if constants.HF_HUB_OFFLINE:
        return Located(problem="is not in the Hugging Face cache and HF_HUB_OFFLINE is set")
    problem = probe_hub(model.model)
    return Located(problem=problem) if problem else Located(hub_id=model.model)


def load_source(model: HubModel, loader: str) -> tuple[str, bool]:
    """What to pass ``loader``'s ``from_pretrained``-style call, and whether it is a local
    folder (then the loader must not touch the network).

    Raises:
        BenchError: the model cannot be loaded (see :func:`locate`).
    """
    located = locate(model)
    if located.problem:
        raise BenchError(f"cannot load the {loader} model {model.model!r}: it {located.problem}")
    if located.folder is not None:
        return str(located.folder), True
    return model.model, False


def check_models(models: Mapping[str, HubModel]) -> None:
    """Check that every model can be loaded before any is; ``models`` maps config keys
    (``features.speech.model``) to models.

    Raises:
        BenchError: one message naming every model that cannot be loaded and its key.
    """
    problems = {key: locate(model).problem for key, model in models.items()}
    failed = [
        f"{key} {models[key].model!r} {problem}" for key, problem in problems.items() if problem
    ]
    if failed:
        settings = " ".join(f"{key}=/local/folder" for key, problem in problems.items() if problem)
        raise BenchError(
            f"cannot load {len(failed)} model(s): {'; '.join(failed)}. Set {settings} "
            "(a folder holding the downloaded model), or download the models while online"
        )
