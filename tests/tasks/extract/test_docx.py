"""tasks/extract/docx.py against real .docx files: good ones, and one per way to be bad."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

from core.models import RefusalKind
from core.settings import IntakeSettings
from tasks.extract import (
    extract_text,
)
from tests.support.builders import (
    make_binary,
    make_docx,
    make_encrypted_docx,
    make_zip_bomb_docx,
    truncate,
)
from tests.tasks.extract.helpers import LIMITS, NFD_NAME, refused


def test_docx_keeps_document_order_tables_textboxes_and_header_footer(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / f"{NFD_NAME}.docx",
        [
            "冒頭の段落です。",
            [["氏名", "部署", "役割"], ["山田 太郎", "営業部", "司会"]],
            "表の後の段落です。",
        ],
        header="株式会社テスト 社内資料",
        footer="フッター 1/1",
        textboxes=["テキストボックスの注記"],
    )
    assert path.exists()  # the NFD name is opened as given

    doc = extract_text(path, LIMITS)

    assert doc.source_type == "docx"
    lines = doc.text.split("\n")
    assert lines == [
        "株式会社テスト 社内資料",
        "冒頭の段落です。",
        "氏名 | 部署 | 役割",
        "山田 太郎 | 営業部 | 司会",
        "表の後の段落です。",
        "テキストボックスの注記",  # once, although Word stores it twice
        "フッター 1/1",
    ]


def test_docx_headers_of_every_section_once_each(tmp_path: Path) -> None:
    """The headers and footers each section defines, first-page ones included; a section linked
    to the previous one adds nothing, and a line repeated across sections is kept once."""
    import docx

    doc = docx.Document()
    doc.add_paragraph("第一節の本文")
    first = doc.sections[0]
    first.different_first_page_header_footer = True
    first.first_page_header.paragraphs[0].text = "表紙のヘッダー"
    first.header.paragraphs[0].text = "社外秘 営業部"
    first.footer.paragraphs[0].text = "東邦化成工業株式会社"
    doc.add_section()  # linked to the first: its header is the first's
    doc.add_paragraph("第二節の本文")
    third = doc.add_section()
    doc.add_paragraph("第三節の本文")
    third.header.is_linked_to_previous = False
    third.header.paragraphs[0].text = "別紙 見積明細"
    third.footer.is_linked_to_previous = False
    third.footer.paragraphs[0].text = "東邦化成工業株式会社"  # the same line again
    path = tmp_path / "複数セクション.docx"
    doc.save(path)

    lines = extract_text(path, LIMITS).text.split("\n")

    assert lines == [
        "表紙のヘッダー",
        "社外秘 営業部",
        "別紙 見積明細",
        "第一節の本文",
        "第二節の本文",
        "第三節の本文",
        "東邦化成工業株式会社",
    ]


def test_docx_reads_only_the_parts_with_text(tmp_path: Path) -> None:
    """A broken styles part does not matter (python-docx refused such a file when it parsed
    every part); a broken body does, as corrupt."""
    path = make_docx(tmp_path / "a.docx", ["本文です。"])
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    for name, broken in (("word/styles.xml", "styles.docx"), ("word/document.xml", "body.docx")):
        data = {**members, name: b"<w:styles"}
        with zipfile.ZipFile(tmp_path / broken, "w", zipfile.ZIP_DEFLATED) as z:
            for n, b in data.items():
                z.writestr(n, b)
    assert extract_text(tmp_path / "styles.docx", LIMITS).text == "本文です。"
    assert refused(tmp_path / "body.docx").kind is RefusalKind.CORRUPT


def test_docx_uppercase_suffix_is_accepted(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "報告書.DOCX", ["本文"])
    assert extract_text(path, LIMITS).text == "本文"


def test_corrupt_random_bytes(tmp_path: Path) -> None:
    refusal = refused(make_binary(tmp_path / f"{NFD_NAME}.docx"))
    assert refusal.kind is RefusalKind.CORRUPT


def test_corrupt_zip_without_document(tmp_path: Path) -> None:

    path = tmp_path / "中身なし.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    assert refused(path).kind is RefusalKind.CORRUPT


def test_truncated_docx(tmp_path: Path) -> None:
    path = truncate(make_docx(tmp_path / f"{NFD_NAME}.docx", ["本文です。"] * 200))
    assert refused(path).kind is RefusalKind.TRUNCATED


def test_encrypted_docx(tmp_path: Path) -> None:
    assert refused(make_encrypted_docx(tmp_path / "保護.docx")).kind is RefusalKind.ENCRYPTED


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    started = time.monotonic()
    path = make_zip_bomb_docx(tmp_path / "爆弾.docx", uncompressed_mb=200)
    refusal = refused(path)
    assert refusal.kind is RefusalKind.ZIP_BOMB
    assert "ratio" in refusal.detail
    assert time.monotonic() - started < 20


def test_zip_bomb_by_total_size(tmp_path: Path) -> None:
    path = make_zip_bomb_docx(tmp_path / "爆弾.docx", uncompressed_mb=5)
    limits = IntakeSettings(zip_max_total_mb=2, zip_max_ratio=1_000_000)
    refusal = refused(path, limits)
    assert refusal.kind is RefusalKind.ZIP_BOMB
    assert "zip_max_total_mb" in refusal.detail
