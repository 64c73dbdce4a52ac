"""Extraction step: turn one dropped file into plain text in reading order, or refuse it.

One reader per format (`docx`, `pptx`, `xlsx`, `pdf`, `text`, `mail`, `image`) keeps the
contract in `base.Reader`; `registry.READERS` lists them and picks one by suffix. `extract_text`
makes the checks every format shares (supported, size, empty, a parser's unexpected exception
-> CORRUPT, cleaning, visible text left). Shared helpers: `cleaning` (text), `peek` (head/tail/marker reads),
`archive` (Office zip checks, OLE refusal).

To add a format: write `tasks/extract/<format>.py` with a `READER` that has `source_type`,
`suffixes`, `in_child` and `read(path, limits)`, add it to `registry.READERS`, and give it
tests in `tests/tasks/extract/`. The flows pick it up from `SUPPORTED_SUFFIXES`.

Imports `core` only (and its own modules). Parser libraries are imported inside the readers'
functions because the CLI imports this package on every start.

Every way a file can be bad ends as `Refusal(kind, detail)`: the kind picks the Japanese
reason the employee reads, the detail is for IT. OSError from opening the file itself
(vanished, locked, no permission) is deliberately not turned into a Refusal: that is a state
of the share, not of the file, and the next run retries.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import EngineUnavailable, Refusal
from core.models import ExtractedDocument, RefusalKind
from core.settings import IntakeSettings
from tasks.extract.base import MB, Reader
from tasks.extract.cleaning import clean_text, garbage_ratio, has_visible_text
from tasks.extract.registry import READ_IN_CHILD, READERS, SUPPORTED_SUFFIXES, reader_for
from tasks.extract.text import decode_text

__all__ = [
    "READERS",
    "READ_IN_CHILD",
    "SUPPORTED_SUFFIXES",
    "Reader",
    "clean_text",
    "decode_text",
    "extract_text",
    "garbage_ratio",
    "reader_for",
]


def extract_text(path: Path, limits: IntakeSettings) -> ExtractedDocument:
    """Read `path` (chosen by suffix, checked by content) into text, or raise Refusal."""
    suffix = path.suffix.lower()
    reader = reader_for(suffix)
    if reader is None:
        raise Refusal(RefusalKind.UNSUPPORTED_TYPE, f"suffix {suffix or '(none)'!r} not supported")
    _check_size(path, limits)
    try:
        doc = reader.read(path, limits)
    # A missing reader (no OCR engine) leaves the file pending: not the file's fault.
    except (Refusal, EngineUnavailable, FileNotFoundError, PermissionError):
        raise
    except Exception as e:  # a parser failing on a bad file must not crash the batch
        raise Refusal(RefusalKind.CORRUPT, repr(e)[:2000]) from e
    doc.text = clean_text(doc.text)
    if not has_visible_text(doc.text):
        raise Refusal(RefusalKind.EMPTY, f"no visible text after extraction ({doc.source_type})")
    return doc


def _check_size(path: Path, limits: IntakeSettings) -> None:
    size = path.stat().st_size
    if size == 0:
        raise Refusal(RefusalKind.EMPTY, "file is 0 bytes")
    if size > limits.max_file_mb * MB:
        raise Refusal(
            RefusalKind.TOO_LARGE, f"file is {size} bytes, limit max_file_mb={limits.max_file_mb}"
        )
