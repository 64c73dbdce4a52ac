"""Plain text (.txt) and Markdown (.md): bytes decoded in a fixed order of Japanese encodings.

Bounded by the size check `extract_text` makes before reading; the file is read whole. Binary
content (NUL bytes without a UTF-16/32 BOM, a Windows executable) and mostly-garbage results are
refused as ENCODING.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import Refusal
from core.models import ExtractedDocument, RefusalKind
from core.settings import IntakeSettings
from tasks.extract.cleaning import looks_garbled

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one.
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _oddness(text: str) -> int:
    """Half-width katakana and private-use characters: the shape of EUC-JP read as cp932."""
    return sum(1 for ch in text if "\uff61" <= ch <= "\uff9f" or "\ue000" <= ch <= "\uf8ff")


def _decode_with_bom(data: bytes) -> tuple[str, str] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding.replace("-sig", ""), errors="strict")
            except UnicodeDecodeError as e:
                raise Refusal(RefusalKind.ENCODING, f"{encoding} BOM but {e}") from e
            return text, encoding
    return None


def _decode_japanese(data: bytes) -> tuple[str, str]:
    candidates: list[tuple[str, str]] = []
    errors: list[str] = []
    for encoding in ("cp932", "euc-jp"):
        try:
            candidates.append((data.decode(encoding, errors="strict"), encoding))
        except UnicodeDecodeError as e:
            errors.append(f"{encoding}: {e}")
    if not candidates:
        raise Refusal(
            RefusalKind.ENCODING, "not UTF-8, cp932 or EUC-JP; " + "; ".join(errors)[:500]
        )
    # min() keeps the first of equals, so cp932 wins ties as the fixed order says.
    return min(candidates, key=lambda c: _oddness(c[0]))


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes in a fixed order (BOM, UTF-8, cp932, EUC-JP); return (text, encoding).

    Charset detectors mistake cp932 for gb18030, hence a fixed order. One exception to the
    order: EUC-JP bytes often also decode as cp932 (into half-width kana and private-use
    characters), so when both decode, the one with fewer such characters wins.
    """
    with_bom = _decode_with_bom(data)
    if with_bom is not None:
        return with_bom
    if b"\x00" in data:
        raise Refusal(RefusalKind.ENCODING, "NUL bytes without a UTF-16/32 BOM: binary content")
    if data.startswith(b"MZ"):
        raise Refusal(RefusalKind.ENCODING, "starts with MZ: a Windows executable, not text")
    try:
        return data.decode("utf-8", errors="strict"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _decode_japanese(data)


@dataclass(frozen=True)
class PlainTextReader:
    """One plain-text format; .txt and .md differ only in the source type they report."""

    source_type: str
    suffixes: frozenset[str]
    in_child: bool = False

    def read(self, path: Path, limits: IntakeSettings) -> ExtractedDocument:
        data = path.read_bytes()
        text, encoding = decode_text(data)
        reason = looks_garbled(text, check_letters=False)
        if reason:
            raise Refusal(RefusalKind.ENCODING, f"{reason} (decoded as {encoding})")
        return ExtractedDocument(text=text, source_type=self.source_type, encoding=encoding)


TXT_READER = PlainTextReader("txt", frozenset({".txt"}))
MD_READER = PlainTextReader("md", frozenset({".md"}))
