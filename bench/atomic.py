"""Crash-safe stores: a file is either its old complete self or its new complete self; a
record that does not parse is moved aside, never deleted; a folder is written by one
process at a time."""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from bench.errors import BenchError

LOCK_FILE = ".lock"
TEMPORARY = ".{name}.tmp-{pid}"  # atomic_write's sibling of <name>, written by process <pid>


class Busy(BenchError):
    """Another process holds the lock of a folder."""


Record = TypeVar("Record")
log = logging.getLogger(__name__)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(handle)`` on a hidden temporary sibling of ``path``, flush it to disk,
    then rename it into place (``os.replace`` is atomic on one filesystem)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(TEMPORARY.format(name=path.name, pid=os.getpid()))
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def move_aside(path: Path, reason: str) -> None:
    """Rename a bad record to ``<name>.corrupt-<time>`` (never delete it), with a warning."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:  # another reader moved it first
        return
    except OSError as exc:
        log.warning("%s: %s; it counts as missing (could not move it aside: %s)",
                    path, reason, exc.strerror or exc)  # fmt: skip
        return
    log.warning("%s: %s; moved to %s, it counts as missing and reruns", path, reason, aside.name)


def keep_previous(folder: Path, names: Iterable[str], label: str = "replaced") -> Path | None:
    """Move the entries ``names`` (files or folders) that exist in ``folder`` into a new
    subfolder ``<label>-<time>`` of it, so a new result never overwrites an old one without a
    copy. Returns that subfolder, or None when none of them existed."""
    present = [folder / name for name in names if (folder / name).exists()]
    if not present:
        return None
    aside = folder / f"{label}-{datetime.now().strftime('%Y%m%dT%H%M%S%f')}"
    aside.mkdir(parents=True)
    for path in present:
        os.replace(path, aside / path.name)
    return aside


def read_json(path: Path, parse: Callable[[Any], Record], what: str) -> Record | None:
    """``parse`` of the JSON in ``path``; None when there is no file. A file that is not
    UTF-8 JSON, or that ``parse`` refuses with ``BenchError``, is moved aside
    (:func:`move_aside`, naming it a corrupt ``what``) and counts as missing."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, OSError) as exc:
        move_aside(path, f"unreadable {what} ({exc})")
        return None
    try:
        return parse(json.loads(text))
    except json.JSONDecodeError as exc:
        move_aside(path, f"corrupt {what} (not JSON: {exc})")
    except BenchError as exc:
        move_aside(path, f"corrupt {what} ({exc})")
    return None


def write_json(path: Path, values: Any) -> None:
    """``values`` as indented JSON, atomically."""
    text = json.dumps(values, indent=2, sort_keys=True, default=str)
    atomic_write(path, lambda f: f.write(text.encode()))


@contextmanager
def lock_folder(folder: Path, busy: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (created if needed) while the block runs.

    The lock is an OS file lock: it is released when the holder exits, even by SIGKILL.
    Only the holder writes in ``folder``, so the temporary files of :func:`atomic_write`
    found there once the lock is held are a killed holder's, and are removed.

    Raises:
        Busy: with the message ``busy``, when another process holds it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise Busy(busy) from exc
        for orphan in folder.glob(TEMPORARY.format(name="*", pid="*")):
            orphan.unlink(missing_ok=True)
        yield
