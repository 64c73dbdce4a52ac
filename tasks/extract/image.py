"""Images dropped directly (a phone photo of a memo, a page scanned to PNG/JPEG/TIFF): OCR.

The file's first bytes must match its suffix's format (a renamed file is corrupt, not an
image); the OCR child (`ocr.run_ocr`) then decodes it under Pillow's pixel bound (a
decompression bomb is refused) and its own time and memory bounds. `.heic` / `.heif` (what
iPhones save) is decoded by pillow-heif, a wheel that bundles libheif.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import Refusal
from core.models import ExtractedDocument, RefusalKind
from core.settings import IntakeSettings
from tasks.extract.ocr import ocr_document
from tasks.extract.peek import read_head

_MAGIC: dict[str, tuple[bytes, ...]] = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".tif": (b"II*\x00", b"MM\x00*"),
    ".tiff": (b"II*\x00", b"MM\x00*"),
    ".heic": (),
    ".heif": (),
}
# An ISO media file: a box size, "ftyp", then the brand of a HEIF still image.
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc", b"hevx")


def _check_magic(path: Path, suffix: str) -> None:
    head = read_head(path, 16)
    if suffix in (".heic", ".heif"):
        if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
            return
    elif head.startswith(_MAGIC[suffix]):
        return
    raise Refusal(RefusalKind.CORRUPT, f"not a {suffix} image (starts with {head[:12]!r})")


class _ImageReader:
    source_type = "image"
    suffixes = frozenset(_MAGIC)
    # OCR runs in a bounded child of its own: the document's thread waits for it.
    in_child = True

    def read(self, path: Path, limits: IntakeSettings) -> ExtractedDocument:
        _check_magic(path, path.suffix.lower())
        return ocr_document("image", path, limits, self.source_type)


READER = _ImageReader()
