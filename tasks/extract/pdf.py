"""PDF: the text layer, page by page, read by pypdf in a bounded child process.

Bounded three ways, because crafted PDFs have sent pypdf into endless loops and memory
blow-ups: the child gets `intake.pdf_timeout_seconds` per file and is killed after it, its
address space may grow by `intake.pdf_memory_mb` (RLIMIT_AS), and more than
`intake.pdf_max_pages` pages are refused before any text is extracted. The child
(`bounded.run_bounded`, reused) forks from the forkserver (`core.processes`), which has this module and
pypdf preloaded, and reads file after file: a fresh child per file cost ~55 ms of CPU before
its work; one that timed out, ran out of memory or failed is replaced.
Headers and trailers are checked in the parent first (no %PDF-, no %%EOF: cut short).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.errors import Refusal
from core.models import ExtractedDocument, RefusalKind
from core.settings import IntakeSettings
from tasks.extract.bounded import run_bounded
from tasks.extract.cleaning import looks_garbled
from tasks.extract.ocr import ocr_document
from tasks.extract.pdf_layers import PDF_ENCODING_REASON_JA, reread_layer
from tasks.extract.peek import file_contains, read_head, read_tail

# Under this many visible characters per page on average, a PDF with images is a scan.
_SCANNED_CHARS_PER_PAGE = 20


def _page_has_images(page: Any) -> bool:
    try:
        return len(page.images) > 0
    except Exception:
        return False


def _read_pdf(path: str, max_pages: int) -> tuple[Any, ...]:
    """Runs in the bounded child: parse the PDF and return one tagged tuple."""
    # pypdf (~65 ms, -X importtime) is preloaded by the forkserver, so free here; the CLI never pays.
    from pypdf import PasswordType, PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
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
    return run_bounded(
        _read_pdf,
        (str(path), limits.pdf_max_pages),
        timeout=limits.pdf_timeout_seconds,
        memory_mb=limits.pdf_memory_mb,
        what="pypdf",
        setting_names=("pdf_timeout_seconds", "pdf_memory_mb"),
        reuse=True,
    )


def _check_markers(path: Path) -> bool:
    """Refuse a file that is no PDF or was cut short; True when only the tail looks cut."""
    head = read_head(path, 1024)
    if b"%PDF-" not in head:
        raise Refusal(RefusalKind.CORRUPT, f"no %PDF- header (starts with {head[:8]!r})")
    # A cut download loses the trailer; "%%EOF" may sit a little before the end (junk after it).
    cut = b"%%EOF" not in read_tail(path, 2048)
    if cut and not file_contains(path, b"%%EOF"):
        raise Refusal(RefusalKind.TRUNCATED, "no %%EOF marker: file was cut short")
    return cut


def _pages_or_refuse(result: tuple[Any, ...], cut: bool) -> tuple[list[str], list[int]]:
    """The child's page texts and failed page numbers, or the Refusal its answer means."""
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
    return texts, failed


def _warnings(failed: list[int], cut: bool) -> list[str]:
    warnings: list[str] = []
    if failed:
        listed = "、".join(str(n) for n in failed[:20])
        warnings.append(
            f"PDFの {listed} ページ目の文字を読み取れませんでした。原本を確認してください。"
        )
    if cut:
        warnings.append("PDFの末尾が欠けている可能性があります。原本と照らして確認してください。")
    return warnings


class _PdfReader:
    source_type = "pdf"
    suffixes = frozenset({".pdf"})
    in_child = True

    def read(self, path: Path, limits: IntakeSettings) -> ExtractedDocument:
        cut = _check_markers(path)
        result = _run_pdf_child(path, limits)
        if result[0] == "ok" and result[4]:  # images and almost no text layer: a scan, OCR it
            return ocr_document("pdf", path, limits, self.source_type)
        texts, failed = _pages_or_refuse(result, cut)
        # Old Japanese CMaps and vertical text: pdfminer.six, or OCR when that fails too.
        better = reread_layer(path, texts, limits, _warnings(failed, cut))
        if better is not None:
            return better
        text = "\n\n".join(texts)
        reason = looks_garbled(text, check_letters=True)
        if reason:
            raise Refusal(RefusalKind.ENCODING, reason, reason_ja=PDF_ENCODING_REASON_JA)
        return ExtractedDocument(
            text=text,
            source_type=self.source_type,
            pages=len(texts),
            warnings=_warnings(failed, cut),
        )


READER = _PdfReader()
