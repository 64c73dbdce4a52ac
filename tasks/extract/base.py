"""The contract every reader keeps, so `extract_text` can pick one from the registry by suffix.

A reader turns one file of its format into an `ExtractedDocument` or raises `Refusal`. It may
import `core` and this package's helpers (`cleaning`, `peek`, `archive`); parser libraries are
imported inside `read` (see the package docstring for why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from core.models import ExtractedDocument
from core.settings import IntakeSettings

MB = 1024 * 1024


class Reader(Protocol):
    """One file format: what it is called, which suffixes it claims, and how it is read."""

    @property
    def source_type(self) -> str:
        """`ExtractedDocument.source_type` of what it reads ("docx", "pdf", "txt", ...)."""
        ...

    @property
    def suffixes(self) -> frozenset[str]:
        """The suffixes it reads, lower-case, with the dot."""
        ...

    @property
    def in_child(self) -> bool:
        """True when it bounds itself in a child process (PDF): the document's thread reads
        it, and only the text goes to a worker process."""
        ...

    def read(self, path: Path, limits: IntakeSettings) -> ExtractedDocument:
        """The text of `path` in reading order, or raise Refusal. Size and emptiness are
        already checked; the text is cleaned after."""
        ...
