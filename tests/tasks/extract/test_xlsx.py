"""Excel: sheets in order and named, forms as ラベル：値, tables with their header, bounded."""

from __future__ import annotations

from pathlib import Path

from core.models import RefusalKind
from tasks.extract import extract_text
from tests.support.builders import make_binary, make_encrypted_docx, truncate
from tests.support.office_docs import (
    FACTS,
    make_form_workbook,
    make_table_workbook,
    make_xml_bomb_xlsx,
    make_zip_bomb_office,
)
from tests.tasks.extract.helpers import LIMITS, refused


def test_form_sheet_reads_as_labels_and_values(tmp_path: Path) -> None:
    doc = extract_text(make_form_workbook(tmp_path / "日報フォーム.xlsx"), LIMITS)
    lines = doc.text.split("\n")
    assert lines[0] == "■ シート「日報」"
    assert "日付：2025年7月3日" in lines  # a date, not the serial number 45841
    assert "計画数：1,250個" in lines and "実績数：1,198個" in lines  # the cell's own format
    assert "達成率：95.8%" in lines  # a formula's cached value
    assert doc.text.count("製造日報（成形課）") == 1  # a merged title, read once
    assert doc.text.index("シート「日報」") < doc.text.index("シート「備考」")
    for fact in FACTS["form_xlsx"]:
        assert fact in doc.text, fact


def test_hidden_sheet_is_skipped_and_said(tmp_path: Path) -> None:
    doc = extract_text(make_form_workbook(tmp_path / "日報.xlsm"), LIMITS)
    assert "999,999" not in doc.text and "計算用" not in doc.text
    assert any("非表示シート" in w and "計算用" in w for w in doc.warnings)


def test_table_sheet_reads_header_then_rows(tmp_path: Path) -> None:
    doc = extract_text(make_table_workbook(tmp_path / "実績表.xlsx"), LIMITS)
    lines = doc.text.split("\n")
    header = lines.index("日付 | 品番 | 計画 | 実績 | 不良 | 売上")
    assert lines[header + 1] == "2025年7月7日 | D-310 | 2,300個 | 2,310個 | 18個 | 1,036,800"
    assert "■ シート「集計」" in lines
    for fact in FACTS["table_xlsx"]:
        assert fact in doc.text, fact


def test_hostile_and_broken_workbooks_are_refused(tmp_path: Path) -> None:
    bomb = make_zip_bomb_office(tmp_path / "爆弾.xlsx", "xl/workbook.xml", uncompressed_mb=400)
    assert refused(bomb).kind is RefusalKind.ZIP_BOMB
    entities = refused(make_xml_bomb_xlsx(tmp_path / "実体.xlsx"))
    assert entities.kind is RefusalKind.ZIP_BOMB and "entit" in entities.detail.lower()
    locked = refused(make_encrypted_docx(tmp_path / "鍵付き.xlsx"))
    assert locked.kind is RefusalKind.ENCRYPTED
    assert refused(make_binary(tmp_path / "壊れた.xlsx")).kind is RefusalKind.CORRUPT
    cut = truncate(make_table_workbook(tmp_path / "途中.xlsx"))
    assert refused(cut).kind in (RefusalKind.TRUNCATED, RefusalKind.CORRUPT)
