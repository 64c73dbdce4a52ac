"""Company Word forms (社内様式) built in code, as a DX office would make them in Word.

`ringi_form` is a 稟議書 form: a letterhead in the page header (without 要確認), a 件名/目的/費用
table, a cost table with one row per item (`{%tr for c in cost %}`), and a 決裁欄 with stamp boxes.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.table import WD_ROW_HEIGHT_RULE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt

LETTERHEAD = "株式会社みなと精工　管理部 総務課"
STAMPS = ("社長", "担当役員", "部長", "課長", "起案者")


def _a4(doc: Document) -> None:
    s = doc.sections[0]
    s.page_width, s.page_height = Mm(210), Mm(297)
    s.left_margin = s.right_margin = Mm(25)
    s.top_margin, s.bottom_margin = Mm(30), Mm(25)


def _widths(table, widths) -> None:
    table.autofit = False
    for col, w in zip(table.columns, widths, strict=True):
        col.width = w  # the grid: what LibreOffice lays out by
    for row in table.rows:
        for cell, w in zip(row.cells, widths, strict=True):
            cell.width = w


def ringi_form(path: Path, *, subject_tag: str = "subject") -> Path:
    """Write the 稟議書 form to `path`; `subject_tag` lets a test misspell the 件名 tag."""
    doc = Document()
    _a4(doc)
    head = doc.sections[0].header.paragraphs[0]
    head.text = LETTERHEAD
    head.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("稟　議　書")
    run.bold = True
    run.font.size = Pt(18)
    doc.add_paragraph("起案日：{{ meta.created_at }}　／　元資料：{{ meta.source_file }}")

    main = doc.add_table(rows=3, cols=2)
    main.style = doc.styles["Table Grid"]
    for row, (label, tag) in zip(
        main.rows, (("件名", subject_tag), ("目的", "purpose"), ("費用", None)), strict=True
    ):
        row.cells[0].text = label
        if tag:
            row.cells[1].text = "{{ " + tag + " }}"
        else:
            row.cells[1].text = "別表のとおり（{{ cost|length }} 項目）"

    _widths(main, (Mm(30), Mm(130)))
    doc.add_paragraph("別表：費用の内訳")
    costs = doc.add_table(rows=4, cols=2)
    costs.style = doc.styles["Table Grid"]
    costs.rows[0].cells[0].text = "No."
    costs.rows[0].cells[1].text = "内訳（見積書の表記のまま）"
    costs.rows[1].cells[0].text = "{%tr for c in cost %}"
    costs.rows[2].cells[0].text = "{{ loop.index }}"
    costs.rows[2].cells[1].text = "{{ c }}"
    costs.rows[3].cells[0].text = "{%tr endfor %}"

    _widths(costs, (Mm(15), Mm(145)))
    doc.add_paragraph("決裁欄")
    stamps = doc.add_table(rows=2, cols=len(STAMPS))
    stamps.style = doc.styles["Table Grid"]
    for cell, who in zip(stamps.rows[0].cells, STAMPS, strict=True):
        cell.text = who
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    stamps.rows[1].height = Mm(22)  # room for a 印鑑
    stamps.rows[1].height_rule = WD_ROW_HEIGHT_RULE.EXACTLY
    doc.save(path)
    return path
