"""The house style of a Word draft, checked in the .docx itself (XML) and, where LibreOffice is
installed, in its PDF rendering."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from docx.oxml.ns import qn

from tasks.render import (
    BANNER,
    NOTES_HEADING,
    draft_title,
    format_time,
    render_draft,
    source_heading,
)
from tasks.render.widths import column_widths, display_width
from tests.tasks.test_render import OUTPUT, make_meta, make_spec

TOKYO = ZoneInfo("Asia/Tokyo")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def part(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name).decode("utf-8")


def test_a4_portrait_with_japanese_margins():
    data = render_draft(make_spec(), OUTPUT, make_meta(), stem="x").docx_bytes
    xml = part(data, "word/document.xml")
    size = re.search(r"<w:pgSz [^>]*>", xml).group(0)
    assert 'w:w="11906"' in size and 'w:h="16838"' in size
    assert "landscape" not in size
    margins = re.search(r"<w:pgMar [^>]*>", xml).group(0)
    for attr, twips in (("top", 1984), ("bottom", 1701), ("left", 1701), ("right", 1701)):
        assert f'w:{attr}="{twips}"' in margins


def test_japanese_font_stack_is_declared():
    data = render_draft(make_spec(), OUTPUT, make_meta(), stem="x").docx_bytes
    styles = part(data, "word/styles.xml")
    defaults = styles[styles.index("<w:docDefaults") : styles.index("</w:docDefaults>")]
    assert 'w:eastAsia="Yu Gothic"' in defaults and 'w:eastAsia="ja-JP"' in defaults
    assert "eastAsiaTheme" not in defaults
    fonts = part(data, "word/fontTable.xml")
    for name in ("Yu Gothic", "Meiryo", "Noto Sans CJK JP"):
        entry = re.search(rf'<w:font w:name="{name}">.*?</w:font>', fonts, re.S)
        assert entry is not None, name
        assert '<w:charset w:val="80"/>' in entry.group(0)  # Shift_JIS: a Japanese face


def test_title_comes_from_the_document():
    spec = make_spec()
    meta = make_meta()
    assert draft_title(spec, OUTPUT, meta) == "2024-05-01_北斗精機様_商談メモ"  # file name
    meta = make_meta(source_heading="北斗精機様 定例商談　2024年5月1日")
    assert draft_title(spec, OUTPUT, meta) == "北斗精機様 定例商談　2024年5月1日"
    # The spec's title field wins over the source's heading.
    spec = make_spec(title_field="summary")
    assert draft_title(spec, {"summary": "新型センサー導入の件"}, meta) == "新型センサー導入の件"
    # An empty title field falls back to the heading.
    assert draft_title(spec, {"summary": ""}, meta) == "北斗精機様 定例商談　2024年5月1日"
    doc = Document(
        io.BytesIO(
            render_draft(
                spec, {**OUTPUT, "summary": "新型センサー導入の件"}, meta, stem="x"
            ).docx_bytes
        )
    )
    assert [p.text for p in doc.paragraphs if p.style.name == "Title"] == ["新型センサー導入の件"]
    assert doc.core_properties.title == "新型センサー導入の件"


def test_title_field_must_be_a_text_field():
    with pytest.raises(ValueError, match="title_field"):
        make_spec(title_field="decisions")


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        (
            "稟議メモ（起案用）\n起案：鈴木　2026年11月20日\n件名：勤怠管理システムの導入について\n",
            "勤怠管理システムの導入について",
        ),
        (
            "# 人材要件メモ：法人営業\n\n作成日：2026年11月18日\n",
            "人材要件メモ：法人営業　2026年11月18日",
        ),
        ("■製造日報（第2製造課）\n日付：2026/11/26\n", "製造日報（第2製造課）　2026/11/26"),
        (
            "本日は北斗精機様と新型センサーの導入について打合せを行い、価格と納期を確認しました。\n",
            None,
        ),
        ("", None),
    ],
)
def test_source_heading(text, heading):
    assert source_heading(text) == heading


def test_column_widths_follow_content():
    header = ["タスク", "担当", "期限"]
    rows = [
        ["改定単価を反映した見積書の提出と、先方購買部への説明資料の準備", "山田", "12月4日（金）"],
        ["試験採用ラインの選定と先方担当者の連絡", "鈴木", "11月30日"],
    ]
    widths = column_widths(header, rows, 8504)
    assert sum(widths) == 8504
    task, owner, due = widths
    assert task > 2 * owner and task > due
    # The short columns get what their longest cell needs (half-width units of ~106 twips).
    assert due >= display_width("12月4日（金）") * 106
    assert owner >= display_width("担当") * 106


def test_table_widths_are_written_to_grid_and_cells():
    data = render_draft(make_spec(), OUTPUT, make_meta(), stem="x").docx_bytes
    doc = Document(io.BytesIO(data))
    table = doc.tables[0]
    grid = [int(c.get(qn("w:w"))) for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert sum(grid) == 11906 - 2 * 1701
    assert len(set(grid)) > 1  # not Word's equal split
    for row in table.rows:
        assert [c.width.twips for c in row.cells] == grid
    assert table._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"


def test_banner_in_header_offline_and_warnings_pointed_to_notes():
    meta = make_meta(
        engine="offline",
        model="extractive",
        offline=True,
        warnings=["PDFの3ページ目は読めませんでした。"],
    )
    doc = Document(io.BytesIO(render_draft(make_spec(), OUTPUT, meta, stem="x").docx_bytes))
    assert len(doc.sections) == 1  # one header for every page
    header = doc.sections[0].header.paragraphs[0].text
    assert header.startswith(BANNER)
    assert "オフライン抽出" in header and NOTES_HEADING in header
    assert not doc.sections[0].different_first_page_header_footer
    assert "PAGE" in part(
        render_draft(make_spec(), OUTPUT, meta, stem="x").docx_bytes, "word/footer1.xml"
    )


def test_review_notes_as_a_word_comment():
    spec = make_spec(review_notes="comment")
    data = render_draft(spec, OUTPUT, make_meta(), stem="x").docx_bytes
    doc = Document(io.BytesIO(data))
    assert NOTES_HEADING not in [p.text for p in doc.paragraphs]
    assert not any(p.text == "利用上の注意" for p in doc.paragraphs)
    comments = part(data, "word/comments.xml")
    for s in (
        "元ファイル",
        "sales/minutes v3",
        "担当営業が数値と社名を確認してから送付すること。",
        "営業企画課",
    ):
        assert s in comments
    assert "commentRangeStart" in part(data, "word/document.xml")


def test_created_at_in_the_workspace_zone():
    created = datetime(2024, 5, 1, 1, 30, tzinfo=ZoneInfo("UTC")).astimezone(TOKYO)
    assert format_time(created) == "2024-05-01 10:30 JST"
    md = render_draft(make_spec(), OUTPUT, make_meta(created_at=created), stem="x").markdown
    assert "作成日時: 2024-05-01 10:30 JST" in md


def test_markdown_title_body_then_notes():
    md = render_draft(make_spec(), OUTPUT, make_meta(source_heading="定例商談"), stem="x").markdown
    assert "# 定例商談" in md
    assert (
        md.index("# 定例商談")
        < md.index("## 概要")
        < md.index(f"## {NOTES_HEADING}")
        < md.index("元ファイル")
    )


@pytest.mark.skipif(
    not shutil.which("soffice") or not shutil.which("pdftotext"),
    reason="LibreOffice / poppler not installed",
)
def test_libreoffice_renders_a4_with_banner_on_every_page(tmp_path: Path):
    long_output = {
        **OUTPUT,
        "decisions": [f"決定事項その{i}：詳細は別紙のとおりとする。" for i in range(60)],
    }
    docx = tmp_path / "draft.docx"
    docx.write_bytes(render_draft(make_spec(), long_output, make_meta(), stem="x").docx_bytes)
    subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(docx),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "draft.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info
    pages = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 3
    for page in pages:
        assert "AI下書き・要確認" in page.replace(" ", "")  # pdftotext spaces Latin from kana
    assert NOTES_HEADING in pages[-1] and NOTES_HEADING not in pages[0]
