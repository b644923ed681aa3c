"""Errors that the command line reports as one clear message instead of a traceback."""

from __future__ import annotations

from pathlib import Path


class BenchError(Exception):
    """A problem with the user's input or configuration, reported without a traceback."""


class InputError(BenchError):
    """Bad input data, located by file and (where it applies) line number.

    >>> str(InputError("bad label", path="a.txt", line=3))
    'a.txt:3: bad label'
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        where = self.path or ""
        if where and line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}" if where else message)
