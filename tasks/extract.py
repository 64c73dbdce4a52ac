"""Extraction step: turn one dropped file into plain text in reading order, or refuse it.

Every way a file can be bad ends as `Refusal(kind, detail)`: the kind picks the Japanese
reason the employee reads, the detail is for IT. Parser libraries are imported inside the
functions that use them because the CLI imports this module on every start.

OSError from opening the file itself (vanished, locked, no permission) is deliberately not
turned into a Refusal: that is a state of the share, not of the file, and the next run retries.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import unicodedata
import zipfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from core.errors import Refusal
from core.models import ExtractedDocument, RefusalKind
from core.processes import process_context
from core.settings import IntakeSettings

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".docx", ".pdf", ".txt", ".md"})
# Parsed in a child process of their own (memory-bounded), so reading them costs the caller
# no CPU: the pipeline reads these on its thread and hands only the text to the CPU workers.
READ_IN_CHILD: frozenset[str] = frozenset({".pdf"})

_MB = 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_ZIP_END_RECORD = b"PK\x05\x06"
# The end record is 22 bytes plus a comment of at most 64 KiB, so it must lie in this tail.
_ZIP_TAIL = 22 + 65535
# Small members compress well by nature (styles, repeated table XML); the ratio only
# signals a bomb when the member is big enough to hurt.
_ZIP_RATIO_MIN_MEMBER = 1 * _MB
# Under this many visible characters per page on average, a PDF with images is a scan.
_SCANNED_CHARS_PER_PAGE = 20

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def extract_text(path: Path, limits: IntakeSettings) -> ExtractedDocument:
    """Read `path` (chosen by suffix, checked by content) into text, or raise Refusal."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise Refusal(RefusalKind.UNSUPPORTED_TYPE, f"suffix {suffix or '(none)'!r} not supported")
    size = path.stat().st_size
    if size == 0:
        raise Refusal(RefusalKind.EMPTY, "file is 0 bytes")
    if size > limits.max_file_mb * _MB:
        raise Refusal(
            RefusalKind.TOO_LARGE, f"file is {size} bytes, limit max_file_mb={limits.max_file_mb}"
        )
    try:
        if suffix == ".docx":
            doc = _extract_docx(path, limits)
        elif suffix == ".pdf":
            doc = _extract_pdf(path, limits)
        else:
            doc = _extract_plain(path, suffix.lstrip("."))
    except (Refusal, FileNotFoundError, PermissionError):
        raise
    except Exception as e:  # a parser failing on a bad file must not crash the batch
        raise Refusal(RefusalKind.CORRUPT, repr(e)[:2000]) from e
    doc.text = clean_text(doc.text)
    if not _has_visible_text(doc.text):
        raise Refusal(RefusalKind.EMPTY, f"no visible text after extraction ({doc.source_type})")
    return doc


# --------------------------------------------------------------------------- text cleaning

# C0 controls except \t and \n, DEL, C1 controls, lone surrogates, and the XML non-characters:
# lxml refuses most of these when the draft .docx is written, and none carry meaning.
_BAD_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """Normalise newlines, drop control characters, NFC-normalise and trim."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    text = _BAD_CHARS.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _has_visible_text(text: str) -> bool:
    # Full-width space U+3000 is whitespace to str.isspace, so this covers Japanese blanks too.
    return any(not ch.isspace() for ch in text)


def _is_bad_char(ch: str) -> bool:
    o = ord(ch)
    if ch in "\n\t\r\f":
        return False
    return (
        o < 0x20
        or 0x7F <= o <= 0x9F
        or o == 0xFFFD
        or 0xE000 <= o <= 0xF8FF
        or o >= 0xF0000
        or 0xD800 <= o <= 0xDFFF
    )


def _is_readable_char(ch: str) -> bool:
    o = ord(ch)
    if o < 0x80:
        return ch.isalnum()
    return (
        0x3040 <= o <= 0x30FF  # kana
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF  # CJK ideographs
        or 0xFF10 <= o <= 0xFF5A  # full-width alphanumerics
        or 0xFF66 <= o <= 0xFF9F  # half-width katakana
        or 0xAC00 <= o <= 0xD7A3  # hangul
        or (o < 0x250 and ch.isalpha())  # Latin with accents
    )


def garbage_ratio(text: str) -> tuple[float, float]:
    """(share of unreadable characters, share of letters) among the non-space characters."""
    # Not str.isspace: it counts some control characters as space, and those are the signal.
    chars = [ch for ch in text if ch not in " \t\n\r\u3000"]
    if not chars:
        return 0.0, 1.0
    bad = sum(1 for ch in chars if _is_bad_char(ch))
    good = sum(1 for ch in chars if _is_readable_char(ch))
    return bad / len(chars), good / len(chars)


def _looks_garbled(text: str, *, check_letters: bool) -> str | None:
    """A reason when the text is mostly mojibake (broken PDF CMaps, binary read as text)."""
    bad, good = garbage_ratio(text)
    visible = sum(1 for ch in text if not ch.isspace())
    if visible >= 10 and bad > 0.10:
        return f"garbled text layer: {bad:.0%} replacement/private-use/control characters"
    if check_letters and visible >= 50 and good < 0.30:
        return f"garbled text layer: only {good:.0%} letters (CJK/kana/Latin/digits)"
    return None


# --------------------------------------------------------------------------- .txt / .md

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


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes in a fixed order (BOM, UTF-8, cp932, EUC-JP); return (text, encoding).

    Charset detectors mistake cp932 for gb18030, hence a fixed order. One exception to the
    order: EUC-JP bytes often also decode as cp932 (into half-width kana and private-use
    characters), so when both decode, the one with fewer such characters wins.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding.replace("-sig", ""), errors="strict")
            except UnicodeDecodeError as e:
                raise Refusal(RefusalKind.ENCODING, f"{encoding} BOM but {e}") from e
            return text, encoding
    if b"\x00" in data:
        raise Refusal(RefusalKind.ENCODING, "NUL bytes without a UTF-16/32 BOM: binary content")
    if data.startswith(b"MZ"):
        raise Refusal(RefusalKind.ENCODING, "starts with MZ: a Windows executable, not text")
    try:
        return data.decode("utf-8", errors="strict"), "utf-8"
    except UnicodeDecodeError:
        pass
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


def _extract_plain(path: Path, source_type: str) -> ExtractedDocument:
    data = path.read_bytes()
    text, encoding = decode_text(data)
    reason = _looks_garbled(text, check_letters=False)
    if reason:
        raise Refusal(RefusalKind.ENCODING, f"{reason} (decoded as {encoding})")
    return ExtractedDocument(text=text, source_type=source_type, encoding=encoding)


# --------------------------------------------------------------------------- .docx


def _read_head(path: Path, n: int = 1024) -> bytes:
    with path.open("rb") as f:
        return f.read(n)


def _read_tail(path: Path, n: int) -> bytes:
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - n))
        return f.read()


def _file_contains(path: Path, needle: bytes, chunk: int = 4 * _MB) -> bool:
    with path.open("rb") as f:
        prev = b""
        while block := f.read(chunk):
            if needle in prev + block:
                return True
            prev = block[-len(needle) :]
    return False


def _refuse_ole(path: Path) -> Refusal:
    # Word stores a password-protected .docx as an OLE compound file holding
    # "EncryptedPackage". A legacy .doc renamed to .docx is OLE too but has "WordDocument".
    encrypted = _file_contains(path, "EncryptedPackage".encode("utf-16-le"))
    if not encrypted and _file_contains(path, "WordDocument".encode("utf-16-le")):
        return Refusal(
            RefusalKind.UNSUPPORTED_TYPE, "OLE compound file with WordDocument: legacy .doc"
        )
    return Refusal(RefusalKind.ENCRYPTED, "OLE compound file (password-protected Office file)")


def _check_zip(path: Path, limits: IntakeSettings) -> None:
    """Refuse broken or bomb-like archives using only the central directory (no extraction)."""
    head = _read_head(path, 8)
    if head.startswith(_OLE_MAGIC):
        raise _refuse_ole(path)
    if not head.startswith(b"PK"):
        raise Refusal(RefusalKind.CORRUPT, f"not a zip archive (starts with {head[:4]!r})")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as e:
        cut = head.startswith(_ZIP_LOCAL_HEADER) and _ZIP_END_RECORD not in _read_tail(
            path, _ZIP_TAIL
        )
        kind = RefusalKind.TRUNCATED if cut else RefusalKind.CORRUPT
        detail = f"{type(e).__name__}: {e}"
        if cut:
            detail += " (zip has no end-of-central-directory record: file was cut short)"
        raise Refusal(kind, detail) from e
    total = sum(i.file_size for i in infos)
    if total > limits.zip_max_total_mb * _MB:
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
    names = {i.filename for i in infos}
    if "word/document.xml" not in names:
        if "xl/workbook.xml" in names or "ppt/presentation.xml" in names:
            raise Refusal(
                RefusalKind.UNSUPPORTED_TYPE, "Excel/PowerPoint archive with a .docx suffix"
            )
        raise Refusal(RefusalKind.CORRUPT, "zip has no word/document.xml")


def _paragraph_text(p: Any) -> tuple[str, list[Any]]:
    """Text of one w:p, plus the text boxes anchored in it (read as separate blocks)."""
    parts: list[str] = []
    boxes: list[Any] = []
    stack = [p]
    while stack:
        el = stack.pop()
        tag = el.tag
        if not isinstance(tag, str):  # comments, processing instructions
            continue
        if tag == _W + "txbxContent":
            boxes.append(el)
            continue
        # Word writes each text box twice (DrawingML and a VML fallback); deleted
        # tracked changes are not part of the current text.
        if tag in (_MC_FALLBACK, _W + "del", _W + "pPr", _W + "rPr"):
            continue
        if tag == _W + "t":
            parts.append(el.text or "")
        elif tag == _W + "tab":
            parts.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            parts.append("\n")
        elif tag == _W + "noBreakHyphen":
            parts.append("-")
        stack.extend(reversed(el))
    return "".join(parts), boxes


def _children(el: Any, tag: str) -> list[Any]:
    """Direct `tag` children, looking through content controls (w:sdt) that wrap them."""
    found: list[Any] = []
    for child in el:
        if child.tag == _W + tag:
            found.append(child)
        elif child.tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                found.extend(_children(content, tag))
    return found


def _table_lines(tbl: Any) -> list[str]:
    lines: list[str] = []
    for tr in _children(tbl, "tr"):
        # One line per row; a cell's paragraphs and nested tables are flattened into it.
        texts = [" ".join(" ".join(_block_lines(tc)).split()) for tc in _children(tr, "tc")]
        if any(texts):
            lines.append(" | ".join(texts))
    return lines


def _block_lines(container: Any) -> list[str]:
    """Paragraphs and tables of a body, cell, header or text box, in document order."""
    lines: list[str] = []
    for child in container:
        tag = child.tag
        if tag == _W + "p":
            text, boxes = _paragraph_text(child)
            if text.strip():
                lines.append(text)
            for box in boxes:
                lines.extend(_block_lines(box))
        elif tag == _W + "tbl":
            lines.extend(_table_lines(child))
        elif tag in (_W + "sdt", _W + "customXml", _W + "smartTag"):
            content = child.find(_W + "sdtContent") if tag == _W + "sdt" else child
            if content is not None:
                lines.extend(_block_lines(content))
        elif tag in (_W + "ins", _W + "moveTo"):
            lines.extend(_block_lines(child))
    return lines


def _header_footer_lines(doc: Any) -> tuple[list[str], list[str]]:
    headers: list[str] = []
    footers: list[str] = []
    for section in doc.sections:
        for target, parts in (
            (headers, (section.first_page_header, section.header, section.even_page_header)),
            (footers, (section.first_page_footer, section.footer, section.even_page_footer)),
        ):
            for part in parts:
                # A linked part has no definition of its own; touching it would create one.
                if part.is_linked_to_previous:
                    continue
                for line in _block_lines(part._element):
                    if line not in target:
                        target.append(line)
    return headers, footers


def _extract_docx(path: Path, limits: IntakeSettings) -> ExtractedDocument:
    _check_zip(path, limits)
    import docx
    from lxml import etree

    try:
        doc = docx.Document(str(path))
        body = _block_lines(doc.element.body)
        headers, footers = _header_footer_lines(doc)
    except (KeyError, etree.LxmlError, zipfile.BadZipFile) as e:
        raise Refusal(RefusalKind.CORRUPT, f"{type(e).__name__}: {e}") from e
    except ValueError as e:
        # python-docx says "... is not a Word file, content type is ..." for other packages.
        raise Refusal(RefusalKind.CORRUPT, f"ValueError: {e}") from e
    text = "\n".join([*headers, *body, *footers])
    return ExtractedDocument(text=text, source_type="docx")


# --------------------------------------------------------------------------- .pdf


def _page_has_images(page: Any) -> bool:
    try:
        return len(page.images) > 0
    except Exception:
        return False


def _pdf_worker(path: str, max_pages: int, memory_mb: int, conn: Connection) -> None:
    """Runs in the child: parse the PDF and send one tagged tuple back."""
    try:
        import resource

        limit = _address_space() + memory_mb * _MB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        logging.getLogger("pypdf").setLevel(logging.ERROR)
        conn.send(_read_pdf(path, max_pages))
    except MemoryError:
        _send_quietly(conn, ("memory", f"MemoryError under RLIMIT_AS={memory_mb} MB"))
    except BaseException as e:
        _send_quietly(conn, ("error", f"{type(e).__name__}: {e}"[:2000]))
    finally:
        conn.close()


def _address_space() -> int:
    """Bytes this process has mapped now. The reader forks from a server that may hold GiNZA
    (~850 MB mapped, shared, not used here); the bound is on what reading adds to that."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _send_quietly(conn: Connection, message: tuple[Any, ...]) -> None:
    # Out of memory even the report may fail; the parent then sees EOF and says so.
    with contextlib.suppress(Exception):
        conn.send(message)


def _read_pdf(path: str, max_pages: int) -> tuple[Any, ...]:
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as e:
                return ("refuse", "encrypted", f"decrypt failed: {type(e).__name__}: {e}")
            if opened == PasswordType.NOT_DECRYPTED:
                return ("refuse", "encrypted", "needs a user password (empty password failed)")
        count = len(reader.pages)
    except MemoryError:
        raise
    except Exception as e:
        return ("broken", f"{type(e).__name__}: {e}")
    if count > max_pages:
        return ("refuse", "too_large", f"{count} pages, limit pdf_max_pages={max_pages}")
    texts: list[str] = []
    failed: list[int] = []
    first_error = ""
    for i, page in enumerate(reader.pages):
        try:
            texts.append(page.extract_text() or "")
        except MemoryError:
            raise
        except Exception as e:
            failed.append(i + 1)
            texts.append("")
            first_error = first_error or f"page {i + 1}: {type(e).__name__}: {e}"[:500]
    visible = sum(1 for t in texts for ch in t if not ch.isspace())
    scanned = False
    if count and visible / count < _SCANNED_CHARS_PER_PAGE:
        scanned = any(_page_has_images(p) for p in reader.pages)
    return ("ok", texts, failed, first_error, scanned)


def _run_pdf_child(path: Path, limits: IntakeSettings) -> tuple[Any, ...]:
    ctx = process_context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(  # type: ignore[attr-defined]
        target=_pdf_worker,
        args=(str(path), limits.pdf_max_pages, limits.pdf_memory_mb, sender),
        name="teichaku-pdf",
    )
    started = time.monotonic()
    try:
        proc.start()
        sender.close()  # so recv() sees EOF if the child dies without sending
        if not receiver.poll(limits.pdf_timeout_seconds):
            raise Refusal(
                RefusalKind.TIMEOUT,
                f"pypdf did not finish within pdf_timeout_seconds={limits.pdf_timeout_seconds}",
            )
        try:
            return receiver.recv()
        except EOFError:
            proc.join(5)
            raise Refusal(
                RefusalKind.TIMEOUT,
                f"PDF parser process exited (code {proc.exitcode}) without a result after "
                f"{time.monotonic() - started:.1f}s: likely killed at the memory bound "
                f"pdf_memory_mb={limits.pdf_memory_mb} (or it failed to start; see stderr)",
            ) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        receiver.close()
        if proc.exitcode is not None:
            proc.close()


def _extract_pdf(path: Path, limits: IntakeSettings) -> ExtractedDocument:
    head = _read_head(path, 1024)
    if b"%PDF-" not in head:
        raise Refusal(RefusalKind.CORRUPT, f"no %PDF- header (starts with {head[:8]!r})")
    # A cut download loses the trailer; "%%EOF" may sit a little before the end (junk after it).
    cut = b"%%EOF" not in _read_tail(path, 2048)
    if cut and not _file_contains(path, b"%%EOF"):
        raise Refusal(RefusalKind.TRUNCATED, "no %%EOF marker: file was cut short")

    result = _run_pdf_child(path, limits)
    tag = result[0]
    if tag == "memory":
        raise Refusal(RefusalKind.TIMEOUT, f"memory bound exceeded: {result[1]}")
    if tag == "error":
        raise Refusal(RefusalKind.CORRUPT, f"pypdf failed: {result[1]}")
    if tag == "broken":
        kind = RefusalKind.TRUNCATED if cut else RefusalKind.CORRUPT
        raise Refusal(kind, f"cannot read xref/trailer: {result[1]}")
    if tag == "refuse":
        raise Refusal(RefusalKind(result[1]), result[2])

    texts, failed, first_error, scanned = result[1:5]
    pages = len(texts)
    if failed and len(failed) == pages:
        raise Refusal(
            RefusalKind.CORRUPT, f"text extraction failed on all {pages} pages; {first_error}"
        )
    if scanned:
        raise Refusal(RefusalKind.SCANNED, f"{pages} page(s) with images and almost no text layer")
    text = "\n\n".join(texts)
    reason = _looks_garbled(text, check_letters=True)
    if reason:
        raise Refusal(RefusalKind.ENCODING, reason)
    warnings: list[str] = []
    if failed:
        listed = "、".join(str(n) for n in failed[:20])
        warnings.append(
            f"PDFの {listed} ページ目の文字を読み取れませんでした。原本を確認してください。"
        )
    if cut:
        warnings.append("PDFの末尾が欠けている可能性があります。原本と照らして確認してください。")
    return ExtractedDocument(text=text, source_type="pdf", pages=pages, warnings=warnings)
