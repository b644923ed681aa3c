"""Text files of a corpus (manifests, label files), decoded as UTF-8 or refused by line."""

from __future__ import annotations

from pathlib import Path

from bench.errors import InputError


def read_text(path: Path) -> str:
    """The whole file decoded as UTF-8; a leading byte order mark is dropped.

    Raises:
        InputError: a byte sequence that is not UTF-8, naming the file and the line of its
            first bad byte (lines end at ``\\n``, ``\\r\\n`` or ``\\r``), so the user can find
            and re-save it.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        before = data[:offset]
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        column = offset - max(before.rfind(b"\n"), before.rfind(b"\r"))
        raise InputError(
            f"not UTF-8 text: byte 0x{data[offset]:02x} (byte {column} of the line); "
            "save the file as UTF-8",
            path=path,
            line=line,
        ) from exc
