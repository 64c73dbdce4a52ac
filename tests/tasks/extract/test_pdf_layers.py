"""Old Japanese PDFs: non-Unicode CMaps decoded, vertical text in reading order, scans OCR'd,
and no mojibake ever taken for text."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.models import RefusalKind
from tasks.extract import extract_text
from tasks.extract.pdf_layers import PDF_ENCODING_REASON_JA, layer_problem
from tests.support import legacy_pdfs, scans
from tests.support.builders import write_raw_pdf
from tests.tasks.extract.helpers import LIMITS, refused


def _norm(text: str) -> str:
    return "".join(text.split())


def test_euc_cmap_pdf_is_decoded(tmp_path: Path) -> None:
    path = legacy_pdfs.make_cmap_pdf(tmp_path / "旧議事録.pdf", legacy_pdfs.HORIZONTAL_LINES)
    from pypdf import PdfReader

    # What pypdf makes of it: Hangul and private-use characters, which the check names.
    assert layer_problem(PdfReader(path).pages[0].extract_text()) is not None
    doc = extract_text(path, LIMITS)
    assert doc.text.split("\n") == legacy_pdfs.HORIZONTAL_LINES
    assert doc.ocr_text is None  # decoded, not OCR'd


def test_shift_jis_cmap_pdf_is_read(tmp_path: Path) -> None:
    path = legacy_pdfs.make_cmap_pdf(
        tmp_path / "sjis.pdf", legacy_pdfs.HORIZONTAL_LINES, "90ms-RKSJ-H"
    )
    doc = extract_text(path, LIMITS)
    for fact in legacy_pdfs.HORIZONTAL_FACTS:
        assert fact in doc.text


@pytest.mark.parametrize("encoding", ["EUC-V", "90ms-RKSJ-V"])
def test_vertical_gazette_in_reading_order(tmp_path: Path, encoding: str) -> None:
    path = legacy_pdfs.make_vertical_pdf(tmp_path / "官報.pdf", legacy_pdfs.GAZETTE_TIERS, encoding)
    doc = extract_text(path, LIMITS)
    expected = [line for tier in legacy_pdfs.GAZETTE_TIERS for line in tier]
    # Columns right to left, characters top to bottom, the upper tier before the lower one.
    assert [_norm(line) for line in doc.text.split("\n")] == [_norm(e) for e in expected]
    assert layer_problem(doc.text) is None


def test_script_mix_is_named() -> None:
    assert layer_problem("ίϯύϥϒϧͳ৽ฉ" * 5) is not None  # the mojibake a user saw drafted
    assert layer_problem("(cid:12)(cid:34)(cid:56) " * 10) is not None
    assert layer_problem("議事録：予算を承認した。Excel の表も確認。") is None


def _invisible_garbled_pdf(path: Path) -> Path:
    """A text layer mapped to private-use code points, drawn invisibly (render mode 3)."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"/CMapName /Broken def 1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"1 beginbfrange <20> <7E> <E000> endbfrange\n"
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    rng = random.Random(8)
    rows = [
        b"BT 3 Tr /F1 10 Tf 40 %d Td (%s) Tj ET"
        % (
            800 - r * 14,
            "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(60)).encode(),
        )
        for r in range(8)
    ]
    content = b"\n".join(rows)

    def stream(data: bytes) -> bytes:
        return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    return write_raw_pdf(
        path,
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            stream(content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
            stream(cmap),
        ],
    )


@pytest.mark.skipif(scans.cjk_font_path() is None, reason="no Japanese font: fonts-noto-cjk")
def test_unreadable_layer_gets_a_reason_that_fits_a_pdf(tmp_path: Path) -> None:
    refusal = refused(_invisible_garbled_pdf(tmp_path / "文字化け.pdf"))
    assert refusal.kind is RefusalKind.ENCODING
    assert "garbled text layer" in refusal.detail
    assert refusal.reason_ja == PDF_ENCODING_REASON_JA and "Shift_JIS" not in refusal.reason_ja


@pytest.mark.slow
@pytest.mark.skipif(scans.cjk_font_path() is None, reason="no Japanese font: fonts-noto-cjk")
def test_scanned_pdf_is_ocr_read(tmp_path: Path) -> None:
    page = scans.degrade(scans.draw_page(scans.RINGI_LINES), tilt_degrees=1.0, speckle=0.002)
    path = scans.make_scanned_pdf(tmp_path / "稟議スキャン.pdf", [page])
    doc = extract_text(path, LIMITS)
    got = _norm(doc.text)
    assert sum(1 for f in scans.RINGI_FACTS if f in got) >= 0.85 * len(scans.RINGI_FACTS), got
    assert doc.ocr_text is not None and doc.pages == 1


def test_scan_over_the_ocr_page_limit_is_refused(tmp_path: Path) -> None:
    page = scans.draw_page(["1"], dpi=50, height_mm=40) if scans.cjk_font_path() else None
    if page is None:
        pytest.skip("no Japanese font: fonts-noto-cjk")
    path = scans.make_scanned_pdf(tmp_path / "束.pdf", [page] * 3, dpi=50)
    refusal = refused(path, LIMITS.model_copy(update={"ocr_max_pages": 2}))
    assert refusal.kind is RefusalKind.TOO_LARGE and "ocr_max_pages" in refusal.detail
