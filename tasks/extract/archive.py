"""Office archive checks: refuse OLE files, broken zips and zip bombs before any parser runs.

Only the zip's central directory is read (no member is extracted), so a few KB that would
inflate to GBs cost nothing. Office formats (.docx, .xlsx, .pptx) call `check_office_zip`:
`check_zip`, then their own main part among the member names it returns.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from core.errors import Refusal
from core.models import RefusalKind
from core.settings import IntakeSettings
from tasks.extract.base import MB
from tasks.extract.peek import file_contains, read_head, read_tail

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_ZIP_END_RECORD = b"PK\x05\x06"
# The end record is 22 bytes plus a comment of at most 64 KiB, so it must lie in this tail.
_ZIP_TAIL = 22 + 65535
# Small members compress well by nature (styles, repeated table XML); the ratio only
# signals a bomb when the member is big enough to hurt.
_ZIP_RATIO_MIN_MEMBER = 1 * MB
# Each Office format's main part, and the name a refusal gives the format.
_MAIN_PARTS = {
    "word/document.xml": "Word",
    "xl/workbook.xml": "Excel",
    "ppt/presentation.xml": "PowerPoint",
}


def refuse_ole(path: Path, legacy_stream: str, legacy_suffix: str) -> Refusal:
    """The Refusal for an OLE compound file where an Office zip was expected.

    Office stores a password-protected file as an OLE compound file holding
    "EncryptedPackage". A legacy binary file renamed (a .doc as .docx) is OLE too, but holds
    its format's main stream (`legacy_stream`, "WordDocument" for Word).
    """
    encrypted = file_contains(path, "EncryptedPackage".encode("utf-16-le"))
    if not encrypted and file_contains(path, legacy_stream.encode("utf-16-le")):
        return Refusal(
            RefusalKind.UNSUPPORTED_TYPE,
            f"OLE compound file with {legacy_stream}: legacy {legacy_suffix}",
        )
    return Refusal(RefusalKind.ENCRYPTED, "OLE compound file (password-protected Office file)")


def check_zip(
    path: Path, limits: IntakeSettings, *, legacy_stream: str, legacy_suffix: str
) -> frozenset[str]:
    """The archive's member names, or Refusal when it is OLE, broken or bomb-like."""
    head = read_head(path, 8)
    if head.startswith(OLE_MAGIC):
        raise refuse_ole(path, legacy_stream, legacy_suffix)
    if not head.startswith(b"PK"):
        raise Refusal(RefusalKind.CORRUPT, f"not a zip archive (starts with {head[:4]!r})")
    infos = _central_directory(path, head)
    _check_sizes(infos, limits)
    return frozenset(i.filename for i in infos)


def check_office_zip(
    path: Path,
    limits: IntakeSettings,
    *,
    main_part: str,
    legacy_stream: str,
    legacy_suffix: str,
    suffix_label: str,
) -> None:
    """`check_zip`, then Refusal unless the archive holds `main_part` (another Office format's
    archive under this suffix is an unsupported type, no main part at all is corrupt)."""
    names = check_zip(path, limits, legacy_stream=legacy_stream, legacy_suffix=legacy_suffix)
    if main_part in names:
        return
    others = [part for part in _MAIN_PARTS if part != main_part]
    if any(part in names for part in others):
        formats = "/".join(_MAIN_PARTS[part] for part in others)
        raise Refusal(RefusalKind.UNSUPPORTED_TYPE, f"{formats} archive with {suffix_label}")
    raise Refusal(RefusalKind.CORRUPT, f"zip has no {main_part}")


def _central_directory(path: Path, head: bytes) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as e:
        cut = head.startswith(_ZIP_LOCAL_HEADER) and _ZIP_END_RECORD not in read_tail(
            path, _ZIP_TAIL
        )
        kind = RefusalKind.TRUNCATED if cut else RefusalKind.CORRUPT
        detail = f"{type(e).__name__}: {e}"
        if cut:
            detail += " (zip has no end-of-central-directory record: file was cut short)"
        raise Refusal(kind, detail) from e


def _check_sizes(infos: list[zipfile.ZipInfo], limits: IntakeSettings) -> None:
    total = sum(i.file_size for i in infos)
    if total > limits.zip_max_total_mb * MB:
        raise Refusal(
            RefusalKind.ZIP_BOMB,
            f"members expand to {total} bytes, limit zip_max_total_mb={limits.zip_max_total_mb}",
        )
    for info in infos:
        if info.file_size < _ZIP_RATIO_MIN_MEMBER:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.zip_max_ratio:
            raise Refusal(
                RefusalKind.ZIP_BOMB,
                f"member {info.filename!r} ratio {ratio:.0f} "
                f"({info.compress_size} -> {info.file_size} bytes), "
                f"limit zip_max_ratio={limits.zip_max_ratio}",
            )
