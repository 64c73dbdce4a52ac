"""PowerPoint: every slide in order, titles, text boxes in groups, tables, speaker notes."""

from __future__ import annotations

from pathlib import Path

from core.models import RefusalKind
from tasks.extract import extract_text
from tests.support.builders import make_binary, make_encrypted_docx
from tests.support.office_docs import FACTS, make_pptx, make_zip_bomb_office
from tests.tasks.extract.helpers import LIMITS, refused


def test_slides_in_order_with_titles_groups_tables_and_notes(tmp_path: Path) -> None:
    doc = extract_text(make_pptx(tmp_path / "ヒアリング.pptx"), LIMITS)
    text = doc.text
    assert doc.pages == 2
    assert text.index("■ スライド 1：ヒアリング結果（2025年11月14日）") < text.index(
        "■ スライド 2：概算費用"
    )
    assert "要望：3月末までに移行したい" in text  # a text box inside a group shape
    assert "ライセンス | 240ライセンス | 7,800,000円" in text  # a table row
    assert "（ノート）先方の情報システム部長が同席。" in text
    assert text.count("概算費用") == 1  # the title is not repeated as a text box
    for fact in FACTS["pptx"]:
        assert fact in text, fact


def test_hostile_and_broken_decks_are_refused(tmp_path: Path) -> None:
    bomb = make_zip_bomb_office(tmp_path / "爆弾.pptx", "ppt/presentation.xml", 400)
    assert refused(bomb).kind is RefusalKind.ZIP_BOMB
    assert refused(make_encrypted_docx(tmp_path / "鍵付き.pptx")).kind is RefusalKind.ENCRYPTED
    assert refused(make_binary(tmp_path / "壊れた.pptx")).kind is RefusalKind.CORRUPT
