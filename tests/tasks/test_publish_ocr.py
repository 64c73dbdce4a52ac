"""What OCR read is kept beside the draft of a scan, and only there."""

from __future__ import annotations

from pathlib import Path

from core.models import RenderedDraft
from tasks.publish import write_draft


def _draft(stem: str) -> RenderedDraft:
    return RenderedDraft(stem=stem, markdown="# 下書き\n", docx_bytes=b"PK\x05\x06" + bytes(18))


def test_ocr_text_is_written_beside_the_draft(tmp_path: Path) -> None:
    paths = write_draft(_draft("稟議スキャン"), tmp_path, ocr_text="申請日：2025年4月18日\n")
    ocr = tmp_path / "稟議スキャン.ocr.txt"
    assert ocr.read_text(encoding="utf-8") == "申請日：2025年4月18日\n"
    assert paths.md.name == "稟議スキャン.draft.md" and paths.docx.exists()


def test_no_ocr_file_for_born_digital_documents(tmp_path: Path) -> None:
    write_draft(_draft("議事録"), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["議事録.draft.docx", "議事録.draft.md"]
