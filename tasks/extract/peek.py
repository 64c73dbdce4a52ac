"""Looking at a file's bytes without reading it whole: its head, its tail, a marker anywhere."""

from __future__ import annotations

from pathlib import Path

from tasks.extract.base import MB


def read_head(path: Path, n: int = 1024) -> bytes:
    """The first `n` bytes."""
    with path.open("rb") as f:
        return f.read(n)


def read_tail(path: Path, n: int) -> bytes:
    """The last `n` bytes (all of a shorter file)."""
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - n))
        return f.read()


def file_contains(path: Path, needle: bytes, chunk: int = 4 * MB) -> bool:
    """True when `needle` occurs anywhere, read in chunks so a big file costs no memory."""
    with path.open("rb") as f:
        prev = b""
        while block := f.read(chunk):
            if needle in prev + block:
                return True
            prev = block[-len(needle) :]
    return False
